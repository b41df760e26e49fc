"""QMS webhooks (JSON): deviation life cycle and batch record review."""

from __future__ import annotations

from typing import Any

from hub.sim.dialects.common import iso, naive_iso, to_json
from hub.sim.facts import QmsDeviation, QmsReview


def deviation(f: QmsDeviation) -> bytes:
    record: dict[str, Any] = {"id": f.dev_id, "title": f.title}
    if f.classification:
        record["classification"] = f.classification
    body = {
        "message_id": f.message_id,
        "record_type": "deviation",
        "action": f.action,
        "event_time": naive_iso(f.at, f.zone) if f.naive else iso(f.at, f.zone),
        "coi": f.coi,
        "batch_id": f.batch,
        "deviation": record,
        "user": {"id": f.user, "role": "QA specialist"},
        "site": {"id": f.site},
    }
    return to_json(body)


def review(f: QmsReview) -> bytes:
    body = {
        "message_id": f.message_id,
        "record_type": "batch_record_review",
        "event_time": iso(f.at, f.zone),
        "coi": f.coi,
        "batch_id": f.batch,
        "review": {"id": f.review_id, "outcome": f.outcome, "comments": f.comments},
        "user": {"id": f.user, "role": "QA batch record reviewer"},
    }
    return to_json(body)
