"""Electronic signatures (21 CFR Part 11 §11.50, §11.70, §11.200; EU GMP Annex 11 §14).

A signature is a record of its own: who signed (the authenticated subject and the printed
name), when (UTC), what it means (review, approval, responsibility), which action and reason it
authorises, when the signer last proved who they are (the token's ``auth_time``) and what was
signed: the case id, the version and the digest (:func:`hub.canonical.digest`) of that exact
case version.

The hub seals each signature: an Ed25519 signature over the canonical JSON of every other field
(the *manifest*), made with the hub's seal key (``V2V_SIGNATURE_KEY``). So anyone holding the
hub's public key can show, offline, that

* a signature was not altered (the seal covers every field),
* the signed case version was not altered (its digest is in the manifest),
* a signature was not moved to another record (its case id, version and digest name the one
  version it was made for).

This module knows no case model (the case layer imports it); :mod:`hub.auth.verify` checks
signatures against case versions.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hub.canonical import canonical_json
from hub.events.models import Frozen, UtcDatetime

SEAL_ALGORITHM = "Ed25519"


class SignatureMeaning(StrEnum):
    """What the signer declares by signing (§11.50(a)(3))."""

    REVIEW = "REVIEW"
    APPROVAL = "APPROVAL"
    RESPONSIBILITY = "RESPONSIBILITY"


class ESignature(Frozen):
    """One electronic signature on one case version, sealed by the hub."""

    AVRO_NAME: ClassVar[str] = "org.v2vhub.ESignature"
    signer: str
    name: str
    meaning: SignatureMeaning
    signed_at: UtcDatetime
    auth_time: UtcDatetime
    action: str
    reason: str | None = None
    case_id: str
    case_version: int
    case_digest: str
    seal_key_id: str
    seal: str

    def manifest(self) -> dict[str, Any]:
        """Every field the seal covers (all but the seal itself)."""
        return self.model_dump(mode="json", exclude={"seal"})


def public_key_id(public: Ed25519PublicKey) -> str:
    """A short, stable name of a seal key: SHA-256 of its raw bytes, first 16 hex digits."""
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_from_hex(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))


class Sealer:
    """Makes sealed signatures with the hub's Ed25519 key (a 32-byte seed)."""

    def __init__(self, seed: bytes) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = self._key.public_key()
        self.key_id = public_key_id(self.public_key)

    @property
    def public_hex(self) -> str:
        return self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()

    def sign(
        self,
        *,
        signer: str,
        name: str,
        meaning: SignatureMeaning,
        signed_at: datetime,
        auth_time: datetime,
        action: str,
        reason: str | None,
        case_id: str,
        case_version: int,
        case_digest: str,
    ) -> ESignature:
        unsealed = ESignature(
            signer=signer,
            name=name,
            meaning=meaning,
            signed_at=signed_at,
            auth_time=auth_time,
            action=action,
            reason=reason,
            case_id=case_id,
            case_version=case_version,
            case_digest=case_digest,
            seal_key_id=self.key_id,
            seal="",
        )
        seal = self._key.sign(canonical_json(unsealed.manifest())).hex()
        return unsealed.model_copy(update={"seal": seal})


def seal_problems(signature: ESignature, public: Ed25519PublicKey) -> list[str]:
    """Why the seal of ``signature`` does not hold under ``public`` (empty: it holds)."""
    if signature.seal_key_id != public_key_id(public):
        return [f"sealed with key {signature.seal_key_id}, verifying with {public_key_id(public)}"]
    try:
        public.verify(bytes.fromhex(signature.seal), canonical_json(signature.manifest()))
    except (InvalidSignature, ValueError):
        return ["the seal does not match the signature's fields (altered or forged)"]
    return []
