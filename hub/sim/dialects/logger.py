"""Temperature data logger CSV exports (one upload of 15-minute readings)."""

from __future__ import annotations

from hub.sim.dialects.common import iso
from hub.sim.facts import LoggerExport


def write(f: LoggerExport) -> bytes:
    lines = [
        "# ELPRO LIBERO CS export",
        f"# export_id: {f.export_id}",
        f"# logging_interval_s: {f.interval_s}",
        "logger_id,shipment_id,timestamp,value,unit",
    ]
    lines += [
        f"{f.logger_id},{f.shipment_id},{iso(at, f.zone)},{value:.1f},C" for at, value in f.readings
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")
