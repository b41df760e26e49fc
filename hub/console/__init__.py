"""The operations console: server-rendered pages on the worker's web server (docs/console.md).

The case queue with its SLA clocks, a case page to act on (with the electronic-signature
dialog), a chain's vein-to-vein page and the partners' health, behind the same gate as the JSON
API; the session is the bearer token in an HttpOnly cookie.
"""

from __future__ import annotations

from typing import Any

from hub.audit.keys import load_private
from hub.auth.devidp import DevIdentityProvider
from hub.auth.gate import Gate
from hub.console.session import CsrfKey
from hub.console.sources import Sources
from hub.console.web import ROUTES, Console, session_middleware
from hub.flow import FlowCore
from hub.metrics import Metrics
from hub.runtime.projection import Projection
from hub.runtime.submit import acknowledged_queue
from hub.settings import DEV_JWKS_FILE, Settings

__all__ = ["ROUTES", "CsrfKey", "mount", "session_middleware"]


def dev_signin(settings: Settings) -> DevIdentityProvider | None:
    """The development identity provider when the hub verifies its tokens (development mode
    without an organisation's provider configured), else None."""
    if settings.dev_mode and settings.jwks_source() == settings.dev_idp_dir / DEV_JWKS_FILE:
        return DevIdentityProvider(settings)
    return None


def mount(
    router: Any,
    settings: Settings,
    gate: Gate,
    csrf: CsrfKey,
    projection: Projection,
    core: FlowCore,
    metrics: Metrics,
    commands_topic: Any,
    wire: Any,
) -> Console:
    """Add the console's routes to the worker's aiohttp ``router``."""
    public = None
    if settings.audit_enabled and settings.audit_key_path.exists():
        public = load_private(settings.audit_key_path).public_key()
    console = Console(
        gate=gate,
        sources=Sources(settings, projection, core, metrics, public),
        queue=acknowledged_queue(commands_topic, settings.delivery_timeout_s),
        wire=wire,
        escalation=core.policy,
        csrf=csrf,
        dev_idp=dev_signin(settings),
    )
    console.mount(router)
    return console
