"""The QMS connector: a deviation's life (open, classify, close), batch record reviews,
rejections and idempotency."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.base import Result
from connectors.conformance import CONNECTORS_DIR, RECEIVED_AT, raw_message
from connectors.qms.normalise import QmsConnector
from hub.errors import TimezoneMissingError
from hub.events.ids import event_id
from hub.events.models import (
    Actor,
    DeviationDetail,
    EventType,
    Location,
    QualityDecisionDetail,
)

pytestmark = pytest.mark.req("REQ-FN-CONNECTORS")

SAMPLES = CONNECTORS_DIR / "qms" / "samples"
BAD = CONNECTORS_DIR / "qms" / "bad"
OPEN: dict[str, Any] = {
    "message_id": "M-1",
    "record_type": "deviation",
    "action": "opened",
    "event_time": "2026-11-29T10:42:00Z",
    "batch_id": "B-1",
    "deviation": {"id": "DEV-1"},
}


def run(payload: bytes) -> Result:
    connector = QmsConnector()
    return connector.process(raw_message(connector, payload, ".json"))


def sample(name: str) -> Result:
    result = run((SAMPLES / name).read_bytes())
    assert result.rejection is None, result.rejection
    assert len(result.events) == 1
    return result


def deviation(detail: object) -> DeviationDetail:
    assert isinstance(detail, DeviationDetail)
    return detail


def rejected(payload: bytes) -> tuple[str, str, str | None]:
    result = run(payload)
    assert result.rejection is not None, result.events
    return result.rejection.code, result.rejection.reason, result.rejection.field


def with_changes(**changes: Any) -> bytes:
    return json.dumps({**OPEN, **changes}).encode()


def test_deviation_life_cycle_open_classify_close() -> None:
    opened, classified, closed = (
        sample(name).events[0]
        for name in (
            "01-deviation-opened.json",
            "02-deviation-classified.json",
            "03-deviation-closed.json",
        )
    )
    assert [e.event_type for e in (opened, classified, closed)] == [
        EventType.DEVIATION_OPENED,
        EventType.DEVIATION_OPENED,
        EventType.DEVIATION_CLOSED,
    ]
    details = [deviation(e.detail) for e in (opened, classified, closed)]
    assert [(d.deviation_id, d.status, d.classification, d.capa_id) for d in details] == [
        ("DEV-2026-0142", "OPEN", None, None),
        ("DEV-2026-0142", "CLASSIFIED", "MAJOR", "CAPA-2026-031"),
        ("DEV-2026-0142", "CLOSED", "MAJOR", "CAPA-2026-031"),
    ]
    assert (details[0].description or "").startswith("Incubator INC-07 CO2 read 3.1 %")
    assert details[1].description == "Incubator CO2 excursion on expansion day 5"
    assert opened.occurred_at == datetime(2026, 11, 29, 15, 42, tzinfo=UTC)  # 10:42-05:00
    assert closed.occurred_at == datetime(2026, 12, 9, 21, 20, tzinfo=UTC)
    for event in (opened, classified, closed):
        assert event.coi_id == "V2VSAMPLE000001T"
        assert event.identifiers.batch_id == "B-24001"
        assert event.recorded_at == RECEIVED_AT
        assert event.source.system == "qms"
    assert opened.actor == Actor(
        id="mfg-operator-221",
        role="manufacturing operator",
        organisation="Philadelphia Cell Therapy Facility",
    )
    assert opened.location == Location(
        id="urn:epc:id:sgln:0614141.00777.0",
        name="Philadelphia Cell Therapy Facility",
        country="US",
    )
    assert classified.actor is not None
    assert classified.actor.id == "qa-specialist-012"
    assert opened.event_id == event_id("qms", "QMS-EVT-2026-011873", 0)
    assert len({opened.event_id, classified.event_id, closed.event_id}) == 3


def test_batch_record_review_approved_and_returned() -> None:
    approved = sample("04-batch-record-reviewed.json").events[0]
    returned = sample("05-batch-record-review-failed.json").events[0]
    assert approved.event_type is returned.event_type is EventType.BATCH_RECORD_REVIEWED
    assert approved.detail == QualityDecisionDetail(
        decision="REVIEWED",
        decision_code="APPROVED",
        reference="BRR-B-24001",
        reason="Executed batch record reviewed; 1 deviation (DEV-2026-0142) closed.",
    )
    assert isinstance(returned.detail, QualityDecisionDetail)
    assert (returned.detail.decision, returned.detail.decision_code) == (
        "REVIEW_FAILED",
        "RETURNED",
    )
    assert returned.coi_id is None
    assert returned.identifiers.batch_id == "B-24005"
    assert returned.occurred_at == datetime(2026, 12, 14, 6, 30, tzinfo=UTC)  # 15:30+09:00
    assert returned.location is not None
    assert returned.location.country == "JP"
    assert returned.actor == Actor(id="qa-reviewer-031", role="QA batch record reviewer")


def test_cancelled_without_message_id_uses_content_hash_and_plain_user() -> None:
    path = SAMPLES / "06-deviation-cancelled-batch-only.json"
    event = sample(path.name).events[0]
    assert event.event_type is EventType.DEVIATION_CLOSED
    assert isinstance(event.detail, DeviationDetail)
    assert (event.detail.status, event.detail.deviation_id) == ("CANCELLED", "DEV-2026-0151")
    digest = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert event.source.message_id == digest
    assert event.event_id == event_id("qms", digest, 0)
    assert event.actor == Actor(id="qa-specialist-044")
    assert event.coi_id is None


@pytest.mark.parametrize(
    ("action", "event_type", "status"),
    [
        ("opened", EventType.DEVIATION_OPENED, "OPEN"),
        ("Reopened", EventType.DEVIATION_OPENED, "REOPENED"),
        ("CLOSED", EventType.DEVIATION_CLOSED, "CLOSED"),
        ("cancelled", EventType.DEVIATION_CLOSED, "CANCELLED"),
    ],
)
def test_actions(action: str, event_type: EventType, status: str) -> None:
    event = run(with_changes(action=action)).events[0]
    assert event.event_type is event_type
    assert isinstance(event.detail, DeviationDetail)
    assert event.detail.status == status


@pytest.mark.parametrize(
    ("name", "code", "field"),
    [
        ("not-json.json", "NOT_JSON", None),
        ("missing-timezone.json", "TIMEZONE_MISSING", "event_time"),
        ("bad-coi-check.json", "INVALID_IDENTIFIER", "coi"),
        ("unknown-classification.json", "UNKNOWN_CLASSIFICATION", "deviation.classification"),
        ("classified-without-class.json", "MISSING_FIELD", "deviation.classification"),
        ("unknown-action.json", "UNKNOWN_ACTION", "action"),
        ("no-coi-no-batch.json", "MISSING_FIELD", "coi"),
        ("unknown-review-outcome.json", "UNKNOWN_OUTCOME", "review.outcome"),
        ("array.json", "NOT_AN_OBJECT", None),
    ],
)
def test_bad_files(name: str, code: str, field: str | None) -> None:
    got_code, reason, got_field = rejected((BAD / name).read_bytes())
    assert (got_code, got_field) == (code, field), reason


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        (with_changes(record_type="capa"), "UNKNOWN_TYPE", "record_type"),
        (with_changes(record_type=None), "MISSING_FIELD", "record_type"),
        (with_changes(event_time="yesterday"), "BAD_TIMESTAMP", "event_time"),
        (with_changes(event_time="0001-01-01T00:00:00+01:00"), "BAD_TIMESTAMP", "event_time"),
        (with_changes(deviation="DEV-1"), "MALFORMED", "deviation"),
        (with_changes(deviation={"title": "x"}), "MISSING_FIELD", "deviation.id"),
        (with_changes(user=["qa"]), "MALFORMED", "user"),
        (with_changes(user={"role": "QA"}), "MISSING_FIELD", "user.id"),
        (with_changes(site={"name": "x"}), "MISSING_FIELD", "site.id"),
        (with_changes(site="PHL"), "MALFORMED", "site"),
        (with_changes(record_type="batch_record_review"), "MISSING_FIELD", "review"),
        (with_changes(record_type="batch_record_review", review="ok"), "MALFORMED", "review"),
        (b"\xff\xfe{}", "NOT_UTF8", None),
        (b"[" * 5000, "NOT_JSON", None),
    ],
)
def test_inline_rejections(payload: bytes, code: str, field: str | None) -> None:
    got_code, reason, got_field = rejected(payload)
    assert (got_code, got_field) == (code, field), reason


def test_missing_offset_raises_timezone_missing_error() -> None:
    connector = QmsConnector()
    payload = with_changes(event_time="2026-11-29T10:42:00")
    with pytest.raises(TimezoneMissingError):
        connector.normalise(raw_message(connector, payload, ".json"))


def test_coi_prefix_and_case_are_normalised() -> None:
    event = run(with_changes(coi="&/v2vsample000003p")).events[0]
    assert event.coi_id == "V2VSAMPLE000003P"


def test_replay_is_idempotent() -> None:
    payload = (SAMPLES / "02-deviation-classified.json").read_bytes()
    assert run(payload).events == run(payload).events
