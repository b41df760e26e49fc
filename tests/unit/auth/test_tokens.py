"""Bearer tokens: what the verifier accepts, and every way a token is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest

from hub.auth.devidp import DevIdentityProvider
from hub.auth.tokens import KeySet, TokenVerifier, claim, roles_of
from hub.errors import AuthenticationError, ConfigurationError
from hub.settings import Settings

pytestmark = pytest.mark.req("REQ-P11-AUTH")


def dev_settings(tmp_path: Path, **changes: object) -> Settings:
    return Settings(env="dev", dev_idp_dir=tmp_path / "idp", **changes)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return dev_settings(tmp_path)


@pytest.fixture
def idp(settings: Settings) -> DevIdentityProvider:
    return DevIdentityProvider(settings).ensure()


@pytest.fixture
def verifier(settings: Settings, idp: DevIdentityProvider) -> TokenVerifier:
    return TokenVerifier.from_settings(settings)


def test_a_dev_token_verifies_with_the_published_jwks(idp, verifier) -> None:
    token = idp.mint(
        "qp-anna", ["qualified-person"], name="Anna Berg", auth_age=timedelta(minutes=3)
    )
    principal = verifier.verify(token)
    assert principal.subject == "qp-anna"
    assert principal.roles == {"qualified-person"}
    assert principal.name == "Anna Berg"
    assert principal.issuer == "v2v-dev-idp"
    assert principal.auth_time is not None
    age = datetime.now(UTC) - principal.auth_time
    assert timedelta(minutes=2) < age < timedelta(minutes=4)
    jwks = json.loads(idp.jwks_path.read_text())
    assert [k["kty"] for k in jwks["keys"]] == ["RSA"]
    assert "d" not in jwks["keys"][0]  # the public half only


def test_the_dev_key_is_made_once_and_kept(settings) -> None:
    first = DevIdentityProvider(settings).ensure()
    again = DevIdentityProvider(settings).ensure()
    key_file = settings.dev_idp_dir / "dev-idp-key.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600
    token = first.mint("op-olga", ["operator"])
    assert TokenVerifier.from_settings(settings).verify(token).subject == "op-olga"
    assert again.jwks_path.read_text() == first.jwks_path.read_text()


def test_the_dev_identity_provider_refuses_outside_development(tmp_path) -> None:
    with pytest.raises(ConfigurationError, match="V2V_ENV=dev"):
        DevIdentityProvider(Settings(env="prod", dev_idp_dir=tmp_path))


@pytest.mark.parametrize(
    ("mint", "reason"),
    [
        (lambda i: i.mint("u", ["qa"], now=datetime.now(UTC) - timedelta(hours=2)), "expired"),
        (lambda i: i.mint("u", ["qa"], now=datetime.now(UTC) + timedelta(hours=1)), "not yet"),
        (lambda i: i.mint("u", ["qa"], audience="another-app"), "(?i)audience"),
    ],
    ids=["expired", "not-before", "audience"],
)
def test_claims_that_do_not_hold_are_refused(idp, verifier, mint, reason) -> None:
    with pytest.raises(AuthenticationError, match=reason):
        verifier.verify(mint(idp))


def test_another_issuer_is_refused(tmp_path, idp) -> None:
    token = idp.mint("u", ["qa"])
    other = TokenVerifier.from_settings(dev_settings(tmp_path, auth_issuer="https://idp.example"))
    with pytest.raises(AuthenticationError, match="issuer"):
        other.verify(token)


def test_a_token_from_another_key_is_refused(tmp_path, verifier) -> None:
    stranger = DevIdentityProvider(Settings(env="dev", dev_idp_dir=tmp_path / "other")).ensure()
    with pytest.raises(AuthenticationError, match="no key"):
        verifier.verify(stranger.mint("u", ["qa"]))


def test_a_forged_signature_is_refused(idp, verifier) -> None:
    header, payload, _ = idp.mint("u", ["qa"]).split(".")
    forged = jwt.encode({"sub": "admin"}, "x" * 32, algorithm="HS256").split(".")[2]
    with pytest.raises(AuthenticationError, match="Signature verification failed"):
        verifier.verify(f"{header}.{payload}.{forged}")


def test_an_unsigned_or_symmetric_token_is_refused(idp, settings, verifier) -> None:
    kid = json.loads(idp.jwks_path.read_text())["keys"][0]["kid"]
    claims = {"sub": "u", "iss": settings.token_issuer(), "aud": settings.auth_audience,
              "exp": int(datetime.now(UTC).timestamp()) + 600}  # fmt: skip
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": kid})
    with pytest.raises(AuthenticationError):
        verifier.verify(unsigned)
    with pytest.raises(ConfigurationError, match="asymmetric"):
        TokenVerifier.from_settings(settings.model_copy(update={"auth_algorithms": ["HS256"]}))


def test_garbage_is_not_a_jwt(verifier) -> None:
    with pytest.raises(AuthenticationError, match="not a JWT"):
        verifier.verify("hello")


def test_roles_from_a_nested_claim_and_a_scope_string(tmp_path) -> None:
    settings = dev_settings(tmp_path, auth_roles_claim="realm_access.roles")
    idp = DevIdentityProvider(settings).ensure()
    principal = TokenVerifier.from_settings(settings).verify(idp.mint("u", ["qa", "auditor"]))
    assert principal.roles == {"qa", "auditor"}
    assert claim({"a": {"b": [1]}}, "a.b") == [1]
    assert claim({"a": 1}, "a.b") is None
    assert roles_of("qa  partner:courier") == {"qa", "partner:courier"}
    assert roles_of(None) == frozenset()


def test_partner_roles_name_their_feeds(idp, verifier) -> None:
    principal = verifier.verify(idp.mint("bot", ["partner:courier", "partner:sap", "qa"]))
    assert principal.partners == {"courier", "sap"}


def test_a_missing_key_set_file_is_an_authentication_failure(tmp_path) -> None:
    keys = KeySet(tmp_path / "absent.json")
    with pytest.raises(AuthenticationError, match="unreadable"):
        keys.key("k1")
    with pytest.raises(ConfigurationError, match="http"):
        KeySet("ftp://idp.example/jwks")
