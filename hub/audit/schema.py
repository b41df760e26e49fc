"""Write the JSON Schemas of the audit topics' records to ``schemas/`` (``python -m
hub.audit.schema``); a unit test keeps them equal to the models."""

from __future__ import annotations

import json

from hub.audit.checkpoint import Checkpoint
from hub.audit.records import AuditRecord
from hub.settings import REPO_ROOT


def main() -> None:
    for name, model in (("audit-record", AuditRecord), ("audit-checkpoint", Checkpoint)):
        path = REPO_ROOT / "schemas" / f"{name}.schema.json"
        path.write_text(json.dumps(model.model_json_schema(), indent=2) + "\n", encoding="utf-8")
        print(path)


if __name__ == "__main__":
    main()
