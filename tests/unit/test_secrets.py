"""No default secrets outside development: what is missing is named, the hub refuses to start,
and development mode stands in with a warning, once."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import hub.settings as settings_module
from hub.audit.keys import generate
from hub.cli import main
from hub.errors import ConfigurationError
from hub.ingress.http import create_ingress_app
from hub.runtime.app import create_app
from hub.settings import DEV_ISSUER, DEV_PSEUDONYM_KEY, Settings, missing_secrets

pytestmark = pytest.mark.req("REQ-SEC-NO-DEFAULT-SECRETS")

NAMES = {
    "pseudonym_key": "V2V_PSEUDONYM_KEY",
    "auth_issuer": "V2V_AUTH_ISSUER",
    "auth_jwks_url": "V2V_AUTH_JWKS_URL or V2V_AUTH_JWKS_FILE",
    "signature_key": "V2V_SIGNATURE_KEY",
    "audit_signing_key_file": "V2V_AUDIT_SIGNING_KEY_FILE",
}


@pytest.fixture(scope="module")
def secrets(tmp_path_factory) -> dict[str, object]:
    """One value for every secret; the audit key a real key file."""
    audit_key = tmp_path_factory.mktemp("audit") / "checkpoint.pem"
    generate(audit_key)
    return {
        "pseudonym_key": "a-pseudonym-key",
        "auth_issuer": "https://idp.example/realms/v2v",
        "auth_jwks_url": "https://idp.example/realms/v2v/certs",
        "signature_key": "11" * 32,
        "audit_signing_key_file": audit_key,
    }


def production(**values: object) -> Settings:
    return Settings(env="prod", **values)  # type: ignore[arg-type]


def test_production_without_secrets_names_each_one() -> None:
    assert missing_secrets(production()) == list(NAMES.values())
    with pytest.raises(ConfigurationError, match="the worker refuses to start") as info:
        production().require_secrets("the worker")
    for name in NAMES.values():
        assert name in str(info.value)
    assert "V2V_PSEUDONYM_KEY (HMAC key for patient pseudonyms)" in str(info.value)


@pytest.mark.parametrize("absent", sorted(NAMES))
def test_each_secret_is_required_alone(secrets, absent, tmp_path: Path) -> None:
    values = {k: v for k, v in secrets.items() if k != absent}
    assert missing_secrets(production(**values)) == [NAMES[absent]]
    blank: object = tmp_path / "no-such-key.pem" if absent == "audit_signing_key_file" else "  "
    assert missing_secrets(production(**{**values, absent: blank})) == [NAMES[absent]]


def test_the_audit_key_is_not_needed_with_the_trail_off(secrets) -> None:
    values = {k: v for k, v in secrets.items() if k != "audit_signing_key_file"}
    assert missing_secrets(production(**values, audit_enabled=False)) == []


def test_a_jwks_file_stands_for_the_url(secrets, tmp_path) -> None:
    values = {k: v for k, v in secrets.items() if k != "auth_jwks_url"}
    configured = production(**values, auth_jwks_file=tmp_path / "jwks.json")
    assert missing_secrets(configured) == []
    configured.require_secrets()
    assert configured.jwks_source() == tmp_path / "jwks.json"


def test_production_uses_the_secrets_it_is_given_and_no_other(secrets) -> None:
    configured = production(**secrets)
    assert configured.pseudonym_secret() == b"a-pseudonym-key"
    assert configured.signature_seed() == bytes([0x11]) * 32
    assert configured.token_issuer() == secrets["auth_issuer"]
    bare = production()
    for accessor, name in [
        (bare.pseudonym_secret, "V2V_PSEUDONYM_KEY"),
        (bare.signature_seed, "V2V_SIGNATURE_KEY"),
        (bare.token_issuer, "V2V_AUTH_ISSUER"),
        (bare.jwks_source, "V2V_AUTH_JWKS_URL"),
    ]:
        with pytest.raises(ConfigurationError, match=name):
            accessor()
    with pytest.raises(ConfigurationError, match="64 hex digits"):
        production(signature_key="not-hex").signature_seed()


def test_development_values_stand_in_with_one_warning(monkeypatch, caplog, tmp_path) -> None:
    monkeypatch.setattr(settings_module, "_dev_warned", False)
    dev = Settings(env="dev", dev_idp_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="v2v.settings"):
        assert missing_secrets(dev) == []
        dev.require_secrets()
        assert dev.pseudonym_secret() == DEV_PSEUDONYM_KEY
        assert dev.token_issuer() == DEV_ISSUER
        assert dev.jwks_source() == tmp_path / "jwks.json"
        assert len(dev.signature_seed()) == 32
    warnings = [r for r in caplog.records if r.name == "v2v.settings"]
    assert len(warnings) == 1
    assert "V2V_PSEUDONYM_KEY" in warnings[0].getMessage()


def test_the_worker_and_ingress_refuse_to_be_built_without_secrets() -> None:
    with pytest.raises(ConfigurationError, match="the worker refuses to start"):
        create_app(production())
    with pytest.raises(ConfigurationError, match="ingress refuses to start"):
        create_ingress_app(production())


@pytest.fixture
def production_env(monkeypatch):
    monkeypatch.setenv("V2V_ENV", "prod")
    secrets = ("PSEUDONYM_KEY", "AUTH_ISSUER", "AUTH_JWKS_URL", "AUTH_JWKS_FILE",
               "SIGNATURE_KEY", "AUDIT_SIGNING_KEY_FILE")  # fmt: skip
    for name in secrets:
        monkeypatch.delenv(f"V2V_{name}", raising=False)
    monkeypatch.setenv("V2V_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing is reached


@pytest.mark.parametrize(
    ("argv", "process"),
    [(["run"], "the worker"), (["ingress"], "ingress"), (["demo"], "the demo")],
)
def test_the_commands_refuse_to_start_and_say_what_is_missing(
    production_env, capsys, argv, process
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{process} refuses to start" in err
    assert "V2V_AUTH_ISSUER" in err
    assert "V2V_PSEUDONYM_KEY" in err
    # ingress verifies tokens and signs nothing: it is never asked for a key it could sign with
    for name in ("V2V_SIGNATURE_KEY", "V2V_AUDIT_SIGNING_KEY_FILE"):
        assert (name in err) is (process != "ingress"), name


def test_ingress_needs_no_signing_key(secrets) -> None:
    needed = {k: secrets[k] for k in ("pseudonym_key", "auth_issuer", "auth_jwks_url")}
    assert create_ingress_app(production(**needed)) is not None
    with pytest.raises(ConfigurationError, match="V2V_AUTH_JWKS_URL"):
        create_ingress_app(production(**{**needed, "auth_jwks_url": None}))


def test_dev_tokens_only_in_development(production_env, monkeypatch, capsys, tmp_path) -> None:
    monkeypatch.setenv("V2V_DEV_IDP_DIR", str(tmp_path))
    assert main(["auth", "dev-token", "--user", "qp-anna", "--role", "qualified-person"]) == 2
    assert "V2V_ENV=dev" in capsys.readouterr().err
    monkeypatch.setenv("V2V_ENV", "dev")
    assert main(["auth", "dev-token", "--user", "qp-anna", "--role", "qualified-person"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.count(".") == 2
    assert (tmp_path / "jwks.json").is_file()


def test_keygen_makes_a_usable_seal_key(production_env, monkeypatch, capsys) -> None:
    assert main(["auth", "keygen"]) == 0
    out = capsys.readouterr()
    name, _, value = out.out.strip().partition("=")
    assert name == "V2V_SIGNATURE_KEY"
    assert len(bytes.fromhex(value)) == 32
    monkeypatch.setenv("V2V_SIGNATURE_KEY", value)
    assert main(["auth", "seal-key"]) == 0
    public = capsys.readouterr().out
    assert '"algorithm": "Ed25519"' in public
    assert public.split('"public_key": "')[1][:64] in out.err
