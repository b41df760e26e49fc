"""Which cases appear, disappear or change between two replays of one recording (two product
profile folders, or two escalation policies): the regression evidence for a rule change."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.cases.models import Case
from hub.replay.run import Replayed

COMPARED = ("code", "coi_id", "subject", "severity", "status", "version", "opened_at")
"""What a reviewer compares; detection and escalation times follow from the replay's clock."""


def brief(case: Case) -> dict[str, Any]:
    data = case.model_dump(mode="json")
    return {"case_id": case.case_id, **{k: data[k] for k in COMPARED}}


@dataclass
class Diff:
    appeared: list[dict[str, Any]] = field(default_factory=list)
    disappeared: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.appeared or self.disappeared or self.changed)


def compare(before: Replayed, after: Replayed) -> Diff:
    old = {c.case_id: brief(c) for c in before.hub.latest_cases()}
    new = {c.case_id: brief(c) for c in after.hub.latest_cases()}
    diff = Diff()
    diff.appeared = [new[k] for k in new if k not in old]
    diff.disappeared = [old[k] for k in old if k not in new]
    diff.changed = [
        {"case_id": k, "before": old[k], "after": new[k]}
        for k in old
        if k in new and old[k] != new[k]
    ]
    return diff
