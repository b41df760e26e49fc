"""What the worker's probes and its outage answers rest on: can it reach the broker and Redis?

* ``/health`` (liveness) answers 200 while the process serves HTTP at all: nothing is probed, so
  an outage of Kafka or Redis never gets a worker restarted (a restart would not bring them back).
* ``/ready`` (readiness) answers 200 only when the consumer group has given the worker its
  partitions (possibly none: a worker beyond the partition count stands by), is not rebalancing,
  **and** both the broker and Redis answered within ``V2V_HEALTH_TIMEOUT_S``; otherwise 503 with
  the reason of each (``{"ready": false, "broker": "...", "redis": "ok", ...}``).
* Any view that needs Redis or Kafka and finds it unavailable answers 503 with the reason and a
  ``Retry-After`` header (:func:`unavailable_middleware`), never a 500; the next request after
  the service is back is served normally (the clients reconnect by themselves).

A probe result is reused for :data:`PROBE_TTL_S`, so readiness polling (or a crowd of probes)
costs one metadata request and one ``PING`` a second at most.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware
from redis.exceptions import RedisError

from hub.errors import DeliveryError
from hub.logthrottle import THROTTLE
from hub.runtime.projection import Projection

log = logging.getLogger("v2v.runtime.health")
PROBE_TTL_S = 1.0
OK = "ok"


@dataclass(frozen=True)
class Reachability:
    broker: str  # "ok" or why not
    redis: str

    @property
    def ok(self) -> bool:
        return self.broker == OK and self.redis == OK


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


class Connectivity:
    """Probes the broker (a metadata request on the worker's own producer connection) and Redis
    (``PING`` on the writers' pool), each bounded by ``timeout_s``."""

    def __init__(self, app: Any, projection: Projection, timeout_s: float) -> None:
        self.app, self.projection, self.timeout_s = app, projection, timeout_s
        self._last: tuple[float, Reachability] | None = None

    async def broker(self) -> str:
        client = getattr(getattr(self.app.producer, "_producer", None), "client", None)
        if client is None:
            return "producer not started"
        try:
            await asyncio.wait_for(client.fetch_all_metadata(), self.timeout_s)
        except Exception as exc:  # any failure to answer means: not reachable now
            return _reason(exc)
        return OK

    async def redis(self) -> str:
        try:
            await asyncio.wait_for(self.projection.ping(), self.timeout_s)
        except (RedisError, OSError, TimeoutError) as exc:
            return _reason(exc)
        return OK

    async def check(self) -> Reachability:
        now = time.monotonic()
        if self._last is not None and now - self._last[0] < PROBE_TTL_S:
            return self._last[1]
        broker, redis = await asyncio.gather(self.broker(), self.redis())
        result = Reachability(broker, redis)
        self._last = (time.monotonic(), result)
        return result


def unavailable(what: str, exc: BaseException, retry_after_s: float) -> web.Response:
    """503: ``what`` cannot be reached now; the reason, and when to try again."""
    return web.json_response(
        {"error": f"{what} unavailable; retry", "reason": _reason(exc)},
        status=503,
        headers={hdrs.RETRY_AFTER: str(max(1, round(retry_after_s)))},
    )


def unavailable_middleware(retry_after_s: float) -> Middleware:
    """Redis or Kafka unavailable inside a view: 503 with the reason, never a 500."""

    @web.middleware
    async def answer_unavailable(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except RedisError as exc:
            route = request.match_info.route.resource
            where = route.canonical if route is not None else request.path
            log.warning("%s %s: read model unavailable: %s", request.method, where, _reason(exc),
                        extra=THROTTLE)  # fmt: skip
            return unavailable("read model", exc, retry_after_s)
        except DeliveryError as exc:
            return unavailable("Kafka", exc, retry_after_s)

    return answer_unavailable
