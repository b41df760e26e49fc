"""Deterministic identifiers (DESIGN.md invariant 6: idempotent everywhere)."""

from __future__ import annotations

import hashlib


def derive_id(*parts: object) -> str:
    """A stable 32-hex-digit id from its parts; the same parts always give the same id."""
    text = "\x1f".join(str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def event_id(partner: str, message_id: str, index: int) -> str:
    """Event id from (partner, source message id, index within the message)."""
    return derive_id("event", partner, message_id, index)
