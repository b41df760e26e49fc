"""The LIMS connector: exact mapping of the CSV and JSON samples, the out-of-specification
decision, format detection, rejections with row numbers and idempotency."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import Result
from connectors.conformance import CONNECTORS_DIR, raw_message
from connectors.lims import qc
from connectors.lims.normalise import LimsConnector
from hub.errors import InvalidIdentifierError, TimezoneMissingError
from hub.events.ids import event_id
from hub.events.models import Actor, Event, EventType, LinkDetail, QcResultDetail

pytestmark = pytest.mark.req("REQ-FN-CONNECTORS")

SAMPLES = CONNECTORS_DIR / "lims" / "samples"
BAD = CONNECTORS_DIR / "lims" / "bad"
HEADER = "sample_id,batch_id,coi,test_code,result,unit,spec_low,spec_high,status,result_time\n"
GOOD_ROW = "S-1,B-1,V2VSAMPLE000001T,VIABILITY,92.4,%,70,,FINAL,2026-12-01T16:30:00-05:00\n"


def run(payload: bytes, suffix: str = ".csv", content_type: str | None = None) -> Result:
    connector = LimsConnector()
    message = raw_message(connector, payload, suffix)
    if content_type is not None:
        message = type(message)(
            partner=message.partner,
            payload=payload,
            received_at=message.received_at,
            content_type=content_type,
        )
    return connector.process(message)


def sample(name: str) -> Result:
    path = SAMPLES / name
    result = run(path.read_bytes(), path.suffix)
    assert result.rejection is None, result.rejection
    return result


def qc_detail(event: Event) -> QcResultDetail:
    assert event.event_type is EventType.QC_RESULT_RECORDED
    assert isinstance(event.detail, QcResultDetail)
    return event.detail


def rejected(payload: bytes, suffix: str = ".csv") -> tuple[str, str, str | None]:
    result = run(payload, suffix)
    assert result.rejection is not None, result.events
    assert result.events == ()
    return result.rejection.code, result.rejection.reason, result.rejection.field


def test_csv_release_panel() -> None:
    result = sample("01-release-panel.csv")
    types = [e.event_type for e in result.events]
    link, result_ev = EventType.IDENTIFIER_LINKED, EventType.QC_RESULT_RECORDED
    assert types == [link, result_ev, result_ev, link, *[result_ev] * 4, link, result_ev, result_ev]
    links = [e for e in result.events if e.event_type is link]
    assert [e.detail for e in links] == [
        LinkDetail(id_kind="sample_id", id_value=f"S-24001-FP-0{n}") for n in (1, 2, 3)
    ]
    assert {e.coi_id for e in result.events} == {"V2VSAMPLE000001T"}
    details = {
        qc_detail(e).test_code: qc_detail(e) for e in result.events if e.event_type is result_ev
    }
    expected = {
        # test: (value, text, unit, low, high, spec_text, status, out_of_spec)
        "STERILITY": (None, "No growth", None, None, None, "No growth", "FINAL", None),
        "MYCOPLASMA": (None, "Negative", None, None, None, "Negative", "FINAL", None),
        "ENDOTOXIN": (None, "<0.50", "EU/mL", None, 5.0, "<= 5.0 EU/mL", "FINAL", False),
        "VIABILITY": (92.4, None, "%", 70.0, None, ">= 70 %", "FINAL", False),
        "CD3_PCT": (97.1, None, "%", 80.0, None, ">= 80 %", "FINAL", False),
        "CAR_PCT": (38.5, None, "%", 15.0, None, ">= 15 %", "FINAL", False),
        "VCN": (2.1, None, "copies/cell", None, 5.0, "<= 5.0 copies/cell", "FINAL", False),
        "POTENCY": (1450.0, None, "pg/mL", 500.0, None, ">= 500 pg/mL", "FINAL", False),
    }
    got = {
        code: (
            d.result_value,
            d.result_text,
            d.unit,
            d.spec_low,
            d.spec_high,
            d.spec_text,
            d.status,
            d.out_of_spec,
        )
        for code, d in details.items()
    }
    assert got == expected
    sterility = result.events[1]
    assert sterility.occurred_at == datetime(2026, 12, 15, 14, 12, tzinfo=UTC)  # 09:12-05:00
    assert sterility.actor == Actor(id="qc-analyst-017", role="analyst", organisation="PHL-QC")
    assert sterility.identifiers.batch_id == "B-24001"
    assert sterility.identifiers.sample_id == "S-24001-FP-01"
    assert sterility.identifiers.other == {
        "result_id": "R-900101",
        "reviewed_by": "qc-reviewer-004",
    }
    assert qc_detail(sterility).method == "Ph. Eur. 2.6.27 (BacT/ALERT)"
    assert sterility.biz_step == "inspecting"
    assert links[0].occurred_at == sterility.occurred_at
    assert [e.event_id for e in result.events] == [
        event_id("lims", "LIMS-PHL-20261215-0042", i) for i in range(11)
    ]


def test_json_export_with_oos_and_lims_flag() -> None:
    result = sample("02-oos-viability.json")
    assert [e.event_type.value for e in result.events] == [
        "IDENTIFIER_LINKED",
        "QC_RESULT_RECORDED",
        "QC_RESULT_RECORDED",
        "IDENTIFIER_LINKED",
        "QC_RESULT_RECORDED",
    ]
    viability, car, appearance = (qc_detail(result.events[i]) for i in (1, 2, 4))
    assert (viability.result_value, viability.spec_low, viability.status) == (61.2, 70.0, "OOS")
    assert viability.out_of_spec is True
    assert (car.result_value, car.status, car.out_of_spec) == (41.0, "FINAL", False)
    assert (appearance.result_text, appearance.spec_text) == (
        "Visible particles",
        "Free of visible particles",
    )
    assert (appearance.status, appearance.out_of_spec) == ("OOS", True)  # PRELIMINARY, flagged
    for event in result.events:
        assert event.coi_id == "V2VSAMPLE000002R"  # '&/' prefix dropped, export-level default
        assert event.identifiers.batch_id == "B-24002"
        assert event.actor is not None
        assert event.actor.organisation == "PHL-QC"
    assert result.events[1].actor == Actor(
        id="qc-analyst-031", role="analyst", organisation="PHL-QC"
    )
    assert result.events[1].identifiers.other["reviewed_by"] == "qc-reviewer-004"
    assert result.events[0].source.message_id == "LIMS-PHL-20261216-0007"


def test_semicolon_csv_without_coi_aliases_and_statuses() -> None:
    result = sample("03-no-coi-semicolon.csv")
    assert len(result.events) == 3
    assert all(e.event_type is EventType.QC_RESULT_RECORDED for e in result.events)
    assert {e.coi_id for e in result.events} == {None}
    assert {e.identifiers.batch_id for e in result.events} == {"B-24003"}
    rows = [
        (d.test_code, d.result_value, d.result_text, d.spec_high, d.status, d.out_of_spec)
        for d in map(qc_detail, result.events)
    ]
    assert rows == [
        ("STERILITY", None, "No growth at day 7", None, "PRELIMINARY", None),
        ("ENDOTOXIN", 6.3, None, 5.0, "INVALIDATED", True),
        ("ENDOTOXIN", 0.8, None, 5.0, "FINAL", False),
    ]
    assert result.events[0].occurred_at == datetime(2026, 12, 8, 7, 0, tzinfo=UTC)  # +01:00
    assert result.events[0].identifiers.other == {}
    assert result.events[1].identifiers.other == {"reviewed_by": "qc-reviewer-110"}
    payload = (SAMPLES / "03-no-coi-semicolon.csv").read_bytes()
    assert result.events[0].source.message_id == "sha256:" + hashlib.sha256(payload).hexdigest()


def test_json_array_nested_specs_censored_oos_and_corrected() -> None:
    result = sample("04-array-of-results.json")
    results = [qc_detail(e) for e in result.events if e.event_type is EventType.QC_RESULT_RECORDED]
    car, vcn, cd3 = results
    assert (car.test_code, car.result_value, car.spec_low, car.spec_high) == (
        "CAR_PCT",
        12.4,
        15.0,
        80.0,
    )
    assert (car.status, car.out_of_spec) == ("OOS", True)
    assert (vcn.test_code, vcn.result_text, vcn.status, vcn.out_of_spec) == (
        "VCN",
        ">6.0",
        "OOS",
        True,
    )
    assert (cd3.result_value, cd3.spec_low, cd3.spec_high, cd3.status, cd3.out_of_spec) == (
        95.5,
        80.0,
        100.0,
        "CORRECTED",
        False,
    )
    assert result.events[-1].occurred_at == datetime(2026, 12, 18, 16, 0, tzinfo=UTC)  # +02:00
    assert len(result.events) == 5  # two samples -> two links


def test_text_results_without_limits() -> None:
    result = sample("05-text-results.json")
    sterility, myco = map(qc_detail, result.events)
    assert (sterility.result_text, sterility.out_of_spec, sterility.status) == (
        "No growth",
        None,
        "FINAL",
    )
    assert (myco.result_text, myco.out_of_spec) == ("Not detected", False)  # LIMS says in spec
    assert result.events[0].coi_id is None
    assert result.events[0].identifiers.sample_id == "S-24003-FP-01"


@pytest.mark.parametrize(
    ("value", "censored", "low", "high", "expected"),
    [
        (5.0, None, 5.0, 10.0, False),  # limits are inclusive
        (10.0, None, 5.0, 10.0, False),
        (4.99, None, 5.0, 10.0, True),
        (10.01, None, 5.0, 10.0, True),
        (3.0, None, None, None, None),
        (None, None, 5.0, 10.0, None),  # text result
        (None, "<0.50", None, 5.0, False),
        (None, "<0.50", 1.0, None, True),
        (None, "<=1.0", 1.0, None, None),  # may equal the low limit
        (None, "<1.0", 1.0, None, True),
        (None, ">6.0", None, 5.0, True),
        (None, ">=5.0", None, 5.0, None),
        (None, ">80", 70.0, None, False),
        (None, "≥ 70", 70.0, None, False),
        (None, "<8.0", None, 5.0, None),  # straddles the limit
    ],
)
def test_out_of_spec_decision(
    value: float | None,
    censored: str | None,
    low: float | None,
    high: float | None,
    expected: bool | None,
) -> None:
    bound = qc.qualified(censored) if censored else None
    assert qc.out_of_spec(value, bound, low, high) is expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("Sterility", "STERILITY"),
        ("%CD3+", "CD3_PCT"),
        ("car%", "CAR_PCT"),
        ("Vector Copy Number", "VCN"),
        ("LAL", "ENDOTOXIN"),
        ("cell-viability", "VIABILITY"),
        ("IFN-g release", "IFN_G_RELEASE"),
        ("3D", None),
        ("IL/6", None),
    ],
)
def test_test_codes(raw: str, code: str | None) -> None:
    assert qc.normalise_test_code(raw) == code


@pytest.mark.parametrize(
    ("name", "code", "where", "field"),
    [
        ("pdf-report.csv", "NOT_UTF8", "byte", None),
        ("not-csv.csv", "NOT_CSV", "line 1", None),
        ("missing-timezone.csv", "TIMEZONE_MISSING", "row 2 (line 3)", "result_time"),
        ("non-numeric-limit.csv", "NOT_NUMERIC", "row 1 (line 2)", "spec_low"),
        ("missing-column.csv", "MISSING_COLUMN", "'status'", "status"),
        ("inverted-spec.csv", "BAD_SPEC", "row 1 (line 2)", "spec_low"),
        ("bad-coi-check.json", "INVALID_IDENTIFIER", "result 1", "coi"),
        ("unknown-status.json", "UNKNOWN_STATUS", "result 1", "status"),
        ("truncated.json", "NOT_JSON", "Unterminated", None),
        ("results-not-a-list.json", "MALFORMED", "'results' list", "results"),
    ],
)
def test_bad_files(name: str, code: str, where: str, field: str | None) -> None:
    path = BAD / name
    got_code, reason, got_field = rejected(path.read_bytes(), path.suffix)
    assert got_code == code
    assert where in reason
    assert got_field == field


@pytest.mark.parametrize(
    ("payload", "code", "where"),
    [
        (HEADER + GOOD_ROW + "S-2,B-1,,VIABILITY,90\n", "BAD_ROW", "row 2 (line 3)"),
        (HEADER + GOOD_ROW.replace("VIABILITY", "VIA/BILITY"), "BAD_TEST_CODE", "row 1"),
        (HEADER + GOOD_ROW.replace("FINAL", "DRAFT"), "UNKNOWN_STATUS", "row 1"),
        (HEADER + GOOD_ROW.replace(",92.4,", ",,"), "MISSING_FIELD", "row 1"),
        (HEADER + GOOD_ROW.replace("S-1", ""), "MISSING_FIELD", "'sample_id'"),
        (HEADER + GOOD_ROW.replace("-05:00", ""), "TIMEZONE_MISSING", "row 1 (line 2)"),
        (HEADER + GOOD_ROW.replace("2026-12-01T", "01/12/2026 "), "BAD_TIMESTAMP", "row 1"),
        (HEADER + GOOD_ROW.replace("1T,", "1X,"), "INVALID_IDENTIFIER", "row 1 (line 2)"),
        (HEADER + GOOD_ROW.replace(",70,", ",inf,"), "NOT_NUMERIC", "spec_low"),
        (
            HEADER.replace("coi", "oos") + GOOD_ROW.replace("V2VSAMPLE000001T", "maybe"),
            "BAD_FLAG",
            "row 1",
        ),
        ("sample_id,Sample,test_code\n", "BAD_HEADER", "twice"),
        ("", "NOT_CSV", "empty"),
    ],
)
def test_inline_csv_rejections(payload: str, code: str, where: str) -> None:
    got_code, reason, _ = rejected(payload.encode())
    assert got_code == code, reason
    assert where in reason


@pytest.mark.parametrize(
    ("doc", "code", "where"),
    [
        ('"just a string"', "NOT_CSV", "not a lims CSV header"),  # a '"' opens a CSV header
        ("-5", "NOT_AN_OBJECT", "int"),
        ("[1, 2]", "MALFORMED", "result 1: expected an object"),
        ('{"results": null}', "MISSING_FIELD", "'results'"),
        ('[{"sample_id": {"a": [1]}}]', "MISSING_FIELD", "result 1: 'sample_id' is missing"),
        ('[{"sample_id": ["S"]}]', "MALFORMED", "result 1: 'sample_id' must be text"),
        (
            '[{"sample_id": "S", "test_code": "VCN", "result": true, "status": "F"}]',
            "MALFORMED",
            "result 1: 'result' must be a number or text",
        ),
        ('{"export_id": ["x"], "results": []}', "MALFORMED", "export_id"),
    ],
)
def test_inline_json_rejections(doc: str, code: str, where: str) -> None:
    got_code, reason, _ = rejected(doc.encode(), ".json")
    assert got_code == code, reason
    assert where in reason


def test_one_bad_row_rejects_the_whole_export() -> None:
    payload = HEADER + GOOD_ROW * 3 + GOOD_ROW.replace("92.4,%,70", "92.4,%,abc")
    code, reason, field = rejected(payload.encode())
    assert (code, field) == ("NOT_NUMERIC", "spec_low")
    assert reason.startswith("row 4 (line 5):")


def test_error_classes() -> None:
    connector = LimsConnector()
    no_tz = (HEADER + GOOD_ROW.replace("-05:00", "")).encode()
    with pytest.raises(TimezoneMissingError):
        connector.normalise(raw_message(connector, no_tz, ".csv"))
    bad_coi = (HEADER + GOOD_ROW.replace("1T,", "1X,")).encode()
    with pytest.raises(InvalidIdentifierError):
        connector.normalise(raw_message(connector, bad_coi, ".csv"))


def test_format_detection() -> None:
    csv_as_json = run((HEADER + GOOD_ROW).encode(), content_type="application/json")
    assert csv_as_json.rejection is None
    assert len(csv_as_json.events) == 2
    doc = {
        "results": [
            {
                "sample_id": "S",
                "test_code": "VCN",
                "result": 1.0,
                "status": "F",
                "result_time": "2026-12-01T00:00:00Z",
            }
        ]
    }
    json_as_csv = run(json.dumps(doc).encode(), content_type="text/csv")
    assert json_as_csv.rejection is None
    assert qc_detail(json_as_csv.events[0]).test_code == "VCN"
    # neither a JSON nor a CSV first character: the content type decides the parser
    as_json = run(b"\x00\x01", content_type="application/json").rejection
    as_csv = run(b"\x00\x01", content_type="text/csv").rejection
    assert as_json is not None
    assert as_json.code == "NOT_JSON"
    assert as_csv is not None
    assert as_csv.code == "NOT_CSV"


def test_sample_without_coi_emits_no_link_and_repeated_sample_links_once() -> None:
    payload = HEADER + GOOD_ROW + GOOD_ROW.replace("VIABILITY", "CD3_PCT")
    result = run(payload.encode())
    assert [e.event_type.value for e in result.events] == [
        "IDENTIFIER_LINKED",
        "QC_RESULT_RECORDED",
        "QC_RESULT_RECORDED",
    ]
    no_coi = run((HEADER + GOOD_ROW.replace("V2VSAMPLE000001T", "")).encode())
    assert [e.event_type.value for e in no_coi.events] == ["QC_RESULT_RECORDED"]
    assert no_coi.events[0].coi_id is None


def test_replay_is_idempotent() -> None:
    payload = (SAMPLES / "01-release-panel.csv").read_bytes()
    first, again = run(payload), run(payload)
    assert first.events == again.events
    changed = run(payload.replace(b"92.4", b"92.5"))
    assert [e.event_id for e in changed.events] == [e.event_id for e in first.events]  # export id


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_csv_cells_never_crash(data: st.DataObject) -> None:
    lines = (SAMPLES / "01-release-panel.csv").read_text().splitlines()
    row = data.draw(st.integers(2, len(lines) - 1))
    cells = lines[row].split(",")
    col = data.draw(st.integers(0, len(cells) - 1))
    cells[col] = data.draw(st.text(max_size=30))
    lines[row] = ",".join(cells)
    result = run("\n".join(lines).encode())
    if result.rejection is not None:
        assert result.rejection.code != "CONNECTOR_ERROR", result.rejection
