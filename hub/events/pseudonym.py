"""Patient pseudonyms: keyed HMAC-SHA256, computed at ingress before the first write to Kafka.

The same patient (same issuing system + identifier, normalised) gets the same pseudonym from every
connector; without the key nobody can go back from a pseudonym to the patient.
"""

from __future__ import annotations

import hashlib
import hmac


def pseudonymise(key: bytes, system: str, value: str) -> str:
    """``pt-`` + the first 24 hex digits of HMAC-SHA256(key, system|value)."""
    normalised = f"{system.strip().lower()}|{value.strip().upper()}"
    digest = hmac.new(key, normalised.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"pt-{digest[:24]}"
