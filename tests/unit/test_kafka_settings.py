"""Kafka security settings: one set of fields, rendered alike for librdkafka (the confluent
clients) and for aiokafka (the Faust worker), and refused when incomplete or unused.

No broker here: ``tests/integration/test_kafka_security.py`` runs both kinds of client against
a SASL_SSL broker that requires client certificates.
"""

from __future__ import annotations

import ssl
from typing import Any

import certifi
import pytest
from confluent_kafka import KafkaError
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import ValidationError

from hub.cluster import _refusal, connect
from hub.errors import ConfigurationError, DeliveryError
from hub.runtime.app import create_app
from hub.runtime.kafka import broker_credentials
from hub.settings import Settings
from hub.sim.stack import free_port, settings_env

SASL: dict[str, Any] = {
    "kafka_sasl_mechanism": "SCRAM-SHA-512",
    "kafka_sasl_username": "hub",
    "kafka_sasl_password": "s3cret",
}


def settings(protocol: str, **fields: Any) -> Settings:
    return Settings(
        kafka_bootstrap_servers="broker-1:9093",
        kafka_security_protocol=protocol,
        partners=["courier"],
        **fields,
    )


def test_plaintext_renders_no_security_keys() -> None:
    assert settings("PLAINTEXT").kafka_config() == {
        "bootstrap.servers": "broker-1:9093",
        "security.protocol": "PLAINTEXT",
    }
    assert broker_credentials(settings("PLAINTEXT")) is None


def test_sasl_ssl_renders_login_ca_client_certificate_and_hostname_check() -> None:
    conf = settings(
        "SASL_SSL",
        **SASL,
        kafka_ssl_ca_location="/etc/v2v/ca.pem",
        kafka_ssl_certificate_location="/etc/v2v/client.pem",
        kafka_ssl_key_location="/etc/v2v/client.key",
        kafka_ssl_key_password="key-pass",
    ).kafka_config()
    assert conf == {
        "bootstrap.servers": "broker-1:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "hub",
        "sasl.password": "s3cret",
        "ssl.endpoint.identification.algorithm": "https",
        "ssl.ca.location": "/etc/v2v/ca.pem",
        "ssl.certificate.location": "/etc/v2v/client.pem",
        "ssl.key.location": "/etc/v2v/client.key",
        "ssl.key.password": "key-pass",
    }


def test_hostname_verification_is_on_unless_switched_off() -> None:
    on, off = settings("SSL"), settings("SSL", kafka_ssl_endpoint_identification=False)
    assert on.kafka_config()["ssl.endpoint.identification.algorithm"] == "https"
    assert off.kafka_config()["ssl.endpoint.identification.algorithm"] == "none"
    assert broker_credentials(on).context.check_hostname is True
    assert broker_credentials(off).context.check_hostname is False
    # Off means "any name", never "any certificate": the chain is still verified.
    assert broker_credentials(off).context.verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "needs V2V_KAFKA_SASL_MECHANISM"),
        (
            {"kafka_security_protocol": "SASL_SSL", **SASL, "kafka_sasl_password": ""},
            "needs V2V_KAFKA_SASL_PASSWORD",
        ),
        (
            {"kafka_sasl_username": "hub"},
            "V2V_KAFKA_SASL_USERNAME set, but V2V_KAFKA_SECURITY_PROTOCOL=PLAINTEXT",
        ),
        (
            {"kafka_security_protocol": "SASL_PLAINTEXT", **SASL, "kafka_ssl_ca_location": "c"},
            "V2V_KAFKA_SSL_CA_LOCATION set, but V2V_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_certificate_location": "c.pem"},
            "mutual TLS needs both",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_key_password": "p"},
            "V2V_KAFKA_SSL_KEY_PASSWORD set without V2V_KAFKA_SSL_KEY_LOCATION",
        ),
        (
            {"kafka_security_protocol": "SASL_SSL", **SASL, "kafka_sasl_mechanism": "GSSAPI"},
            "kafka_sasl_mechanism",
        ),
    ],
)
def test_incomplete_or_unused_security_settings_are_refused(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**fields)


@pytest.mark.parametrize(
    ("protocol", "fields"),
    [
        ("SSL", {}),
        ("SSL", {"kafka_ssl_endpoint_identification": False}),
        ("SASL_PLAINTEXT", SASL),
        ("SASL_SSL", SASL),
        ("SASL_SSL", {**SASL, "kafka_sasl_mechanism": "SCRAM-SHA-256"}),
        ("SASL_SSL", {**SASL, "kafka_sasl_mechanism": "PLAIN"}),
    ],
)
def test_the_worker_connects_as_the_confluent_clients_do(
    protocol: str, fields: dict[str, Any]
) -> None:
    """What the built Faust app hands aiokafka (faust's own translation of its credentials)
    carries the same protocol, login, CAs and hostname check as ``kafka_config()``."""
    config = settings(protocol, kafka_ssl_ca_location=_ca(protocol), **fields)
    app = create_app(config)
    auth = credentials_to_aiokafka_auth(app.conf.broker_credentials, app.conf.ssl_context)
    librdkafka = config.kafka_config()
    assert auth["security_protocol"] == librdkafka["security.protocol"] == protocol
    assert auth.get("sasl_mechanism") == librdkafka.get("sasl.mechanism")
    assert auth.get("sasl_plain_username") == librdkafka.get("sasl.username")
    assert auth.get("sasl_plain_password") == librdkafka.get("sasl.password")
    context = auth["ssl_context"]
    if "ssl.ca.location" not in librdkafka:
        assert context is None
        return
    assert context.verify_mode == ssl.CERT_REQUIRED
    https = librdkafka["ssl.endpoint.identification.algorithm"] == "https"
    assert context.check_hostname is https
    # The configured CA file, and only it, is what the worker trusts.
    with open(librdkafka["ssl.ca.location"]) as bundle:
        assert len(context.get_ca_certs()) == bundle.read().count("BEGIN CERTIFICATE")


def _ca(protocol: str) -> str | None:
    return certifi.where() if protocol in ("SSL", "SASL_SSL") else None


def test_unreadable_tls_files_stop_the_worker_with_a_configuration_error(tmp_path: Any) -> None:
    missing = str(tmp_path / "nope.pem")
    for fields in (
        {"kafka_ssl_ca_location": missing},
        {"kafka_ssl_certificate_location": missing, "kafka_ssl_key_location": missing},
    ):
        with pytest.raises(ConfigurationError, match="Kafka TLS files cannot be used"):
            broker_credentials(settings("SSL", **fields))


def test_security_settings_survive_the_trip_to_a_worker_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``WorkerProcess`` hands its settings to ``v2v run`` through the environment."""
    original = settings(
        "SASL_SSL",
        **SASL,
        kafka_ssl_ca_location="/ca.pem",
        kafka_ssl_certificate_location="/c.pem",
        kafka_ssl_key_location="/c.key",
        kafka_ssl_endpoint_identification=False,
    )
    for name, value in settings_env(original).items():
        monkeypatch.setenv(name, value)
    assert Settings().kafka_config() == original.kafka_config()


@pytest.mark.parametrize(
    ("code", "reason", "refused"),
    [
        (KafkaError._AUTHENTICATION, "SASL authentication error: invalid credentials", True),
        (KafkaError._TRANSPORT, "SSL handshake failed: PLAINTEXT broker listener?", True),
        (KafkaError._TRANSPORT, "Receive failed: SSL routines::tlsv13 alert", True),
        (KafkaError._TRANSPORT, "Connect to ipv4#127.0.0.1:9 failed: Connection refused", False),
        (KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down", False),
    ],
)
def test_only_a_refused_security_ends_the_wait_at_once(
    code: int, reason: str, refused: bool
) -> None:
    assert _refusal(KafkaError(code, reason)) is refused


def test_no_broker_is_a_delivery_error_after_the_timeout() -> None:
    nowhere = settings("PLAINTEXT").model_copy(
        update={"kafka_bootstrap_servers": f"127.0.0.1:{free_port()}"}
    )
    with pytest.raises(DeliveryError, match="no broker answered within 1s"):
        connect(nowhere, timeout_s=1)


def test_static_membership_and_the_session_timeout_reach_the_worker_s_consumer() -> None:
    """A crashed worker's partitions move after ``session_timeout_s`` (Faust's own default was
    60 s: a minute with nothing processed), and a worker restarted under its ``instance_id``
    rejoins as the same static member."""
    app = create_app(settings("PLAINTEXT", instance_id="v2v-hub-0", session_timeout_s=8.0))
    assert app.conf.consumer_group_instance_id == "v2v-hub-0"
    assert app.conf.broker_session_timeout == 8.0
    assert app.conf.broker_heartbeat_interval == 2.0
    assert create_app(settings("PLAINTEXT")).conf.consumer_group_instance_id is None
