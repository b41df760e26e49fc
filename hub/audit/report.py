"""The chain's COI/COC report as of a time: one document, rendered as HTML and as PDF (fpdf2).

What it shows: the verification verdict of the trail it was built from, whether the replay
reproduced every recorded record, the chain's stage, milestones, custody ledger, cases,
commands and e-signatures as the hub knew them at that time, and the audit records it used.
Pseudonymous: the COI and the partners' ids only, never a patient's identity (no topic carries
one).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from hub.audit.reconstruct import AsOf
from hub.audit.records import AuditKind
from hub.audit.verify import Verdict


@dataclass
class Section:
    title: str
    pairs: list[tuple[str, str]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)  # relative column widths (PDF)
    note: str = ""


@dataclass
class Document:
    title: str
    subtitle: str
    ok: bool
    sections: list[Section]


def _t(stamp: datetime | str | None) -> str:
    if stamp is None:
        return "-"
    if isinstance(stamp, str):
        return stamp
    return stamp.strftime("%Y-%m-%d %H:%M:%SZ")


def build(
    view: AsOf,
    verdict: Verdict,
    generated_at: datetime,
    source: str,
    notes: list[str] | None = None,
) -> Document:
    """The report's content (one truth for both renderings). ``notes``: about the
    configuration the replay ran with."""
    chain = view.chain
    events = view.events()
    ok = verdict.ok and view.faithful
    chain_problems = [p for p in verdict.problems if view.coi in p or "checkpoint" in p]
    verification = Section(
        "Verification",
        pairs=[
            ("Trail", verdict.summary()),
            ("Source", source),
            (
                "Replay",
                f"{view.replayed} of {len(view.records)} records reproduced exactly by the flow "
                "core" + ("" if view.faithful else f"; differences: {'; '.join(view.mismatches)}"),
            ),
        ]
        + [("Configuration", n) for n in notes or []]
        + [("Problem", p) for p in (chain_problems or verdict.problems)[:30]],
    )
    head = view.records[-1] if view.records else None
    status = Section(
        "Chain as known at the time",
        pairs=[
            ("COI (pseudonymous)", view.coi),
            ("As of", _t(view.as_of)),
            (
                "Records known",
                f"{len(view.records)} of {view.total} on the trail"
                + (f" (last #{head.seq}, hash {head.hash[:16]}...)" if head else ""),
            ),
            ("Stage", chain.state.stage if chain else "unknown to the hub"),
            ("Product profile", (chain.state.product_profile or "default") if chain else "-"),
            ("Custody holder", (chain.state.custody.holder or "-") if chain else "-"),
            ("In transit with", (chain.state.custody.in_transit_with or "-") if chain else "-"),
            ("Judged until (event time)", _t(chain.state.frontier) if chain else "-"),
        ],
    )
    milestones = Section("Milestones", header=["milestone", "occurred", "source"], widths=[3, 2, 4])
    if chain:
        for name, at in sorted(chain.state.milestones.items(), key=lambda kv: kv[1]):
            src = chain.state.milestone_sources.get(name)
            milestones.rows.append(
                [name, _t(at), f"{src.partner} / {src.message_id}" if src else "-"]
            )
    custody = Section(
        "Custody ledger (chain of custody)",
        header=["#", "event", "occurred", "received", "who", "where"],
        widths=[1, 4, 3, 3, 4, 4],
    )
    if chain:
        for n, event_id in enumerate(chain.state.custody.history, 1):
            rec = events.get(event_id)
            body = rec.body if rec else {}
            loc = body.get("location") or {}
            custody.rows.append(
                [
                    str(n),
                    str(body.get("event_type", event_id)),
                    _t(body.get("occurred_at")),
                    _t(rec.at if rec else None),
                    rec.actor if rec else "-",
                    str(loc.get("name") or loc.get("id") or "-"),
                ]
            )
        open_handovers = chain.state.custody.open_handovers.values()
        custody.note = "Open handovers: " + (
            ", ".join(
                f"{h.handover_id} released by {h.releasing_party or '?'} at {_t(h.released_at)}"
                for h in open_handovers
            )
            or "none"
        )
    cases = Section(
        "Cases",
        header=["case", "code", "sev", "status", "v", "opened", "updated", "by", "why"],
        widths=[3, 4, 2, 3, 1, 3, 3, 3, 5],
    )
    for c in view.cases:
        cases.rows.append(
            [
                c.case_id,
                c.code,
                c.severity.value,
                c.status.value,
                str(c.version),
                _t(c.opened_at),
                _t(c.updated_at),
                c.resolved_by or c.acknowledged_by or c.assignee or "-",
                c.resolution or c.summary,
            ]
        )
    cases.note = f"{len(view.open_cases)} open at the time."
    commands = Section(
        "Commands from people",
        header=["#", "when", "who", "action", "case", "outcome / why"],
        widths=[1, 3, 3, 2, 3, 6],
    )
    for r in view.commands():
        cmd = r.body.get("command", {})
        outcome = "applied" if r.kind is AuditKind.CASE_COMMAND else "REJECTED"
        commands.rows.append(
            [str(r.seq), _t(r.at), r.actor, r.action, str(cmd.get("case_id", "-")),
             f"{outcome}: {r.reason or '-'}"]
        )  # fmt: skip
    signatures = Section(
        "Electronic signatures", header=["#", "record", "field", "signature"], widths=[1, 3, 3, 8]
    )
    for r, path, value in view.signatures():
        text = json.dumps(value, sort_keys=True, default=str)
        signatures.rows.append([str(r.seq), f"{r.kind.value} {r.ref}", path, text])
    if not signatures.rows:
        signatures.note = "No command or case version of this chain carries an e-signature."
    trail = Section(
        "Audit records used",
        header=["seq", "hub clock", "kind", "who", "what", "hash"],
        widths=[1, 3, 3, 4, 4, 3],
    )
    for r in view.records:
        trail.rows.append([str(r.seq), _t(r.at), r.kind.value, r.actor, r.action, r.hash[:16]])
    return Document(
        title=f"Chain of identity and custody: {view.coi}",
        subtitle=f"as the hub knew it at {_t(view.as_of)}; generated {_t(generated_at)}",
        ok=ok,
        sections=[verification, status, milestones, custody, cases, commands, signatures, trail],
    )


def to_html(doc: Document) -> str:
    e = html.escape
    verdict = "VERIFIED" if doc.ok else "NOT VERIFIED"
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(doc.title)}</title><style>",
        "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;"
        "width:100%;margin:.5em 0 1.5em}td,th{border:1px solid #bbb;padding:3px 6px;"
        "font-size:12px;text-align:left;vertical-align:top}th{background:#eee}"
        ".ok{color:#075}.bad{color:#b00}code{font-size:11px}",
        "</style></head><body>",
        f"<h1>{e(doc.title)}</h1><p>{e(doc.subtitle)}</p>",
        f"<p class='{'ok' if doc.ok else 'bad'}'><strong>{verdict}</strong></p>",
    ]
    for s in doc.sections:
        out.append(f"<h2>{e(s.title)}</h2>")
        if s.pairs:
            out.append("<table>")
            out += [f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in s.pairs]
            out.append("</table>")
        if s.header:
            out.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in s.header) + "</tr>")
            for row in s.rows:
                out.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>")
            out.append("</table>")
        if s.note:
            out.append(f"<p>{e(s.note)}</p>")
    out.append("</body></html>")
    return "\n".join(out)


def _latin(text: str) -> str:
    """The PDF core fonts know Latin-1 only."""
    return text.encode("latin-1", "replace").decode("latin-1")


def to_pdf(doc: Document) -> bytes:
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.set_title(_latin(doc.title))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.multi_cell(0, 8, _latin(doc.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 9)
    pdf.multi_cell(0, 5, _latin(doc.subtitle), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "B", 12)
    pdf.set_text_color(0, 110, 80) if doc.ok else pdf.set_text_color(180, 0, 0)
    pdf.cell(0, 8, "VERIFIED" if doc.ok else "NOT VERIFIED", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    for s in doc.sections:
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(0, 7, _latin(s.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("Helvetica", "", 7.5)
        if s.pairs:
            with pdf.table(col_widths=(1, 4), first_row_as_headings=False) as table:
                for k, v in s.pairs:
                    row = table.row()
                    row.cell(_latin(k))
                    row.cell(_latin(v))
        if s.header and s.rows:
            with pdf.table(col_widths=tuple(s.widths or [1] * len(s.header))) as table:
                head = table.row()
                for h in s.header:
                    head.cell(_latin(h))
                for cells in s.rows:
                    row = table.row()
                    for c in cells:
                        row.cell(_latin(c))
        elif s.header:
            pdf.cell(0, 5, "none", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if s.note:
            pdf.multi_cell(0, 4, _latin(s.note), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def write(doc: Document, out_dir: Path, stem: str) -> tuple[Path, Path]:
    """``<stem>.html`` and ``<stem>.pdf`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path, pdf_path = out_dir / f"{stem}.html", out_dir / f"{stem}.pdf"
    html_path.write_text(to_html(doc), encoding="utf-8")
    pdf_path.write_bytes(to_pdf(doc))
    return html_path, pdf_path
