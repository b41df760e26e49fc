"""LIMS QC result exports: CSV with metadata lines, or a JSON export object."""

from __future__ import annotations

import csv
import io
from typing import Any

from hub.sim.dialects.common import iso, to_json
from hub.sim.facts import LimsExport, LimsResult

_COLUMNS = (
    "result_id", "sample_id", "batch_id", "coi", "test_code", "method", "result", "unit",
    "spec_low", "spec_high", "spec_text", "status", "result_time", "analyst", "reviewer",
)  # fmt: skip


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _row(f: LimsExport, r: LimsResult) -> dict[str, str]:
    return {
        "result_id": r.result_id,
        "sample_id": r.sample_id,
        "batch_id": f.batch,
        "coi": f.coi if f.with_coi else "",
        "test_code": r.test,
        "method": r.method,
        "result": (r.text or "") if r.value is None else _num(r.value),
        "unit": r.unit or "",
        "spec_low": _num(r.low),
        "spec_high": _num(r.high),
        "spec_text": r.spec_text,
        "status": r.status,
        "result_time": iso(r.at, f.zone),
        "analyst": r.analyst,
        "reviewer": r.reviewer,
    }


def write(f: LimsExport) -> tuple[bytes, str]:
    if f.fmt == "json":
        return _json(f), "application/json"
    columns = [c for c in _COLUMNS if c != f.drop_column and (f.with_coi or c != "coi")]
    out = io.StringIO()
    out.write(f"# export_id: {f.export_id}\n# lab: {f.lab}\n")
    writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for result in f.results:
        writer.writerow(_row(f, result))
    return out.getvalue().encode("utf-8"), "text/csv"


def _json(f: LimsExport) -> bytes:
    results: list[dict[str, Any]] = []
    for r in f.results:
        spec: dict[str, Any] = {"text": r.spec_text}
        if r.low is not None:
            spec["low"] = r.low
        if r.high is not None:
            spec["high"] = r.high
        item: dict[str, Any] = {
            "result_id": r.result_id,
            "sample_id": r.sample_id,
            "test_code": r.test,
            "method": r.method,
            "result": r.text if r.value is None else r.value,
            "spec": spec,
            "status": r.status,
            "result_time": iso(r.at, f.zone),
            "analyst": {"id": r.analyst},
            "reviewer": {"id": r.reviewer},
        }
        if r.unit:
            item["unit"] = r.unit
        results.append(item)
    body: dict[str, Any] = {"export_id": f.export_id, "lab": {"id": f.lab}, "batch_id": f.batch}
    if f.with_coi:
        body["coi"] = f"&/{f.coi}"
    body["results"] = results
    return to_json(body)
