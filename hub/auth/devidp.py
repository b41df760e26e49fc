"""The development identity provider: tokens for the quick start, verified like production ones.

An RSA key kept in ``V2V_DEV_IDP_DIR`` (default ``.local/auth/``; created on first use, mode
0600) signs RS256 tokens with the claims a production OIDC provider issues (``iss``, ``aud``,
``sub``, ``name``, the roles claim, ``iat``, ``nbf``, ``exp``, ``auth_time``, ``jti``); its public
key is published beside it as a JWKS file (``jwks.json``), which a development worker reads as
it would read a provider's JWKS endpoint. Everything here refuses to run unless ``V2V_ENV=dev``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from hub.canonical import canonical_json
from hub.errors import ConfigurationError
from hub.settings import DEV_JWKS_FILE, Settings

KEY_FILE = "dev-idp-key.pem"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint of an RSA key: its key id."""
    return _b64(hashlib.sha256(canonical_json({k: jwk[k] for k in ("e", "kty", "n")})).digest())


class DevIdentityProvider:
    """Mints development tokens; see the module docstring."""

    def __init__(self, settings: Settings) -> None:
        if not settings.dev_mode:
            raise ConfigurationError(
                "the development identity provider runs only with V2V_ENV=dev; outside "
                "development tokens come from your identity provider"
            )
        self.settings = settings
        self.directory = settings.dev_idp_dir
        self.jwks_path = self.directory / DEV_JWKS_FILE
        self._key: rsa.RSAPrivateKey | None = None
        self._kid = ""

    def ensure(self) -> DevIdentityProvider:
        """Create the key (first use) and publish its JWKS; safe when run concurrently."""
        key = _load_or_create_key(self.directory / KEY_FILE)
        jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
        self._kid = thumbprint(jwk)
        jwk.update({"kid": self._kid, "use": "sig", "alg": "RS256"})
        text = json.dumps({"keys": [jwk]}, indent=2) + "\n"
        if not self.jwks_path.exists() or self.jwks_path.read_text(encoding="utf-8") != text:
            tmp = self.jwks_path.with_name(f".{DEV_JWKS_FILE}.{uuid.uuid4().hex}")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, self.jwks_path)
        self._key = key
        return self

    def mint(
        self,
        user: str,
        roles: list[str],
        *,
        name: str | None = None,
        minutes: float = 60.0,
        auth_age: timedelta = timedelta(0),
        now: datetime | None = None,
        audience: str | None = None,
    ) -> str:
        """A signed token for ``user`` with ``roles``, valid ``minutes`` from ``now``; the person
        authenticated ``auth_age`` before ``now`` (an e-signature needs a recent one)."""
        if self._key is None:
            self.ensure()
        assert self._key is not None
        if not user.strip():
            raise ValueError("a token needs a user (its subject)")
        at = now or datetime.now(UTC)
        claims: dict[str, Any] = {
            "iss": self.settings.token_issuer(),
            "aud": audience or self.settings.auth_audience,
            "sub": user,
            "iat": int(at.timestamp()),
            "nbf": int(at.timestamp()),
            "exp": int((at + timedelta(minutes=minutes)).timestamp()),
            "auth_time": int((at - auth_age).timestamp()),
            "jti": uuid.uuid4().hex,
        }
        _put(claims, self.settings.auth_name_claim, name or user)
        _put(claims, self.settings.auth_roles_claim, list(roles))
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self._kid})


def _put(claims: dict[str, Any], path: str, value: Any) -> None:
    """Set a (dotted) claim path, as the verifier reads it."""
    *parents, last = path.split(".")
    node = claims
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _load_or_create_key(path: Path) -> rsa.RSAPrivateKey:
    """The key at ``path``; a new one written atomically (the first writer wins) if none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        try:
            os.link(tmp, path)  # fails if another process created it meanwhile
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ConfigurationError(f"{path} is not an RSA private key")
    return loaded
