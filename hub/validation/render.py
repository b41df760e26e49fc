"""The validation report's files: the traceability matrix (HTML and CSV), the validation
summary report (HTML) and a machine-readable digest (JSON). Plain HTML, one file each, no
script and nothing fetched: it reads offline and archives as it is."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path

from hub.validation.register import RISK_ORDER
from hub.validation.results import Evidence
from hub.validation.trace import Matrix, Trace

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;margin:.5em 0}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}code,.id{font-family:ui-monospace,monospace;font-size:.92em}
.pass,.passed{color:#11651d}.fail,.failed,.error{color:#a40e0e;font-weight:600}
.not-covered,.skipped,.xfailed,.xpassed{color:#8a5a00}.planned{color:#555;font-style:italic}
.banner{padding:.7em 1em;border-radius:4px;font-weight:600}
.banner.ok{background:#e3f4e5}.banner.bad{background:#fbe3e3}
ul.tests{margin:0;padding-left:1.1em}small{color:#666}
"""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>\n"
        f"{body}\n</body></html>\n"
    )


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table of already-escaped cells."""
    out = ["<table><tr>", *(f"<th>{h}</th>" for h in head), "</tr>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _cls(word: str) -> str:
    return word.replace(" ", "-")


def _result(t: Trace) -> str:
    label = t.result
    if t.requirement.status == "planned":
        return f"<span class=planned>planned</span> <small>({escape(label)})</small>"
    return f'<span class="{_cls(label)}">{escape(label)}</span>'


def _commit(m: Matrix) -> str:
    dirty = " (with uncommitted changes)" if m.run.dirty else ""
    return f"<code>{escape(m.run.commit)}</code>{dirty}"


def _req_link(rid: str, href: str = "traceability.html") -> str:
    return f'<a class=id href="{href}#{escape(rid)}">{escape(rid)}</a>'


def traceability_html(m: Matrix) -> str:
    rows = []
    for t in m.traces:
        r = t.requirement
        tests = "".join(
            f'<li><code>{escape(e.nodeid)}</code> <span class="{e.outcome}">{e.outcome}</span></li>'
            for e in t.tests
        )
        rows.append(
            [
                f'<span class=id id="{escape(r.id)}">{escape(r.id)}</span>',
                escape(r.title)
                + (f"<br><small>{escape(r.note)}</small>" if r.note else "")
                + f"<br><small>feature: {escape(r.feature)}</small>",
                f"{escape(r.risk)}<br><small>{escape(r.impact)}: {escape(r.rationale)}</small>",
                "<br>".join(f"<code>{escape(s)}</code>" for s in r.sources),
                f"<ul class=tests>{tests}</ul>" if tests else "<small>none</small>",
                _result(t),
                f"<code>{escape(m.run.commit[:12])}</code>",
            ]
        )
    body = (
        "<h1>Traceability matrix</h1>"
        f"<p>Requirements register <code>{escape(m.run.register_file)}</code>, "
        f"run of commit {_commit(m)}, {escape(m.run.finished_at.isoformat())}. "
        'Summary: <a href="summary.html">summary.html</a>.</p>'
        + _table(
            ["Requirement", "Title / feature", "Risk", "Sources", "Tests", "Result", "Commit"],
            rows,
        )
    )
    return _page("Traceability matrix", body)


def traceability_csv(m: Matrix) -> str:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(
        ["requirement", "title", "risk", "status", "sources", "result", "test", "outcome", "commit"]
    )
    for t in m.traces:
        r = t.requirement
        head = [r.id, r.title, r.risk, r.status, " ".join(r.sources), t.result]
        tests: Sequence[Evidence | None] = t.tests or (None,)
        for e in tests:
            tail = [e.nodeid, e.outcome] if e else ["", ""]
            out.writerow([*head, *tail, m.run.commit])
    return buf.getvalue()


def _verdict(m: Matrix) -> str:
    problems = ""
    if m.register_problems:
        items = "".join(f"<li>{escape(p)}</li>" for p in m.register_problems)
        problems = (
            "<div class='banner bad'>The register does not match the exception catalogue: "
            f"<ul>{items}</ul></div>"
        )
    return problems + _gate(m)


def _gate(m: Matrix) -> str:
    if not m.blocking:
        gated = sum(1 for t in m.traces if t.gates)
        return (
            f"<p class='banner ok'>Every one of the {gated} high-risk requirements in force "
            "has passing evidence and no failing test.</p>"
        )
    items = "".join(
        f"<li>{_req_link(t.requirement.id)} {escape(t.requirement.title)}: {escape(t.why())}</li>"
        for t in m.blocking
    )
    return (
        f"<div class='banner bad'>{len(m.blocking)} high-risk requirement(s) without "
        f"passing evidence: the run is not a validated state.<ul>{items}</ul></div>"
    )


def _counts(m: Matrix) -> str:
    outcomes: Counter[str] = Counter(e.outcome for e in m.run.tests)
    order = ["passed", "failed", "error", "skipped", "xfailed", "xpassed"]
    tests = _table(
        ["tests", *order, "without requirement"],
        [[str(len(m.run.tests)), *(str(outcomes[o]) for o in order), str(len(m.unmarked))]],
    )
    columns = ["pass", "fail", "not covered", "planned"]
    rows = []
    for risk in RISK_ORDER:
        of_risk = [t for t in m.traces if t.requirement.risk == risk]
        active: Counter[str] = Counter(
            t.result for t in of_risk if t.requirement.status != "planned"
        )
        planned = sum(1 for t in of_risk if t.requirement.status == "planned")
        counts = [*(str(active[c]) for c in columns[:3]), str(planned)]
        rows.append([escape(risk), str(len(of_risk)), *counts])
    reqs = _table(["risk", "requirements", *columns], rows)
    return tests + reqs


def _deviations(m: Matrix) -> str:
    if not m.deviations and not m.run.collection_errors:
        return "<p>None: no test failed or errored.</p>"
    rows = [
        [
            f"<code>{escape(e.nodeid)}</code>",
            f'<span class="{e.outcome}">{e.outcome}</span>',
            " ".join(_req_link(r) for r in e.requirements) or "<small>none</small>",
            f"<code>{escape(e.message)}</code>",
        ]
        for e in m.deviations
    ]
    rows += [
        [
            f"<code>{escape(c.nodeid)}</code>",
            "collection error",
            "",
            f"<code>{escape(c.message)}</code>",
        ]
        for c in m.run.collection_errors
    ]
    return _table(["test", "outcome", "requirements", "message"], rows)


def _requirement_rows(traces: Iterable[Trace]) -> list[list[str]]:
    return [
        [
            _req_link(t.requirement.id),
            escape(t.requirement.title),
            escape(t.requirement.risk),
            _result(t),
            escape(t.why() if t.result != "pass" else f"{t.counts['passed']} passed"),
        ]
        for t in traces
    ]


def _uncovered(m: Matrix) -> str:
    out = []
    for risk in RISK_ORDER:
        traces = [t for t in m.uncovered(planned=False) if t.requirement.risk == risk]
        out.append(f"<h3>{escape(risk)} risk: {len(traces)}</h3>")
        if traces:
            head = ["requirement", "title", "risk", "result", "why"]
            out.append(_table(head, _requirement_rows(traces)))
    return "".join(out)


def _sources(m: Matrix) -> str:
    rows = []
    for key, source in m.register.sources.items():
        citing = [t for t in m.traces if key in t.requirement.sources]
        cells = ", ".join(f"{_req_link(t.requirement.id)} {_result(t)}" for t in citing)
        rows.append(
            [f"<code>{escape(key)}</code>", escape(source.document), escape(source.title), cells]
        )
    return _table(["clause", "document", "title", "requirements and results"], rows)


def summary_html(m: Matrix) -> str:
    run = m.run
    env_rows = [[escape(k), f"<code>{escape(v)}</code>"] for k, v in run.environment.items()]
    planned = [t for t in m.traces if t.requirement.status == "planned"]
    unmarked = "".join(f"<li><code>{escape(e.nodeid)}</code></li>" for e in m.unmarked)
    body = f"""<h1>v2v-hub validation summary report</h1>
{_verdict(m)}
<h2>1. Scope</h2>
<p>Commit {_commit(m)}; run {escape(run.started_at.isoformat())} to
{escape(run.finished_at.isoformat())}, pytest exit status {run.exit_status}.
Requirements register <code>{escape(run.register_file)}</code>: {len(m.traces)} requirements
({sum(1 for t in m.traces if t.requirement.status == "planned")} planned: not built yet, reported
but not gated). Arguments: <code>{escape(" ".join(run.args) or "(none)")}</code>.
The gate: every high-risk requirement in force has a passing test and no failing one.
Traceability matrix: <a href="traceability.html">traceability.html</a>,
<a href="traceability.csv">traceability.csv</a>.</p>
<h2>2. Environment</h2>
{_table(["item", "value"], env_rows)}
<h2>3. Counts</h2>
{_counts(m)}
<h2>4. Deviations (failed tests)</h2>
{_deviations(m)}
<h2>5. Requirements in force without passing evidence, by risk</h2>
{_uncovered(m)}
<h2>6. Planned requirements (feature not built yet)</h2>
{_table(["requirement", "title", "risk", "result", "evidence"], _requirement_rows(planned))}
<h2>7. Coverage by source clause</h2>
{_sources(m)}
<h2>8. Tests that claim no requirement</h2>
<details><summary>{len(m.unmarked)} tests (supporting tests, not validation evidence)</summary>
<ul>{unmarked}</ul></details>
"""
    return _page("Validation summary report", body)


def digest(m: Matrix) -> dict[str, object]:
    """The run's verdicts as data (``validation.json``)."""
    return {
        "commit": m.run.commit,
        "dirty": m.run.dirty,
        "gate": "pass" if m.passes else "fail",
        "blocking": [{"id": t.requirement.id, "why": t.why()} for t in m.blocking],
        "register_problems": list(m.register_problems),
        "tests": dict(Counter(e.outcome for e in m.run.tests)),
        "requirements": [
            {
                "id": t.requirement.id,
                "risk": t.requirement.risk,
                "status": t.requirement.status,
                "result": t.result,
                "tests": dict(t.counts),
            }
            for t in m.traces
        ],
    }


def write_report(m: Matrix, out: Path) -> list[Path]:
    """Write every file of the report into ``out``; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "summary.html": summary_html(m),
        "traceability.html": traceability_html(m),
        "traceability.csv": traceability_csv(m),
        "validation.json": json.dumps(digest(m), indent=1) + "\n",
    }
    paths = []
    for name, text in files.items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
