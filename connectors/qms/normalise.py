"""QMS notifications (JSON): deviations through their life cycle, and batch record reviews.

One message is one QMS record change. The mapping (README.md beside this file has the fields):

=========================  ======================  ==============================================
record_type / action       canonical event         detail
=========================  ======================  ==============================================
deviation / opened         DEVIATION_OPENED        DeviationDetail(status OPEN)
deviation / classified     DEVIATION_OPENED        DeviationDetail(status CLASSIFIED, class req.)
deviation / reopened       DEVIATION_OPENED        DeviationDetail(status REOPENED)
deviation / closed         DEVIATION_CLOSED        DeviationDetail(status CLOSED)
deviation / cancelled      DEVIATION_CLOSED        DeviationDetail(status CANCELLED)
batch_record_review        BATCH_RECORD_REVIEWED   QualityDecisionDetail(REVIEWED | REVIEW_FAILED)
=========================  ======================  ==============================================

A classification (or reopening) is a later version of the open deviation, not a new one: it is
another DEVIATION_OPENED with the same ``deviation_id`` and a new status, so the chain keeps one
deviation per id whose latest status wins, and "is any deviation still open" stays one question.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from connectors.base import Connector, RawMessage, payload_id
from connectors.fields import Fields
from connectors.jsonreader import parse_json_object
from hub.errors import NormalisationError
from hub.events.models import (
    Actor,
    DeviationDetail,
    Event,
    EventType,
    Identifiers,
    Location,
    QualityDecisionDetail,
)

# action -> (event type, status)
DEVIATION_ACTIONS: dict[str, tuple[EventType, str]] = {
    "opened": (EventType.DEVIATION_OPENED, "OPEN"),
    "classified": (EventType.DEVIATION_OPENED, "CLASSIFIED"),
    "reopened": (EventType.DEVIATION_OPENED, "REOPENED"),
    "closed": (EventType.DEVIATION_CLOSED, "CLOSED"),
    "cancelled": (EventType.DEVIATION_CLOSED, "CANCELLED"),
}
CLASSIFICATIONS = frozenset({"MINOR", "MAJOR", "CRITICAL"})
REVIEW_OUTCOMES: dict[str, str] = {
    "approved": "REVIEWED",
    "accepted": "REVIEWED",
    "passed": "REVIEWED",
    "reviewed": "REVIEWED",
    "completed": "REVIEWED",
    "rejected": "REVIEW_FAILED",
    "failed": "REVIEW_FAILED",
    "returned": "REVIEW_FAILED",
    "not_approved": "REVIEW_FAILED",
}


class QmsConnector(Connector):
    name: ClassVar[str] = "qms"
    system: ClassVar[str] = "qms"

    def normalise(self, message: RawMessage) -> list[Event]:
        data = parse_json_object(message.payload, self.name)
        f = Fields(data, self.name)
        message_id = f.text("message_id", required=False) or payload_id(message.payload)
        f.message_id = message_id
        record_type = f.req("record_type").strip().lower()
        coi = f.coi("coi", required=False, pattern=self.config.coi_pattern)
        batch_id = f.text("batch_id", required=False)
        if coi is None and batch_id is None:
            raise self._error(
                "a QMS record must name its COI or its batch ('coi' or 'batch_id')",
                message_id,
                "coi",
                "MISSING_FIELD",
            )
        detail: DeviationDetail | QualityDecisionDetail
        if record_type == "deviation":
            event_type, detail, ids = self._deviation(f, batch_id)
        elif record_type == "batch_record_review":
            event_type, detail, ids = self._review(f, batch_id)
        else:
            raise self._error(
                f"unknown record_type {record_type!r} (expected 'deviation' or "
                "'batch_record_review')",
                message_id,
                "record_type",
                "UNKNOWN_TYPE",
            )
        occurred_at = f.req_time("event_time")
        envelope = replace(
            self.envelope(message, message_id),
            coi_id=coi,
            identifiers=ids,
            actor=self._actor(f, data.get("user")),
            location=self._location(f, data.get("site")),
        )
        return [envelope.event(0, event_type, occurred_at, detail)]

    def _error(self, reason: str, message_id: str, field: str, code: str) -> NormalisationError:
        return NormalisationError(
            reason, partner=self.name, message_id=message_id, field=field, code=code
        )

    def _deviation(
        self, f: Fields, batch_id: str | None
    ) -> tuple[EventType, DeviationDetail, Identifiers]:
        message_id = f.message_id or ""
        action = f.req("action").strip().lower()
        if action not in DEVIATION_ACTIONS:
            raise self._error(
                f"unknown deviation action {action!r} "
                f"(expected one of {', '.join(DEVIATION_ACTIONS)})",
                message_id,
                "action",
                "UNKNOWN_ACTION",
            )
        event_type, status = DEVIATION_ACTIONS[action]
        if f.data.get("deviation") is not None and not isinstance(f.data["deviation"], dict):
            raise self._error("'deviation' must be an object", message_id, "deviation", "MALFORMED")
        classification = f.text("deviation.classification", required=action == "classified")
        if classification is not None:
            classification = classification.strip().upper()
            if classification not in CLASSIFICATIONS:
                raise self._error(
                    f"unknown deviation classification {classification!r} "
                    "(expected minor, major or critical)",
                    message_id,
                    "deviation.classification",
                    "UNKNOWN_CLASSIFICATION",
                )
        detail = DeviationDetail(
            deviation_id=f.req("deviation.id"),
            classification=classification,
            status=status,
            capa_id=f.text("deviation.capa_id", required=False),
            description=f.text("deviation.description", required=False)
            or f.text("deviation.title", required=False),
        )
        return event_type, detail, Identifiers(batch_id=batch_id)

    def _review(
        self, f: Fields, batch_id: str | None
    ) -> tuple[EventType, QualityDecisionDetail, Identifiers]:
        message_id = f.message_id or ""
        review = f.data.get("review")
        if not isinstance(review, dict):
            code = "MISSING_FIELD" if review is None else "MALFORMED"
            raise self._error("'review' must be an object", message_id, "review", code)
        outcome = f.req("review.outcome").strip().lower().replace(" ", "_")
        decision = REVIEW_OUTCOMES.get(outcome)
        if decision is None:
            raise self._error(
                f"unknown batch record review outcome {outcome!r} "
                f"(expected one of {', '.join(REVIEW_OUTCOMES)})",
                message_id,
                "review.outcome",
                "UNKNOWN_OUTCOME",
            )
        detail = QualityDecisionDetail(
            decision=decision,
            decision_code=outcome.upper(),
            reference=f.text("review.id", required=False),
            reason=f.text("review.comments", required=False),
        )
        return EventType.BATCH_RECORD_REVIEWED, detail, Identifiers(batch_id=batch_id)

    def _actor(self, f: Fields, user: object) -> Actor | None:
        if user is None:
            return None
        if isinstance(user, str) and user.strip():
            return Actor(id=user.strip())
        if not isinstance(user, dict):
            raise self._error(
                "'user' must be an object or a user id", f.message_id or "", "user", "MALFORMED"
            )
        return Actor(
            id=f.req("user.id"),
            role=f.text("user.role", required=False),
            organisation=f.text("user.organisation", required=False),
        )

    def _location(self, f: Fields, site: object) -> Location | None:
        if site is None:
            return None
        if not isinstance(site, dict):
            raise self._error("'site' must be an object", f.message_id or "", "site", "MALFORMED")
        return Location(
            id=f.req("site.id"),
            name=f.text("site.name", required=False),
            country=f.text("site.country", required=False),
        )


CONNECTOR = QmsConnector
