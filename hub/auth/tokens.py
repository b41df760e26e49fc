"""OIDC bearer tokens (JWT) verified against the identity provider's JWKS (PyJWT).

A token is accepted when its signature verifies with a key of the provider's key set (by the
token's ``kid``), with one of the configured algorithms (never ``none``, never a shared-secret
HS* algorithm), and its claims hold: ``iss`` is the configured issuer, ``aud`` names the hub's
audience, ``exp`` has not passed and ``nbf`` has (with ``auth_leeway_s`` of clock skew), and it
names a subject. Roles come from the configured claim (``roles``, or a dotted path such as
``realm_access.roles``), the printed name from ``name``, and ``auth_time`` (OIDC Core §2: when
the person last authenticated) is kept for e-signatures.

The key set comes from an HTTPS endpoint (cached, fetched again for an unknown ``kid``: key
rotation) or from a file (read again when it changes); the development identity provider
(:mod:`hub.auth.devidp`) publishes such a file, so a development worker verifies exactly as a
production one does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt

from hub.errors import AuthenticationError, ConfigurationError
from hub.settings import Settings

PARTNER_PREFIX = "partner:"


@dataclass(frozen=True)
class Principal:
    """Who a verified token says the caller is."""

    subject: str
    roles: frozenset[str]
    name: str | None = None
    auth_time: datetime | None = None
    issuer: str = ""

    @property
    def partners(self) -> frozenset[str]:
        """The partner feeds this caller speaks for (``partner:<id>`` roles)."""
        return frozenset(
            r.removeprefix(PARTNER_PREFIX) for r in self.roles if r.startswith(PARTNER_PREFIX)
        )


def claim(claims: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted claim path (``realm_access.roles``), or None."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def roles_of(value: Any) -> frozenset[str]:
    """Roles as a claim carries them: a list, or one space-separated string (OAuth scope)."""
    if isinstance(value, str):
        items: Iterable[Any] = value.split()
    elif isinstance(value, list | tuple):
        items = value
    else:
        return frozenset()
    return frozenset(str(r).strip() for r in items if isinstance(r, str) and r.strip())


class KeySet:
    """Verification keys by ``kid`` from a JWKS URL or file; thread-safe."""

    def __init__(self, source: str | Path, timeout_s: float = 10.0) -> None:
        self.source = source
        self._lock = threading.Lock()
        self._client: jwt.PyJWKClient | None = None
        self._file_keys: dict[str, jwt.PyJWK] = {}
        self._file_stamp: tuple[int, int] | None = None
        if isinstance(source, str):
            if not source.startswith(("https://", "http://")):
                raise ConfigurationError(f"JWKS URL must be http(s): {source!r}")
            self._client = jwt.PyJWKClient(
                source, cache_jwk_set=True, lifespan=300, timeout=timeout_s
            )

    def key(self, kid: str | None) -> jwt.PyJWK:
        if self._client is not None:
            try:
                if kid is None:
                    listed = self._client.get_signing_keys()
                    if len(listed) != 1:
                        raise AuthenticationError("the token names no key ('kid')")
                    return listed[0]
                return self._client.get_signing_key(kid)
            except jwt.PyJWKClientError as exc:
                raise AuthenticationError(f"no verification key: {exc}") from exc
        with self._lock:
            by_kid = self._read_file()
        if kid is None:
            if len(by_kid) != 1:
                raise AuthenticationError("the token names no key ('kid')")
            return next(iter(by_kid.values()))
        if kid not in by_kid:
            raise AuthenticationError(f"no key {kid!r} in the identity provider's key set")
        return by_kid[kid]

    def _read_file(self) -> dict[str, jwt.PyJWK]:
        path = Path(self.source)
        try:
            stat = path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp != self._file_stamp:
                data = json.loads(path.read_text(encoding="utf-8"))
                jwks = jwt.PyJWKSet.from_dict(data)
                self._file_keys = {k.key_id or "": k for k in jwks.keys}
                self._file_stamp = stamp
        except (OSError, ValueError, jwt.PyJWTError) as exc:
            raise AuthenticationError(f"identity provider keys unreadable ({path}): {exc}") from exc
        return self._file_keys


class TokenVerifier:
    """Verifies bearer tokens of one identity provider (see the module docstring)."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        keys: KeySet,
        algorithms: Iterable[str],
        roles_claim: str = "roles",
        name_claim: str = "name",
        leeway_s: float = 30.0,
    ) -> None:
        self.algorithms = list(algorithms)
        weak = [a for a in self.algorithms if a.lower() == "none" or a.upper().startswith("HS")]
        if weak or not self.algorithms:
            raise ConfigurationError(
                f"token algorithms must be asymmetric (RS*, PS*, ES*, EdDSA), not {weak or 'none'}"
            )
        self.issuer, self.audience, self.keys = issuer, audience, keys
        self.roles_claim, self.name_claim, self.leeway_s = roles_claim, name_claim, leeway_s

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenVerifier:
        return cls(
            issuer=settings.token_issuer(),
            audience=settings.auth_audience,
            keys=KeySet(settings.jwks_source()),
            algorithms=settings.auth_algorithms,
            roles_claim=settings.auth_roles_claim,
            name_claim=settings.auth_name_claim,
            leeway_s=settings.auth_leeway_s,
        )

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; AuthenticationError (with the reason) otherwise."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"not a JWT: {exc}") from exc
        kid = header.get("kid")
        key = self.keys.key(kid if isinstance(kid, str) else None)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"token refused: {exc}") from exc
        subject = str(claims.get("sub") or "").strip()
        if not subject:
            raise AuthenticationError("token refused: empty subject")
        name = claim(claims, self.name_claim)
        auth_time = claims.get("auth_time")
        return Principal(
            subject=subject,
            roles=roles_of(claim(claims, self.roles_claim)),
            name=name.strip() if isinstance(name, str) and name.strip() else None,
            auth_time=_instant(auth_time),
            issuer=str(claims.get("iss")),
        )


def _instant(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return None
