"""Repeated connection errors logged once per interval, with a count, never thousands a second.

While a broker or Redis is down, the Kafka clients (aiokafka, librdkafka), Faust and the read
model's writer report the same failure again on every retry: thousands of lines a second, which
fill disks and bury everything else. :class:`RepeatFilter` lets the first line of a kind through,
holds back its repeats for ``interval_s``, and then lets one through again carrying the count:

    Unable connect to node with id 1: ... [412 similar lines held back in the last 30s]

Lines of a *kind* share logger, level and message template (digits ignored, so
"node 1"/"node 2" or a changing port are one kind). Only the connection-noisy sources are
throttled: the loggers named in :data:`LOGGERS` and any record logged with
``extra=THROTTLE``; everything else (an escalation written to the log, an audit line)
always passes. :meth:`RepeatFilter.flush` logs what is still held back once its interval has
passed, so the count of an outage's last interval is not lost when the errors stop.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

LOGGERS = ("aiokafka", "kafka", "faust", "mode", "redis", "v2v.ingress.kafka")
THROTTLE = {"throttle": True}
"""``extra=THROTTLE`` on a log call: a line that repeats while a service is down."""
_DIGITS = re.compile(r"\d+")
log = logging.getLogger("v2v.logthrottle")


@dataclass
class _Kind:
    since: float
    held: int
    sample: str


class RepeatFilter(logging.Filter):
    """A logging filter (for handlers or loggers); thread-safe. ``clock``: monotonic seconds."""

    def __init__(
        self,
        interval_s: float,
        loggers: Iterable[str] = LOGGERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.interval_s = interval_s
        self.loggers = tuple(loggers)
        self.clock = clock
        self._kinds: dict[tuple[str, int, str], _Kind] = {}
        self._lock = threading.Lock()

    def applies(self, record: logging.LogRecord) -> bool:
        if getattr(record, "throttle", False):
            return True
        name = record.name
        return any(name == n or name.startswith(n + ".") for n in self.loggers)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == log.name or not self.applies(record):
            return True
        key = (record.name, record.levelno, _DIGITS.sub("#", str(record.msg)))
        with self._lock:
            now = self.clock()
            kind = self._kinds.get(key)
            if kind is not None and now - kind.since < self.interval_s:
                kind.held += 1
                return False
            held = kind.held if kind is not None else 0
            self._kinds[key] = _Kind(now, 0, str(record.msg)[:120])
        if held:
            note = f" [{held} similar lines held back in the last {self.interval_s:g}s]"
            record.msg = str(record.msg) + note.replace("%", "%%")
        return True

    def flush(self) -> int:
        """Log (on ``v2v.logthrottle``) each kind still holding lines back whose interval has
        passed; returns how many lines were held back in all."""
        due: list[_Kind] = []
        with self._lock:
            now = self.clock()
            for key, kind in list(self._kinds.items()):
                if now - kind.since < self.interval_s:
                    continue
                if kind.held:
                    due.append(kind)
                del self._kinds[key]
        for kind in due:
            log.warning(
                "%d lines like %r held back in the last %gs",
                kind.held,
                kind.sample,
                self.interval_s,
            )
        return sum(kind.held for kind in due)


def install(repeat: RepeatFilter, handlers: Iterable[logging.Handler] | None = None) -> None:
    """Put ``repeat`` on ``handlers`` (default: the root logger's), once each."""
    for handler in logging.root.handlers if handlers is None else handlers:
        if not any(isinstance(f, RepeatFilter) for f in handler.filters):
            handler.addFilter(repeat)
