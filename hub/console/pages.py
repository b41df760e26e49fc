"""The console's HTML (server-rendered; escaped everywhere by :func:`esc`).

Pages work without script; with it, htmx swaps fragments (filters, a case's new version) and
``console.js`` runs the SLA clocks, the server-sent events and the temperature charts (uPlot).
Severity is shown by a word and a shape besides its colour.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from hub.audit.records import AuditRecord
from hub.auth.authority import Decision
from hub.auth.tokens import Principal
from hub.console.chainview import CaseHistory, ChainView
from hub.console.queue import (
    FILTERS,
    SEVERITIES,
    SEVERITY_SHAPE,
    Queue,
    Row,
    SlaClock,
    describe_left,
    parse_time,
)

HTMX = "/console/static/vendor/htmx-2.0.8.min.js"
UPLOT_JS = "/console/static/vendor/uPlot-1.6.32.iife.min.js"
UPLOT_CSS = "/console/static/vendor/uPlot-1.6.32.min.css"
TRAIL_RETRIES = 10
ACTION_LABELS = {
    "ack": "Acknowledge",
    "assign": "Assign",
    "comment": "Comment",
    "resolve": "Resolve",
}


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def when(value: datetime | str | None) -> str:
    at = parse_time(value) if isinstance(value, str) else value
    if at is None:
        return "-"
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def time_tag(value: datetime | str | None) -> str:
    at = parse_time(value) if isinstance(value, str) else value
    if at is None:
        return "-"
    return f'<time datetime="{esc(at.isoformat())}">{esc(when(at))}</time>'


def severity_badge(severity: Any) -> str:
    s = str(severity)
    shape = SEVERITY_SHAPE.get(s, "?")
    return (
        f'<span class="sev sev-{esc(s.lower())}"><span aria-hidden="true">{shape}</span> '
        f"{esc(s)}</span>"
    )


def clock_tag(clock: SlaClock | None, now: datetime) -> str:
    if clock is None:
        return '<span class="sla none">no acknowledgement clock</span>'
    left = clock.left(now)
    state = "overdue" if left.total_seconds() < 0 else "running"
    return (
        f'<span class="sla {state}" data-due="{esc(clock.due_at.isoformat())}" '
        f'data-level="{clock.level}">{esc(describe_left(left))}</span>'
        f' <span class="muted">(level {clock.level})</span>'
    )


@dataclass(frozen=True)
class Page:
    title: str
    principal: Principal | None
    csrf: str | None
    dev_signin: bool = False


def layout(page: Page, body: str, *, charts: bool = False) -> str:
    who = ""
    hx_headers = ""
    if page.principal is not None and page.csrf is not None:
        roles = ", ".join(sorted(page.principal.roles))
        who = (
            f'<span class="who">signed in as <strong>{esc(page.principal.subject)}</strong>'
            f" ({esc(roles)})</span>"
            f'<form method="post" action="/console/logout" class="inline">'
            f'<input type="hidden" name="csrf" value="{esc(page.csrf)}">'
            f'<button type="submit">Sign out</button></form>'
        )
        hx_headers = f" hx-headers='{esc(json.dumps({'X-CSRF-Token': page.csrf}))}'"
    chart_head = (
        f'<link rel="stylesheet" href="{UPLOT_CSS}"><script src="{UPLOT_JS}" defer></script>'
        if charts
        else ""
    )
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(page.title)} · v2v-hub console</title>"
        '<link rel="icon" href="data:,"><link rel="stylesheet" href="/console/static/console.css">'
        f'{chart_head}<script src="{HTMX}" defer></script>'
        '<script src="/console/static/console.js" defer></script>'
        f"</head><body{hx_headers}>"
        '<a class="skip" href="#main">Skip to content</a>'
        '<header><nav aria-label="console"><a href="/console" class="brand">v2v-hub console</a>'
        '<a href="/console">Case queue</a><a href="/console/partners">Partner health</a>'
        f"{who}</nav></header>"
        f'<main id="main" tabindex="-1"><h1>{esc(page.title)}</h1>{body}</main>'
        "</body></html>"
    )


# --- sign-in ---------------------------------------------------------------------------------


def signin(page: Page, roles: Sequence[str], next_url: str, message: str | None) -> str:
    alert = f'<p class="alert" role="alert">{esc(message)}</p>' if message else ""
    dev = ""
    if page.dev_signin:
        options = "".join(f'<option value="{esc(r)}">{esc(r)}</option>' for r in roles)
        dev = f"""
<section aria-labelledby="dev-h"><h2 id="dev-h">Development sign-in</h2>
<p class="muted">Development mode: the hub's development identity provider mints your token.</p>
<form method="post" action="/console/login" class="stack">
<input type="hidden" name="mode" value="dev">
<input type="hidden" name="next" value="{esc(next_url)}">
<input type="hidden" name="csrf" value="{esc(page.csrf)}">
<label>User id <input name="user" id="user" required autocomplete="username"></label>
<label>Printed name (for signatures) <input name="name" id="name"></label>
<label>Role <select name="role" id="role">{options}</select></label>
<button type="submit" id="dev-signin">Sign in</button></form></section>"""
    return layout(
        page,
        f"""{alert}{dev}
<section aria-labelledby="tok-h"><h2 id="tok-h">Sign in with a token</h2>
<p class="muted">Paste an access token your organisation's identity provider issued for this
hub.</p>
<form method="post" action="/console/login" class="stack">
<input type="hidden" name="mode" value="token">
<input type="hidden" name="next" value="{esc(next_url)}">
<input type="hidden" name="csrf" value="{esc(page.csrf)}">
<label>Bearer token <textarea name="token" id="token" rows="4" required></textarea></label>
<button type="submit">Sign in</button></form></section>""",
    )


def message_page(page: Page, text: str, status_word: str) -> str:
    return layout(
        page,
        f'<p class="alert" role="alert"><strong>{esc(status_word)}</strong>: {esc(text)}</p>'
        '<p><a href="/console">Back to the case queue</a></p>',
    )


# --- queue -----------------------------------------------------------------------------------


def queue_page(page: Page, queue: Queue, filters: Mapping[str, str], now: datetime) -> str:
    fields = []
    for name in FILTERS:
        current = filters.get(name, "")
        values = queue.choices.get(name, [])
        if name == "status":
            values = ["open", *values]
        opts = ['<option value="">any</option>'] + [
            f'<option value="{esc(v)}"{" selected" if v == current else ""}>{esc(v)}</option>'
            for v in values
        ]
        label = name.replace("_", " ")
        fields.append(
            f'<label>{esc(label)} <select name="{name}" id="f-{name}">'
            f"{''.join(opts)}</select></label>"
        )
    form = (
        '<form method="get" action="/console" class="filters" hx-get="/console/queue" '
        'hx-target="#queue" hx-trigger="change" hx-push-url="/console" role="search" '
        'aria-label="filter the queue">'
        + "".join(fields)
        + '<button type="submit">Filter</button></form>'
    )
    return layout(
        page,
        form + f'<div id="queue" data-stream="/console/stream" aria-live="polite">'
        f"{queue_fragment(queue, now)}</div>",
    )


def queue_fragment(queue: Queue, now: datetime) -> str:
    counts = "".join(
        f'<li>{severity_badge(s)} <strong class="count" id="count-{s.lower()}">'
        f"{queue.counts.get(s, 0)}</strong></li>"
        for s in SEVERITIES
    )
    rows = "".join(_queue_row(r, now) for r in queue.rows)
    if not rows:
        rows = '<tr><td colspan="9">No case matches.</td></tr>'
    return (
        f'<ul class="counts" aria-label="cases per severity">{counts}</ul>'
        f'<p class="muted">{len(queue.rows)} of {queue.total} cases shown, most severe and '
        "closest to breach first.</p>"
        '<table class="queue"><caption class="sr-only">Case queue</caption><thead><tr>'
        '<th scope="col">Severity</th><th scope="col">SLA clock</th><th scope="col">Case</th>'
        '<th scope="col">Chain</th><th scope="col">Owner role</th><th scope="col">Status</th>'
        '<th scope="col">Partners</th><th scope="col">Sites</th><th scope="col">Opened</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def _queue_row(row: Row, now: datetime) -> str:
    c = row.case
    cid = row.case_id
    return (
        f'<tr data-case="{esc(cid)}"><td>{severity_badge(c.get("severity"))}</td>'
        f"<td>{clock_tag(row.clock, now)}</td>"
        f'<td><a href="/console/cases/{quote(cid)}">{esc(c.get("code"))}</a>'
        f'<div class="muted">{esc(c.get("title"))}</div></td>'
        f"<td>{_chain_link(str(c.get('coi_id', '')))}</td>"
        f"<td>{esc(c.get('owner_role'))}</td><td>{esc(c.get('status'))}"
        f' <span class="muted">v{esc(c.get("version"))}</span></td>'
        f"<td>{esc(', '.join(sorted(row.where.partners)) or '-')}</td>"
        f"<td>{esc(', '.join(sorted(row.where.sites)) or '-')}</td>"
        f"<td>{time_tag(c.get('opened_at'))}</td></tr>"
    )


def _chain_link(coi: str) -> str:
    if coi.startswith("partner:"):
        return f'<a href="/console/partners">{esc(coi)}</a>'
    return f'<a href="/console/chains/{quote(coi)}">{esc(coi)}</a>'


# --- case ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionChoice:
    action: str  # the URL word: ack, assign, comment, resolve
    decision: Decision


def case_page(
    page: Page,
    case: Mapping[str, Any],
    body: str,
    actions: Sequence[ActionChoice],
    reauth_dev: bool,
) -> str:
    cid = str(case["case_id"])
    forms = "".join(_action(page, case, a, reauth_dev) for a in actions)
    return layout(
        page,
        f'<div id="case-body" data-stream="/console/stream?case={quote(cid)}" '
        f'hx-get="/console/cases/{quote(cid)}/body" hx-trigger="case-changed" '
        f'aria-live="polite">{body}</div>'
        f'<section aria-labelledby="act-h"><h2 id="act-h">Act on this case</h2>'
        f'<div id="result" aria-live="assertive"></div>{forms}</section>',
    )


def _action(page: Page, case: Mapping[str, Any], choice: ActionChoice, reauth_dev: bool) -> str:
    cid, action, d = str(case["case_id"]), choice.action, choice.decision
    label = ACTION_LABELS[action]
    if not d.allowed:
        allowed = ", ".join(d.allowed_roles) or "nobody"
        return (
            f'<p class="denied">{esc(label)}: not for your roles (rule {esc(d.rule)}; '
            f"allowed: {esc(allowed)})</p>"
        )
    extra = ""
    if action == "assign":
        extra = '<label>Assignee <input name="assignee" required></label>'
    reason_required = " required" if action in ("comment", "resolve") or d.signature else ""
    fields = (
        f'<input type="hidden" name="csrf" value="{esc(page.csrf)}">'
        f'<input type="hidden" name="version" value="{esc(case.get("version"))}" '
        'class="case-version">'
        f'{extra}<label>Reason <textarea name="reason" rows="2"{reason_required}>'
        "</textarea></label>"
    )
    target = f'action="/console/cases/{quote(cid)}/{action}" method="post"'
    hx = f'hx-post="/console/cases/{quote(cid)}/{action}" hx-target="#result"'
    if d.signature is None:
        return (
            f'<details class="action"><summary>{esc(label)}</summary>'
            f'<form {target} {hx} class="stack" id="form-{action}">{fields}'
            f'<button type="submit">{esc(label)}</button></form></details>'
        )
    meaning = d.signature.value
    printed = page.principal.name if page.principal else None
    if reauth_dev:
        reauth = (
            "<label>Confirm your user id (re-authentication) "
            '<input name="reauth_user" required autocomplete="username"></label>'
        )
    else:
        reauth = (
            "<label>Fresh token from your identity provider (sign in again, then paste) "
            '<textarea name="reauth_token" rows="3" required></textarea></label>'
        )
    name_note = (
        f"<p>Printed name: <strong>{esc(printed)}</strong></p>"
        if printed
        else '<p class="alert">Your token carries no printed name: the hub will refuse to '
        "seal a signature.</p>"
    )
    return (
        f'<div class="action"><button type="button" class="open-dialog" '
        f'data-dialog="sig-{action}" id="open-{action}">{esc(label)} (electronic signature)'
        f"</button>"
        f'<dialog id="sig-{action}" aria-labelledby="sig-{action}-h">'
        f'<form {target} {hx} class="stack" id="form-{action}">'
        f'<h2 id="sig-{action}-h">Electronic signature: {esc(label.lower())}</h2>'
        f'<p>Meaning: <strong class="meaning">{esc(meaning)}</strong>. You sign version '
        f'<strong class="case-version-text">{esc(case.get("version"))}</strong> of case '
        f"{esc(case.get('code'))} on chain {esc(case.get('coi_id'))}.</p>{name_note}"
        f'<input type="hidden" name="meaning" value="{esc(meaning)}">{fields}{reauth}'
        f'<div class="buttons"><button type="submit" id="sign-{action}">Sign and '
        f'{esc(label.lower())}</button><button type="button" class="close-dialog">Cancel</button>'
        "</div></form></dialog></div>"
    )


def case_body(
    case: Mapping[str, Any],
    chain: Mapping[str, Any] | None,
    history: CaseHistory | None,
    clock: SlaClock | None,
    now: datetime,
    retry: int = 0,
) -> str:
    """The case's own part of its page (swapped when a new version arrives). When the trail
    does not show the version yet, the part asks again a second later (up to
    :data:`TRAIL_RETRIES` times)."""
    c = case
    sigs = "".join(
        f"<li>{esc(s.get('meaning'))} by {esc(s.get('name'))} ({esc(s.get('signer'))}), "
        f"{esc(s.get('action'))} of version {esc(s.get('case_version'))} at "
        f"{time_tag(s.get('signed_at'))}: {esc(s.get('reason'))} "
        f'<span class="muted">seal {esc(str(s.get("seal", ""))[:16])}…</span></li>'
        for s in c.get("signatures") or []
    )
    playbook = "".join(f"<li>{esc(step)}</li>" for step in c.get("playbook") or [])
    stage = "-"
    if chain is not None:
        nxt = chain.get("next_deadline") or {}
        stage = f"{esc(chain.get('stage'))}, held by {esc(chain.get('holder') or '-')}" + (
            f"; next deadline {esc(nxt.get('code'))} due {time_tag(nxt.get('due_at'))}"
            if nxt
            else ""
        )
    behind = ""
    if history is not None:
        recorded = {r.ref for r in history.versions}
        if f"{c['case_id']}@{c.get('version')}" not in recorded and retry < TRAIL_RETRIES:
            # the read model is ahead of the trail by moments: read it again shortly
            behind = (
                f'<span hx-get="/console/cases/{quote(str(c["case_id"]))}/body?retry={retry + 1}" '
                'hx-trigger="load delay:1s" hx-target="#case-body"></span>'
            )
    return (
        f'<div class="case" data-version="{esc(c.get("version"))}">'
        f"<p>{severity_badge(c.get('severity'))} <strong>{esc(c.get('code'))}</strong>: "
        f"{esc(c.get('title'))}</p>"
        '<dl class="facts">'
        f'<dt>Status</dt><dd id="case-status">{esc(c.get("status"))}</dd>'
        f'<dt>Version</dt><dd id="case-version">{esc(c.get("version"))}</dd>'
        f"<dt>SLA clock</dt><dd>{clock_tag(clock, now)}</dd>"
        f"<dt>Finding</dt><dd>{esc(c.get('summary'))}</dd>"
        f"<dt>Chain</dt><dd>{_chain_link(str(c.get('coi_id', '')))}</dd>"
        f"<dt>Chain stage</dt><dd>{stage}</dd>"
        f"<dt>Owner role</dt><dd>{esc(c.get('owner_role'))}</dd>"
        f"<dt>Assignee</dt><dd>{esc(c.get('assignee') or '-')}</dd>"
        f"<dt>Detected</dt><dd>{time_tag(c.get('detected_at'))}</dd>"
        f"<dt>Acknowledged</dt><dd>{esc(c.get('acknowledged_by') or '-')} "
        f"{time_tag(c.get('acknowledged_at')) if c.get('acknowledged_at') else ''}</dd>"
        f"<dt>Resolved</dt><dd>{esc(c.get('resolved_by') or '-')} "
        f"{esc(c.get('resolution') or '')}</dd>"
        "</dl>"
        + (f'<h2>Signatures</h2><ul id="signatures">{sigs}</ul>' if sigs else "")
        + (f"<h2>Playbook</h2><ol>{playbook}</ol>" if playbook else "")
        + (
            f'<p><a href="{esc(c.get("playbook_url"))}">Continuity playbook</a></p>'
            if c.get("playbook_url")
            else ""
        )
        + (_history(history) if history is not None else "<p>No audit trail to show.</p>")
        + behind
        + "</div>"
    )


def _history(history: CaseHistory) -> str:
    versions = (
        f"<tr><td>{esc(r.ref.rpartition('@')[2])}</td><td>{esc(r.action)}</td>"
        f"<td>{esc(r.actor)}</td><td>{time_tag(r.at)}</td><td>{esc(r.reason)}</td>"
        f'<td class="hash">{esc(r.hash[:12])}</td></tr>'
        for r in history.versions
    )
    evidence = (
        f"<tr><td>{esc(e.event_type.value)}</td><td>{time_tag(e.occurred_at)}</td>"
        f"<td>{esc(e.source.partner)}</td><td>{esc(e.location.id if e.location else '-')}</td>"
        f"<td>{esc(e.source.message_id)}</td></tr>"
        for e in history.evidence
    )
    return (
        "<h2>Evidence events</h2>"
        + _table(("Event", "Occurred", "Partner", "Site", "Message"), evidence, "none on the trail")
        + "<h2>Audit notes</h2>"
        + _table(
            ("Record", "Action", "By", "At", "Reason", "Outcome"),
            (_note(r) for r in history.notes),
            "none",
            table_id="notes",
        )
        + "<h2>Versions</h2>"
        + _table(
            ("Version", "Status", "By", "At", "Reason", "Record hash"),
            versions,
            table_id="versions",
        )
    )


def _table(
    columns: Sequence[str],
    rows: Iterable[str],
    empty: str | None = None,
    table_id: str = "",
) -> str:
    """A table with a header cell per column and ``rows`` (``<tr>`` markup); with no row, one
    saying ``empty`` across every column (None: an empty body)."""
    body = "".join(rows)
    if not body and empty is not None:
        body = f'<tr><td colspan="{len(columns)}">{empty}</td></tr>'
    head = "".join(f'<th scope="col">{c}</th>' for c in columns)
    ident = f' id="{table_id}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _note(r: AuditRecord) -> str:
    if r.kind.value == "CASE_COMMAND":
        note = r.body.get("note") or {}
        sig = note.get("signature")
        outcome = "applied" + (f", signed ({sig.get('meaning')})" if sig else "")
    else:
        outcome = f"refused: {r.body.get('error')}"
    return (
        f"<tr><td>#{r.seq}</td><td>{esc(r.action)}</td><td>{esc(r.actor)}</td>"
        f"<td>{time_tag(r.at)}</td><td>{esc(r.reason)}</td><td>{esc(outcome)}</td></tr>"
    )


def command_result(status: int, answer: Mapping[str, Any]) -> str:
    if status == 202:
        signed = answer.get("signature")
        sig = f" Signature sealed ({esc(signed.get('meaning'))})." if signed else ""
        return (
            f'<p class="ok" role="status" data-status="202">Accepted: {esc(answer.get("action"))} '
            f"by {esc(answer.get('actor'))}.{sig} The new version appears here once the hub "
            "applied it.</p>"
        )
    reason = answer.get("reason") or answer.get("error")
    rule = f" (rule {esc(answer['rule'])})" if answer.get("rule") else ""
    recorded = " The refusal is recorded on the audit trail." if answer.get("recorded") else ""
    return (
        f'<p class="alert" role="alert" data-status="{status}">Not done: {esc(reason)}{rule}.'
        f"{recorded}</p>"
    )


# --- chain -----------------------------------------------------------------------------------


def chain_page(page: Page, cv: ChainView, as_of: datetime, latest: datetime | None) -> str:
    st = cv.state
    coi = cv.coi
    v = cv.view
    faithful = (
        f"replayed {v.replayed} of {len(v.records)} records, each equal to the recorded one"
        if v.faithful
        else "the replay differs from the trail: " + "; ".join(v.mismatches[:5])
    )
    as_of_value = as_of.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    head = (
        f'<form method="get" action="/console/chains/{quote(coi)}" class="filters">'
        f'<label>Reconstruct as of (UTC) <input type="datetime-local" name="as_of" '
        f'value="{as_of_value}" step="60"></label><button type="submit">Show</button> '
        f'<a href="/console/chains/{quote(coi)}">latest</a></form>'
        f"<p>As of {time_tag(as_of)} ({'latest record' if latest == as_of else 'chosen time'}): "
        f"{esc(faithful)}. {v.total} records on the trail.</p>"
    )
    if st is None:
        return layout(page, head + "<p>The hub knew nothing of this chain at that time.</p>")
    transit = ""
    if st.custody.in_transit_with:
        transit = f" (in transit with {esc(st.custody.in_transit_with)})"
    facts = (
        '<dl class="facts">'
        f'<dt>Stage</dt><dd id="chain-stage">{esc(st.stage)}</dd>'
        f"<dt>Product profile</dt><dd>{esc(st.product_profile or '-')}</dd>"
        f"<dt>Custody holder</dt><dd>{esc(st.custody.holder or '-')}{transit}</dd>"
        f"<dt>Events</dt><dd>{st.event_count}</dd></dl>"
    )
    return layout(
        page,
        head
        + facts
        + _milestones(cv)
        + _handovers(cv)
        + _temperatures(cv)
        + _identity(cv)
        + _chain_cases(cv)
        + _events(cv),
        charts=True,
    )


def _milestones(cv: ChainView) -> str:
    rows = []
    for m in cv.milestones:
        diff = "-"
        if m.late_by_s is not None:
            hours = m.late_by_s / 3600
            diff = f"{abs(hours):.1f} h {'late' if hours > 0 else 'early'}" if hours else "on plan"
        rows.append(
            f"<tr><td>{esc(m.name)}</td><td>{time_tag(m.planned)}</td>"
            f"<td>{time_tag(m.actual) if m.actual else 'not yet'}</td><td>{esc(diff)}</td></tr>"
        )
    return '<h2 id="timeline">Vein-to-vein timeline</h2>' + _table(
        ("Milestone", "Planned", "Actual", "Against plan"), rows
    )


def _handovers(cv: ChainView) -> str:
    rows = (
        f"<tr><td>{esc(h.handover_id)}</td><td>{esc(h.releasing_party or '-')}</td>"
        f"<td>{esc(h.receiving_party or '-')}</td><td>{time_tag(h.released_at)}</td>"
        f"<td>{time_tag(h.accepted_at)}</td>"
        f"<td>{'✔ verified' if h.verified else '✖ not verified'}"
        f"{' by ' + esc(h.verified_by) if h.verified_by else ''}</td></tr>"
        for h in cv.handovers
    )
    columns = ("Handover", "From", "To", "Released", "Accepted", "Verification")
    return '<h2 id="custody">Custody handovers</h2>' + _table(columns, rows, "none")


def _temperatures(cv: ChainView) -> str:
    parts = ['<h2 id="temperatures">Temperatures per leg</h2>']
    if not cv.legs:
        parts.append("<p>No shipment yet.</p>")
    for leg in cv.legs:
        rng = (
            f"{leg.min_c:g} to {leg.max_c:g} °C"
            if leg.min_c is not None
            else f"at or below {leg.max_c:g} °C"
        )
        exc = leg.excursions
        exc_text = (
            f"{len(exc)} readings outside the range, worst "
            f"{max(exc, key=lambda r: abs(r.value)).value:g} °C, first at {when(exc[0].at)}"
            if exc
            else "no reading outside the range"
        )
        data = json.dumps(leg.chart()).replace("</", "<\\/")
        table = "".join(
            f"<tr><td>{time_tag(r.at)}</td><td>{r.value:g}</td>"
            f"<td>{'outside ✖' if leg.outside(r) else 'in range'}</td></tr>"
            for r in leg.readings
        )
        parts.append(
            f'<section class="leg" aria-labelledby="leg-{esc(leg.shipment_id)}">'
            f'<h3 id="leg-{esc(leg.shipment_id)}">{esc(leg.leg)} leg, {esc(leg.mode)}: shipment '
            f"{esc(leg.shipment_id)}{' on lane ' + esc(leg.lane) if leg.lane else ''}</h3>"
            f"<p>Profile range {esc(rng)}; {len(leg.readings)} readings; "
            f'<span class="{"alert-text" if exc else ""}">{esc(exc_text)}</span>.</p>'
            f'<div class="chart" role="img" aria-label="temperature of shipment '
            f'{esc(leg.shipment_id)}: {esc(exc_text)}" id="chart-{esc(leg.shipment_id)}">'
            f'<script type="application/json" class="chart-data">{data}</script></div>'
            "<details><summary>Readings as a table</summary>"
            + _table(("At", "°C", "Range"), table)
            + "</details></section>"
        )
    return "".join(parts)


def _identity(cv: ChainView) -> str:
    rows = (
        f"<tr><td>{esc(i.checkpoint)}</td><td>{time_tag(i.at)}</td>"
        f"<td>{'✔ matched' if i.matched else '✖ MISMATCH'}</td>"
        f"<td>{esc(i.verified_by or '-')}</td><td>{esc(', '.join(i.compared))}</td></tr>"
        for i in cv.identity_checks
    )
    columns = ("Checkpoint", "At", "Result", "Verified by", "Compared")
    return '<h2 id="identity">Identity checks</h2>' + _table(columns, rows, "none")


def _chain_cases(cv: ChainView) -> str:
    rows = (
        f"<tr><td>{severity_badge(c.severity.value)}</td>"
        f'<td><a href="/console/cases/{quote(c.case_id)}">{esc(c.code)}</a></td>'
        f"<td>{esc(c.status.value)} v{c.version}</td><td>{time_tag(c.opened_at)}</td></tr>"
        for c in cv.view.cases
    )
    return '<h2 id="cases">Cases</h2>' + _table(
        ("Severity", "Code", "Status", "Opened"), rows, "none"
    )


def _events(cv: ChainView) -> str:
    rows = "".join(
        f"<tr><td>{time_tag(e.occurred_at)}</td><td>{esc(e.event_type.value)}</td>"
        f"<td>{esc(e.source.partner)}</td><td>{esc(e.location.id if e.location else '-')}</td></tr>"
        for e in cv.events
        if e.event_type.value != "TEMPERATURE_READING"
    )
    return (
        "<details><summary>Every event (temperature readings are in the charts)</summary>"
        + _table(("Occurred", "Event", "Partner", "Site"), rows)
        + "</details>"
    )


# --- partners --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartnerRow:
    partner: str
    freshness_sla_min: float | None
    last_seen: datetime | None
    silent: bool
    degraded: bool
    window_messages: int
    window_dead: int
    dead_by_code: Mapping[str, float]


def partners_page(
    page: Page,
    rows: Iterable[PartnerRow],
    hub_dead: Mapping[str, float],
    checkpoint: Mapping[str, Any] | None,
    now: datetime,
) -> str:
    # ages on the hub's clock: its latest checkpoint's tick (in a simulation, simulated time)
    hub_now = parse_time(checkpoint.get("at")) if checkpoint else None
    clock = hub_now or now
    body = []
    for p in rows:
        if p.last_seen is None:
            age = "never heard from (not live yet)"
        else:
            age = describe_left(clock - p.last_seen).replace(" left", " before")
        state = "✖ silent" if p.silent else ("▲ degraded" if p.degraded else "✔ speaking")
        sla = f"{p.freshness_sla_min:g} min" if p.freshness_sla_min is not None else "not watched"
        dead = ", ".join(f"{esc(k)}: {v:g}" for k, v in sorted(p.dead_by_code.items())) or "none"
        body.append(
            f'<tr><th scope="row">{esc(p.partner)}</th><td>{time_tag(p.last_seen)}'
            f' <span class="muted">{esc(age)}</span></td><td>{esc(sla)}</td>'
            f"<td>{esc(state)}</td><td>{p.window_dead} of {p.window_messages}</td>"
            f"<td>{dead}</td></tr>"
        )
    hub = ", ".join(f"{esc(k)}: {v:g}" for k, v in sorted(hub_dead.items())) or "none"
    if checkpoint is None:
        cp = "<p>No checkpoint on the trail yet.</p>"
    elif checkpoint.get("problems"):
        cp = (
            f'<p class="alert" role="alert">The latest checkpoint does not verify: '
            f"{esc('; '.join(checkpoint['problems']))}</p>"
        )
    else:
        cp = (
            f"<p>✔ Latest checkpoint verified: partition {esc(checkpoint.get('partition'))} at "
            f"{time_tag(checkpoint.get('at'))}, {esc(checkpoint.get('chains'))} chains, "
            f"{esc(checkpoint.get('records'))} records, root "
            f'<span class="hash">{esc(str(checkpoint.get("root", ""))[:16])}</span>, key '
            f"{esc(checkpoint.get('key_id'))} ({esc(checkpoint.get('count'))} checkpoints).</p>"
        )
    return layout(
        page,
        _table(
            (
                "Partner",
                "Last message (age)",
                "Cadence (freshness SLA)",
                "Hub verdict",
                "Dead-lettered in window",
                "Dead letters by code (this worker)",
            ),
            body,
            table_id="partners",
        )
        + (
            f'<p class="muted">Ages are measured on the hub\'s clock at {time_tag(clock)} '
            f"({'its latest audit checkpoint' if hub_now else 'now'}); the verdict is the hub's "
            "own judgement at its last tick.</p>"
            f"<h2>Dead letters by the hub (stage/code, this worker)</h2><p>{hub}</p>"
            f"<h2>Audit trail</h2>{cp}"
        ),
    )


def query(filters: Mapping[str, str]) -> str:
    return urlencode({k: v for k, v in filters.items() if v})
