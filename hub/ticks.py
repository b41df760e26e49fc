"""Clock ticks are the hub's own: signed by the producer, verified by the chain agent.

A CLOCK_TICK tells every chain of its events partition what time it is on the hub's clock,
so deadlines fire on it: a forged tick dated 2099 would raise every absence case of every
chain at once. Ticks share the events topic with the events (their order within a partition
is what makes a tick see every event produced before it), so the topic's ACLs cannot tell them
apart; the tick therefore carries an HMAC-SHA256 of its encoded bytes in the header
``v2v.tick-signature``, keyed by a key derived from the hub's pseudonym key (HKDF-style domain
separation: the pseudonym key itself never signs anything but pseudonyms). The worker's ticker
and the simulator's clock (which runs with the hub's settings) sign; the chain agent
dead-letters an unsigned or wrongly signed tick (code TICK_NOT_FROM_HUB) instead of applying it.

Every tick goes to each partition of two topics (:func:`tick_topics`): the events topic, for
the chains, and the feeds topic, for the partner feeds (its other records, the heard notes of
:mod:`hub.runtime.feeds`, are signed the same way).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.settings import Settings

TICK_SIGNATURE_HEADER = "v2v.tick-signature"
_DOMAIN = b"v2v-hub clock tick signing key v1"


def tick_key(pseudonym_key: bytes) -> bytes:
    """The tick-signing key derived from the hub's secret."""
    return hmac.new(pseudonym_key, _DOMAIN, hashlib.sha256).digest()


def sign_tick(key: bytes, value: bytes) -> bytes:
    """The header value for an encoded tick ``value``."""
    return hmac.new(key, value, hashlib.sha256).hexdigest().encode("ascii")


def signature(key: bytes, value: bytes) -> tuple[str, bytes]:
    """The signature header of a record the hub alone writes (a tick, a heard note)."""
    return TICK_SIGNATURE_HEADER, sign_tick(key, value)


def tick_is_signed(key: bytes, value: bytes, headers: list[tuple[str, bytes]] | None) -> bool:
    """Whether ``headers`` carry a valid signature of ``value``."""
    for name, given in headers or ():
        if name == TICK_SIGNATURE_HEADER:
            return hmac.compare_digest(given, sign_tick(key, value))
    return False


def tick_topics(settings: Settings) -> tuple[str, str]:
    """The topics every tick goes to, each of their partitions: events, then feeds."""
    return settings.topic("events"), settings.topic("feeds")
