"""Giving a command on a case over HTTP: one path for the JSON API (``POST /cases/{id}/{action}``)
and the console's forms.

The caller has admitted the principal and read the case's latest version; :func:`submit` lets
the gate prepare the command (actor from the token, authority policy, electronic signature),
queues it on ``v2v.commands`` (also when the gate refused it, so the refusal is recorded on the
audit trail) and says what to answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.auth.gate import Gate, Refused
from hub.auth.http import log_refusal
from hub.auth.tokens import Principal
from hub.cases.commands import CaseAction
from hub.cases.models import Case

CASE_FIELDS = frozenset(Case.model_fields)

ACTIONS = {
    "ack": CaseAction.ACKNOWLEDGE,
    "acknowledge": CaseAction.ACKNOWLEDGE,
    "resolve": CaseAction.RESOLVE,
    "assign": CaseAction.ASSIGN,
    "comment": CaseAction.COMMENT,
}


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def case_of(latest: Mapping[str, Any]) -> Case:
    """The case version the read model holds (it adds fields of its own, e.g. playbook_url);
    ValidationError when it is not one."""
    return Case.model_validate({k: v for k, v in latest.items() if k in CASE_FIELDS})


async def submit(
    gate: Gate,
    commands_topic: Any,
    wire: Any,
    principal: Principal,
    case: Case,
    action: CaseAction,
    body: Mapping[str, Any],
    route: str,
) -> Answer:
    """202 once Kafka acknowledged the command; 400 for a malformed one; the gate's refusal
    (403, 401 reauthenticate, 409) after queueing it to be recorded as refused."""
    prepared = gate.command(principal, case, action, body)
    if isinstance(prepared, Refused):
        return Answer(prepared.status, prepared.body())
    cmd = prepared.command
    sent = await commands_topic.send(key=case.coi_id.encode(), value=wire.encode(cmd))
    await sent  # the broker's acknowledgement
    if prepared.refused is not None:
        refused = prepared.refused
        log_refusal(refused, "POST", route)
        return Answer(refused.status, refused.body(), refused.headers())
    answer: dict[str, Any] = {
        "status": "accepted",
        "command_id": cmd.command_id,
        "case_id": case.case_id,
        "action": cmd.action.value,
        "actor": cmd.actor,
    }
    if cmd.signature is not None:
        answer["signature"] = cmd.signature.model_dump(mode="json")
    return Answer(202, answer)
