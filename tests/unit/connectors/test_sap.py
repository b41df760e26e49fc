"""The SAP connector: exact mapping of every IDoc and OData sample, time-zone handling, every
rejection code, the XML attack guards, dispatch by content and idempotency."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from connectors import xmlsupport
from connectors.base import ConnectorConfig, Result
from connectors.conformance import CONNECTORS_DIR, raw_message
from connectors.sap.normalise import SapConnector
from connectors.sap.timezones import LocalTimes
from hub.errors import NormalisationError
from hub.events.ids import event_id
from hub.events.models import (
    CustodyDetail,
    Event,
    EventType,
    LinkDetail,
    QualityDecisionDetail,
    ScheduleDetail,
    ShipmentDetail,
)

pytestmark = pytest.mark.req("REQ-FN-CONNECTORS")

SAMPLES = CONNECTORS_DIR / "sap" / "samples"
BAD = CONNECTORS_DIR / "sap" / "bad"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def run(payload: bytes, suffix: str = ".xml", config: ConnectorConfig | None = None) -> Result:
    connector = SapConnector(config)
    return connector.process(raw_message(connector, payload, suffix))


def sample(name: str) -> list[Event]:
    path = SAMPLES / name
    result = run(path.read_bytes(), path.suffix)
    assert result.rejection is None, result.rejection
    return list(result.events)


def rejected(payload: bytes, suffix: str = ".xml") -> str:
    result = run(payload, suffix)
    assert result.rejection is not None, result.events
    assert result.rejection.reason
    return result.rejection.code


def mutate(name: str, old: str, new: str) -> bytes:
    text = (SAMPLES / name).read_text()
    assert old in text, old
    return text.replace(old, new).encode()


# --- LOIPRO --------------------------------------------------------------------------------------


def test_loipro_created_gives_order_and_slot_in_utc() -> None:
    ordered, booked = sample("01-loipro-order-created.xml")
    assert [ordered.event_type, booked.event_type] == [
        EventType.THERAPY_ORDERED,
        EventType.SLOT_BOOKED,
    ]
    assert ordered.event_id == event_id("sap", "0000000004711001", 0)
    assert booked.event_id == event_id("sap", "0000000004711001", 1)
    assert ordered.source.message_id == "0000000004711001"
    assert ordered.source.system == "sap-erp"
    # CREDAT/CRETIM 2026-11-20 09:30:15 in SAP zone EST (November: -05:00)
    assert ordered.occurred_at == utc(2026, 11, 20, 14, 30, 15)
    assert ordered.coi_id == "V2VSAMPLE000001T"
    assert ordered.identifiers.order_id == "1000123"
    assert ordered.identifiers.batch_id == "B24-0001"
    assert ordered.identifiers.other == {"material": "CART-AUTO-01"}
    assert ordered.actor is not None
    assert ordered.actor.id == "PLANNER01"
    assert ordered.actor.role == "production_planner"
    assert ordered.location is not None
    assert ordered.location.id == "US10"
    assert ordered.detail == ScheduleDetail(
        product_profile="cart-fresh-48h",
        slot_id="1000123",
        slot_start=utc(2026, 11, 25, 13, 0),
        slot_end=utc(2026, 12, 9, 22, 0),
        planned_ship_at=utc(2026, 12, 11, 14, 0),
        planned_infusion_at=utc(2026, 12, 15, 15, 0),
        manufacturing_site="US10",
        treatment_site="Boston Oncology Centre",
    )
    assert booked.detail == ScheduleDetail(
        product_profile="cart-fresh-48h",
        slot_id="1000123",
        slot_start=utc(2026, 11, 25, 13, 0),
        slot_end=utc(2026, 12, 9, 22, 0),
        manufacturing_site="US10",
    )


def test_loipro_change_is_a_reschedule_with_reason() -> None:
    (event,) = sample("02-loipro-slot-rescheduled.xml")
    assert event.event_type is EventType.SLOT_RESCHEDULED
    assert event.event_id == event_id("sap", "0000000004711002", 0)
    assert event.occurred_at == utc(2026, 11, 22, 21, 0)  # 16:00 America/New_York
    assert event.coi_id == "V2VSAMPLE000001T"  # "&/" prefix removed
    assert event.actor is not None
    assert (event.actor.id, event.actor.role) == (
        "P01CLNT100",
        "system",
    )
    assert isinstance(event.detail, ScheduleDetail)
    # basic dates (GSTRP/GSUZP) when no scheduled dates are sent
    assert event.detail.slot_start == utc(2026, 11, 26, 13, 0)
    assert event.detail.slot_end == utc(2026, 12, 10, 22, 0)
    assert event.detail.reason == "Apheresis moved by one day at the treatment centre"
    assert event.detail.product_profile == "CART-AUTO-01"
    assert event.detail.planned_infusion_at is None


# --- BATMAS ---------------------------------------------------------------------------------------


def test_batmas_links_batch_to_coi_from_characteristic() -> None:
    (event,) = sample("03-batmas-batch-link.xml")
    assert event.event_type is EventType.IDENTIFIER_LINKED
    assert event.event_id == event_id("sap", "0000000004711010", 0)
    assert event.detail == LinkDetail(id_kind="batch_id", id_value="B26-0002")
    assert event.coi_id == "V2VSAMPLE000002R"
    assert event.identifiers.batch_id == "B26-0002"
    assert event.identifiers.other == {"material": "CART-AUTO-01", "expiry_date": "2027-06-03"}
    assert event.occurred_at == utc(2026, 12, 3, 9, 15)  # 10:15 CET (+01:00)
    assert event.biz_step == "commissioning"
    assert event.actor is not None
    assert event.actor.id == "QA.VRIES"
    assert event.location is not None
    assert event.location.id == "NL10"


def test_batmas_coi_may_come_from_the_extension_segment_alone() -> None:
    payload = mutate(
        "03-batmas-batch-link.xml",
        "<TZONE>CET</TZONE>",
        "<TZONE>CET</TZONE><COI>V2VSAMPLE000002R</COI>",
    ).replace(b"<CHARACT>COI</CHARACT>", b"<CHARACT>ZCOLOUR</CHARACT>")
    (event,) = run(payload).events
    assert event.coi_id == "V2VSAMPLE000002R"


def test_batmas_without_any_coi_is_rejected() -> None:
    payload = mutate("03-batmas-batch-link.xml", "<CHARACT>COI</CHARACT>", "<CHARACT>X</CHARACT>")
    assert rejected(payload) == "MISSING_FIELD"


# --- DESADV ---------------------------------------------------------------------------------------


def test_desadv_goods_issue_releases_custody_and_departs() -> None:
    released, departed = sample("04-desadv-goods-issue.xml")
    assert [released.event_type, departed.event_type] == [
        EventType.CUSTODY_RELEASED,
        EventType.SHIPMENT_DEPARTED,
    ]
    assert [released.event_id, departed.event_id] == [
        event_id("sap", "0000000004711020", 0),
        event_id("sap", "0000000004711020", 1),
    ]
    # ISDD/ISDZ 2026-12-11 09:30 in the segment's own TZONE_BEG EST; no Z1V2VHUB-TZONE needed
    assert released.occurred_at == departed.occurred_at == utc(2026, 12, 11, 14, 30)
    assert released.coi_id == "V2VSAMPLE000001T"
    assert released.identifiers.shipment_id == "SHP-250001"  # BOLNR
    assert released.identifiers.batch_id == "B24-0001"
    assert released.identifiers.other == {"delivery": "80001234", "material": "CART-AUTO-01"}
    assert released.detail == CustodyDetail(
        handover_id="SHP-250001",
        releasing_party="Philadelphia Cell Therapy Facility",
        receiving_party="Boston Oncology Centre",
        lane="PHL-BOS-CRYO",
        verified_by="SHIPPING07",
    )
    assert (released.biz_step, released.disposition) == ("shipping", "in_transit")
    assert departed.detail == ShipmentDetail(
        status="DEPARTED",
        carrier="CryoExpress",
        lane="PHL-BOS-CRYO",
        eta=utc(2026, 12, 12, 15, 0),
    )
    assert (departed.biz_step, departed.disposition) == ("departing", "in_transit")
    assert released.actor is not None
    assert released.actor.id == "SHIPPING07"
    assert released.location is not None
    assert released.location.id == "US10"


def test_desadv_without_goods_issue_is_an_announcement_keyed_by_batch() -> None:
    (event,) = sample("05-desadv-advance-notice-namespaced.xml")
    assert event.event_type is EventType.SHIPMENT_STATUS
    assert event.event_id == event_id("sap", "0000000004711021", 0)
    assert event.occurred_at == utc(2026, 12, 9, 16, 45)  # CREDAT/CRETIM 17:45 CET
    assert event.coi_id is None
    assert event.identifiers.batch_id == "B26-0002"
    assert event.identifiers.shipment_id == "80001301"  # no BOLNR: the delivery number
    assert event.detail == ShipmentDetail(
        status="ANNOUNCED", lane="LEI-AMS-CRYO", eta=utc(2026, 12, 11, 11, 0)
    )


def test_desadv_goods_issue_without_any_zone_is_timezone_missing() -> None:
    payload = mutate(
        "04-desadv-goods-issue.xml", "<TZONE_BEG>EST</TZONE_BEG>\n        <ISDD>", "<ISDD>"
    )
    result = run(payload)
    assert result.rejection is not None
    assert result.rejection.code == "TIMEZONE_MISSING"
    assert result.rejection.field == "DELVRY07/IDOC/E1EDL20/E1EDT13/ISDD"
    assert result.rejection.message_id == "0000000004711020"


def test_desadv_without_coi_or_batch_is_rejected() -> None:
    payload = mutate("05-desadv-advance-notice-namespaced.xml", "<CHARG>B26-0002</CHARG>", "")
    assert rejected(payload) == "MISSING_IDENTIFIER"


# --- OData usage decisions ------------------------------------------------------------------------


def test_odata_v2_accepted_usage_decision_is_certified() -> None:
    (event,) = sample("06-odata-v2-ud-certified.json")
    message_id = "10000004711@2026-12-09T14:30:00+00:00"
    assert event.event_type is EventType.RELEASE_DECIDED
    assert event.event_id == event_id("sap", message_id, 0)
    assert event.source.message_id == message_id
    assert event.occurred_at == utc(2026, 12, 9, 14, 30)  # ChangedDateTime wins
    assert event.detail == QualityDecisionDetail(
        decision="CERTIFIED", decision_code="A1", reference="10000004711"
    )
    assert event.coi_id == "V2VSAMPLE000001T"  # YY1_COI of the expanded lot
    assert event.identifiers.batch_id == "B24-0001"
    assert event.identifiers.other == {"inspection_lot": "10000004711", "material": "CART-AUTO-01"}
    assert event.actor is not None
    assert (event.actor.id, event.actor.role) == ("QP.MILLER", "quality_assurance")
    assert (event.biz_step, event.disposition) == ("inspecting", "conformant")


def test_odata_v4_rejection_without_coi_is_keyed_by_batch() -> None:
    (event,) = sample("07-odata-v4-ud-rejected.json")
    assert event.detail == QualityDecisionDetail(
        decision="REJECTED",
        decision_code="R1",
        reference="10000004712",
        reason="Sterility test positive (OOS-2026-118); batch not certified",
    )
    assert event.occurred_at == utc(2026, 12, 9, 13, 30)  # 14:30 Europe/Amsterdam
    assert event.coi_id is None
    assert event.identifiers.batch_id == "B26-0002"
    assert event.disposition == "non_conformant"
    assert event.location is not None
    assert event.location.id == "NL10"


def test_odata_v2_collection_gives_one_decision_per_entity() -> None:
    certified, rejected_ = sample("08-odata-v2-ud-collection.json")
    assert certified.occurred_at == utc(2026, 12, 8, 21, 5)  # /Date(..)/ + PT16H05M00S in EST
    assert certified.coi_id == "V2VSAMPLE000003P"
    assert isinstance(certified.detail, QualityDecisionDetail)
    assert certified.detail.decision == "CERTIFIED"
    # /Date(ms-0300)/: the milliseconds are UTC, the offset does not move the instant
    assert rejected_.occurred_at == utc(2026, 12, 10, 9, 45)
    assert rejected_.coi_id == "V2VSAMPLE000004N"
    assert isinstance(rejected_.detail, QualityDecisionDetail)
    assert rejected_.detail.decision == "REJECTED"
    assert rejected_.actor is not None
    assert rejected_.actor.id == "QP.CHEN"  # changed by wins
    assert rejected_.location is None


def _ud(**fields: object) -> bytes:
    entity: dict[str, object] = {
        "InspectionLot": "010000009999",
        "InspectionLotUsageDecisionCode": "A1",
        "InspLotUsageDecisionValuation": "A",
        "ChangedDateTime": "2026-12-09T15:30:00+01:00",
        "Batch": "B-1",
    }
    entity.update(fields)
    return json.dumps({"d": {k: v for k, v in entity.items() if v is not None}}).encode()


def test_odata_short_aliases_and_iso_offsets() -> None:
    payload = json.dumps(
        {
            "InspectionLot": "4711",
            "UsageDecisionCode": "R9",
            "UsageDecisionValuation": "r",
            "UsageDecisionDateTime": "2026-12-09T15:30:00+01:00",
            "UsageDecisionChangedBy": "QP.X",
            "Batch": "B-9",
        }
    ).encode()
    (event,) = run(payload, ".json").events
    assert event.occurred_at == utc(2026, 12, 9, 14, 30)
    assert isinstance(event.detail, QualityDecisionDetail)
    assert (event.detail.decision, event.detail.decision_code) == ("REJECTED", "R9")
    assert event.actor is not None
    assert event.actor.id == "QP.X"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"InspLotUsageDecisionValuation": "X"}, "UNKNOWN_VALUATION"),
        ({"InspLotUsageDecisionValuation": None}, "MISSING_FIELD"),
        ({"InspectionLotUsageDecisionCode": None}, "MISSING_FIELD"),
        ({"ChangedDateTime": "/Date(1796826600000)/"}, "TIMEZONE_MISSING"),
        ({"ChangedDateTime": "2026-12-09T15:30:00"}, "TIMEZONE_MISSING"),
        ({"ChangedDateTime": "/Date(999999999999999+0000)/"}, "BAD_TIMESTAMP"),
        ({"ChangedDateTime": "yesterday"}, "BAD_TIMESTAMP"),
        ({"ChangedDateTime": None}, "MISSING_FIELD"),
        (
            {
                "ChangedDateTime": None,
                "InspectionLotUsageDecidedOn": "2026-12-09",
                "InspLotUsageDecisionTime": "14:30:00",
                "YY1_TimeZone": "Mars/Olympus",
            },
            "UNKNOWN_TIMEZONE",
        ),
        (
            {
                "ChangedDateTime": None,
                "InspectionLotUsageDecidedOn": "2026-12-09",
                "InspLotUsageDecisionTime": "PT25H",
                "YY1_TimeZone": "CET",
            },
            "BAD_TIMESTAMP",
        ),
        ({"YY1_COI": "V2VSAMPLE000001X"}, "INVALID_IDENTIFIER"),
        ({"Batch": None}, "MISSING_IDENTIFIER"),
        ({"Batch": 1.5}, "MALFORMED"),
        ({"__metadata": {"type": "API_X.A_ProductionOrderType"}}, "UNSUPPORTED_ENTITY"),
    ],
)
def test_odata_rejections(fields: dict[str, object], code: str) -> None:
    assert rejected(_ud(**fields), ".json") == code


def test_odata_local_decision_time_in_named_zone() -> None:
    payload = _ud(
        ChangedDateTime=None,
        InspectionLotUsageDecidedOn="/Date(1783296000000)/",  # 2026-07-06
        InspLotUsageDecisionTime="PT09H00M00S",
        YY1_TimeZone="EST",  # SAP EST follows US daylight saving: -04:00 in July
    )
    (event,) = run(payload, ".json").events
    assert event.occurred_at == utc(2026, 7, 6, 13, 0)


def test_odata_same_lot_twice_in_a_page_counts_once_but_conflicts_are_rejected() -> None:
    entity = json.loads(_ud())["d"]
    same = json.dumps({"value": [entity, entity]}).encode()
    assert len(run(same, ".json").events) == 1
    other = dict(entity, InspLotUsageDecisionValuation="R")
    conflict = json.dumps({"value": [entity, other]}).encode()
    assert rejected(conflict, ".json") == "DUPLICATE_ID"


# --- dispatch, rejections, attacks ----------------------------------------------------------------

BAD_CODES = {
    "bad-coi-check.xml": "INVALID_IDENTIFIER",
    "batmas-coi-conflict.xml": "COI_CONFLICT",
    "billion-laughs.xml": "DOCTYPE_FORBIDDEN",
    "desadv-two-batches.xml": "MULTIPLE_BATCHES",
    "dst-ambiguous-local-time.xml": "AMBIGUOUS_LOCAL_TIME",
    "flat-file-idoc.xml": "UNSUPPORTED_FORMAT",
    "missing-segment.xml": "MISSING_SEGMENT",
    "missing-timezone.xml": "TIMEZONE_MISSING",
    "truncated.xml": "MALFORMED",
    "ud-datetime-without-offset.json": "TIMEZONE_MISSING",
    "ud-unknown-valuation.json": "UNKNOWN_VALUATION",
    "ud-wrong-entity.json": "UNSUPPORTED_ENTITY",
    "unknown-idoc-type.xml": "UNSUPPORTED_IDOC_TYPE",
    "xxe-external-entity.xml": "DOCTYPE_FORBIDDEN",
}


def test_every_bad_file_has_an_expected_code() -> None:
    assert sorted(p.name for p in BAD.iterdir()) == sorted(BAD_CODES)


@pytest.mark.parametrize(("name", "code"), sorted(BAD_CODES.items()))
def test_bad_file_rejection_code(name: str, code: str) -> None:
    path = BAD / name
    assert rejected(path.read_bytes(), path.suffix) == code


def test_bad_coi_rejection_names_field_and_idoc() -> None:
    result = run((BAD / "bad-coi-check.xml").read_bytes())
    assert result.rejection is not None
    assert result.rejection.field == "Z1V2VHUB/COI"
    assert result.rejection.message_id == "0000000004711091"
    assert result.rejection.partner == "sap"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"\xff\xfe\x00garbage", "NOT_UTF8"),
        (b"DOCNUM;4711", "UNSUPPORTED_FORMAT"),
        (b"", "UNSUPPORTED_FORMAT"),
        (b"[1, 2]", "NOT_AN_OBJECT"),
        (b'{"foo": 1}', "UNSUPPORTED_FORMAT"),
        (b"{not json", "NOT_JSON"),
        (b"<LOIPRO01><nothing/></LOIPRO01>", "NOT_AN_IDOC"),
        (b"<LOIPRO01><IDOC/></LOIPRO01>", "MISSING_SEGMENT"),
        (b"<LOIPRO01><IDOC><EDI_DC40/></IDOC></LOIPRO01>", "MISSING_FIELD"),
        (b"<a>\xe9</a>", "NOT_UTF8"),
        ("<a/>".encode("utf-16"), "NOT_UTF8"),
    ],
)
def test_dispatch_rejections(payload: bytes, code: str) -> None:
    assert rejected(payload) == code


def test_kind_is_read_from_content_not_content_type() -> None:
    payload = (SAMPLES / "01-loipro-order-created.xml").read_bytes()
    assert len(run(payload, ".json").events) == 2
    bom = b"\xef\xbb\xbf\n  " + (SAMPLES / "06-odata-v2-ud-certified.json").read_bytes()
    assert len(run(bom, ".xml").events) == 1


def test_ambiguous_rejection_names_the_date_field() -> None:
    result = run((BAD / "dst-ambiguous-local-time.xml").read_bytes())
    assert result.rejection is not None
    assert result.rejection.field == "LOIPRO01/IDOC/E1AFKOL/GSTRS"


def test_unknown_zone_code_is_rejected_not_guessed() -> None:
    payload = mutate("01-loipro-order-created.xml", "<TZONE>EST</TZONE>", "<TZONE>ATLANT</TZONE>")
    assert rejected(payload) == "UNKNOWN_TIMEZONE"


def test_change_indicator_must_be_create_or_change() -> None:
    payload = mutate("01-loipro-order-created.xml", "<AKTYP>H</AKTYP>", "<AKTYP>L</AKTYP>")
    assert rejected(payload) == "MALFORMED"


def test_order_ending_before_it_starts_is_rejected() -> None:
    payload = mutate(
        "01-loipro-order-created.xml", "<GLTRS>20261209</GLTRS>", "<GLTRS>20261101</GLTRS>"
    )
    assert rejected(payload) == "INCONSISTENT_DATES"


def test_xxe_is_not_expanded_even_past_the_byte_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    payload = (BAD / "xxe-external-entity.xml").read_bytes()
    monkeypatch.setattr(xmlsupport, "_FORBIDDEN_MARKUP", ())
    with pytest.raises(NormalisationError) as info:
        xmlsupport.parse_xml(payload, "sap")
    assert info.value.code == "DOCTYPE_FORBIDDEN"
    assert "root:" not in str(info.value)  # nothing of /etc/passwd leaks into the reason


def test_billion_laughs_is_refused_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    payload = (BAD / "billion-laughs.xml").read_bytes()
    monkeypatch.setattr(xmlsupport, "_FORBIDDEN_MARKUP", ())
    started = datetime.now(UTC)
    with pytest.raises(NormalisationError) as info:
        xmlsupport.parse_xml(payload, "sap")
    # libxml2's amplification limit stops it while parsing, or the DTD check right after
    assert info.value.code in {"MALFORMED", "DOCTYPE_FORBIDDEN"}
    assert datetime.now(UTC) - started < timedelta(seconds=1)


# --- several IDocs, idempotency, configuration ----------------------------------------------------


def _two_idocs(second_docnum: str) -> bytes:
    text = (SAMPLES / "02-loipro-slot-rescheduled.xml").read_text()
    start, end = text.index("<IDOC "), text.index("</LOIPRO01>")
    idoc = text[start:end]
    other = idoc.replace("0000000004711002", second_docnum).replace(
        "<CHGRSN>Apheresis moved by one day at the treatment centre</CHGRSN>",
        "<CHGRSN>second change</CHGRSN>",
    )
    return (text[:end] + other + text[end:]).encode()


def test_file_with_two_idocs_gives_both() -> None:
    events = run(_two_idocs("0000000004711003")).events
    assert [e.source.message_id for e in events] == ["0000000004711002", "0000000004711003"]
    assert [e.event_id for e in events] == [
        event_id("sap", "0000000004711002", 0),
        event_id("sap", "0000000004711003", 0),
    ]


def test_same_docnum_twice_with_different_content_is_rejected() -> None:
    assert rejected(_two_idocs("0000000004711002")) == "DUPLICATE_ID"


@pytest.mark.parametrize("path", sorted(SAMPLES.iterdir()), ids=lambda p: p.name)
def test_replay_gives_identical_events(path: Path) -> None:
    first = run(path.read_bytes(), path.suffix)
    again = run(path.read_bytes(), path.suffix)
    assert first.rejection is None
    assert list(again.events) == list(first.events)


def test_configured_coi_pattern_is_applied() -> None:
    strict = ConnectorConfig(coi_pattern=r"^XYZ[A-Z0-9]{12}$")
    payload = (SAMPLES / "01-loipro-order-created.xml").read_bytes()
    result = run(payload, config=strict)
    assert result.rejection is not None
    assert result.rejection.code == "INVALID_IDENTIFIER"


# --- local times ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "local", "expected"),
    [
        ("EST", datetime(2026, 7, 1, 12, 0), utc(2026, 7, 1, 16, 0)),  # SAP EST has US DST
        ("EST", datetime(2026, 1, 15, 12, 0), utc(2026, 1, 15, 17, 0)),
        ("CET", datetime(2026, 7, 1, 12, 0), utc(2026, 7, 1, 10, 0)),
        ("UTC", datetime(2026, 7, 1, 12, 0), utc(2026, 7, 1, 12, 0)),
        ("Asia/Tokyo", datetime(2026, 7, 1, 12, 0), utc(2026, 7, 1, 3, 0)),
        ("+05:30", datetime(2026, 7, 1, 12, 0), utc(2026, 7, 1, 6, 30)),
        ("UTC-5", datetime(2026, 7, 1, 12, 0), utc(2026, 7, 1, 17, 0)),
    ],
)
def test_zone_conversion(zone: str, local: datetime, expected: datetime) -> None:
    times = LocalTimes("sap")
    assert times.to_utc(local.date(), local.time(), times.zone(zone, "TZONE"), "f") == expected


def test_fixed_offsets_are_real_offsets() -> None:
    assert LocalTimes("sap").zone("-0500", "TZONE") == timezone(timedelta(hours=-5))


@pytest.mark.parametrize("zone", ["", "MOON", "UTC+15", "../../etc/passwd", "Europe/Nowhere"])
def test_unknown_zones(zone: str) -> None:
    with pytest.raises(NormalisationError) as info:
        LocalTimes("sap").zone(zone, "TZONE")
    assert info.value.code == "UNKNOWN_TIMEZONE"


def test_sap_time_edge_values() -> None:
    times = LocalTimes("sap")
    zone = times.zone("UTC", "TZONE")
    assert times.combine("20261231", "240000", zone, "f") == utc(2027, 1, 1)
    assert times.combine("00000000", "120000", zone, "f") is None


def test_sap_invalid_dates_and_times_are_bad_timestamps() -> None:
    times = LocalTimes("sap")
    cases = [
        ("20260230", "000000"),
        ("20260229", "000000"),
        ("2026-1-1", "0"),
        ("20260101", "126000"),
    ]
    for day, clock in cases:
        with pytest.raises(NormalisationError) as info:
            times.combine(day, clock, UTC, "f")
        assert info.value.code == "BAD_TIMESTAMP"
    with pytest.raises(NormalisationError) as info:
        times.combine("99991231", "240000", UTC, "f")
    assert info.value.code == "BAD_TIMESTAMP"


def test_spring_forward_gap_is_rejected() -> None:
    times = LocalTimes("sap")
    with pytest.raises(NormalisationError) as info:
        times.to_utc(date(2026, 3, 29), time(2, 30), times.zone("CET", "TZONE"), "f")
    assert info.value.code == "AMBIGUOUS_LOCAL_TIME"


def test_missing_zone_is_timezone_missing() -> None:
    with pytest.raises(NormalisationError) as info:
        LocalTimes("sap").to_utc(date(2026, 3, 1), time(2, 30), None, "f")
    assert info.value.code == "TIMEZONE_MISSING"
