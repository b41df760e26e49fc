"""The audit topics carry JSON: their JSON Schemas in ``schemas/`` are the models' own."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from hub.audit.checkpoint import Checkpoint
from hub.audit.records import AuditRecord, json_time
from hub.settings import REPO_ROOT

SCHEMAS = {"audit-record": AuditRecord, "audit-checkpoint": Checkpoint}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_the_published_json_schema_is_the_models(name: str) -> None:
    path = REPO_ROOT / "schemas" / f"{name}.schema.json"
    published = json.loads(path.read_text(encoding="utf-8"))
    assert published == SCHEMAS[name].model_json_schema(), (
        f"regenerate {path.name}: python -m hub.audit.schema"
    )


@pytest.mark.parametrize(
    "at",
    [datetime(2026, 3, 1, 10, tzinfo=UTC), datetime(2026, 3, 1, 10, 0, 1, 123456, tzinfo=UTC)],
)
def test_record_times_are_written_as_pydantic_writes_them(at: datetime) -> None:
    from pydantic import TypeAdapter

    from hub.events.models import UtcDatetime

    assert json_time(at) == TypeAdapter(UtcDatetime).dump_python(at, mode="json")
