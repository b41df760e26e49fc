"""An export of the audit trail as files (no broker): what ``v2v audit export`` writes and
``v2v audit verify DIR`` / ``reconstruct --from DIR`` read.

``DIR/records.jsonl``      chain records, one JSON object a line, in the order they were written
``DIR/config.jsonl``       the configuration chain (``hub:config``)
``DIR/checkpoints.jsonl``  signed checkpoints, in the order they were written
``DIR/manifest.json``      what was exported, when, from where (and the ``--coi`` scope)
``DIR/public-key.pem``     the signer's public key, for convenience only: a verifier must pin
                           the key it trusts (``--public-key``), not take the export's word
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Json = dict[str, Any]
RECORDS, CONFIG, CHECKPOINTS, MANIFEST, PUBLIC_KEY = (
    "records.jsonl",
    "config.jsonl",
    "checkpoints.jsonl",
    "manifest.json",
    "public-key.pem",
)


@dataclass
class Trail:
    """The audit trail as JSON data: what an export holds and what verification takes."""

    records: list[Json]
    checkpoints: list[Json]
    config: list[Json]
    bad_lines: list[str] = field(default_factory=list)
    manifest: Json = field(default_factory=dict)

    @property
    def scope(self) -> set[str] | None:
        coi = self.manifest.get("coi")
        return {str(coi)} if coi else None


def _lines(rows: list[Json]) -> str:
    return "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows)


def write_export(trail: Trail, out: Path, public_pem: str | None = None) -> dict[str, int]:
    """Write ``trail`` to ``out``; returns the size in bytes of each file written."""
    out.mkdir(parents=True, exist_ok=True)
    files = {
        RECORDS: _lines(trail.records),
        CONFIG: _lines(trail.config),
        CHECKPOINTS: _lines(trail.checkpoints),
        MANIFEST: json.dumps(trail.manifest, indent=2, sort_keys=True) + "\n",
    }
    if public_pem:
        files[PUBLIC_KEY] = public_pem
    sizes = {}
    for name, text in files.items():
        data = text.encode("utf-8")
        (out / name).write_bytes(data)
        sizes[name] = len(data)
    return sizes


def _read(path: Path, bad: list[str]) -> list[Json]:
    if not path.exists():
        bad.append(f"{path.name} is missing")
        return []
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            bad.append(f"{path.name} line {n} is not JSON")
            continue
        if isinstance(row, dict):
            rows.append(row)
        else:
            bad.append(f"{path.name} line {n} is not a JSON object")
    return rows


def read_export(directory: Path) -> Trail:
    """An export as written by :func:`write_export`; unreadable lines are listed, not fatal."""
    bad: list[str] = []
    manifest: Json = {}
    if (directory / MANIFEST).exists():
        try:
            manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        except ValueError:
            bad.append(f"{MANIFEST} is not JSON")
    return Trail(
        records=_read(directory / RECORDS, bad),
        checkpoints=_read(directory / CHECKPOINTS, bad),
        config=_read(directory / CONFIG, bad),
        bad_lines=bad,
        manifest=manifest,
    )
