"""Connector throughput on one core: ``python -m connectors.bench [--seconds S] [--connector N]``.

For every registered connector (or the ones named), the bench cycles through the connector's
``samples/`` files calling :meth:`~connectors.base.Connector.process` (what the runtime calls per
raw record) for ``S`` seconds and reports messages/s, canonical events/s and the mean time per
message. In the same run it times a *parse-only baseline* over the same bytes (``json.loads``,
``lxml.etree.fromstring`` or ``csv.reader``, by file type), so the figures can be compared
across machines and noisy runs: the ``÷ parse`` column is how many times the bare parse the full
normalisation costs.

The process is pinned to one CPU where the OS allows it (``sched_setaffinity``); the connectors
are single-threaded anyway. Nothing is hard-coded: every figure is measured when it is printed.
Kafka, serialisation and the chain engine are not included (see ``hub/chain/bench.py`` for the
engine).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from connectors.base import RawMessage
from connectors.conformance import raw_message, sample_files
from connectors.registry import CONNECTORS, get_connector

_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@dataclass(frozen=True)
class Figures:
    """What one timed loop did."""

    messages: int
    events: int
    rejected: int
    seconds: float
    cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds

    @property
    def micros(self) -> float:
        return self.seconds / self.messages * 1e6

    @property
    def cpu_share(self) -> float:
        """CPU time this process got over wall time: well under 1 means the core was shared."""
        return self.cpu_seconds / self.seconds


def timed(step: Callable[[], tuple[int, int]], batch: int, seconds: float) -> Figures:
    """Call ``step`` (one pass over ``batch`` messages, returning (events, rejected)) until
    ``seconds`` have passed; the clock is read between passes, not between messages."""
    messages = events = rejected = 0
    cpu = time.process_time()
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        e, r = step()
        messages += batch
        events += e
        rejected += r
        now = time.perf_counter()
        if now >= deadline:
            return Figures(messages, events, rejected, now - start, time.process_time() - cpu)


def parse_only(path: Path, payload: bytes) -> None:
    """The bare parse of one sample: the baseline a connector's cost is compared with."""
    if path.suffix == ".xml":
        etree.fromstring(payload, _XML_PARSER)
    elif path.suffix == ".csv":
        list(csv.reader(io.StringIO(payload.decode("utf-8-sig"))))
    else:
        json.loads(payload.decode("utf-8-sig"))


def bench(name: str, seconds: float) -> tuple[int, Figures, Figures]:
    """(number of samples, normalise figures, parse-only figures) for one connector."""
    connector = get_connector(name)
    files = sample_files(name)
    if not files:
        raise SystemExit(f"error: connectors/{name}/samples/ is empty")
    payloads = [(path, path.read_bytes()) for path in files]
    messages: list[RawMessage] = [
        raw_message(connector, data, path.suffix) for path, data in payloads
    ]

    def normalise_pass() -> tuple[int, int]:
        events = rejected = 0
        for message in messages:
            result = connector.process(message)
            events += len(result.events)
            rejected += result.rejection is not None
        return events, rejected

    def parse_pass() -> tuple[int, int]:
        for path, data in payloads:
            parse_only(path, data)
        return 0, 0

    for _ in range(3):  # warm-up: lazy imports, caches, the parser's first allocations
        normalise_pass()
        parse_pass()
    return (
        len(files),
        timed(normalise_pass, len(messages), seconds),
        timed(parse_pass, len(payloads), seconds),
    )


def pin_one_core() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity here)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def xml_line(names: Sequence[str]) -> str | None:
    users = [n for n in names if any(p.suffix == ".xml" for p in sample_files(n))]
    if not users:
        return None
    from connectors import xmlsupport

    if getattr(xmlsupport, "etree", None) is not etree:
        return f"XML       connectors/xmlsupport.py does not parse with lxml; used by {users}"
    libxml2 = ".".join(str(part) for part in etree.LIBXML_VERSION)
    return (
        f"XML       lxml {etree.__version__} on libxml2 {libxml2} (C-backed), configured in\n"
        f"          connectors/xmlsupport.py; used by {', '.join(users)}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m connectors.bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0, help="per connector and loop")
    parser.add_argument(
        "--connector", action="append", choices=CONNECTORS, help="repeatable; default all"
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    names: list[str] = sorted(args.connector or CONNECTORS)
    pinned = pin_one_core()
    print(
        f"connector bench: {args.seconds:g} s per loop, {pinned}, "
        f"{platform.python_implementation()} {platform.python_version()} on {platform.machine()}"
    )
    head = (
        f"{'connector':<10} {'samples':>7} {'messages/s':>11} {'events/s':>10} "
        f"{'µs/message':>11} {'parse µs':>9} {'÷ parse':>8} {'rejected':>8} {'cpu':>5}"
    )
    print(head)
    print("-" * len(head))
    for name in names:
        count, run, base = bench(name, args.seconds)
        print(
            f"{name:<10} {count:>7} {run.per_second:>11,.0f} {run.events_per_second:>10,.0f} "
            f"{run.micros:>11.1f} {base.micros:>9.1f} {run.micros / base.micros:>7.1f}x "
            f"{run.rejected:>8} {run.cpu_share:>5.0%}"
        )
    print(
        "baseline  parse µs: the same bytes through json.loads / lxml.etree.fromstring /\n"
        "          csv.reader only, measured in this run; ÷ parse = µs/message ÷ parse µs\n"
        "cpu       CPU time / wall time of the normalise loop: below 100% the core was shared\n"
        "          with other processes and the rates above are understated"
    )
    line = xml_line(names)
    if line:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
