"""HTTP ingress: ``POST /ingest/{partner}`` writes the body to ``v2v.raw.<partner>``.

The answer is ``202`` only after Kafka acknowledged the raw record (``acks=all``), so a partner
that got a 202 may forget the message. Every other answer is JSON ``{"error": ..., ...}``:

=====  ==========================================================================================
code   when
=====  ==========================================================================================
202    written: ``{"status": "accepted", "partner", "topic", "partition", "offset", "ingest_id"}``
400    the ``Idempotency-Key`` header is not 1-200 printable ASCII characters, or a JSON body
       nests deeper than ``V2V_HTTP_MAX_JSON_DEPTH`` (``{"error", "reason", "max_json_depth"}``)
       or an XML body deeper than ``V2V_HTTP_MAX_XML_DEPTH`` (``..., "max_xml_depth"}``)
401    no bearer token, or one that does not verify (``WWW-Authenticate`` says why)
403    the token's roles may not post to this feed: a ``partner:<id>`` role posts to feed ``<id>``
       only, ``integration`` to any (``{"error", "reason", "rule", "allowed_roles", ...}``)
404    ``partner`` is not a raw feed of this deployment (``{"error", "partner", "known"}``)
408    the body was not received within ``V2V_HTTP_BODY_TIMEOUT_S``
413    the body is larger than ``max_body_bytes`` (declared or actual size)
415    Content-Type missing or not one of the connector's ``content_types`` (``charset`` and
       other parameters are accepted); the body lists the ``accepted`` types
422    the connector's ``prepare_raw`` refused the message (``{"error", "code", "reason",
       "field"}``): nothing was written
500    ``prepare_raw`` failed unexpectedly (a connector bug, ``CONNECTOR_ERROR``): nothing written
503    Kafka did not acknowledge within ``V2V_DELIVERY_TIMEOUT_S`` (default 5 s; a broker that is
       down answers this, never a hang): the message may or may not be on the topic; retry it
       after ``Retry-After`` seconds (with the same ``Idempotency-Key``), duplicates are
       harmless downstream
=====  ==========================================================================================

The body is not normalised here: a message the connector cannot read is still written, and the
normaliser dead-letters it with its original bytes. The optional ``Idempotency-Key`` request
header becomes the record key and the ``message-id`` header. ``GET /healthz`` answers 200 (open
unless ``V2V_AUTH_OPEN_HEALTH=false``). Authentication comes first: a caller without a valid
token learns nothing, not even which partners exist.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from connectors.base import Connector
from hub.auth.gate import Gate
from hub.auth.http import auth_middleware
from hub.bodies import BodyRefused, Bounds, check_depth, read_bounded, too_large
from hub.errors import DeliveryError, NormalisationError
from hub.headers import MESSAGE_ID_HEADER
from hub.ingress.edge import accepts, edge_connectors, edge_headers, media_type, new_ingest_id
from hub.ingress.producer import RawProducer
from hub.settings import INGRESS_SECRETS, Settings
from hub.topics import Topics

log = logging.getLogger("v2v.ingress.http")

PRODUCER = web.AppKey("producer", RawProducer)
IDEMPOTENCY_KEY = "Idempotency-Key"
_MAX_KEY_CHARS = 200
ROUTES = {"/ingest/{partner}": "ingest", "/healthz": "health"}


def _error(status: int, error: str, **context: Any) -> web.Response:
    return web.json_response({"error": error, **context}, status=status)


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own 4xx answers (no such route, wrong method) as JSON like ours."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = _error(exc.status, (exc.reason or "error").lower(), path=request.path)
        if hdrs.ALLOW in exc.headers:
            response.headers[hdrs.ALLOW] = exc.headers[hdrs.ALLOW]
        return response


def _idempotency_key(request: web.Request) -> tuple[str | None, bool]:
    key = request.headers.get(IDEMPOTENCY_KEY)
    if key is None:
        return None, True
    ok = 0 < len(key) <= _MAX_KEY_CHARS and key.isascii() and key.isprintable()
    return key, ok


def create_ingress_app(
    settings: Settings,
    producer: RawProducer | None = None,
    *,
    max_body_bytes: int | None = None,
    delivery_timeout_s: float | None = None,
    connectors: Mapping[str, Connector] | None = None,
    gate: Gate | None = None,
) -> web.Application:
    """Build the ingress application; nothing connects until it starts. ConfigurationError
    when a secret is missing outside development mode.

    ``producer``: the Kafka writer to use (the caller keeps ownership and closes it); by default
    the app opens a :class:`RawProducer` with ``delivery_timeout_s`` (default
    ``settings.delivery_timeout_s``) on startup and closes it on cleanup. ``max_body_bytes``
    (default ``settings.http_max_body_bytes``, 10 MiB) bounds a request body; larger ones get
    413 before they are buffered; JSON bodies are also depth-bounded (:mod:`hub.bodies`).
    ``connectors`` replaces the registry's connectors (tests); ``gate`` the deployment's
    authentication and authority (default: from ``settings``).
    """
    max_body_bytes = max_body_bytes or settings.http_max_body_bytes
    delivery_timeout_s = delivery_timeout_s or settings.delivery_timeout_s
    if max_body_bytes < 1:
        raise ValueError("max_body_bytes must be positive")
    bounds = Bounds(max_body_bytes, settings.http_max_json_depth, settings.http_body_timeout_s,
                    settings.http_max_xml_depth)  # fmt: skip
    retry_after = str(max(1, round(delivery_timeout_s)))
    settings.require_secrets("ingress", INGRESS_SECRETS)
    gate = gate or Gate.from_settings(settings, seals=False)
    topics = Topics.of(settings)
    edge = dict(connectors) if connectors is not None else edge_connectors(settings)

    async def ingest(request: web.Request) -> web.Response:
        partner = request.match_info["partner"]
        topic = topics.raw.get(partner)
        if topic is None or partner not in edge:
            return _error(404, "unknown partner", partner=partner, known=sorted(topics.raw))
        if request.content_length is not None and request.content_length > max_body_bytes:
            refused = too_large(max_body_bytes)  # before the body's other checks, as declared
            return _error(refused.status, refused.error, partner=partner, **refused.detail)
        connector = edge[partner]
        declared = request.headers.get(hdrs.CONTENT_TYPE)
        if not accepts(connector, declared):
            return _error(
                415,
                "missing Content-Type" if declared is None else "unsupported content type",
                partner=partner,
                content_type=declared,
                accepted=list(connector.content_types),
            )
        key, key_ok = _idempotency_key(request)
        if not key_ok:
            return _error(
                400,
                f"{IDEMPOTENCY_KEY} must be 1-{_MAX_KEY_CHARS} printable ASCII characters",
                partner=partner,
            )
        try:
            body = await read_bounded(request.content, bounds)
            check_depth(body, media_type(declared), bounds.max_depth, bounds.max_xml_depth)
        except BodyRefused as refused:
            return _error(refused.status, refused.error, partner=partner, **refused.detail)
        try:
            payload = await asyncio.to_thread(connector.prepare_raw, body)
        except NormalisationError as exc:
            # The reason goes back to the sender only; the log gets the code (it may quote data).
            log.info("refused a message for %s at the edge: %s", partner, exc.code)
            return _error(
                422, "refused", partner=partner, code=exc.code, reason=exc.reason, field=exc.field
            )
        except Exception as exc:
            log.error("prepare_raw of %s failed unexpectedly: %s", partner, type(exc).__name__)
            return _error(500, "connector failed", partner=partner, code="CONNECTOR_ERROR")
        ingest_id = new_ingest_id()
        assert declared is not None  # accepts() said so
        headers = edge_headers(
            declared.strip(), ingest_id, extra=[(MESSAGE_ID_HEADER, key)] if key else []
        )
        try:
            delivered = await request.app[PRODUCER].send(
                topic, payload, key=key.encode("ascii") if key else None, headers=headers
            )
        except DeliveryError as exc:
            log.warning("ingest %s for %s not acknowledged: %s", ingest_id, partner, exc)
            response = _error(
                503,
                "not acknowledged by Kafka; retry",
                partner=partner,
                ingest_id=ingest_id,
                detail=str(exc),
            )
            response.headers[hdrs.RETRY_AFTER] = retry_after
            return response
        return web.json_response(
            {
                "status": "accepted",
                "partner": partner,
                "topic": delivered.topic,
                "partition": delivered.partition,
                "offset": delivered.offset,
                "ingest_id": ingest_id,
            },
            status=202,
        )

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "partners": sorted(topics.raw)})

    async def kafka_writer(app: web.Application) -> AsyncIterator[None]:
        owned = producer is None
        app[PRODUCER] = producer or RawProducer(settings, delivery_timeout_s=delivery_timeout_s)
        yield
        if owned:
            await asyncio.to_thread(app[PRODUCER].close)

    app = web.Application(
        middlewares=[_json_errors, auth_middleware(gate, ROUTES)], client_max_size=max_body_bytes
    )
    app.cleanup_ctx.append(kafka_writer)
    app.router.add_post("/ingest/{partner}", ingest)
    app.router.add_get("/healthz", healthz)
    return app


def run_ingress(
    settings: Settings, host: str, port: int, max_body_bytes: int | None = None
) -> None:
    """Serve the ingress until interrupted (``v2v ingress``)."""
    app = create_ingress_app(settings, max_body_bytes=max_body_bytes)
    web.run_app(app, host=host, port=port, access_log=log)
