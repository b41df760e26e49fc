"""The data logger connector: exact mapping of the samples, unit conversion, UTC, rejections
with row numbers, idempotency and a 10,000-row export.

Throughput on one core (the figure in connectors/logger/README.md)::

    taskset -c 0 .venv/bin/python -m timeit -n 3 -r 5 \
        -s "from tests.unit.connectors.test_logger import big_export, run; p = big_export(10_000)" \
        "run(p)"
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import Result
from connectors.conformance import CONNECTORS_DIR, RECEIVED_AT, raw_message
from connectors.logger.normalise import LoggerConnector
from hub.errors import TimezoneMissingError
from hub.events.ids import event_id
from hub.events.models import EventType, TemperatureDetail

pytestmark = pytest.mark.req("REQ-FN-CONNECTORS")

SAMPLES = CONNECTORS_DIR / "logger" / "samples"
BAD = CONNECTORS_DIR / "logger" / "bad"
HEADER = "logger_id,shipment_id,timestamp,value,unit\n"


def run(payload: bytes) -> Result:
    connector = LoggerConnector()
    return connector.process(raw_message(connector, payload, ".csv"))


def sample(name: str) -> Result:
    result = run((SAMPLES / name).read_bytes())
    assert result.rejection is None, result.rejection
    return result


def temps(result: Result) -> list[TemperatureDetail]:
    details = [e.detail for e in result.events if isinstance(e.detail, TemperatureDetail)]
    assert len(details) == len(result.events)
    return details


def big_export(rows: int) -> bytes:
    start = datetime(2026, 11, 24, 8, 0, tzinfo=timezone(timedelta(hours=-5)))
    lines = ["# export_id: BIG-0001", "# logging_interval_s: 900", HEADER.strip()]
    for i in range(rows):
        at = (start + timedelta(minutes=15 * i)).isoformat()
        lines.append(f"LGR-1,SHP-1,{at},{4 + (i % 30) / 10:.1f},C")
    return ("\n".join(lines) + "\n").encode()


def rejected(payload: bytes) -> tuple[str, str, str | None]:
    result = run(payload)
    assert result.rejection is not None, result.events
    assert result.events == ()
    return result.rejection.code, result.rejection.reason, result.rejection.field


def test_fresh_readings_every_15_minutes() -> None:
    result = sample("01-fresh-15min-readings.csv")
    assert len(result.events) == 29
    first, last = result.events[0], result.events[-1]
    assert first.event_type is EventType.TEMPERATURE_READING
    assert first.occurred_at == datetime(2026, 11, 24, 13, 15, tzinfo=UTC)  # 08:15-05:00
    assert last.occurred_at == datetime(2026, 11, 24, 20, 15, tzinfo=UTC)
    assert first.coi_id is None
    assert first.identifiers.logger_id == "LGR-88213"
    assert first.identifiers.shipment_id == "SHP-240001"
    assert first.biz_step == "sensor_reporting"
    assert first.actor is None
    assert first.source.message_id == "LGR-88213-EXP-0001"
    assert first.source.system == "data-logger"
    assert first.recorded_at == RECEIVED_AT
    details = temps(result)
    assert [d.value for d in details[:4]] == [4.5, 4.7, 4.9, 5.1]
    assert {d.logging_interval_s for d in details} == {900}
    assert {d.unit for d in details} == {"CEL"}
    assert details[0].min_value is None
    assert details[0].interval_start is None
    assert [e.event_id for e in result.events] == [
        event_id("logger", "LGR-88213-EXP-0001", i) for i in range(29)
    ]


def test_cryo_interval_report_semicolon_crlf_no_export_id() -> None:
    path = SAMPLES / "02-cryo-interval-report.csv"
    result = sample(path.name)
    assert len(result.events) == 6
    event = result.events[0]
    detail = temps(result)[0]
    assert detail.value is None
    assert (detail.min_value, detail.max_value, detail.mean_value) == (-192.4, -190.8, -191.7)
    assert detail.interval_start == datetime(2026, 12, 11, 6, 0, tzinfo=UTC)
    assert detail.interval_end == datetime(2026, 12, 11, 10, 0, tzinfo=UTC)
    assert event.occurred_at == detail.interval_end
    assert detail.logging_interval_s is None
    assert detail.logger_id == "DS-5521" == event.identifiers.logger_id
    assert event.identifiers.shipment_id == "SHP-250007"
    digest = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert event.source.message_id == digest
    assert event.event_id == event_id("logger", digest, 0)


@pytest.mark.req("REQ-ALCOA-ACCURATE")
def test_fahrenheit_with_bom_and_metadata_ids_is_converted_to_celsius() -> None:
    result = sample("03-fahrenheit-readings.csv")
    assert [d.value for d in temps(result)] == [4.0, 5.0, 2.0, 8.0, 6.0, 4.5]
    assert {d.unit for d in temps(result)} == {"CEL"}
    assert result.events[0].occurred_at == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # +01:00
    assert result.events[0].identifiers.logger_id == "TT4-00912"
    assert result.events[0].identifiers.shipment_id == "SHP-240002"
    assert temps(result)[0].logging_interval_s == 600


@pytest.mark.req("REQ-ALCOA-ACCURATE")
def test_kelvin_tab_delimited_aliased_headers_with_interval_column() -> None:
    result = sample("04-kelvin-tab-readings.csv")
    assert [d.value for d in temps(result)] == [-196.0, -195.2, -194.8, -194.0]
    assert {d.logging_interval_s for d in temps(result)} == {1800}
    assert result.events[0].occurred_at == datetime(2026, 12, 12, 1, 0, tzinfo=UTC)  # +09:00
    assert result.events[0].identifiers.logger_id == "DS-5521"


def test_excursion_sample_skips_blank_line_and_keeps_row_order() -> None:
    result = sample("05-excursion-readings.csv")
    assert [d.value for d in temps(result)] == [5.2, 7.9, 9.4, 8.6, 6.1]
    assert result.events[2].occurred_at == datetime(2026, 11, 26, 15, 30, tzinfo=UTC)
    assert result.events[2].event_id == event_id("logger", "LGR-88214-EXP-0003", 2)


@pytest.mark.parametrize(
    ("unit", "value", "celsius"),
    [
        ("C", "4.25", 4.25),
        ("CEL", "-80", -80.0),
        ("°C", "2", 2.0),
        ("degC", "8", 8.0),
        ("F", "39.2", 4.0),
        ("fahrenheit", "-4", -20.0),
        ("°F", "-238", -150.0),
        ("K", "277.15", 4.0),
        ("kelvin", "123.15", -150.0),
    ],
)
@pytest.mark.req("REQ-ALCOA-ACCURATE")
def test_units(unit: str, value: str, celsius: float) -> None:
    result = run(f"{HEADER}L,S,2026-11-24T08:00:00Z,{value},{unit}\n".encode())
    assert result.rejection is None, result.rejection
    assert temps(result)[0].value == celsius


@pytest.mark.parametrize(
    ("name", "code", "where", "field"),
    [
        ("not-csv.csv", "NOT_CSV", "line 1", None),
        ("missing-timezone.csv", "TIMEZONE_MISSING", "row 3 (line 4)", "timestamp"),
        ("non-numeric-value.csv", "NOT_NUMERIC", "row 2 (line 3)", "value"),
        ("unknown-unit.csv", "UNKNOWN_UNIT", "row 1 (line 2)", "unit"),
        ("missing-column.csv", "MISSING_COLUMN", "'unit'", "unit"),
        ("latin1.csv", "NOT_UTF8", "byte", None),
        ("ragged-row.csv", "BAD_ROW", "row 2 (line 3)", None),
        ("inverted-interval.csv", "BAD_INTERVAL", "row 1 (line 2)", None),
        ("below-absolute-zero.csv", "IMPLAUSIBLE_VALUE", "row 1 (line 2)", "value"),
    ],
)
def test_bad_files_are_rejected_whole_with_code_and_row(
    name: str, code: str, where: str, field: str | None
) -> None:
    got_code, reason, got_field = rejected((BAD / name).read_bytes())
    assert got_code == code
    assert where in reason
    assert got_field == field


@pytest.mark.parametrize(
    ("payload", "code", "where"),
    [
        (b"", "NOT_CSV", "empty"),
        (b"# export_id: X\n\n", "NOT_CSV", "no header"),
        (b"logger_id,Logger ID,timestamp,value,unit\n", "BAD_HEADER", "twice"),
        (b"# logging_interval_s: 15min\n" + HEADER.encode(), "BAD_METADATA", "15min"),
        (HEADER.encode() + b",S,2026-11-24T08:00:00Z,4.0,C\n", "MISSING_FIELD", "row 1"),
        (HEADER.encode() + b"L,S,24/11/2026 08:00,4.0,C\n", "BAD_TIMESTAMP", "row 1"),
        (HEADER.encode() + b"L,S,2026-11-24T08:00:00Z,NaN,C\n", "NOT_NUMERIC", "row 1"),
        (HEADER.encode() + b"L,S,2026-11-24T08:00:00Z,inf,C\n", "NOT_NUMERIC", "row 1"),
        (HEADER.encode() + b"L,S,2026-11-24T08:00:00Z,,C\n", "NOT_NUMERIC", "row 1"),
        (b"logger_id,timestamp,value,unit\nL,2026-11-24T08:00:00Z,4,C\n", "MISSING_COLUMN", ""),
        (b"logger_id,shipment_id,unit,min\nL,S,C,1\n", "MISSING_COLUMN", "interval_start"),
        (b"logger_id,shipment_id,unit\nL,S,C\n", "MISSING_COLUMN", "'value'"),
        (
            b"logger_id,shipment_id,timestamp,value,unit,logging_interval_s\n"
            b"L,S,2026-11-24T08:00:00Z,4.0,C,-5\n",
            "NOT_NUMERIC",
            "row 1",
        ),
        (HEADER.encode() + b'L,S,"2026-11-24T08:00:00Z,4.0,C\n', "BAD_ROW", "row 1"),
        (
            "logger_id,shipment_id,timestamp,value,unit,logging_interval_s\n"
            "L,S,2026-11-24T08:00:00Z,4.0,C,\u00b2\n".encode(),
            "NOT_NUMERIC",
            "row 1",
        ),
        (HEADER.encode() + b"L,S,0001-01-01T00:00:00+01:00,4.0,C\n", "BAD_TIMESTAMP", "row 1"),
    ],
)
def test_inline_rejections(payload: bytes, code: str, where: str) -> None:
    got_code, reason, _ = rejected(payload)
    assert got_code == code, reason
    assert where in reason


def test_one_bad_row_late_in_a_big_file_rejects_everything() -> None:
    lines = big_export(2_000).decode().splitlines()
    lines[3 + 1_499] = lines[3 + 1_499].replace(",C", ",X")  # data row 1500, physical line 1503
    code, reason, field = rejected(("\n".join(lines) + "\n").encode())
    assert code == "UNKNOWN_UNIT"
    assert reason.startswith("row 1500 (line 1503):")
    assert field == "unit"


@pytest.mark.req("REQ-EXC-TIMEZONE_MISSING")
def test_missing_offset_raises_timezone_missing_error() -> None:
    connector = LoggerConnector()
    with pytest.raises(TimezoneMissingError, match=r"row 1 \(line 2\)"):
        connector.normalise(
            raw_message(connector, f"{HEADER}L,S,2026-11-24T08:00:00,4,C\n".encode(), ".csv")
        )


def test_empty_cell_falls_back_to_metadata_line() -> None:
    payload = b"# shipment_id: SHP-9\n" + HEADER.encode() + b"L,,2026-11-24T08:00:00Z,4.0,C\n"
    result = run(payload)
    assert result.rejection is None
    assert result.events[0].identifiers.shipment_id == "SHP-9"


def test_header_only_export_is_accepted_without_events() -> None:
    result = run(HEADER.encode())
    assert result.rejection is None
    assert result.events == ()


@pytest.mark.req("REQ-INV-06")
def test_replay_gives_same_ids_and_content_hash_ids_follow_content() -> None:
    payload = f"{HEADER}L,S,2026-11-24T08:00:00Z,4.0,C\n".encode()
    first, again = run(payload), run(payload)
    assert [e.event_id for e in first.events] == [e.event_id for e in again.events]
    changed = run(payload.replace(b"4.0", b"4.5"))
    assert changed.events[0].event_id != first.events[0].event_id
    with_id = b"# export_id: E-1\n" + payload
    assert (
        run(with_id).events[0].event_id
        == run(with_id.replace(b"4.0", b"4.5")).events[0].event_id
        == event_id("logger", "E-1", 0)
    )


def test_ten_thousand_rows() -> None:
    result = run(big_export(10_000))
    assert result.rejection is None, result.rejection
    assert len(result.events) == 10_000
    assert len({e.event_id for e in result.events}) == 10_000
    start = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)
    assert result.events[-1].occurred_at == start + timedelta(minutes=15 * 9_999)
    # identifiers and source are shared per file, not rebuilt per row
    assert result.events[0].identifiers is result.events[-1].identifiers
    assert result.events[0].source is result.events[-1].source


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_cells_never_crash(data: st.DataObject) -> None:
    lines = (SAMPLES / "02-cryo-interval-report.csv").read_text().splitlines()
    row = data.draw(st.integers(0, len(lines) - 1))
    cells = lines[row].split(";")
    col = data.draw(st.integers(0, len(cells) - 1))
    cells[col] = data.draw(st.text(max_size=30))
    lines[row] = ";".join(cells)
    result = run("\n".join(lines).encode("utf-8", "surrogatepass"))
    if result.rejection is not None:
        assert result.rejection.code != "CONNECTOR_ERROR", result.rejection
