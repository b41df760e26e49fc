"""The HTTP edge's decisions, one place for every surface (worker web, ingress).

* :meth:`Gate.admit` answers "may this request reach this resource at all": 401 without a valid
  bearer token, 403 when no role of the caller may read it (or post to that feed); ``/ready``,
  ``/healthz`` and ``/metrics`` are open when configured so.
* :meth:`Gate.command` turns a case command request into the :class:`CaseCommand` to queue: its
  actor is the authenticated subject (a body naming another actor is refused), and the authority
  policy decides who may give it. When the policy makes it an electronic signature, the request
  must name the case version it signs (stale: 409) and the signer must have authenticated within
  ``V2V_SIGNATURE_REAUTH_MINUTES`` (else 401 ``reauthenticate``); the hub then seals the
  signature, bound to that version's digest.

A command refused here (403, 401 ``reauthenticate``, 409) is still queued, carrying its
refusal: the case desk rejects it with the same code, so it becomes a ``COMMAND_REJECTED`` audit
record like every other refused command. Bad input (400) is only answered.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.auth.authority import AuthorityPolicy, Decision, load_authority
from hub.auth.devidp import DevIdentityProvider
from hub.auth.signatures import Sealer, SignatureMeaning
from hub.auth.tokens import Principal, TokenVerifier
from hub.canonical import digest
from hub.cases.commands import CaseAction, CaseCommand, CommandError, Refusal
from hub.cases.models import Case
from hub.errors import AuthenticationError, ConfigurationError
from hub.settings import DEV_JWKS_FILE, Settings

log = logging.getLogger("v2v.auth")

OPEN_RESOURCES = ("health", "metrics")
_STATUS = {
    CommandError.NOT_AUTHORISED: 403,
    CommandError.REAUTHENTICATION_REQUIRED: 401,
    CommandError.STALE_VERSION: 409,
}
_ERROR = {
    CommandError.NOT_AUTHORISED: "forbidden",
    CommandError.REAUTHENTICATION_REQUIRED: "reauthenticate",
    CommandError.STALE_VERSION: "stale_version",
}


@dataclass(frozen=True)
class Refused:
    """An HTTP refusal: status, a stable ``error`` word, the reason, the rule that refused;
    ``who`` (the subject, when authenticated) is for the log, never the answer."""

    status: int
    error: str
    reason: str
    rule: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    challenge: str | None = None
    who: str | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error, "reason": self.reason}
        if self.rule is not None:
            body["rule"] = self.rule
        return {**body, **self.extra}

    def headers(self) -> dict[str, str]:
        """``WWW-Authenticate`` for a 401 (RFC 6750; RFC 9470 for re-authentication)."""
        if self.status != 401:
            return {}
        return {"WWW-Authenticate": self.challenge or 'Bearer realm="v2v-hub"'}


@dataclass(frozen=True)
class Prepared:
    """The command to queue; ``refused`` when it is queued only to be recorded as refused."""

    command: CaseCommand
    refused: Refused | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _quoted(text: str) -> str:
    return text.replace("\\", "/").replace('"', "'")


class Gate:
    def __init__(
        self,
        verifier: TokenVerifier,
        policy: AuthorityPolicy,
        sealer: Sealer | None,
        *,
        reauth_within: timedelta = timedelta(minutes=5),
        open_health: bool = True,
        open_metrics: bool = True,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.verifier, self.policy, self.sealer = verifier, policy, sealer
        self.reauth_within, self.clock = reauth_within, clock
        self.open = {"health": open_health, "metrics": open_metrics}

    @classmethod
    def from_settings(
        cls, settings: Settings, clock: Callable[[], datetime] = _now, *, seals: bool = True
    ) -> Gate:
        """The gate of a deployment; in development mode the development identity provider's
        key set is published first, so the worker can verify its tokens from the start.
        ``seals=False``: a gate that verifies tokens but signs nothing (ingress), so it needs
        no seal key."""
        if settings.dev_mode and settings.jwks_source() == settings.dev_idp_dir / DEV_JWKS_FILE:
            DevIdentityProvider(settings).ensure()
        return cls(
            TokenVerifier.from_settings(settings),
            load_authority(settings.authority_policy_file),
            Sealer(settings.signature_seed()) if seals else None,
            reauth_within=timedelta(minutes=settings.signature_reauth_minutes),
            open_health=settings.auth_open_health,
            open_metrics=settings.auth_open_metrics,
            clock=clock,
        )

    # --- who is calling ---------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> Principal | Refused:
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return Refused(401, "unauthenticated", "send 'Authorization: Bearer <token>'")
        try:
            return self.verifier.verify(token.strip())
        except AuthenticationError as exc:
            challenge = (
                f'Bearer realm="v2v-hub", error="invalid_token", '
                f'error_description="{_quoted(str(exc))}"'
            )
            return Refused(401, "unauthenticated", str(exc), challenge=challenge)

    def is_open(self, resource: str) -> bool:
        """Whether ``resource`` answers without a token (health and metrics, by setting)."""
        return resource in OPEN_RESOURCES and self.open[resource]

    def admit(
        self, authorization: str | None, resource: str, partner: str | None = None
    ) -> Principal | Refused | None:
        """The caller, when it may reach ``resource`` (None: an open resource, nobody asked)."""
        if self.is_open(resource):
            return None
        principal = self.authenticate(authorization)
        if isinstance(principal, Refused):
            return principal
        if resource == "commands":  # who may give which command depends on the case
            return principal
        if resource == "ingest":
            decision = self.policy.ingest_access(principal.roles, partner or "")
        elif resource in ("cases", "chains", *OPEN_RESOURCES):
            decision = self.policy.read_access(principal.roles, resource)
        else:
            decision = Decision(False, "unlisted-route", (), "no rule gives access to this path")
        if not decision.allowed:
            return _forbidden(principal, decision)
        return principal

    # --- case commands --------------------------------------------------------------------------

    def command(
        self, principal: Principal, case: Case, action: CaseAction, body: Mapping[str, Any]
    ) -> Prepared | Refused:
        """The command ``principal`` gives on ``case`` (its latest version, as the caller saw
        it), or a 400 for a malformed request."""
        fields = _fields(body, principal)
        if isinstance(fields, Refused):
            return fields
        now = self.clock()
        command = CaseCommand(
            command_id=fields["command_id"] or uuid.uuid4().hex,
            case_id=case.case_id,
            action=action,
            actor=principal.subject,
            at=now,
            reason=fields["reason"],
            assignee=fields["assignee"],
            roles=sorted(principal.roles),
        )
        decision = self.policy.command(principal.roles, action, case.severity, case.code)
        if not decision.allowed:
            extra = {
                "allowed_roles": list(decision.allowed_roles),
                "your_roles": sorted(principal.roles),
            }
            return _refuse(
                command, CommandError.NOT_AUTHORISED, decision.rule, decision.message, extra
            )
        version, meaning = fields["version"], fields["meaning"]
        if decision.signature is not None:
            problem = _signature_request(decision.signature, meaning, version, case)
            if problem is not None:
                return problem
        if version is not None and version != case.version:
            return _refuse(
                command,
                CommandError.STALE_VERSION,
                "case-version",
                f"the command names version {version}; the case is at version {case.version}: "
                "review the current version first",
                {"version": case.version},
            )
        if decision.signature is None:
            return Prepared(command)
        return self._signed(command, principal, case, decision, now)

    def _signed(
        self,
        command: CaseCommand,
        principal: Principal,
        case: Case,
        decision: Decision,
        now: datetime,
    ) -> Prepared:
        assert decision.signature is not None
        minutes = self.reauth_within.total_seconds() / 60
        if principal.auth_time is None or now - principal.auth_time > self.reauth_within:
            when = principal.auth_time.isoformat() if principal.auth_time else "unknown"
            message = (
                f"an electronic signature needs an authentication within the last {minutes:g} "
                f"minutes (last: {when}): sign in again"
            )
            max_age = int(self.reauth_within.total_seconds())
            challenge = (
                'Bearer realm="v2v-hub", error="insufficient_user_authentication", '
                f'error_description="reauthenticate", max_age="{max_age}"'
            )
            return _refuse(
                command,
                CommandError.REAUTHENTICATION_REQUIRED,
                "signature.reauthentication",
                message,
                {"max_age_s": max_age, "auth_time": when},
                challenge,
            )
        if principal.name is None:
            return _refuse(
                command,
                CommandError.NOT_AUTHORISED,
                "signature.printed-name",
                "an electronic signature shows the signer's printed name; the token has none",
                {},
            )
        if self.sealer is None:
            raise ConfigurationError("this gate holds no seal key: it cannot sign commands")
        signature = self.sealer.sign(
            signer=principal.subject,
            name=principal.name,
            meaning=decision.signature,
            signed_at=now,
            auth_time=principal.auth_time,
            action=command.action.value,
            reason=command.reason,
            case_id=case.case_id,
            case_version=case.version,
            case_digest=digest(case),
        )
        return Prepared(command.model_copy(update={"signature": signature}))


def _forbidden(principal: Principal, decision: Decision) -> Refused:
    return Refused(
        403,
        "forbidden",
        decision.message,
        decision.rule,
        {"allowed_roles": list(decision.allowed_roles), "your_roles": sorted(principal.roles)},
        who=principal.subject,
    )


def _refuse(
    command: CaseCommand,
    code: CommandError,
    rule: str,
    message: str,
    extra: Mapping[str, Any],
    challenge: str | None = None,
) -> Prepared:
    refusal = Refusal(code=code, rule=rule, message=message)
    refused = Refused(
        _STATUS[code],
        _ERROR[code],
        message,
        rule,
        {**extra, "command_id": command.command_id, "recorded": True},
        challenge,
        command.actor,
    )
    return Prepared(command.model_copy(update={"refusal": refusal}), refused)


def _signature_request(
    required: SignatureMeaning, meaning: str | None, version: int | None, case: Case
) -> Refused | None:
    if meaning is not None and meaning.upper() != required.value:
        return Refused(
            400,
            "bad_command",
            f"this command is a signature meaning {required.value}, not {meaning}",
            extra={"meaning": required.value},
        )
    if version is None:
        return Refused(
            400,
            "bad_command",
            f"this command is an electronic signature ({required.value}): name the case version "
            f"you sign in 'version' (the case is at version {case.version})",
            extra={"version": case.version, "meaning": required.value},
        )
    return None


def _fields(body: Mapping[str, Any], principal: Principal) -> dict[str, Any] | Refused:
    def bad(reason: str) -> Refused:
        return Refused(400, "bad_command", reason)

    actor = body.get("actor")
    if actor is not None and actor != principal.subject:
        return bad(
            f"the actor of a command is the authenticated subject ({principal.subject}); "
            "a body may not name another"
        )
    out: dict[str, Any] = {}
    for name in ("command_id", "reason", "assignee", "meaning"):
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            return bad(f"'{name}' must be a string")
        out[name] = value
    version = body.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        return bad("'version' must be an integer (the case version the command is for)")
    out["version"] = version
    return out
