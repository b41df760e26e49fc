"""First contact with the Kafka cluster: answered, refused, or unreachable, said plainly.

librdkafka never gives up on a broker: a client whose TLS handshake or SASL login is refused
retries forever and only logs each refusal. :func:`connect` turns that into an answer before a
command starts work: the ``v2v`` commands that create topics (``run``, ``topics``, ``ingress``,
``filedrop``, ``demo``, ``bench``) call it through :func:`hub.topics.ensure_topics`, so a hub
pointed at the wrong listener or with the wrong password stops at once with the broker's reason,
instead of hanging or starting a worker that can never join.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from hub.errors import ConfigurationError, DeliveryError
from hub.settings import Settings

log = logging.getLogger("v2v.kafka")

# Refusals that retrying cannot cure: the credentials, the certificates or the protocol are wrong.
_REFUSALS = {
    KafkaError._AUTHENTICATION,
    KafkaError._SSL,
    KafkaError.SASL_AUTHENTICATION_FAILED,
    KafkaError.UNSUPPORTED_SASL_MECHANISM,
    KafkaError.ILLEGAL_SASL_STATE,
}
_POLL_S = 0.2


def _refusal(error: KafkaError) -> bool:
    """A TLS failure on a listening port is reported as a transport error ("SSL handshake
    failed", "ssl/tls alert"); a broker that is down says "Connection refused" instead."""
    if error.fatal() or error.code() in _REFUSALS:
        return True
    return error.code() == KafkaError._TRANSPORT and "SSL" in error.str()


def describe_security(settings: Settings) -> str:
    """How the clients connect, for error messages: never a secret."""
    parts = [f"security protocol {settings.kafka_security_protocol}"]
    if settings.kafka_uses_sasl:
        parts.append(f"SASL {settings.kafka_sasl_mechanism} as {settings.kafka_sasl_username!r}")
    if settings.kafka_uses_tls:
        parts.append(f"CA {settings.kafka_ssl_ca_location or 'the system trust store'}")
        if settings.kafka_ssl_certificate_location:
            parts.append(f"client certificate {settings.kafka_ssl_certificate_location}")
    return ", ".join(parts)


def connect(settings: Settings, timeout_s: float | None = None) -> AdminClient:
    """An AdminClient whose cluster has answered a metadata request with these settings.

    Raises ConfigurationError as soon as the cluster refuses the connection's security
    (authentication failed, TLS handshake failed or certificate not accepted, SASL asked of a
    listener without it): retrying cannot cure that. Raises DeliveryError when no broker
    answered within ``timeout_s`` (default ``kafka_connect_timeout_s``), e.g. none is running.
    """
    timeout_s = settings.kafka_connect_timeout_s if timeout_s is None else timeout_s
    errors: list[KafkaError] = []
    where = f"Kafka at {settings.kafka_bootstrap_servers} ({describe_security(settings)})"
    conf: dict[str, Any] = {**settings.kafka_config(), "error_cb": errors.append, "logger": log}
    try:
        admin = AdminClient(conf)
    except KafkaException as exc:
        raise ConfigurationError(f"{where}: the client refuses these settings: {exc}") from exc
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin.list_topics(timeout=min(_POLL_S, max(deadline - time.monotonic(), 0.01)))
            return admin
        except KafkaException as exc:
            errors.append(exc.args[0])
        admin.poll(0)  # serves error_cb
        refused = next((e for e in errors if _refusal(e)), None)
        if refused is not None:
            raise ConfigurationError(f"{where} refused the connection: {refused.str()}")
        if time.monotonic() >= deadline:
            seen = list(dict.fromkeys(e.str() for e in errors))[-3:]
            raise DeliveryError(f"{where}: no broker answered within {timeout_s:g}s: {seen}")
