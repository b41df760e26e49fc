"""The hub's configuration: one pydantic-settings object, env prefix ``V2V_``.

This module is the only reader of the environment. ``KAFKA_BOOTSTRAP_SERVERS`` and ``REDIS_URL``
(the names the test tooling and testcontainers use) are honoured as fallbacks for the two
connection settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]


def _given(value: str | SecretStr | None) -> bool:
    """Set to something: an empty variable counts as unset."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return bool(value)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="V2V_", extra="ignore", frozen=True, populate_by_name=True
    )

    # --- Kafka ---------------------------------------------------------------------------------
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:19092",
        validation_alias=AliasChoices("V2V_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"),
    )
    # Every Kafka client of the hub (the Faust worker, ingress, file drop, topics, record, bench,
    # the simulator's feeder and readers) connects with these: docs/kafka-security.md.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_ca_location: str | None = Field(
        None, description="PEM file of the CAs that sign the brokers' certificates; unset: system"
    )
    kafka_ssl_certificate_location: str | None = Field(
        None, description="PEM client certificate (chain) for mutual TLS"
    )
    kafka_ssl_key_location: str | None = Field(None, description="PEM private key of it")
    kafka_ssl_key_password: SecretStr | None = None
    kafka_ssl_endpoint_identification: bool = Field(
        True, description="check that a broker's certificate names the host connected to"
    )
    kafka_connect_timeout_s: float = Field(
        30.0,
        gt=0,
        description="how long a command waits for the cluster's first answer before it gives up",
    )
    topic_prefix: str = "v2v"
    topic_partitions: int = Field(4, ge=1)
    topic_replication: int = Field(1, ge=1)
    partners: list[str] = Field(
        default_factory=list,
        description="raw feeds to consume (JSON list); empty = every connector",
    )

    # --- serde -----------------------------------------------------------------------------------
    wire_format: Literal["single-object", "confluent"] = "single-object"
    schema_registry_url: str | None = None

    # --- Faust runtime -------------------------------------------------------------------------
    app_id: str = "v2v-hub"
    data_dir: Path = REPO_ROOT / ".local" / "faust"
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    web_enabled: bool = True
    tick_interval_s: float = Field(
        30.0, ge=0, description="wall-clock tick period; 0 disables the ticker (simulated time)"
    )
    log_level: str = "warning"
    instance_id: str | None = Field(
        None,
        description="static group membership (Kafka group.instance.id): a worker restarted "
        "under the same id takes its partitions back at once, without a rebalance; one per "
        "worker (the StatefulSet pod name)",
    )
    session_timeout_s: float = Field(
        10.0, gt=0, description="how long the group waits for a silent worker before moving on"
    )

    # --- Redis ---------------------------------------------------------------------------------
    redis_url: str = Field(
        "redis://127.0.0.1:16379/0",
        validation_alias=AliasChoices("V2V_REDIS_URL", "REDIS_URL"),
    )
    redis_key_prefix: str = "v2v"

    # --- notifications ---------------------------------------------------------------------
    webhook_url: str | None = Field(
        None, description="escalations on channel 'webhook' are POSTed here; unset: logged"
    )
    webhook_attempts: int = Field(5, ge=1)

    # --- domain --------------------------------------------------------------------------------
    profile_dir: Path = REPO_ROOT / "hub" / "chain" / "profiles"
    partner_dir: Path = Field(
        REPO_ROOT / "deploy" / "partners",
        description="the partner registry: one YAML file per partner (docs/partners.md)",
    )
    escalation_policy_file: Path = REPO_ROOT / "hub" / "cases" / "escalation_policy.yaml"
    pseudonym_key: SecretStr = Field(
        SecretStr("dev-only-pseudonym-key-change-me"),
        description="HMAC key for patient pseudonyms; stays with the clinic side",
    )

    @model_validator(mode="after")
    def _kafka_security_is_whole(self) -> Settings:
        """A security setting that the protocol would not use is a mistake, never ignored: a
        client that silently skipped SASL or TLS is the failure this refuses."""
        protocol = self.kafka_security_protocol
        sasl = {
            "V2V_KAFKA_SASL_MECHANISM": self.kafka_sasl_mechanism,
            "V2V_KAFKA_SASL_USERNAME": self.kafka_sasl_username,
            "V2V_KAFKA_SASL_PASSWORD": self.kafka_sasl_password,
        }
        tls = {
            "V2V_KAFKA_SSL_CA_LOCATION": self.kafka_ssl_ca_location,
            "V2V_KAFKA_SSL_CERTIFICATE_LOCATION": self.kafka_ssl_certificate_location,
            "V2V_KAFKA_SSL_KEY_LOCATION": self.kafka_ssl_key_location,
            "V2V_KAFKA_SSL_KEY_PASSWORD": self.kafka_ssl_key_password,
        }
        if self.kafka_uses_sasl:
            missing = [name for name, value in sasl.items() if not _given(value)]
            if missing:
                raise ValueError(
                    f"V2V_KAFKA_SECURITY_PROTOCOL={protocol} needs {', '.join(missing)}"
                )
        elif given := [name for name, value in sasl.items() if _given(value)]:
            raise ValueError(
                f"{', '.join(given)} set, but V2V_KAFKA_SECURITY_PROTOCOL={protocol} does not "
                "authenticate with SASL: use SASL_SSL (or SASL_PLAINTEXT), or unset them"
            )
        if not self.kafka_uses_tls and (given := [n for n, value in tls.items() if _given(value)]):
            raise ValueError(
                f"{', '.join(given)} set, but V2V_KAFKA_SECURITY_PROTOCOL={protocol} does not "
                "use TLS: use SSL or SASL_SSL, or unset them"
            )
        if _given(self.kafka_ssl_certificate_location) != _given(self.kafka_ssl_key_location):
            raise ValueError(
                "mutual TLS needs both V2V_KAFKA_SSL_CERTIFICATE_LOCATION and "
                "V2V_KAFKA_SSL_KEY_LOCATION"
            )
        if _given(self.kafka_ssl_key_password) and not _given(self.kafka_ssl_key_location):
            raise ValueError("V2V_KAFKA_SSL_KEY_PASSWORD set without V2V_KAFKA_SSL_KEY_LOCATION")
        return self

    @property
    def kafka_uses_sasl(self) -> bool:
        return self.kafka_security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    @property
    def kafka_uses_tls(self) -> bool:
        return self.kafka_security_protocol in ("SSL", "SASL_SSL")

    # --- audit trail (docs/audit.md) ------------------------------------------------------
    env: Literal["dev", "prod"] = Field(
        "dev", description="dev: development defaults for secrets; prod: every secret required"
    )
    audit_enabled: bool = Field(
        True, description="hash-chained audit records; off only to measure their cost"
    )
    audit_signing_key_file: Path | None = Field(
        None, description="Ed25519 PEM key signing checkpoints; dev default .local/audit/"
    )
    audit_checkpoint_interval_s: float = Field(
        300.0, gt=0, description="hub-clock interval between signed checkpoints per partition"
    )

    @property
    def audit_key_path(self) -> Path:
        """The signing key's file: the setting, or in development mode ``.local/audit/``."""
        if self.audit_signing_key_file is not None:
            return self.audit_signing_key_file
        return REPO_ROOT / ".local" / "audit" / "checkpoint-signing-key.pem"

    def topic(self, name: str) -> str:
        """Full topic name: ``<prefix>.<name>`` (``events``, ``raw.courier``, ``dlq`` ...)."""
        return f"{self.topic_prefix}.{name}"

    def kafka_config(self) -> dict[str, Any]:
        """librdkafka's dotted configuration keys for confluent-kafka clients: the connection
        and its whole security set. The Faust worker's equivalent is
        :func:`hub.runtime.kafka.broker_credentials`, built from the same fields."""
        conf: dict[str, Any] = {
            "bootstrap.servers": self.kafka_bootstrap_servers,
            "security.protocol": self.kafka_security_protocol,
        }
        if self.kafka_uses_sasl and self.kafka_sasl_password is not None:
            conf["sasl.mechanism"] = self.kafka_sasl_mechanism
            conf["sasl.username"] = self.kafka_sasl_username
            conf["sasl.password"] = self.kafka_sasl_password.get_secret_value()
        if self.kafka_uses_tls:
            conf["ssl.endpoint.identification.algorithm"] = (
                "https" if self.kafka_ssl_endpoint_identification else "none"
            )
            if self.kafka_ssl_ca_location:
                conf["ssl.ca.location"] = self.kafka_ssl_ca_location
            if self.kafka_ssl_certificate_location:
                conf["ssl.certificate.location"] = self.kafka_ssl_certificate_location
                conf["ssl.key.location"] = self.kafka_ssl_key_location
            if self.kafka_ssl_key_password is not None:
                conf["ssl.key.password"] = self.kafka_ssl_key_password.get_secret_value()
        return conf


def missing_secrets(settings: Settings) -> list[str]:
    """The secrets a worker cannot start without, outside development mode (``V2V_ENV=dev``)."""
    if settings.env == "dev":
        return []
    missing = []
    key = settings.audit_signing_key_file
    if key is None or not key.is_file():
        missing.append("V2V_AUDIT_SIGNING_KEY_FILE")
    return missing
