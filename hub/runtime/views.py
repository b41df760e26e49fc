"""The worker's HTTP surface (Faust web): health, metrics, read models and case commands."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from hub.cases.commands import CaseAction, CaseCommand
from hub.metrics import Metrics
from hub.runtime.projection import CASE_STATUSES, Projection

ACTIONS = {
    "ack": CaseAction.ACKNOWLEDGE,
    "acknowledge": CaseAction.ACKNOWLEDGE,
    "resolve": CaseAction.RESOLVE,
    "assign": CaseAction.ASSIGN,
    "comment": CaseAction.COMMENT,
}


def register_views(
    app: faust.App, metrics: Metrics, projection: Projection, commands_topic: Any, wire: Any
) -> None:
    _health(app, metrics)
    _reads(app, projection)
    _commands(app, projection, commands_topic, wire)


def _health(app: faust.App, metrics: Metrics) -> None:
    @app.page("/metrics")
    async def metrics_view(web: Any, request: Any) -> Any:
        # aiohttp wants the charset apart from the media type
        media_type = CONTENT_TYPE_LATEST.split(";")[0]
        return web.bytes(generate_latest(metrics.registry), content_type=media_type)

    @app.page("/ready")
    async def ready_view(web: Any, request: Any) -> Any:
        assigned = app.consumer.assignment() if app.consumer is not None else set()
        ok = bool(assigned) and not app.rebalancing
        return web.json({"ready": ok, "partitions": len(assigned)}, status=200 if ok else 503)


def _reads(app: faust.App, projection: Projection) -> None:
    @app.page("/chains/{coi_id}")
    async def chain_view(web: Any, request: Any, coi_id: str) -> Any:
        summary = await projection.chain(coi_id)
        if summary is None:
            return web.json({"error": f"no chain {coi_id}"}, status=404)
        return web.json(summary)

    @app.page("/chains/{coi_id}/timeline")
    async def timeline_view(web: Any, request: Any, coi_id: str) -> Any:
        if await projection.chain(coi_id) is None:
            return web.json({"error": f"no chain {coi_id}"}, status=404)
        return web.json({"coi_id": coi_id, "events": await projection.timeline(coi_id)})

    @app.page("/cases")
    async def cases_view(web: Any, request: Any) -> Any:
        status = request.query.get("status", "open").upper()
        if status not in {"OPEN", "ALL", *CASE_STATUSES}:
            allowed = ", ".join(s.lower() for s in ("OPEN", "ALL", *CASE_STATUSES))
            return web.json({"error": f"status must be one of {allowed}"}, status=400)
        return web.json({"status": status.lower(), "cases": await projection.cases(status)})

    @app.page("/cases/{case_id}")
    async def case_view(web: Any, request: Any, case_id: str) -> Any:
        case = await projection.case(case_id)
        if case is None:
            return web.json({"error": f"no case {case_id}"}, status=404)
        return web.json(case)


def _commands(app: faust.App, projection: Projection, commands_topic: Any, wire: Any) -> None:
    @app.page("/cases/{case_id}/{action}")
    class CaseCommandView(faust.web.View):
        async def post(self, request: Any, case_id: str, action: str) -> Any:
            """Queue a command on ``v2v.commands``; 202 once Kafka acknowledged it. The chain
            agent applies it in-stream (a new case version, or a rejection on the audit topic)."""
            if action not in ACTIONS:
                return self.json(
                    {"error": f"unknown action {action!r}", "allowed": sorted(ACTIONS)}, status=404
                )
            case = await projection.case(case_id)
            if case is None:
                return self.json({"error": f"no case {case_id}"}, status=404)
            try:
                body = json.loads(await request.read() or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("body must be a JSON object")
                cmd = CaseCommand(
                    command_id=str(body.get("command_id") or uuid.uuid4().hex),
                    case_id=case_id,
                    action=ACTIONS[action],
                    actor=str(body.get("actor") or ""),
                    at=datetime.now(UTC),
                    reason=body.get("reason"),
                    assignee=body.get("assignee"),
                )
            except (ValueError, ValidationError) as exc:
                return self.json({"error": f"bad command: {exc}"}, status=400)
            if not cmd.actor.strip():
                return self.json(
                    {"error": "'actor' (who gives the command) is required"}, status=400
                )
            sent = await commands_topic.send(key=case["coi_id"].encode(), value=wire.encode(cmd))
            await sent  # the broker's acknowledgement
            return self.json(
                {
                    "status": "accepted",
                    "command_id": cmd.command_id,
                    "case_id": case_id,
                    "action": cmd.action.value,
                },
                status=202,
            )
