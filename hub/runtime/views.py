"""The worker's HTTP surface (Faust web): health, metrics, read models and case commands.

Every route is behind the authentication middleware (:mod:`hub.auth.http`, installed by the
app factory with :data:`ROUTES`): a view runs only for a caller the gate admitted, and a
command view finds the caller on the request. Behind it, :func:`hub.runtime.health.
unavailable_middleware` answers 503 (with the reason) when Redis cannot be reached. A command
body is read within bounds (:mod:`hub.bodies`: ``V2V_HTTP_MAX_COMMAND_BYTES``,
``V2V_HTTP_MAX_JSON_DEPTH``, ``V2V_HTTP_BODY_TIMEOUT_S``) before anything else is done for it.
"""

from __future__ import annotations

import json
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from hub.auth.gate import Gate
from hub.auth.http import PRINCIPAL
from hub.bodies import BodyRefused, Bounds, check_json_depth, read_bounded
from hub.metrics import Metrics
from hub.runtime.health import Connectivity
from hub.runtime.projection import CASE_STATUSES, Projection
from hub.runtime.submit import ACTIONS, acknowledged_queue, case_of, submit
from hub.settings import Settings

ROUTES = {
    "/health": "health",
    "/ready": "health",
    "/metrics": "metrics",
    "/chains/{coi_id}": "chains",
    "/chains/{coi_id}/timeline": "chains",
    "/cases": "cases",
    "/cases/{case_id}": "cases",
    "/cases/{case_id}/{action}": "commands",
    "/seal-key": "cases",
}
"""Each route's resource for the gate; a route missing here is refused to everyone."""


def register_views(
    app: faust.App,
    metrics: Metrics,
    projection: Projection,
    commands_topic: Any,
    wire: Any,
    gate: Gate,
) -> None:
    settings: Settings = app.conf.v2v_settings
    _health(app, metrics, Connectivity(app, projection, settings.health_timeout_s))
    _reads(app, projection, gate)
    _commands(app, projection, commands_topic, wire, gate, settings)


def _health(app: faust.App, metrics: Metrics, connectivity: Connectivity) -> None:
    @app.page("/metrics")
    async def metrics_view(web: Any, request: Any) -> Any:
        # aiohttp wants the charset apart from the media type
        media_type = CONTENT_TYPE_LATEST.split(";")[0]
        return web.bytes(generate_latest(metrics.registry), content_type=media_type)

    @app.page("/health")
    async def health_view(web: Any, request: Any) -> Any:
        """Liveness: the process serves HTTP. Probes nothing (an outage is not cured by a
        restart)."""
        return web.json({"status": "alive"})

    joined: list[bool] = []  # set once the consumer group gave this worker an assignment

    async def on_assigned(sender: Any, *args: Any, **kwargs: Any) -> None:
        joined[:] = [True]

    app.on_partitions_assigned.connect(on_assigned)  # type: ignore[arg-type]  # stubs too narrow

    @app.page("/ready")
    async def ready_view(web: Any, request: Any) -> Any:
        """Readiness: a member of the consumer group (with the partitions it was given: none
        when the group has more workers than a topic has partitions, a standby that still
        serves reads), not rebalancing, broker and Redis answering."""
        assigned = app.consumer.assignment() if app.consumer is not None else set()
        reach = await connectivity.check()
        reasons = [f"broker: {reach.broker}"] if reach.broker != "ok" else []
        reasons += [f"redis: {reach.redis}"] if reach.redis != "ok" else []
        if not joined:
            reasons.append("not yet given its partitions by the consumer group")
        if app.rebalancing:
            reasons.append("rebalancing")
        body = {
            "ready": not reasons,
            "partitions": len(assigned),
            "broker": reach.broker,
            "redis": reach.redis,
        }
        if reasons:
            body["reasons"] = reasons
        return web.json(body, status=503 if reasons else 200)


def _reads(app: faust.App, projection: Projection, gate: Gate) -> None:
    @app.page("/seal-key")
    async def seal_key_view(web: Any, request: Any) -> Any:
        """The public key that verifies the hub's seals on electronic signatures."""
        sealer = gate.sealer
        assert sealer is not None, "the worker's gate holds the seal key"
        return web.json(
            {"algorithm": "Ed25519", "key_id": sealer.key_id, "public_key": sealer.public_hex}
        )

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


def _commands(
    app: faust.App,
    projection: Projection,
    commands_topic: Any,
    wire: Any,
    gate: Gate,
    settings: Settings,
) -> None:
    bounds = Bounds(
        settings.http_max_command_bytes, settings.http_max_json_depth, settings.http_body_timeout_s
    )
    queue = acknowledged_queue(commands_topic, settings.delivery_timeout_s)

    @app.page("/cases/{case_id}/{action}")
    class CaseCommandView(faust.web.View):
        async def post(self, request: Any, case_id: str, action: str) -> Any:
            """Queue a command on ``v2v.commands``; 202 once Kafka acknowledged it. The chain
            agent applies it in-stream (a new case version, or a rejection on the audit topic).
            A command the gate refuses (403, 401 reauthenticate, 409) is queued too, to be
            recorded as refused, and answered with the refusal. A body past its bounds is 413,
            408 or 400 (:mod:`hub.bodies`); no acknowledgement within the delivery timeout is
            503 (the command may or may not be queued: look at the case before sending again).
            """
            try:
                raw = await read_bounded(request.content, bounds, request.content_length)
                check_json_depth(raw, bounds.max_depth)
            except BodyRefused as bad:
                return self.json(bad.body(), status=bad.status)
            if action not in ACTIONS:
                return self.json(
                    {"error": f"unknown action {action!r}", "allowed": sorted(ACTIONS)}, status=404
                )
            latest = await projection.case(case_id)
            if latest is None:
                return self.json({"error": f"no case {case_id}"}, status=404)
            try:
                body = json.loads(raw or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("body must be a JSON object")
                case = case_of(latest)
            except (ValueError, ValidationError) as exc:
                return self.json({"error": f"bad command: {exc}"}, status=400)
            answer = await submit(
                gate,
                queue,
                wire,
                request[PRINCIPAL],
                case,
                ACTIONS[action],
                body,
                "/cases/{case_id}/{action}",
            )
            return self.json(answer.body, status=answer.status, headers=answer.headers)
