"""``v2v partners check``: a dry run of a partner's files against its registry entry.

Each file goes through the partner's connector exactly as configured from its entry (time zone,
code maps, identifier systems, options) and through the flow core's routing: the events it would
become, the rejection with its reason, and warnings for what the entry does not cover yet (a
local time read in the declared zone, events that name no COI and no linkable id, a message
that yields no event). Nothing is written anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from connectors.base import RawMessage, Rejection
from hub.errors import NormalisationError
from hub.events.models import Event
from hub.flow import FlowCore
from hub.headers import EXTENSION_TYPES


@dataclass
class FileCheck:
    path: Path
    events: list[Event] = field(default_factory=list)
    rejection: Rejection | None = None
    warnings: list[str] = field(default_factory=list)


def check_files(core: FlowCore, partner: str, files: list[Path]) -> list[FileCheck]:
    received = datetime.now(UTC)
    checks: list[FileCheck] = []
    connector = core.connectors[partner]
    for path in files:
        check = FileCheck(path)
        content_type = EXTENSION_TYPES.get(path.suffix.lower(), "application/octet-stream")
        try:
            payload = connector.prepare_raw(path.read_bytes())
        except OSError as exc:
            check.warnings.append(f"cannot read the file: {exc}")
            checks.append(check)
            continue
        except NormalisationError as exc:  # refused at the edge (identity not pseudonymisable)
            check.rejection = Rejection(exc.code, exc.reason, partner, "edge", field=exc.field)
            checks.append(check)
            continue
        result = connector.process(RawMessage(partner, payload, received, content_type))
        check.rejection = result.rejection
        check.events = list(result.events)
        if result.rejection is None and not result.events:
            check.warnings.append("the message yields no event (nothing in it is mapped)")
        for event in result.events:
            local = event.identifiers.other.get("timezone_missing")
            if local:
                check.warnings.append(
                    f"{event.event_type.value}: {local} had no UTC offset and was read in the "
                    "declared zone (the chain raises TIMEZONE_MISSING)"
                )
            routed = core.route(event)
            if isinstance(routed, Rejection):
                check.warnings.append(f"{event.event_type.value}: {routed.reason}")
        checks.append(check)
    return checks
