"""``v2v replay`` and ``v2v record`` offline: the recording format, the simulated clock, the
diff between two configurations, and the command line."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.conformance import sample_files
from hub.cli import main
from hub.flow import FlowCore
from hub.replay.diff import compare
from hub.replay.lines import BadLine, EventLine, MessageLine, Where, message_line, parse_line
from hub.replay.record import record_files
from hub.replay.run import grid, replay
from hub.settings import REPO_ROOT

pytestmark = pytest.mark.req("REQ-INV-08")

PROFILES = REPO_ROOT / "hub" / "chain" / "profiles"
POLICY = REPO_ROOT / "hub" / "cases" / "escalation_policy.yaml"
AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def core(profiles: Path = PROFILES) -> FlowCore:
    return FlowCore.from_files(profiles, POLICY, b"test-key")


@pytest.fixture
def courier(tmp_path: Path) -> Path:
    path = tmp_path / "courier.jsonl"
    with path.open("w") as out:
        assert record_files("courier", AT, sample_files("courier"), out) == 9
    return path


@pytest.mark.req("REQ-P11-COPIES", "REQ-ALCOA-ORIGINAL")
def test_a_recorded_message_round_trips_as_text_or_base64() -> None:
    text = parse_line(message_line("courier", AT, "application/json", b'{"a": 1}'), Where("f", 1))
    assert isinstance(text, MessageLine)
    assert text.message.payload == b'{"a": 1}'
    assert text.received_at == AT
    binary = message_line("logger", AT, None, bytes(range(256)))
    assert "payload_b64" in json.loads(binary)
    parsed = parse_line(binary, Where("f", 2))
    assert isinstance(parsed, MessageLine)
    assert parsed.message.payload == bytes(range(256))


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"partner": "courier", "payload": "x"}', "'received_at' is required"),
        ('{"partner": "courier", "received_at": "2026-03-01T10:00", "payload": "x"}', "no UTC"),
        ('{"partner": "courier", "received_at": "yesterday", "payload": "x"}', "not ISO 8601"),
        ('{"partner": "courier", "received_at": "2026-03-01T10:00Z"}', "'payload' (text)"),
        (
            '{"partner": "courier", "received_at": "2026-03-01T10:00Z", "payload_b64": "%%"}',
            "base64",
        ),
        ('{"event": {"event_id": "e1"}}', "not a canonical event"),
        ('{"hello": "world"}', "neither a recorded message"),
    ],
)
def test_a_malformed_line_is_explained(line: str, reason: str) -> None:
    parsed = parse_line(line, Where("traffic.jsonl", 7))
    assert isinstance(parsed, BadLine)
    assert reason in parsed.reason
    assert str(parsed.where) == "traffic.jsonl:7"


def test_an_event_line_as_v2v_normalise_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    pickup = sample_files("courier")[0]
    assert main(["normalise", "--connector", "courier", "--received-at", AT.isoformat(),
                 str(pickup)]) == 0  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert lines
    for n, line in enumerate(lines, 1):
        bare, wrapped = (
            parse_line(line, Where("x", n)),
            parse_line(f'{{"event": {line}}}', Where("x", n)),
        )
        assert isinstance(bare, EventLine)
        assert bare == EventLine(Where("x", n), wrapped.event)  # type: ignore[union-attr]
        assert bare.received_at == AT


def test_ticks_lie_on_the_utc_grid() -> None:
    start = datetime(2026, 3, 1, 10, 7, tzinfo=UTC)
    ticks = list(grid(start, start + timedelta(hours=1), timedelta(minutes=15)))
    assert ticks[0] == datetime(2026, 3, 1, 10, 15, tzinfo=UTC)
    assert ticks[-1] == datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
    assert len(ticks) == 4


@pytest.mark.req("REQ-P11-COPIES")
def test_the_courier_samples_replay_to_their_cases(courier: Path) -> None:
    result = replay([courier], core())
    assert result.lines == 9
    assert result.bad == []
    assert result.until == AT + timedelta(days=1)
    cases = result.hub.latest_cases()
    assert sorted(c.subject for c in cases if c.code == "CUSTOMS_HOLD") == [
        "SHP-240077",
        "SHP-240078",
    ]
    holds = [c for c in cases if c.code == "CUSTOMS_HOLD"]
    assert all(c.detected_at == AT for c in holds)  # the hub's clock: the receipt time
    levels = sorted((e.case_id, e.level) for e in result.hub.escalations)
    assert {lv for _, lv in levels} == {1, 2}  # HIGH, not acknowledged within 60 min
    assert result.ticks == 24 * 4 + 1


def test_until_bounds_the_clock(courier: Path) -> None:
    result = replay([courier], core(), timedelta(minutes=30), AT + timedelta(minutes=30))
    assert result.ticks == 2  # 18:00 and 18:30
    assert {e.level for e in result.hub.escalations} == {1}  # 60 min had not passed


def test_bad_and_unknown_lines_are_skipped_with_their_numbers(
    courier: Path, tmp_path: Path
) -> None:
    mixed = tmp_path / "mixed.jsonl"
    good = courier.read_text().splitlines()
    unknown = message_line("telex", AT, "text/plain", b"hello")
    mixed.write_text("\n".join([good[0], "{broken", "", "# a comment", unknown, *good[1:]]))
    result = replay([mixed], core())
    assert [(b.where.line, b.reason.split(":")[0]) for b in result.bad] == [
        (2, "not JSON"),
        (5, "no connector 'telex' (known"),
    ]
    assert result.lines == 9


@pytest.mark.req("REQ-A11-CHANGE")
def test_a_profile_change_shows_as_cases_that_appear_and_disappear(tmp_path: Path) -> None:
    pickup = tmp_path / "pickup.jsonl"
    with pickup.open("w") as out:  # released at pick-up, never accepted
        record_files("courier", AT, sample_files("courier")[:1], out)
    generous = tmp_path / "profiles"
    shutil.copytree(PROFILES, generous)
    default = generous / "default.yaml"
    default.write_text(default.read_text().replace("custody_grace_h: 4", "custody_grace_h: 400"))
    before = replay([pickup], core(), until=AT + timedelta(days=2))
    after = replay([pickup], core(generous), until=AT + timedelta(days=2))
    assert "CUSTODY_GAP" in {c.code for c in before.hub.latest_cases()}
    diff = compare(before, after)
    assert [c["code"] for c in diff.disappeared] == ["CUSTODY_GAP"]
    assert (diff.appeared, diff.changed) == ([], [])
    assert compare(before, before).empty


def test_the_command_line(
    courier: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(courier)]) == 0
    table = capsys.readouterr().out
    assert "CUSTOMS_HOLD" in table
    assert "replayed 9 lines" in table
    assert main(["replay", "--json", "--tick", "1h", str(courier)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {
        "cases",
        "escalations",
        "dead_letters",
        "chains",
        "skipped_lines",
        "replayed",
    }
    assert [c["code"] for c in data["cases"]].count("CUSTOMS_HOLD") == 2
    assert data["replayed"]["ticks"] == 25
    assert main(["replay", str(tmp_path / "missing.jsonl")]) == 2
    with pytest.raises(SystemExit) as refused:
        main(["replay", "--tick", "soon", str(courier)])
    assert refused.value.code == 2
    assert "not a duration" in capsys.readouterr().err
    same = main(["replay", "--diff", "--against-profile-dir", str(PROFILES), str(courier)])
    assert same == 0
    assert "no difference" in capsys.readouterr().out
