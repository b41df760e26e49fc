"""Waiting out a schema registry outage without losing the record.

A :class:`~hub.errors.RegistryUnavailableError` says nothing about the record, so the record is
neither dead-lettered nor skipped: these helpers call ``encode``/``decode`` again, with capped
exponential backoff (``base_delay_s``, doubling, at most ``max_delay_s``), until it succeeds or
fails for a reason that is the record's own. Guarantees:

* a :class:`~hub.errors.SerializationError` (and any other error) is raised at once, unretried;
* a ``RegistryUnavailableError`` is never raised: the helpers retry for ever. Each wait is
  announced to ``on_wait(error, attempt, delay_s)`` (attempt counts from 1) before it starts,
  so the caller can log it and count it in a metric; the callback must not block;
* the async helpers make the first call on the caller's thread (a schema already known costs no
  thread hop) and every retry in a worker thread, so the client's own timeouts and retries
  during an outage never block the event loop. Cancelling the task stops the waiting; the record
  is then still not processed, which is what a worker shutting down wants.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel

from hub.errors import RegistryUnavailableError
from hub.serde.wire import WireFormat

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

OnWait = Callable[[RegistryUnavailableError, int, float], None]
"""``on_wait(error, attempt, delay_s)``: called before each wait of ``delay_s`` seconds."""

BASE_DELAY_S = 0.1
MAX_DELAY_S = 10.0


def backoff_delay(attempt: int, *, base_delay_s: float, max_delay_s: float) -> float:
    """Seconds to wait after the ``attempt``-th failure (1-based): doubling, capped."""
    growth: float = 2.0 ** min(attempt - 1, 62)
    return min(max_delay_s, base_delay_s * growth)


async def decode_with_retry(
    wire: WireFormat[M],
    data: bytes,
    *,
    on_wait: OnWait | None = None,
    max_delay_s: float = MAX_DELAY_S,
    base_delay_s: float = BASE_DELAY_S,
) -> M:
    """``wire.decode(data)``, waiting out registry outages (see the module docstring)."""
    return await _retrying(lambda: wire.decode(data), on_wait, base_delay_s, max_delay_s)


async def encode_with_retry(
    wire: WireFormat[M],
    obj: M,
    *,
    on_wait: OnWait | None = None,
    max_delay_s: float = MAX_DELAY_S,
    base_delay_s: float = BASE_DELAY_S,
) -> bytes:
    """``wire.encode(obj)``, waiting out registry outages (see the module docstring)."""
    return await _retrying(lambda: wire.encode(obj), on_wait, base_delay_s, max_delay_s)


def decode_with_retry_sync(
    wire: WireFormat[M],
    data: bytes,
    *,
    on_wait: OnWait | None = None,
    max_delay_s: float = MAX_DELAY_S,
    base_delay_s: float = BASE_DELAY_S,
) -> M:
    """:func:`decode_with_retry` for threads without an event loop: blocks while it waits."""
    return _retrying_sync(lambda: wire.decode(data), on_wait, base_delay_s, max_delay_s)


def encode_with_retry_sync(
    wire: WireFormat[M],
    obj: M,
    *,
    on_wait: OnWait | None = None,
    max_delay_s: float = MAX_DELAY_S,
    base_delay_s: float = BASE_DELAY_S,
) -> bytes:
    """:func:`encode_with_retry` for threads without an event loop: blocks while it waits."""
    return _retrying_sync(lambda: wire.encode(obj), on_wait, base_delay_s, max_delay_s)


async def _retrying(
    call: Callable[[], T], on_wait: OnWait | None, base_delay_s: float, max_delay_s: float
) -> T:
    attempt = 0
    while True:
        try:
            return call() if attempt == 0 else await asyncio.to_thread(call)
        except RegistryUnavailableError as exc:
            attempt += 1
            delay = backoff_delay(attempt, base_delay_s=base_delay_s, max_delay_s=max_delay_s)
            if on_wait is not None:
                on_wait(exc, attempt, delay)
            await asyncio.sleep(delay)


def _retrying_sync(
    call: Callable[[], T], on_wait: OnWait | None, base_delay_s: float, max_delay_s: float
) -> T:
    attempt = 0
    while True:
        try:
            return call()
        except RegistryUnavailableError as exc:
            attempt += 1
            delay = backoff_delay(attempt, base_delay_s=base_delay_s, max_delay_s=max_delay_s)
            if on_wait is not None:
                on_wait(exc, attempt, delay)
            time.sleep(delay)
