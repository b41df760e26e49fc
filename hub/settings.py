"""The hub's configuration: one pydantic-settings object, env prefix ``V2V_``.

This module is the only reader of the environment. ``KAFKA_BOOTSTRAP_SERVERS`` and ``REDIS_URL``
(the names the test tooling and testcontainers use) are honoured as fallbacks for the two
connection settings.

No secret has a default outside development: unless ``V2V_ENV=dev``, a hub process refuses to
start while :func:`missing_secrets` names anything (``Settings.require_secrets``). In development
mode fixed development values stand in for the unset ones, with a warning logged once.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.errors import ConfigurationError

REPO_ROOT = Path(__file__).resolve().parents[1]
DEV_ENV = "dev"
DEV_PSEUDONYM_KEY = b"dev-only-pseudonym-key-change-me"
DEV_SIGNATURE_SEED = hashlib.sha256(b"v2v dev-only e-signature seal key").digest()
DEV_ISSUER = "v2v-dev-idp"
DEV_JWKS_FILE = "jwks.json"
# The secrets HTTP ingress needs: it verifies partners' tokens and checks their messages with the
# connectors (which pseudonymise), and holds no key it could sign a signature or checkpoint with.
INGRESS_SECRETS = (
    "V2V_PSEUDONYM_KEY",
    "V2V_AUTH_ISSUER",
    "V2V_AUTH_JWKS_URL or V2V_AUTH_JWKS_FILE",
)

log = logging.getLogger("v2v.settings")
_dev_warned = False


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
    table_store: Literal["memory", "rocksdb"] = Field(
        "memory",
        description="where the chain table lives: memory (a restart reads the whole changelog) "
        "or rocksdb under data_dir (a restart reads only what was written since)",
    )
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
    # Reads (HTTP views) and writes (agents: read model, notified markers) use pools of their
    # own, so slow or many readers never hold the connections the agents need (docs/continuity.md).
    redis_read_pool_size: int = Field(
        20, ge=1, description="connections the HTTP reads may hold at once"
    )
    redis_write_pool_size: int = Field(
        10, ge=1, description="connections the agents' read-model and notified writes may hold"
    )
    redis_timeout_s: float = Field(
        2.0, gt=0, description="connect, socket and pool-wait timeout of every Redis call"
    )

    # --- resilience (docs/continuity.md) -----------------------------------------------------
    http_max_body_bytes: int = Field(
        10 * 1024 * 1024, ge=1, description="largest request body the ingress takes (413 above)"
    )
    http_max_command_bytes: int = Field(
        64 * 1024, ge=1, description="largest case-command body the worker takes (413 above)"
    )
    http_max_json_depth: int = Field(
        32, ge=1, description="deepest JSON nesting any body may have (400 above)"
    )
    http_max_xml_depth: int = Field(
        128, ge=1, description="deepest XML element nesting an ingress body may have (400 above)"
    )
    http_body_timeout_s: float = Field(
        10.0, gt=0, description="how long a client may take to send its body (408 after)"
    )
    delivery_timeout_s: float = Field(
        5.0,
        gt=0,
        description="how long ingress, file drop and case commands wait for Kafka's "
        "acknowledgement before answering 503 (file drop: leaving the file for the next poll)",
    )
    health_timeout_s: float = Field(
        2.0, gt=0, description="how long /ready waits for the broker and Redis to answer"
    )
    log_repeat_interval_s: float = Field(
        30.0,
        gt=0,
        description="connection errors repeating within this interval are logged once, "
        "then once per interval with the count of lines held back",
    )
    shutdown_grace_s: float = Field(
        8.0, gt=0, description="SIGTERM: a worker still stopping after this long exits at once"
    )

    # --- notifications ---------------------------------------------------------------------
    webhook_url: str | None = Field(
        None, description="escalations on channel 'webhook' are POSTed here; unset: logged"
    )
    webhook_retry_for_s: float = Field(
        86400.0,
        gt=0,
        description="how long a webhook notification is retried (backoff doubling up to "
        "webhook_max_backoff_s) before it is logged instead; later escalations wait for it",
    )
    webhook_max_backoff_s: float = Field(30.0, gt=0, description="longest pause between retries")

    # --- domain --------------------------------------------------------------------------------
    profile_dir: Path = REPO_ROOT / "hub" / "chain" / "profiles"
    partner_dir: Path = Field(
        REPO_ROOT / "deploy" / "partners",
        description="the partner registry: one YAML file per partner (docs/partners.md)",
    )
    escalation_policy_file: Path = REPO_ROOT / "hub" / "cases" / "escalation_policy.yaml"
    pseudonym_key: SecretStr | None = Field(
        None,
        description="HMAC key for patient pseudonyms; stays with the clinic side (required "
        "outside development)",
    )

    # --- security (docs/security.md) ------------------------------------------------------------
    env: Literal["dev", "prod"] = Field(
        "prod", description="dev: development stand-ins for unset secrets; prod: every secret set"
    )
    auth_issuer: str | None = Field(None, description="the identity provider's 'iss'")
    auth_jwks_url: str | None = Field(None, description="the identity provider's JWKS endpoint")
    auth_jwks_file: Path | None = Field(None, description="or its JWKS as a local file")
    auth_audience: str = Field("v2v-hub", description="the 'aud' tokens must carry")
    auth_roles_claim: str = Field(
        "roles", description="claim with the roles; dotted for nested ones (realm_access.roles)"
    )
    auth_name_claim: str = Field("name", description="claim with the printed name of a person")
    auth_algorithms: list[str] = Field(
        default_factory=lambda: ["RS256", "ES256", "EdDSA"],
        description="token signature algorithms accepted (never 'none' or HS*)",
    )
    auth_leeway_s: int = Field(30, ge=0, description="clock skew allowed on exp / nbf / iat")
    auth_open_health: bool = Field(True, description="/ready and /healthz without a token")
    auth_open_metrics: bool = Field(True, description="/metrics without a token")
    authority_policy_file: Path = Field(
        REPO_ROOT / "hub" / "cases" / "authority.yaml",
        description="who may read, ingest and command what (docs/security.md)",
    )
    signature_reauth_minutes: float = Field(
        5.0, gt=0, description="an e-signature needs an authentication this recent (auth_time)"
    )
    signature_key: SecretStr | None = Field(
        None, description="hub seal key for e-signatures: Ed25519 private key, 64 hex digits"
    )
    dev_idp_dir: Path = Field(
        REPO_ROOT / ".local" / "auth",
        description="the development identity provider's key and JWKS (V2V_ENV=dev only)",
    )

    # --- secrets --------------------------------------------------------------------------------

    @property
    def dev_mode(self) -> bool:
        return self.env == DEV_ENV

    def require_secrets(
        self, process: str = "the hub", needs: Collection[str] | None = None
    ) -> None:
        """Refuse to go on (ConfigurationError naming each) while a secret is missing: every
        secret, or only those named in ``needs`` (least privilege: ingress holds no seal
        or checkpoint key, :data:`INGRESS_SECRETS`). In development mode, warn once
        which development values stand in."""
        missing = [
            (name, purpose)
            for name, purpose in _unset_secrets(self)
            if needs is None or name in needs
        ]
        if missing and not self.dev_mode:
            unset = "; ".join(f"{name} ({purpose})" for name, purpose in missing)
            raise ConfigurationError(
                f"{process} refuses to start without its secrets (or V2V_ENV=dev for "
                f"development): {unset}"
            )
        if self.dev_mode:
            _warn_dev(_unset_secrets(self))

    def pseudonym_secret(self) -> bytes:
        """The pseudonym HMAC key; the development key only in development mode."""
        if not _blank(self.pseudonym_key):
            assert self.pseudonym_key is not None
            return self.pseudonym_key.get_secret_value().encode()
        self._dev_only("V2V_PSEUDONYM_KEY")
        return DEV_PSEUDONYM_KEY

    def signature_seed(self) -> bytes:
        """The 32-byte Ed25519 seed that seals e-signatures; a fixed one only in development."""
        if not _blank(self.signature_key):
            assert self.signature_key is not None
            text = self.signature_key.get_secret_value().strip()
            try:
                seed = bytes.fromhex(text)
            except ValueError:
                seed = b""
            if len(seed) != 32:
                raise ConfigurationError(
                    "V2V_SIGNATURE_KEY must be 64 hex digits (an Ed25519 private key; "
                    "`v2v auth keygen` makes one)"
                )
            return seed
        self._dev_only("V2V_SIGNATURE_KEY")
        return DEV_SIGNATURE_SEED

    def token_issuer(self) -> str:
        """The issuer tokens must name: the configured one, else (development) the local one."""
        if _text(self.auth_issuer):
            return _text(self.auth_issuer)
        self._dev_only("V2V_AUTH_ISSUER")
        return DEV_ISSUER

    def jwks_source(self) -> str | Path:
        """Where the token keys come from: a URL, a file, or (development) the local provider's
        JWKS file."""
        if _text(self.auth_jwks_url):
            return _text(self.auth_jwks_url)
        if self.auth_jwks_file:
            return self.auth_jwks_file
        self._dev_only("V2V_AUTH_JWKS_URL or V2V_AUTH_JWKS_FILE")
        return self.dev_idp_dir / DEV_JWKS_FILE

    def _dev_only(self, name: str) -> None:
        if not self.dev_mode:
            raise ConfigurationError(f"{name} is not set (required unless V2V_ENV=dev)")
        _warn_dev(_unset_secrets(self))

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
    """The secrets a hub process needs and lacks, by their settings' names: always empty in
    development mode (``V2V_ENV=dev``), where development values stand in. A new secret is one
    line here."""
    if settings.dev_mode:
        return []
    return [name for name, _purpose in _unset_secrets(settings)]


def _unset_secrets(settings: Settings) -> list[tuple[str, str]]:
    """Every secret not set, whatever the mode: (setting, what it is for)."""
    audit_key = settings.audit_signing_key_file
    unset = [
        ("V2V_PSEUDONYM_KEY", "HMAC key for patient pseudonyms", _blank(settings.pseudonym_key)),
        ("V2V_AUTH_ISSUER", "the identity provider's issuer", not _text(settings.auth_issuer)),
        (
            "V2V_AUTH_JWKS_URL or V2V_AUTH_JWKS_FILE",
            "the identity provider's keys",
            not (_text(settings.auth_jwks_url) or settings.auth_jwks_file),
        ),
        ("V2V_SIGNATURE_KEY", "the hub's e-signature seal key", _blank(settings.signature_key)),
        (
            "V2V_AUDIT_SIGNING_KEY_FILE",
            "the audit checkpoint signing key",
            settings.audit_enabled and (audit_key is None or not audit_key.is_file()),
        ),
    ]
    return [(name, purpose) for name, purpose, missing in unset if missing]


def _text(value: str | None) -> str:
    return (value or "").strip()


def _blank(secret: SecretStr | None) -> bool:
    return secret is None or not secret.get_secret_value().strip()


def _warn_dev(unset: list[tuple[str, str]]) -> None:
    global _dev_warned
    if unset and not _dev_warned:
        _dev_warned = True
        log.warning(
            "development mode (V2V_ENV=dev): development values stand in for %s; never use "
            "this outside development",
            ", ".join(name for name, _purpose in unset),
        )
