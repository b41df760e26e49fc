"""Loading and validating the partner registry: a folder of YAML files, one per partner."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from connectors.registry import CONNECTORS
from hub.errors import ConfigurationError
from hub.partners.models import PartnerEntry


def load_entry(path: Path) -> PartnerEntry:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        entry = PartnerEntry.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"partner file {path}: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigurationError(f"partner file {path}: {problems}") from exc
    if entry.connector not in CONNECTORS:
        known = ", ".join(sorted(CONNECTORS))
        raise ConfigurationError(
            f"partner file {path}: connector {entry.connector!r} is not one of {known}"
        )
    if path.stem != entry.id:
        raise ConfigurationError(f"partner file {path}: named after id {entry.id!r} it must be")
    return entry


def load_registry(directory: Path) -> dict[str, PartnerEntry]:
    """Every ``*.yaml`` entry of ``directory`` by id; any invalid entry fails the whole load
    with every problem named (a registry is all valid or not used)."""
    if not directory.is_dir():
        raise ConfigurationError(f"partner registry {directory} is not a folder")
    entries: dict[str, PartnerEntry] = {}
    problems: list[str] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            entry = load_entry(path)
        except ConfigurationError as exc:
            problems.append(str(exc))
            continue
        entries[entry.id] = entry
    if problems:
        raise ConfigurationError("\n".join(problems))
    if not entries:
        raise ConfigurationError(f"partner registry {directory} has no *.yaml entry")
    return entries
