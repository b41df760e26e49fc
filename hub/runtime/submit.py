"""Giving a command on a case over HTTP: one path for the JSON API (``POST /cases/{id}/{action}``)
and the console's forms.

The caller has admitted the principal and read the case's latest version; :func:`submit` lets
the gate prepare the command (actor from the token, authority policy, electronic signature),
queues it on ``v2v.commands`` (also when the gate refused it, so the refusal is recorded on the
audit trail) and says what to answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.auth.gate import Gate, Refused
from hub.auth.http import log_refusal
from hub.auth.tokens import Principal
from hub.cases.commands import CaseAction
from hub.cases.models import Case
from hub.errors import DeliveryError

Queue = Callable[[bytes, bytes], Awaitable[None]]
"""``await queue(key, value)``: the command on ``v2v.commands``, returning once Kafka
acknowledged it (DeliveryError when it did not in time)."""

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


def acknowledged_queue(commands_topic: Any, timeout_s: float) -> Queue:
    """Send on the Faust topic and wait for the broker's acknowledgement, at most
    ``timeout_s`` (then DeliveryError, answered 503: the command may or may not be queued)."""

    async def queue(key: bytes, value: bytes) -> None:
        async def send() -> None:
            sent = await commands_topic.send(key=key, value=value)
            await sent

        try:
            await asyncio.wait_for(send(), timeout_s)
        except TimeoutError as exc:
            raise DeliveryError(f"command not acknowledged by Kafka within {timeout_s:g}s") from exc

    return queue


async def submit(
    gate: Gate,
    queue: Queue,
    wire: Any,
    principal: Principal,
    case: Case,
    action: CaseAction,
    body: Mapping[str, Any],
    route: str,
) -> Answer:
    """202 once Kafka acknowledged the command (DeliveryError past the queue's timeout); 400
    for a malformed one; the gate's refusal (403, 401 reauthenticate, 409) after queueing it
    to be recorded as refused."""
    prepared = gate.command(principal, case, action, body)
    if isinstance(prepared, Refused):
        return Answer(prepared.status, prepared.body())
    cmd = prepared.command
    await queue(case.coi_id.encode(), wire.encode(cmd))
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
