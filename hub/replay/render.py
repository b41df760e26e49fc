"""``v2v replay`` output: readable tables (the default) or one JSON object."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hub.replay.diff import Diff
from hub.replay.run import Replayed


def text(result: Replayed) -> str:
    hub = result.hub
    out: list[str] = []
    until = result.until.isoformat() if result.until else "-"
    out.append(
        f"replayed {result.lines} lines and {result.ticks} clock ticks up to {until}; "
        f"{len(hub.chains)} chains, {len(hub.cases)} cases, {len(hub.escalations)} "
        f"escalations, {len(result.dead)} dead letters, {len(result.bad)} lines skipped"
    )
    cases = hub.latest_cases()
    if cases:
        out.append("")
        out.append(f"{'SEVERITY':<9} {'CODE':<28} {'CHAIN':<18} {'SUBJECT':<24} {'STATUS':<12} V")
        for c in sorted(cases, key=lambda c: (_rank(c.severity.value), c.code, c.coi_id)):
            out.append(
                f"{c.severity.value:<9} {c.code:<28} {c.coi_id:<18} {c.subject[:24]:<24} "
                f"{c.status.value:<12} {c.version}"
            )
    levels = Counter(e.level for e in hub.escalations)
    if levels:
        out.append("")
        out.append(
            "escalations: " + ", ".join(f"level {k}: {v}" for k, v in sorted(levels.items()))
        )
    if result.dead:
        out.append("")
        out.append(f"{'LINE':<28} {'PARTNER':<9} {'CODE':<22} REASON")
        for where, dead in result.dead:
            r = dead.rejection
            out.append(f"{where:<28} {r.partner:<9} {r.code:<22} {r.reason[:80]}")
    if hub.chains:
        out.append("")
        out.append(f"{'CHAIN':<18} {'STAGE':<28} {'EVENTS':>6} {'OPEN CASES':>10}")
        for coi, chain in sorted(hub.chains.items()):
            summary = chain.summary()
            out.append(
                f"{coi:<18} {summary['stage']:<28} {summary['event_count']:>6} "
                f"{len(summary['open_cases']):>10}"
            )
    for bad in result.bad:
        out.append(f"skipped {bad.where}: {bad.reason}")
    return "\n".join(out)


def diff_text(diff: Diff) -> str:
    if diff.empty:
        return "no difference: both configurations raise the same cases"
    out: list[str] = []
    for label, cases in (("+", diff.appeared), ("-", diff.disappeared)):
        for c in cases:
            out.append(
                f"{label} {c['severity']:<9} {c['code']:<28} {c['coi_id']:<18} {c['subject']}"
            )
    for change in diff.changed:
        before, after = change["before"], change["after"]
        what = ", ".join(
            f"{k} {before[k]} -> {after[k]}" for k in sorted(before) if before[k] != after[k]
        )
        out.append(f"~ {after['code']:<38} {after['coi_id']:<18} {after['subject']}: {what}")
    out.append(
        f"{len(diff.appeared)} appear, {len(diff.disappeared)} disappear, "
        f"{len(diff.changed)} change"
    )
    return "\n".join(out)


def _rank(severity: str) -> int:
    return {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 2, "LOW": 3}.get(severity, 4)


def as_dict(diff: Diff) -> dict[str, Any]:
    return {"appeared": diff.appeared, "disappeared": diff.disappeared, "changed": diff.changed}
