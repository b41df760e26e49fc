"""The hub's Ed25519 checkpoint signing key (``cryptography``): load, generate, publish.

The private key is a PEM file (PKCS#8, unencrypted: protect it by file permissions or a secret
mount) named by ``V2V_AUDIT_SIGNING_KEY_FILE``. In development mode (``V2V_ENV=dev``) a missing
file is generated on first use (under ``.local/`` by default); outside it the worker refuses to
start without one (:func:`hub.settings.missing_secrets`). Verifiers need only the public key,
and must get it from the hub's operator, not from the export they check: ``v2v audit public-key``
prints it. The key id is the digest of the raw public key.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hub.errors import ConfigurationError


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate(path: Path) -> Ed25519PrivateKey:
    """A new key written to ``path`` (mode 0600); refuses to overwrite an existing file."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return key


def load_private(path: Path, generate_missing: bool = False) -> Ed25519PrivateKey:
    """The signing key in ``path``; generated there first when missing and ``generate_missing``
    (development mode only)."""
    if not path.exists():
        if generate_missing:
            return generate(path)
        raise ConfigurationError(f"audit signing key {path} does not exist")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, OSError) as exc:
        raise ConfigurationError(f"audit signing key {path} is not a PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"audit signing key {path} is not an Ed25519 key")
    return key


def public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public(path: Path) -> Ed25519PublicKey:
    """A public key (PEM), or the public half of a private key file."""
    data = path.read_bytes()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            return load_private(path).public_key()
        except ConfigurationError:
            raise ConfigurationError(f"{path} holds no PEM public or private key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigurationError(f"{path} is not an Ed25519 public key")
    return key


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message)).decode("ascii")


def verify(public: Ed25519PublicKey, message: bytes, signature: str) -> bool:
    try:
        public.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True
