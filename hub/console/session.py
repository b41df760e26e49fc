"""The console's session: the bearer token in a cookie, and the CSRF token bound to it.

The browser keeps the token the person signed in with in an ``HttpOnly``, ``SameSite=Strict``
cookie (script cannot read it; other sites' pages do not send it). The gate verifies that token
on every request, exactly as it verifies an ``Authorization`` header. Because a cookie travels
by itself, every POST must also carry the CSRF token, an HMAC of the session's bearer token
under a key the worker draws at start: a page of another origin cannot read it, so it cannot
forge a command. A new sign-in (a new token) makes a new CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

COOKIE = "v2v_console"
LOGIN_COOKIE = "v2v_console_signin"
"""The sign-in form's nonce: its CSRF token is the form's ``csrf`` field."""
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"


class CsrfKey:
    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def token(self, bearer: str) -> str:
        return hmac.new(self._key, bearer.encode(), hashlib.sha256).hexdigest()

    def check(self, bearer: str | None, supplied: str | None) -> bool:
        """Whether ``supplied`` is the CSRF token of the session ``bearer``."""
        if not bearer or not supplied:
            return False
        return hmac.compare_digest(self.token(bearer), supplied)


def cookie_options(secure: bool) -> dict[str, object]:
    """The session cookie's attributes (``secure`` when the console is served over HTTPS)."""
    return {"httponly": True, "samesite": "Strict", "path": "/console", "secure": secure}
