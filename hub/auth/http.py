"""The gate as an aiohttp middleware, in front of every route of an HTTP surface.

Each route template maps to a resource (``cases``, ``chains``, ``health``, ``metrics``,
``commands``, ``ingest``); :meth:`Gate.admit` decides. A route the map does not list is refused
(403 ``unlisted-route``) even to an authenticated caller, so a route added later (or one a
framework adds) is closed until someone decides who may use it. A path no route matches is
answered by the router (404 / 405), to an authenticated caller only. The authenticated
principal is left on the request (:data:`PRINCIPAL`) for the view.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from hub.auth.gate import Gate, Refused
from hub.auth.tokens import Principal

log = logging.getLogger("v2v.auth")

PRINCIPAL = web.RequestKey("v2v.principal", Principal)


def refused_response(refused: Refused) -> web.Response:
    return web.json_response(refused.body(), status=refused.status, headers=refused.headers())


def log_refusal(refused: Refused, method: str, route: str) -> None:
    """One line per refusal: who (subject, when known), what route, which rule (never a path
    with its identifiers, never a token)."""
    log.warning(
        "refused %s %s for %s: %d %s (%s)",
        method,
        route,
        refused.who or "an unauthenticated caller",
        refused.status,
        refused.error,
        refused.rule or refused.reason,
    )


def auth_middleware(gate: Gate, routes: Mapping[str, str]) -> Middleware:
    """Authenticate and admit every request by its route template's resource in ``routes``."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        header = request.headers.get(hdrs.AUTHORIZATION)
        resource = request.match_info.route.resource
        template = resource.canonical if resource is not None else None
        if template is None:  # no route: the router's 404 / 405, once the caller is known
            outcome: Principal | Refused | None = await asyncio.to_thread(gate.authenticate, header)
        else:
            name = routes.get(template, "unlisted")
            if gate.is_open(name):  # probes and scrapes: no token, no thread hop
                return await handler(request)
            partner = request.match_info.get("partner")
            outcome = await asyncio.to_thread(gate.admit, header, name, partner)
        if isinstance(outcome, Refused):
            log_refusal(outcome, request.method, template or "(no route)")
            return refused_response(outcome)
        if outcome is not None:
            request[PRINCIPAL] = outcome
        return await handler(request)

    return authenticate
