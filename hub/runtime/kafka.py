"""The Faust worker's Kafka security, from the same settings as every confluent-kafka client.

:meth:`hub.settings.Settings.kafka_config` renders the security set in librdkafka's keys; this
module renders it for faust-streaming (aiokafka): ``broker_credentials`` of ``faust.App``, so the
worker's consumer, producer and topic creation all connect as the confluent clients do, field
for field: the protocol; the SASL mechanism, username and password (``SASLCredentials``); the CA
file, or the system's CAs when unset (the ``SSLContext``'s cafile); the client certificate, key
and key password for mutual TLS (``load_cert_chain``); endpoint identification, on by default
(``check_hostname``, librdkafka's ``ssl.endpoint.identification.algorithm=https``).
"""

from __future__ import annotations

import ssl
from typing import Any

import faust

from hub.errors import ConfigurationError
from hub.settings import Settings


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """A client TLS context that verifies the broker's certificate chain and, unless
    ``kafka_ssl_endpoint_identification`` is off, that the certificate names the host.

    Raises ConfigurationError when a CA, certificate or key file cannot be read or used.
    """
    try:
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cafile=settings.kafka_ssl_ca_location
        )
        context.check_hostname = settings.kafka_ssl_endpoint_identification
        if settings.kafka_ssl_certificate_location:
            password = settings.kafka_ssl_key_password
            context.load_cert_chain(
                settings.kafka_ssl_certificate_location,
                settings.kafka_ssl_key_location,
                password.get_secret_value() if password is not None else None,
            )
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(f"Kafka TLS files cannot be used: {exc}") from exc
    return context


def broker_credentials(settings: Settings) -> Any:
    """The ``broker_credentials`` for ``faust.App``: None for PLAINTEXT, else Faust's
    credentials carrying the SASL login and/or the TLS context."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = ssl_context(settings) if settings.kafka_uses_tls else None
    if not settings.kafka_uses_sasl:
        return faust.SSLCredentials(context)
    password = settings.kafka_sasl_password
    if password is None or settings.kafka_sasl_mechanism is None:  # the settings refuse this
        raise ConfigurationError(f"{protocol} needs a SASL mechanism, username and password")
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=password.get_secret_value(),
        mechanism=settings.kafka_sasl_mechanism,
        ssl_context=context,
    )
