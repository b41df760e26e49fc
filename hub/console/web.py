"""The console on the worker's web server (aiohttp, behind the same gate as the JSON API).

:func:`session_middleware` goes in front of the gate's middleware: for a ``/console`` route it
turns the session cookie into the ``Authorization`` header the gate verifies (on every
request), refuses a POST without the session's CSRF token, and turns the gate's 401 into the
sign-in page. The sign-in page and the static files are the only console routes served without
a token. :data:`ROUTES` names each console route's resource for the gate, like
:data:`hub.runtime.views.ROUTES`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware
from multidict import CIMultiDict
from pydantic import ValidationError

from hub.auth.devidp import DevIdentityProvider
from hub.auth.gate import Gate, Refused
from hub.auth.http import PRINCIPAL
from hub.auth.tokens import Principal
from hub.cases.escalation import EscalationPolicy
from hub.chain.findings import Severity
from hub.console import pages
from hub.console.chainview import (
    CaseHistory,
    build_chain_view,
    case_history,
    latest_at,
)
from hub.console.queue import FILTERS, build_queue, sla_clock
from hub.console.session import (
    COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    LOGIN_COOKIE,
    CsrfKey,
    cookie_options,
)
from hub.console.sources import Sources
from hub.runtime.submit import ACTIONS, Queue, case_of, submit

log = logging.getLogger("v2v.console")

STATIC = Path(__file__).parent / "static"
OPEN_ROUTES = frozenset({"/console/login", "/console/logout", "/console/static"})
"""Served without a token: the sign-in form, signing out, scripts and styles."""
ROUTES = {
    "/console": "cases",
    "/console/queue": "cases",
    "/console/stream": "cases",
    "/console/cases/{case_id}": "cases",
    "/console/cases/{case_id}/body": "cases",
    "/console/cases/{case_id}/{action}": "commands",
    "/console/chains/{coi_id}": "chains",
    "/console/partners": "cases",  # and the policy's read.health, checked by the view
}
"""Each console route's resource for the gate (the open routes are not listed: the session
middleware serves them)."""
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
CONSOLE_ACTIONS = ("ack", "assign", "comment", "resolve")
STREAM_POLL_S = 1.0
STREAM_REVERIFY_S = 30.0


def _now() -> datetime:
    return datetime.now(UTC)


def _template(request: web.Request) -> str | None:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else None


def _is_htmx(request: web.Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _safe_next(value: str | None) -> str:
    """Only a path inside the console (never another site) to go to after signing in."""
    if not value:
        return "/console"
    parsed = urlparse(value)
    if parsed.scheme or parsed.netloc or not parsed.path.startswith("/console"):
        return "/console"
    return value


def session_middleware(csrf: CsrfKey) -> Middleware:
    @web.middleware
    async def console_session(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/console"):
            return await handler(request)
        template = _template(request)
        if template in OPEN_ROUTES:
            # before the gate: these show nothing of the hub's data
            return await request.match_info.handler(request)
        token = request.cookies.get(COOKIE)
        from_cookie = bool(token) and hdrs.AUTHORIZATION not in request.headers
        if from_cookie:
            headers = CIMultiDict(request.headers)
            headers[hdrs.AUTHORIZATION] = f"Bearer {token}"
            request = request.clone(headers=headers)
        if request.method == "POST" and from_cookie:
            supplied = request.headers.get(CSRF_HEADER)
            if supplied is None:
                form = await request.post()
                value = form.get(CSRF_FIELD)
                supplied = value if isinstance(value, str) else None
            if not csrf.check(token, supplied):
                log.warning("refused POST %s: missing or wrong CSRF token", template)
                return _html(
                    pages.message_page(
                        pages.Page("Refused", None, None),
                        "the form lacks this session's CSRF token: reload the page and repeat",
                        "403 forbidden",
                    ),
                    403,
                )
        response = await handler(request)
        if response.status == 401 and request.method == "GET" and template != "/console/stream":
            target = "/console/login?next=" + quote(request.path_qs, safe="")
            if _is_htmx(request):
                return web.Response(status=200, headers={"HX-Redirect": target})
            return _see_other(target)
        if (
            response.status == 403
            and request.method == "GET"
            and isinstance(response, web.Response)
            and response.content_type == "application/json"  # the gate's refusal
        ):
            reason = _reason(response)
            return _html(
                pages.message_page(pages.Page("Not allowed", None, None), reason, "403 forbidden"),
                403,
            )
        return response

    return console_session


def _reason(response: web.Response) -> str:
    try:
        body = json.loads(response.text or "{}")
    except ValueError:
        return "not allowed"
    if not isinstance(body, dict):
        return "not allowed"
    roles = ", ".join(body.get("allowed_roles") or [])
    return f"{body.get('reason', 'not allowed')} (rule {body.get('rule')}; allowed: {roles})"


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


def _html(text: str, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        text=text,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={**SECURITY_HEADERS, **(headers or {})},
    )


@dataclass
class Console:
    """The console's views, mounted by :meth:`mount` on the worker's aiohttp application."""

    gate: Gate
    sources: Sources
    queue: Queue
    wire: Any
    escalation: EscalationPolicy
    csrf: CsrfKey
    dev_idp: DevIdentityProvider | None
    clock: Callable[[], datetime] = _now

    def mount(self, router: web.UrlDispatcher) -> None:
        router.add_static("/console/static", STATIC, append_version=False)
        router.add_get("/console/login", self.login_form)
        router.add_post("/console/login", self.login)
        router.add_post("/console/logout", self.logout)
        router.add_get("/console", self.queue_page)
        router.add_get("/console/queue", self.queue_fragment)
        router.add_get("/console/stream", self.stream)
        router.add_get("/console/cases/{case_id}", self.case_page)
        router.add_get("/console/cases/{case_id}/body", self.case_body)
        router.add_post("/console/cases/{case_id}/{action}", self.command)
        router.add_get("/console/chains/{coi_id}", self.chain_page)
        router.add_get("/console/partners", self.partners_page)

    # --- sessions ---------------------------------------------------------------------------

    def page(self, request: web.Request, title: str) -> pages.Page:
        principal = request.get(PRINCIPAL)
        token = request.cookies.get(COOKIE)
        csrf = self.csrf.token(token) if token else None
        return pages.Page(title, principal, csrf, self.dev_idp is not None)

    async def login_form(self, request: web.Request, message: str | None = None) -> web.Response:
        """The sign-in page; a nonce in a cookie and in the forms, so another site cannot sign
        a browser in under its own identity (login CSRF)."""
        nonce = secrets.token_urlsafe(24)
        page = pages.Page("Sign in", None, self.csrf.token(nonce), self.dev_idp is not None)
        next_url = _safe_next(request.query.get("next"))
        response = _html(pages.signin(page, self.gate.policy.roles, next_url, message))
        response.set_cookie(LOGIN_COOKIE, nonce, **cookie_options(request.secure))  # type: ignore[arg-type]
        return response

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        supplied = form.get(CSRF_FIELD)
        nonce = request.cookies.get(LOGIN_COOKIE)
        if not self.csrf.check(nonce, supplied if isinstance(supplied, str) else None):
            return await self._refuse_login(request, "the sign-in form expired: sign in again")
        mode, next_url = str(form.get("mode", "")), _safe_next(str(form.get("next", "")))
        if mode == "dev" and self.dev_idp is not None:
            user, role = str(form.get("user", "")).strip(), str(form.get("role", "")).strip()
            name = str(form.get("name", "")).strip() or user
            if not user or role not in self.gate.policy.roles:
                return await self._refuse_login(request, "give a user id and one of the roles")
            token = await asyncio.to_thread(self.dev_idp.mint, user, [role], name=name)
        elif mode == "token":
            token = str(form.get("token", "")).strip().removeprefix("Bearer ").strip()
        else:
            return await self._refuse_login(request, "unknown sign-in")
        outcome = await asyncio.to_thread(self.gate.authenticate, f"Bearer {token}")
        if isinstance(outcome, Refused):
            return await self._refuse_login(request, f"the token is refused: {outcome.reason}")
        log.info("console sign-in by %s", outcome.subject)
        response = _see_other(next_url)
        response.set_cookie(COOKIE, token, **cookie_options(request.secure))  # type: ignore[arg-type]
        response.del_cookie(LOGIN_COOKIE, path="/console")
        return response

    async def _refuse_login(self, request: web.Request, message: str) -> web.Response:
        response = await self.login_form(request, message)
        response.set_status(400)
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        response = _see_other("/console/login")
        response.del_cookie(COOKIE, path="/console")
        return response

    # --- queue ------------------------------------------------------------------------------

    async def _queue(self, request: web.Request) -> tuple[Any, dict[str, str]]:
        filters = {name: request.query.get(name, "") for name in FILTERS}
        status = "ALL" if filters["status"] and filters["status"] != "open" else "OPEN"
        cases = await self.sources.cases(status)
        where = await self.sources.where(cases)
        return build_queue(cases, where, self.escalation, filters, self.clock()), filters

    async def queue_page(self, request: web.Request) -> web.Response:
        queue, filters = await self._queue(request)
        page = self.page(request, "Case queue")
        return _html(pages.queue_page(page, queue, filters, self.clock()))

    async def queue_fragment(self, request: web.Request) -> web.Response:
        queue, _ = await self._queue(request)
        return _html(pages.queue_fragment(queue, self.clock()))

    # --- case -------------------------------------------------------------------------------

    async def _case_body(self, case: Mapping[str, Any], retry: int = 0) -> str:
        chain = await self.sources.chain(str(case["coi_id"]))
        history: CaseHistory | None = None
        records, _bad = await self.sources.trail(str(case["coi_id"]))
        if records:
            history = case_history(
                records, str(case["case_id"]), case.get("evidence_event_ids") or []
            )
        now = self.clock()
        clock = sla_clock(case, self.escalation, now)
        return pages.case_body(case, chain, history, clock, now, retry)

    async def case_page(self, request: web.Request) -> web.Response:
        case_id = request.match_info["case_id"]
        case = await self.sources.case(case_id)
        page = self.page(request, f"Case {case_id}")
        if case is None:
            return _html(pages.message_page(page, f"no case {case_id}", "404 not found"), 404)
        principal: Principal = request[PRINCIPAL]
        try:
            severity = Severity(str(case.get("severity")))
        except ValueError:
            severity = Severity.LOW
        choices = [
            pages.ActionChoice(
                a,
                self.gate.policy.command(principal.roles, ACTIONS[a], severity, str(case["code"])),
            )
            for a in CONSOLE_ACTIONS
        ]
        body = await self._case_body(case)
        page = self.page(request, f"{case.get('code')} on {case.get('coi_id')}")
        return _html(pages.case_page(page, case, body, choices, self.dev_idp is not None))

    async def case_body(self, request: web.Request) -> web.Response:
        case = await self.sources.case(request.match_info["case_id"])
        if case is None:
            return _html("<p>No such case.</p>", 404)
        retry = request.query.get("retry", "0")
        return _html(await self._case_body(case, int(retry) if retry.isdigit() else 0))

    async def command(self, request: web.Request) -> web.StreamResponse:
        """A command from the case page's forms, through the same path as the JSON API
        (:func:`hub.runtime.submit.submit`): the actor is the token's subject, never a form
        field. A signature's re-authentication (a fresh sign-in by the same person) replaces
        the session's token first."""
        case_id, action = request.match_info["case_id"], request.match_info["action"]
        page = self.page(request, "Command")
        if action not in CONSOLE_ACTIONS:
            return self._result(request, page, 404, {"error": f"unknown action {action!r}"})
        latest = await self.sources.case(case_id)
        if latest is None:
            return self._result(request, page, 404, {"error": f"no case {case_id}"})
        form = await request.post()
        principal: Principal = request[PRINCIPAL]
        fresh = await self._reauthenticate(principal, form)
        if isinstance(fresh, Refused):
            return self._result(request, page, fresh.status, fresh.body())
        body: dict[str, Any] = {}
        for name in ("reason", "assignee", "meaning"):
            value = str(form.get(name, "")).strip()
            if value:
                body[name] = value
        version = str(form.get("version", "")).strip()
        if version:
            if not version.isdigit():
                return self._result(request, page, 400, {"error": "version must be a number"})
            body["version"] = int(version)
        try:
            case = case_of(latest)
        except ValidationError as exc:
            return self._result(request, page, 400, {"error": f"bad case: {exc}"})
        who, token = fresh if fresh is not None else (principal, None)
        answer = await submit(
            self.gate,
            self.queue,
            self.wire,
            who,
            case,
            ACTIONS[action],
            body,
            "/console/cases/{case_id}/{action}",
        )
        response = self._result(request, page, answer.status, answer.body)
        if token is not None:
            response.set_cookie(COOKIE, token, **cookie_options(request.secure))  # type: ignore[arg-type]
            # a new session token, so a new CSRF token: console.js puts it in the page's forms
            response.headers["HX-Trigger"] = json.dumps({"v2v-csrf": self.csrf.token(token)})
        return response

    async def _reauthenticate(
        self, principal: Principal, form: Mapping[str, Any]
    ) -> tuple[Principal, str] | Refused | None:
        """The principal and token of a fresh sign-in given with the form (None: none given);
        only the signed-in person may re-authenticate."""
        user = str(form.get("reauth_user", "")).strip()
        pasted = str(form.get("reauth_token", "")).strip().removeprefix("Bearer ").strip()
        if user:
            if self.dev_idp is None:
                return Refused(400, "bad_command", "development re-authentication is off")
            if user != principal.subject:
                return Refused(
                    401, "reauthenticate", "re-authentication must be by the signed-in person"
                )
            token = await asyncio.to_thread(
                self.dev_idp.mint, user, sorted(principal.roles), name=principal.name
            )
        elif pasted:
            token = pasted
        else:
            return None
        fresh = await asyncio.to_thread(self.gate.authenticate, f"Bearer {token}")
        if isinstance(fresh, Refused):
            return fresh
        if fresh.subject != principal.subject:
            return Refused(
                401, "reauthenticate", "the fresh token names another person than the session"
            )
        return fresh, token

    def _result(
        self, request: web.Request, page: pages.Page, status: int, answer: Mapping[str, Any]
    ) -> web.Response:
        fragment = pages.command_result(status, answer)
        if _is_htmx(request):
            return _html(fragment)  # htmx swaps 2xx only: the outcome is in the fragment
        case_id = request.match_info.get("case_id", "")
        link = f'<p><a href="/console/cases/{quote(case_id)}">Back to the case</a></p>'
        return _html(pages.layout(page, fragment + link), status)

    # --- live updates -----------------------------------------------------------------------

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: ``case`` when the case named by ``?case=`` has a new version,
        else ``queue`` when an open case changed. Ends when the session's token no longer
        verifies (checked every 30 s)."""
        case_id = request.query.get("case")
        authorization = request.headers.get(hdrs.AUTHORIZATION)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        last: Any = None
        waited = 0.0
        try:
            while True:
                if case_id:
                    case = await self.sources.case(case_id)
                    seen: Any = case.get("version") if case else None
                    kind = "case"
                else:
                    seen = await self.sources.open_versions()
                    kind = "queue"
                if last is not None and seen != last:
                    await response.write(
                        f"event: {kind}\ndata: {json.dumps(str(seen))[:200]}\n\n".encode()
                    )
                elif last is None:
                    await response.write(b": connected\n\n")
                last = seen
                await asyncio.sleep(STREAM_POLL_S)
                waited += STREAM_POLL_S
                if waited >= STREAM_REVERIFY_S:
                    waited = 0.0
                    again = await asyncio.to_thread(self.gate.authenticate, authorization)
                    if isinstance(again, Refused):
                        await response.write(b"event: signed-out\ndata: {}\n\n")
                        break
        except ConnectionResetError:  # the page went away
            pass
        return response

    # --- chain ------------------------------------------------------------------------------

    async def chain_page(self, request: web.Request) -> web.Response:
        coi = request.match_info["coi_id"]
        page = self.page(request, f"Chain {coi}")
        records, _bad = await self.sources.trail(coi)
        if not records:
            return _html(pages.message_page(page, f"no audit records of chain {coi}", "404"), 404)
        latest = latest_at(records)
        assert latest is not None
        as_of = latest
        raw = request.query.get("as_of", "").strip()
        if raw:
            try:
                chosen = datetime.fromisoformat(raw)
            except ValueError:
                return _html(
                    pages.message_page(page, f"as_of {raw!r} is not a date and time", "400"), 400
                )
            as_of = chosen if chosen.tzinfo else chosen.replace(tzinfo=UTC)
        view = await asyncio.to_thread(build_chain_view, self.sources.core, coi, records, as_of)
        return _html(pages.chain_page(page, view, as_of, latest))

    # --- partners ---------------------------------------------------------------------------

    async def partners_page(self, request: web.Request) -> web.Response:
        principal: Principal = request[PRINCIPAL]
        decision = self.gate.policy.read_access(principal.roles, "health")
        page = self.page(request, "Partner health")
        if not decision.allowed:
            roles = ", ".join(decision.allowed_roles)
            text = f"{decision.message} (rule {decision.rule}; allowed: {roles})"
            return _html(pages.message_page(page, text, "403 forbidden"), 403)
        rows = await self.sources.partner_rows()
        checkpoint = await self.sources.checkpoint()
        return _html(
            pages.partners_page(
                page, rows, self.sources.hub_dead_letters(), checkpoint, self.clock()
            )
        )
