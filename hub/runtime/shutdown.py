"""SIGTERM (and Ctrl-C) stop a worker within a bounded time, whatever state it is in.

Faust's worker stops its services in order on SIGTERM: agents, tables (a last changelog
flush), the consumer (commit, leave the group), the producer (flush). Each step talks to the
broker, and with the broker gone several of them wait for it: a worker told to stop during an
outage could still be running 30 s later, and an orchestrator then kills it anyway.

:class:`BoundedWorker` lets the orderly stop run, and arms a watchdog on the first signal: a
worker still stopping ``grace_s`` seconds later (``V2V_SHUTDOWN_GRACE_S``, default 8 s, under
Kubernetes' default 30 s and the hub's 10 s promise) logs what it was doing and exits at once.
Cutting the stop short loses nothing: every agent is at least once and every output idempotent
(DESIGN.md), so what was not committed is read again by the next owner of the partition.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from typing import Any

from faust.worker import Worker

log = logging.getLogger("v2v.runtime.shutdown")
EXIT_CUT_SHORT = 0  # a stop cut short is still the stop that was asked for


class BoundedWorker(Worker):
    """A Faust worker whose stop on a signal takes at most ``grace_s`` seconds."""

    def __init__(self, *services: Any, grace_s: float, **kwargs: Any) -> None:
        super().__init__(*services, **kwargs)
        self.grace_s = grace_s
        self._watchdog: threading.Timer | None = None

    def _on_sigterm(self) -> None:
        self.arm_watchdog("SIGTERM")
        super()._on_sigterm()

    def _on_sigint(self) -> None:
        self.arm_watchdog("SIGINT")
        super()._on_sigint()

    def arm_watchdog(self, why: str) -> None:
        """Start the countdown (once): after ``grace_s`` the process exits, stopped or not."""
        if self._watchdog is not None:
            return
        log.info("%s: stopping (at most %gs)", why, self.grace_s)
        self._watchdog = threading.Timer(self.grace_s, self._cut_short)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _cut_short(self) -> None:
        log.warning(
            "still stopping after %gs (broker or Redis unavailable?): exiting now; uncommitted "
            "records are read again by the partition's next owner",
            self.grace_s,
        )
        for handler in logging.root.handlers:
            # a handler that cannot flush must not keep the process alive
            with contextlib.suppress(Exception):
                handler.flush()
        os._exit(EXIT_CUT_SHORT)
