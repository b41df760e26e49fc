"""The MES connector: exact mapping of the B2MML samples (namespaced, prefixed and bare),
identity checks at receipt, custody acceptance, every rejection code and idempotency."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.base import Result
from connectors.conformance import CONNECTORS_DIR, raw_message
from connectors.mes.normalise import MesConnector
from hub.events.ids import event_id
from hub.events.models import (
    CustodyDetail,
    Event,
    EventType,
    IdentityCheckDetail,
    ManufacturingDetail,
    MaterialDetail,
)

pytestmark = pytest.mark.req("REQ-FN-CONNECTORS")

SAMPLES = CONNECTORS_DIR / "mes" / "samples"
BAD = CONNECTORS_DIR / "mes" / "bad"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def run(payload: bytes, suffix: str = ".xml") -> Result:
    connector = MesConnector()
    return connector.process(raw_message(connector, payload, suffix))


def sample(name: str) -> list[Event]:
    result = run((SAMPLES / name).read_bytes())
    assert result.rejection is None, result.rejection
    return list(result.events)


def rejected(payload: bytes) -> str:
    result = run(payload)
    assert result.rejection is not None, result.events
    assert result.rejection.reason
    return result.rejection.code


def mutate(name: str, old: str, new: str) -> bytes:
    text = (SAMPLES / name).read_text()
    assert old in text, old
    return text.replace(old, new).encode()


# --- production performance -----------------------------------------------------------------------


def test_started_report_gives_start_and_completed_segment() -> None:
    started, step = sample("01-process-production-performance-started.xml")
    assert started.event_type is EventType.MANUFACTURING_STARTED
    assert started.event_id == event_id("mes", "PR-1000123", 0)
    assert started.occurred_at == utc(2026, 11, 25, 13, 10)
    assert started.source.message_id == "BOD-PHL-2026-000811"
    assert started.source.system == "mes-isa95"
    assert started.coi_id == "V2VSAMPLE000001T"
    assert started.identifiers.din == "=A99991712345600"
    assert started.identifiers.batch_id == "B24-0001"
    assert started.identifiers.order_id == "1000123"
    assert started.identifiers.other == {"production_response": "PR-1000123"}
    assert started.detail == ManufacturingDetail(status="STARTED", material_lot="B24-0001")
    assert started.actor is not None
    assert (started.actor.id, started.actor.role) == ("MES-PHL-01", "system")
    assert started.location is not None
    assert started.location.id == "PHL-CTF"

    assert step.event_type is EventType.MANUFACTURING_STEP_COMPLETED
    assert step.event_id == event_id("mes", "PR-1000123/PR-1000123-010", 0)
    assert step.occurred_at == utc(2026, 11, 25, 17, 40)
    assert step.detail == ManufacturingDetail(
        step="TCELL-SELECTION",
        status="COMPLETED",
        equipment="CLINIMACS-PRODIGY-07",
        material_lot="B24-0001",
    )
    assert step.actor is not None
    assert (step.actor.id, step.actor.role, step.actor.organisation) == (
        "op-2231",
        "operator",
        "PHL-CTF",
    )
    assert step.disposition == "in_progress"


def test_completed_report_with_prefix_gives_every_milestone() -> None:
    events = sample("02-notify-production-performance-prefixed.xml")
    assert [e.event_type for e in events] == [
        EventType.MANUFACTURING_STARTED,
        *[EventType.MANUFACTURING_STEP_COMPLETED] * 5,
        EventType.CRYOPRESERVED,
        EventType.MANUFACTURING_COMPLETED,
    ]
    steps = [e.detail.step for e in events if isinstance(e.detail, ManufacturingDetail)][1:6]
    assert steps == [
        "TCELL-SELECTION",
        "TCELL-ACTIVATION",
        "TRANSDUCTION",
        "EXPANSION",
        "CRYOPRESERVATION",
    ]
    assert {e.source.message_id for e in events} == {"PP-PHL-2026-000977"}  # no BODID
    assert {e.coi_id for e in events} == {"V2VSAMPLE000001T"}
    cryo, completed = events[-2], events[-1]
    assert cryo.event_id == event_id("mes", "PR-1000123/PR-1000123-050", 1)
    assert cryo.occurred_at == utc(2026, 12, 5, 20, 20)
    assert cryo.detail == MaterialDetail(
        material_type="CART-AUTO-01",
        quantity=68.0,
        unit="mL",
        expires_at=utc(2027, 12, 5, 20, 20),
        container_id="B24-0001-BAG1",
    )
    assert cryo.biz_step == "storing"
    assert cryo.actor is not None
    assert cryo.actor.id == "op-1907"
    assert completed.event_id == event_id("mes", "PR-1000123", 1)
    assert completed.occurred_at == utc(2026, 12, 5, 21, 0)
    assert completed.detail == ManufacturingDetail(status="COMPLETED", material_lot="B24-0001")


def test_cumulative_reports_repeat_the_same_event_ids() -> None:
    first = sample("01-process-production-performance-started.xml")
    later = sample("02-notify-production-performance-prefixed.xml")
    assert first[0].event_id == later[0].event_id  # MANUFACTURING_STARTED
    assert first[1].event_id == later[1].event_id  # the selection step
    assert first[0].source.message_id != later[0].source.message_id


def test_bare_response_without_namespace_and_coi_is_keyed_by_batch() -> None:
    started, step = sample("03-production-response-bare-aborted.xml")
    assert started.event_type is EventType.MANUFACTURING_STARTED
    assert started.occurred_at == utc(2026, 12, 1, 8, 0)  # +01:00
    assert started.coi_id is None
    assert started.identifiers.batch_id == "B26-0002"
    assert started.actor is None  # no ApplicationArea, no person
    assert started.source.message_id == "PR-1000131"
    assert step.detail == ManufacturingDetail(
        step="EXPANSION", status="ABORTED", material_lot="B26-0002"
    )
    assert step.occurred_at == utc(2026, 12, 4, 7, 15)


def test_cryo_segment_only_counts_when_completed() -> None:
    payload = mutate(
        "02-notify-production-performance-prefixed.xml",
        "<b2mml:ActualEndTime>2026-12-05T15:20:00-05:00</b2mml:ActualEndTime>\n"
        "          <b2mml:SegmentState>Completed</b2mml:SegmentState>",
        "<b2mml:ActualEndTime>2026-12-05T15:20:00-05:00</b2mml:ActualEndTime>\n"
        "          <b2mml:SegmentState>Aborted</b2mml:SegmentState>",
    )
    types = [e.event_type for e in run(payload).events]
    assert EventType.CRYOPRESERVED not in types
    assert types.count(EventType.MANUFACTURING_STEP_COMPLETED) == 5


def test_completion_time_falls_back_to_last_segment_end() -> None:
    payload = mutate(
        "02-notify-production-performance-prefixed.xml",
        "<b2mml:EndTime>2026-12-05T16:00:00-05:00</b2mml:EndTime>",
        "",
    )
    completed = run(payload).events[-1]
    assert completed.event_type is EventType.MANUFACTURING_COMPLETED
    assert completed.occurred_at == utc(2026, 12, 5, 20, 20)


# --- material lot receipt -------------------------------------------------------------------------


def test_verified_receipt_gives_receipt_check_and_acceptance() -> None:
    received, verified, accepted = sample("04-sync-material-lot-receipt-verified.xml")
    key = "LOT-APH-240001/receipt"
    assert [e.event_id for e in (received, verified, accepted)] == [
        event_id("mes", key, 0),
        event_id("mes", key, 1),
        event_id("mes", key, 2),
    ]
    for event in (received, verified, accepted):
        assert event.occurred_at == utc(2026, 11, 24, 21, 5)
        assert event.coi_id == "V2VSAMPLE000001T"
        assert event.identifiers.din == "=A99991712345600"
        assert event.identifiers.shipment_id == "SHP-240001"
        assert event.source.message_id == "BOD-PHL-2026-000790"
    assert received.event_type is EventType.MATERIAL_RECEIVED
    assert received.detail == MaterialDetail(
        material_type="APHERESIS-LEUKOPAK",
        quantity=245.0,
        unit="mL",
        collection_end=utc(2026, 11, 24, 12, 30),
        container_id="LOT-APH-240001",
    )
    assert received.identifiers.other == {
        "material_lot": "LOT-APH-240001",
        "storage_location": "PHL-CTF-RECEIVING-2",
    }
    assert (received.biz_step, received.disposition) == ("receiving", "in_progress")
    assert verified.event_type is EventType.IDENTITY_VERIFIED
    assert verified.detail == IdentityCheckDetail(
        checkpoint="manufacturing_receipt",
        expected={"coi": "V2VSAMPLE000001T", "din": "=A99991712345600"},
        scanned={"coi": "V2VSAMPLE000001T", "din": "=A99991712345600"},
        matched=True,
        verified_by="qa-0212",
    )
    assert verified.disposition == "conformant"
    assert accepted.event_type is EventType.CUSTODY_ACCEPTED
    assert accepted.detail == CustodyDetail(
        handover_id="SHP-240001",
        releasing_party="CryoExpress",
        receiving_party="PHL-CTF",
        verified_by="op-1044",
        identity_scanned=True,
    )
    assert accepted.actor is not None
    assert (accepted.actor.id, accepted.actor.role) == ("op-1044", "receiver")
    assert accepted.biz_step == "accepting"


def test_identity_mismatch_is_reported_not_rejected() -> None:
    received, verified = sample("05-sync-material-lot-identity-mismatch.xml")
    assert received.event_type is EventType.MATERIAL_RECEIVED
    assert verified.event_type is EventType.IDENTITY_VERIFIED
    assert verified.detail == IdentityCheckDetail(
        checkpoint="manufacturing_receipt",
        expected={"coi": "V2VSAMPLE000003P"},
        scanned={"coi": "V2VSAMPLE000004N"},
        matched=False,
        verified_by="op-1044",
    )
    assert verified.disposition == "non_conformant"
    assert verified.occurred_at == utc(2026, 11, 24, 23, 30)


def test_mes_verdict_fail_overrides_equal_scans() -> None:
    payload = mutate(
        "05-sync-material-lot-identity-mismatch.xml",
        "<ValueString>V2VSAMPLE000004N</ValueString>",
        "<ValueString>V2VSAMPLE000003P</ValueString>",
    )
    verified = run(payload).events[1]
    assert isinstance(verified.detail, IdentityCheckDetail)
    assert verified.detail.scanned == verified.detail.expected
    assert verified.detail.matched is False


def test_unreadable_scan_is_a_mismatch_not_a_rejection() -> None:
    payload = mutate(
        "05-sync-material-lot-identity-mismatch.xml",
        "<ValueString>V2VSAMPLE000004N</ValueString>",
        "<ValueString>??smudged??</ValueString>",
    ).replace(b"<ValueString>Fail</ValueString>", b"<ValueString>Pass</ValueString>")
    verified = run(payload).events[1]
    assert isinstance(verified.detail, IdentityCheckDetail)
    assert verified.detail.scanned == {"coi": "??SMUDGED??"}
    assert verified.detail.matched is False


def test_bare_lot_with_din_only() -> None:
    (received,) = sample("06-material-lot-bare-din-only.xml")
    assert received.coi_id is None
    assert received.identifiers.din == "=A99991712345700"
    assert received.occurred_at == utc(2026, 11, 30, 9, 12)
    assert received.location is not None
    assert received.location.id == "NL-LEI"
    assert received.actor is None
    assert received.source.message_id == "LOT-APH-240007"


def test_receipt_time_falls_back_to_creation_time() -> None:
    payload = mutate(
        "05-sync-material-lot-identity-mismatch.xml",
        "<MaterialLotProperty><ID>ReceiptTime</ID><Value><ValueString>"
        "2026-11-24T18:30:00-05:00</ValueString></Value></MaterialLotProperty>",
        "",
    )
    assert run(payload).events[0].occurred_at == utc(2026, 11, 24, 23, 31)


def test_acceptance_without_shipment_uses_the_lot_as_handover() -> None:
    payload = mutate(
        "04-sync-material-lot-receipt-verified.xml",
        "<MaterialLotProperty><ID>ShipmentID</ID><Value><ValueString>SHP-240001</ValueString>"
        "</Value></MaterialLotProperty>",
        "",
    )
    accepted = run(payload).events[-1]
    assert isinstance(accepted.detail, CustodyDetail)
    assert accepted.detail.handover_id == "LOT-APH-240001"
    assert accepted.identifiers.shipment_id is None


# --- rejections -----------------------------------------------------------------------------------

BAD_CODES = {
    "bad-coi-check.xml": "INVALID_IDENTIFIER",
    "bad-din.xml": "INVALID_IDENTIFIER",
    "coi-conflict.xml": "COI_CONFLICT",
    "foreign-namespace.xml": "UNSUPPORTED_NAMESPACE",
    "latin1-encoded.xml": "NOT_UTF8",
    "lot-not-a-receipt.xml": "UNSUPPORTED_LOT_STATUS",
    "missing-production-response.xml": "MISSING_FIELD",
    "missing-timezone.xml": "TIMEZONE_MISSING",
    "no-identifier.xml": "MISSING_IDENTIFIER",
    "not-xml.xml": "NOT_XML",
    "unsupported-message.xml": "UNSUPPORTED_MESSAGE",
    "xxe-doctype.xml": "DOCTYPE_FORBIDDEN",
}


def test_every_bad_file_has_an_expected_code() -> None:
    assert sorted(p.name for p in BAD.iterdir()) == sorted(BAD_CODES)


@pytest.mark.parametrize(("name", "code"), sorted(BAD_CODES.items()))
def test_bad_file_rejection_code(name: str, code: str) -> None:
    assert rejected((BAD / name).read_bytes()) == code


def test_timezone_rejection_names_the_element() -> None:
    result = run((BAD / "missing-timezone.xml").read_bytes())
    assert result.rejection is not None
    assert result.rejection.field == "ProductionResponse/SegmentResponse/ActualEndTime"
    assert result.rejection.message_id == "PR-1000140"


def test_coi_rejection_names_the_property() -> None:
    result = run((BAD / "bad-coi-check.xml").read_bytes())
    assert result.rejection is not None
    assert result.rejection.field == (
        "ProductionResponse/SegmentResponse/MaterialActual/MaterialActualProperty[ID=COI]/Value"
    )


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"", "NOT_XML"),
        (b"\x89PNG\r\n", "NOT_XML"),
        (b"<ProductionResponse><ID>x</ID>", "MALFORMED"),
        (b"<a>\x00</a>", "MALFORMED"),
        (b"<ProcessProductionPerformance/>", "MISSING_FIELD"),
        (b"<SyncMaterialLot><DataArea/></SyncMaterialLot>", "MISSING_FIELD"),
        (b"<SyncProductionResponse/>", "UNSUPPORTED_MESSAGE"),
        (b'<x:MaterialLot xmlns:x="urn:other"/>', "UNSUPPORTED_NAMESPACE"),
        (b"<ProductionResponse><ID>PR-1</ID></ProductionResponse>", "MISSING_IDENTIFIER"),
    ],
)
def test_structural_rejections(payload: bytes, code: str) -> None:
    assert rejected(payload) == code


def test_completed_without_any_time_is_missing_end_time() -> None:
    payload = (
        b"<ProductionResponse><ID>PR-9</ID><ResponseState>Completed</ResponseState>"
        b"<SegmentResponse><ID>S</ID><MaterialActual><MaterialLotID>B-9</MaterialLotID>"
        b"<MaterialUse>Produced</MaterialUse></MaterialActual></SegmentResponse>"
        b"</ProductionResponse>"
    )
    result = run(payload)
    assert result.rejection is not None
    assert result.rejection.code == "MISSING_FIELD"
    assert result.rejection.field == "ProductionResponse/EndTime"


def test_bad_quantity_is_malformed() -> None:
    payload = mutate(
        "04-sync-material-lot-receipt-verified.xml",
        "<QuantityString>245</QuantityString>",
        "<QuantityString>lots</QuantityString>",
    )
    assert rejected(payload) == "MALFORMED"


def test_repeated_segment_id_with_other_content_is_duplicate_id() -> None:
    text = (SAMPLES / "03-production-response-bare-aborted.xml").read_text()
    start, end = text.index("<SegmentResponse>"), text.index("</ProductionResponse>")
    segment = text[start:end].replace("op-0311", "op-9999")
    assert rejected((text[:end] + segment + text[end:]).encode()) == "DUPLICATE_ID"


# --- idempotency ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(SAMPLES.iterdir()), ids=lambda p: p.name)
def test_replay_gives_identical_events(path: Path) -> None:
    first = run(path.read_bytes())
    again = run(path.read_bytes())
    assert first.rejection is None
    assert list(again.events) == list(first.events)


def test_namespace_and_prefix_do_not_change_the_mapping() -> None:
    plain = (SAMPLES / "03-production-response-bare-aborted.xml").read_text()
    namespaced = plain.replace(
        "<ProductionResponse>",
        '<ProductionResponse xmlns="http://www.mesa.org/xml/B2MML-V0700">',
    )
    assert run(namespaced.encode()).events == run(plain.encode()).events
