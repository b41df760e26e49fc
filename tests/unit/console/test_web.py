"""The console's HTTP edge on an aiohttp server with the real gate and development identity
provider: sign-in, the session cookie, CSRF refusals, 401 and 403 paths, and commands whose
actor is the token's subject (never a form field), signed after a re-authentication."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hub.auth.devidp import DevIdentityProvider
from hub.auth.gate import Gate
from hub.auth.http import auth_middleware
from hub.cases.commands import CaseCommand
from hub.cases.escalation import load_policy
from hub.console.session import COOKIE, CsrfKey
from hub.console.web import ROUTES, Console, _safe_next, session_middleware
from hub.runtime.submit import acknowledged_queue
from hub.settings import REPO_ROOT, Settings
from tests.unit.auth.cases import case_of

pytestmark = pytest.mark.req("REQ-P11-AUTH", "REQ-P11-ROLES", "REQ-P11-ESIG")

POLICY = load_policy(REPO_ROOT / "hub" / "cases" / "escalation_policy.yaml")
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
HIGH = case_of("CUSTOMS_HOLD").model_dump(mode="json")
RELEASE = case_of("TEMP_EXCURSION_FRESH", subject="s2").model_dump(mode="json")


class Sources:
    """The read model as the console sees it, in memory."""

    core = None

    def __init__(self, *cases: dict[str, Any]) -> None:
        self.by_id = {c["case_id"]: c for c in cases}

    async def case(self, case_id: str) -> dict[str, Any] | None:
        return self.by_id.get(case_id)

    async def cases(self, status: str) -> list[dict[str, Any]]:
        return list(self.by_id.values())

    async def where(self, cases: list[dict[str, Any]]) -> dict[str, Any]:
        return {}

    async def chain(self, coi: str) -> None:
        return None

    async def trail(self, coi: str) -> tuple[list[Any], int]:
        return [], 0

    async def open_versions(self) -> list[tuple[str, Any]]:
        return sorted((cid, c["version"]) for cid, c in self.by_id.items())

    async def partner_rows(self) -> list[Any]:
        return []

    async def checkpoint(self) -> None:
        return None

    def hub_dead_letters(self) -> dict[str, float]:
        return {}


class Topic:
    """Stands in for ``v2v.commands``: keeps what was sent, acknowledged at once."""

    def __init__(self) -> None:
        self.sent: list[CaseCommand] = []

    async def send(self, key: bytes, value: CaseCommand) -> asyncio.Future[None]:
        self.sent.append(value)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class Identity:
    @staticmethod
    def encode(command: CaseCommand) -> CaseCommand:
        return command


class Hub:
    def __init__(self, tmp_path: Path) -> None:
        settings = Settings(env="dev", dev_idp_dir=tmp_path / "idp")
        self.idp = DevIdentityProvider(settings).ensure()
        self.gate = Gate.from_settings(settings)
        self.csrf = CsrfKey(b"k" * 32)
        self.topic = Topic()
        self.console = Console(
            gate=self.gate,
            sources=Sources(HIGH, RELEASE),  # type: ignore[arg-type]
            queue=acknowledged_queue(self.topic, 5.0),
            wire=Identity(),
            escalation=POLICY,
            csrf=self.csrf,
            dev_idp=self.idp,
            clock=lambda: NOW,
        )

    def app(self) -> web.Application:
        app = web.Application(
            middlewares=[session_middleware(self.csrf), auth_middleware(self.gate, ROUTES)]
        )
        self.console.mount(app.router)
        return app

    def token(self, user: str, *roles: str, **kw: Any) -> str:
        return self.idp.mint(user, list(roles), name=kw.get("name", user), **kw.get("mint", {}))

    def run(self, test: Callable[[TestClient[Any, Any]], Awaitable[None]]) -> None:
        async def go() -> None:
            async with TestClient(TestServer(self.app())) as client:
                await test(client)

        asyncio.run(go())


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    return Hub(tmp_path)


def cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={token}"}


def test_no_or_expired_session_goes_to_sign_in(hub: Hub) -> None:
    expired = hub.idp.mint("op-olga", ["operator"], minutes=-5)

    async def test(client: TestClient[Any, Any]) -> None:
        for headers in ({}, cookie(expired), cookie("not-a-jwt")):
            r = await client.get("/console/cases/x", headers=headers, allow_redirects=False)
            assert r.status == 303
            assert r.headers["Location"] == "/console/login?next=%2Fconsole%2Fcases%2Fx"
        htmx = await client.get("/console/queue", headers={"HX-Request": "true"})
        assert htmx.headers["HX-Redirect"].startswith("/console/login")
        signin = await client.get("/console/login")
        assert signin.status == 200
        assert "Development sign-in" in await signin.text()
        static = await client.get("/console/static/console.js")
        assert static.status == 200  # scripts and styles need no session

    hub.run(test)


def test_roles_that_may_not_read_are_refused(hub: Hub) -> None:
    partner = hub.token("courier-gw", "partner:courier")
    qa, operator = hub.token("qa-quinn", "qa"), hub.token("op-olga", "operator")

    async def test(client: TestClient[Any, Any]) -> None:
        r = await client.get("/console", headers=cookie(partner))
        assert r.status == 403
        assert "read.cases" in await r.text()
        r = await client.get("/console/partners", headers=cookie(qa))
        assert r.status == 403
        assert "read.health" in await r.text()
        r = await client.get("/console/partners", headers=cookie(operator))
        assert r.status == 200
        queue = await client.get("/console", headers=cookie(operator))
        assert queue.status == 200
        text = await queue.text()
        assert "CUSTOMS_HOLD" in text
        assert 'id="count-critical">0<' in text
        assert queue.headers["Content-Security-Policy"].startswith("default-src 'self'")

    hub.run(test)


def test_a_post_without_the_sessions_csrf_token_is_refused(hub: Hub) -> None:
    olga = hub.token("op-olga", "operator")
    other = hub.token("op-otto", "operator")
    url = f"/console/cases/{HIGH['case_id']}/comment"

    async def test(client: TestClient[Any, Any]) -> None:
        for form in (
            {"reason": "x"},
            {"reason": "x", "csrf": "0" * 64},
            {"reason": "x", "csrf": hub.csrf.token(other)},  # another session's token
        ):
            r = await client.post(url, data=form, headers=cookie(olga))
            assert r.status == 403
            assert "CSRF" in await r.text()
        assert hub.topic.sent == []
        header = await client.post(
            url,
            data={"reason": "x"},
            headers={**cookie(olga), "X-CSRF-Token": hub.csrf.token(olga)},
        )
        assert header.status == 202
        assert len(hub.topic.sent) == 1

    hub.run(test)


def test_the_actor_is_the_tokens_subject_never_a_form_field(hub: Hub) -> None:
    olga = hub.token("op-olga", "operator")

    async def test(client: TestClient[Any, Any]) -> None:
        r = await client.post(
            f"/console/cases/{HIGH['case_id']}/comment",
            data={"reason": "called the courier", "actor": "mallory", "csrf": hub.csrf.token(olga)},
            headers={**cookie(olga), "HX-Request": "true"},
        )
        assert r.status == 200  # htmx swaps the outcome fragment
        assert 'data-status="202"' in await r.text()
        (cmd,) = hub.topic.sent
        assert (cmd.actor, cmd.reason, cmd.roles) == ("op-olga", "called the courier", ["operator"])

    hub.run(test)


def test_a_signature_needs_a_fresh_sign_in_by_the_same_person(hub: Hub) -> None:
    stale = hub.token("qa-quinn", "qa", mint={"auth_age": timedelta(minutes=30)})
    url = f"/console/cases/{RELEASE['case_id']}/ack"
    form = {"reason": "series reviewed", "version": "1", "csrf": hub.csrf.token(stale)}

    async def test(client: TestClient[Any, Any]) -> None:
        r = await client.post(url, data=form, headers=cookie(stale))
        assert r.status == 401
        assert "sign in again" in await r.text()
        (refused,) = hub.topic.sent  # queued to be recorded as refused
        assert refused.refusal is not None
        assert refused.refusal.code.value == "REAUTHENTICATION_REQUIRED"

        r = await client.post(url, data={**form, "reauth_user": "qa-other"}, headers=cookie(stale))
        assert r.status == 401
        assert len(hub.topic.sent) == 1  # someone else's sign-in is not sent at all

        r = await client.post(url, data={**form, "reauth_user": "qa-quinn"}, headers=cookie(stale))
        assert r.status == 202
        signed = hub.topic.sent[-1]
        assert signed.signature is not None
        assert (signed.signature.signer, signed.signature.meaning.value) == ("qa-quinn", "REVIEW")
        assert signed.signature.case_version == 1
        fresh = r.cookies[COOKIE].value  # the fresh token is the session now
        assert r.headers["HX-Trigger"] == f'{{"v2v-csrf": "{hub.csrf.token(fresh)}"}}'
        client.session.cookie_jar.clear()
        r = await client.post(url, data={**form, "version": "x"}, headers=cookie(stale))
        assert r.status == 400

    hub.run(test)


async def signin_csrf(client: TestClient[Any, Any]) -> str:
    """Open the sign-in page (its nonce cookie stays in the client's jar); the form's token."""
    page = await (await client.get("/console/login")).text()
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
    assert found is not None
    return found.group(1)


def test_sign_in_sets_an_http_only_strict_cookie(hub: Hub) -> None:
    async def test(client: TestClient[Any, Any]) -> None:
        form = {"mode": "dev", "user": "qa-quinn", "role": "qa", "next": "https://evil.example/"}
        forged = await client.post("/console/login", data=form, allow_redirects=False)
        assert forged.status == 400  # no sign-in page was opened: another site's form
        assert COOKIE not in forged.cookies
        csrf = await signin_csrf(client)
        r = await client.post("/console/login", data={**form, "csrf": csrf}, allow_redirects=False)
        assert r.status == 303
        assert r.headers["Location"] == "/console"
        set_cookie = r.cookies[COOKIE].OutputString()
        assert "HttpOnly" in set_cookie
        assert "SameSite=Strict" in set_cookie
        assert "Path=/console" in set_cookie
        csrf = await signin_csrf(client)
        bad = await client.post(
            "/console/login", data={"mode": "token", "token": "abc.def.ghi", "csrf": csrf}
        )
        assert bad.status == 400
        assert "the token is refused" in await bad.text()
        csrf = await signin_csrf(client)
        role = await client.post(
            "/console/login", data={"mode": "dev", "user": "x", "role": "root", "csrf": csrf}
        )
        assert role.status == 400

    hub.run(test)


def test_only_console_paths_are_followed_after_sign_in() -> None:
    assert _safe_next("/console/cases/a?b=1") == "/console/cases/a?b=1"
    assert _safe_next("//evil.example/console") == "/console"
    assert _safe_next("https://evil.example/console") == "/console"
    assert _safe_next("/cases") == "/console"
    assert _safe_next(None) == "/console"


def test_the_stream_tells_the_page_of_a_new_version(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hub.console.web.STREAM_POLL_S", 0.05)
    olga = hub.token("op-olga", "operator")
    sources = hub.console.sources

    async def test(client: TestClient[Any, Any]) -> None:
        refused = await client.get(f"/console/stream?case={HIGH['case_id']}")
        assert refused.status == 401  # the stream is behind the gate too
        r = await client.get(f"/console/stream?case={HIGH['case_id']}", headers=cookie(olga))
        assert r.headers["Content-Type"] == "text/event-stream"
        assert await r.content.readline() == b": connected\n"
        sources.by_id[HIGH["case_id"]] = {**HIGH, "version": 2}  # type: ignore[attr-defined]
        lines = []
        while not lines or lines[-1] != b"\n" or len(lines) < 3:
            lines.append(await asyncio.wait_for(r.content.readline(), 5))
        assert b"event: case\n" in lines
        assert b'data: "2"\n' in lines
        r.close()

        queue = await client.get("/console/stream", headers=cookie(olga))
        assert await queue.content.readline() == b": connected\n"
        sources.by_id["new"] = {**HIGH, "case_id": "new"}  # type: ignore[attr-defined]
        seen = b""
        while b"event: queue\n" not in seen:
            seen += await asyncio.wait_for(queue.content.readline(), 5)
        queue.close()

    hub.run(test)
