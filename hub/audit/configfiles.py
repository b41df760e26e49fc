"""Configuration files on the audit trail: product profiles, the escalation policy and the
partner registry (pure).

On start a worker digests each file (:func:`snapshot`) and compares it with the last content the
trail recorded (:func:`known`): each file added, changed or removed since is one
``CONFIG_CHANGE`` record on the configuration chain (``hub:config``) with the old and new
digest and the file's revision (1 for the first content the hub saw, +1 per change).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from hub.audit.records import CONFIG_CHAIN, AuditHead, AuditKind, AuditRecord, Entry, append
from hub.canonical import digest


@dataclass(frozen=True)
class ConfigFile:
    name: str  # stable logical name: profile:<file>, escalation-policy, partner:<file>
    path: str
    digest: str
    declared_version: str | None  # the file's own version field, if it has one


@dataclass(frozen=True)
class Known:
    """What the trail last recorded of one file."""

    digest: str | None  # None: removed
    revision: int


def _file(name: str, path: Path) -> ConfigFile:
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    version = None
    if isinstance(data, dict):
        found = data.get("version", data.get("dialect_version"))
        version = None if found is None else str(found)
    return ConfigFile(name, str(path), digest(text), version)


def snapshot(profile_dir: Path, policy_file: Path, partner_dir: Path) -> dict[str, ConfigFile]:
    """Every configuration file the hub reads, by logical name."""
    files = [_file(f"profile:{p.name}", p) for p in sorted(profile_dir.glob("*.yaml"))]
    files.append(_file("escalation-policy", policy_file))
    files += [_file(f"partner:{p.name}", p) for p in sorted(partner_dir.glob("*.yaml"))]
    return {f.name: f for f in files}


def known(records: Iterable[AuditRecord]) -> tuple[AuditHead, dict[str, Known]]:
    """The configuration chain's head and each file's last recorded digest and revision."""
    head, seen = AuditHead(), {}
    for r in records:
        if r.chain != CONFIG_CHAIN:
            continue
        head = AuditHead(seq=r.seq, hash=r.hash)
        seen[r.ref] = Known(r.body.get("new_digest"), int(r.body.get("revision", 0)))
    return head, seen


def changes(
    head: AuditHead, seen: dict[str, Known], now: dict[str, ConfigFile], at: datetime, actor: str
) -> tuple[AuditHead, tuple[AuditRecord, ...]]:
    """The records for every file whose content differs from what the trail last recorded."""
    entries: list[Entry] = []
    for name in sorted(set(seen) | set(now)):
        before, after = seen.get(name), now.get(name)
        old = before.digest if before else None
        new = after.digest if after else None
        if old == new:
            continue
        action = "ADDED" if old is None else "REMOVED" if new is None else "CHANGED"
        body: dict[str, Any] = {
            "file": name,
            "path": after.path if after else None,
            "old_digest": old,
            "new_digest": new,
            "revision": (before.revision if before else 0) + 1,
            "declared_version": after.declared_version if after else None,
        }
        entries.append(
            Entry(AuditKind.CONFIG_CHANGE, at, actor, action, name, "seen at worker start", body)
        )
    return append(CONFIG_CHAIN, head, entries)
