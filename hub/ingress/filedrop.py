"""File drop: a folder watcher that writes each partner export file to ``v2v.raw.<partner>``.

Conventions (the partner side, or whatever copies its exports into the folder):

* **Write, then rename.** Write ``export.csv.part`` (or any name the watcher ignores, below) and
  rename it to ``export.csv`` when complete: a rename is atomic, so the watcher never reads half a
  file. As a second guard a file is picked up only once its size and modification time are
  unchanged across two polls ``poll_interval_s`` apart (a writer that pauses longer than that
  between appends must use the rename).
* **Ignored names:** dotfiles (``.export.csv``), names ending in ``.part``, ``.partial``,
  ``.tmp``, ``.crdownload`` or ``~``, sub-folders and symbolic links.
* **One file is one raw message.** The whole file becomes one Kafka record (the connector reads
  multi-row exports); its media type comes from the extension (``.json``, ``.jsonld``, ``.xml``,
  ``.csv``) and must be one the connector declares. Headers: ``content-type``,
  ``v2v.received_at``, ``ingest-id``, ``file-name``; the record key is the file name.
* Files are processed in **name order** (name exports so that order is meaningful, e.g. with a
  timestamp prefix).

Outcomes, per file:

* ``done/<name>``: Kafka acknowledged the record (``acks=all``); moved only after that.
* ``failed/<name>`` plus ``failed/<name>.reason.txt`` (code and reason): the file was refused and
  nothing was written: unknown extension or a media type the connector does not take
  (``UNSUPPORTED_MEDIA_TYPE``), larger than ``max_bytes`` (``TOO_LARGE``), unreadable
  (``UNREADABLE``), or refused by the connector's ``prepare_raw`` (its code).
* left in place: Kafka did not acknowledge. The file is retried on the next poll and the files
  after it wait (so order holds); nothing is lost. A crash between the acknowledgement and the
  move re-sends the file on restart: a duplicate raw record, harmless because event ids come
  from the partner message (DESIGN.md invariant 6).

A file whose name already exists in ``done/`` or ``failed/`` is moved as ``<stem>.<n><suffix>``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from connectors.base import Connector
from hub.errors import ConfigurationError, DeliveryError, NormalisationError
from hub.headers import FILE_NAME_HEADER
from hub.ingress.edge import edge_connectors, edge_headers, extension_type, new_ingest_id
from hub.ingress.producer import RawProducer
from hub.settings import Settings
from hub.topics import Topics

log = logging.getLogger("v2v.ingress.filedrop")

DONE_DIR = "done"
FAILED_DIR = "failed"
REASON_SUFFIX = ".reason.txt"
PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", "~")

Signature = tuple[int, int]  # (size in bytes, modification time in ns)


def is_candidate(name: str) -> bool:
    """Whether a directory entry's name may be a complete partner file (see conventions)."""
    return bool(name) and not name.startswith(".") and not name.lower().endswith(PARTIAL_SUFFIXES)


def snapshot(folder: Path) -> dict[str, Signature]:
    """Size and modification time of every candidate regular file directly in ``folder``."""
    seen: dict[str, Signature] = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            if not is_candidate(entry.name):
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                stat = entry.stat(follow_symlinks=False)
            except OSError:  # vanished between listing and stat
                continue
            seen[entry.name] = (stat.st_size, stat.st_mtime_ns)
    return seen


def settled(before: dict[str, Signature], now: dict[str, Signature]) -> list[str]:
    """Names unchanged between two snapshots, in name order: the files safe to read."""
    return sorted(name for name, sig in now.items() if before.get(name) == sig)


def unique_target(folder: Path, name: str) -> Path:
    """``folder/name``, or ``folder/<stem>.<n><suffix>`` with the first free ``n``."""
    target = folder / name
    n = 1
    while target.exists() or target.with_name(target.name + REASON_SUFFIX).exists():
        path = Path(name)
        target = folder / f"{path.stem}.{n}{path.suffix}"
        n += 1
    return target


@dataclass
class DropReport:
    """What one or more polls did, by file name (``pending``: Kafka did not acknowledge)."""

    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)

    def add(self, other: DropReport) -> None:
        self.done += other.done
        self.failed += other.failed
        self.pending = list(other.pending)


class FileDrop:
    """Processes settled files of one partner folder (one poll's worth at a time)."""

    def __init__(
        self,
        settings: Settings,
        partner: str,
        folder: Path,
        producer: RawProducer,
        *,
        connector: Connector | None = None,
        max_bytes: int | None = None,
    ) -> None:
        raw = Topics.of(settings).raw
        if partner not in raw:
            raise ConfigurationError(f"{partner!r} is not a raw feed (known: {sorted(raw)})")
        if not folder.is_dir():
            raise ConfigurationError(f"file drop folder {folder} is not a directory")
        self.topic = raw[partner]
        self.folder = folder
        self.producer = producer
        self.max_bytes = max_bytes or settings.http_max_body_bytes
        self.connector = connector or edge_connectors(settings)[partner]
        self.done_dir = folder / DONE_DIR
        self.failed_dir = folder / FAILED_DIR
        self.done_dir.mkdir(exist_ok=True)
        self.failed_dir.mkdir(exist_ok=True)

    def process(self, names: Iterable[str]) -> DropReport:
        """Handle ``names`` in name order; stop at the first one Kafka did not acknowledge."""
        report = DropReport()
        ordered = sorted(names)
        for i, name in enumerate(ordered):
            outcome = self._one(name)
            if outcome == "pending":
                report.pending = ordered[i:]
                break
            if outcome == "done":
                report.done.append(name)
            elif outcome == "failed":
                report.failed.append(name)
        return report

    def _one(self, name: str) -> str:
        path = self.folder / name
        content_type = extension_type(path)
        if content_type is None or content_type not in self.connector.content_types:
            accepted = ", ".join(self.connector.content_types)
            return self._fail(
                path,
                "UNSUPPORTED_MEDIA_TYPE",
                f"extension {path.suffix!r} ({content_type or 'unknown'}) is not a media type "
                f"{self.connector.name} accepts ({accepted})",
            )
        try:
            size = path.stat().st_size
            if size > self.max_bytes:
                return self._fail(path, "TOO_LARGE", f"{size} bytes > {self.max_bytes}")
            body = path.read_bytes()
        except FileNotFoundError:
            return "gone"
        except OSError as exc:
            return self._fail(path, "UNREADABLE", f"{type(exc).__name__}: {exc.strerror}")
        try:
            payload = self.connector.prepare_raw(body)
        except NormalisationError as exc:
            return self._fail(path, exc.code, exc.reason)
        except Exception as exc:
            # Never write what the connector could not prepare (it may carry identities).
            return self._fail(path, "CONNECTOR_ERROR", f"prepare_raw: {type(exc).__name__}")
        ingest_id = new_ingest_id()
        headers = edge_headers(content_type, ingest_id, extra=[(FILE_NAME_HEADER, name)])
        try:
            where = self.producer.send_sync(
                self.topic, payload, key=name.encode("utf-8"), headers=headers
            )
        except DeliveryError as exc:
            log.warning("%s stays in place (retried next poll): %s", path, exc)
            return "pending"
        target = unique_target(self.done_dir, name)
        try:
            path.rename(target)
        except OSError:
            log.exception("%s is on %s but could not be moved to done/", path, self.topic)
            return "pending"
        log.info("%s -> %s@%d:%d (%s)", name, where.topic, where.partition, where.offset, ingest_id)
        return "done"

    def _fail(self, path: Path, code: str, reason: str) -> str:
        target = unique_target(self.failed_dir, path.name)
        try:
            path.rename(target)
        except FileNotFoundError:
            return "gone"
        except OSError:
            log.exception("refused %s [%s] but could not move it to failed/", path, code)
            return "failed"
        stamp = datetime.now(UTC).isoformat()
        target.with_name(target.name + REASON_SUFFIX).write_text(
            f"file: {path.name}\ncode: {code}\nreason: {reason}\nfailed_at: {stamp}\n",
            encoding="utf-8",
        )
        log.warning("refused %s [%s]: %s", path.name, code, reason)
        return "failed"


def watch(
    settings: Settings,
    partner: str,
    folder: Path | str,
    poll_interval_s: float = 2.0,
    once: bool = False,
    *,
    producer: RawProducer | None = None,
    connector: Connector | None = None,
    max_bytes: int | None = None,
    stop: threading.Event | None = None,
) -> DropReport:
    """Watch ``folder`` for ``partner``'s files until ``stop`` is set (or one pass if ``once``).

    A pass takes two snapshots ``poll_interval_s`` apart and processes the files unchanged
    between them, so ``once=True`` returns after about one interval plus the writes. Without
    ``producer`` a :class:`RawProducer` is opened and closed here (its delivery timeout
    ``V2V_DELIVERY_TIMEOUT_S``: while Kafka is down a pass gives up on the first file after that
    long and leaves it in place). ``max_bytes``: default ``V2V_HTTP_MAX_BODY_BYTES``. Returns
    what was done.
    """
    if poll_interval_s <= 0:
        raise ValueError("poll_interval_s must be positive")
    path = Path(folder)
    writer = producer or RawProducer(settings)
    halt = stop or threading.Event()
    report = DropReport()
    try:
        drop = FileDrop(settings, partner, path, writer, connector=connector, max_bytes=max_bytes)
        before = snapshot(path)
        while not halt.wait(poll_interval_s):
            now = snapshot(path)
            result = drop.process(settled(before, now))
            report.add(result)
            handled = {*result.done, *result.failed}
            before = {name: sig for name, sig in now.items() if name not in handled}
            if once:
                break
    finally:
        if producer is None:
            writer.close()
    return report
