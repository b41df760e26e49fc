"""The edge's command decisions: the actor is the authenticated subject, the policy decides,
and a signature needs the version it signs and a recent authentication. Refusals (403, 401,
409) come with the command to record; the case desk rejects such a command with the same code."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from hub.auth.authority import load_authority
from hub.auth.gate import Gate, Prepared, Refused
from hub.auth.signatures import Sealer, SignatureMeaning
from hub.auth.tokens import Principal, TokenVerifier
from hub.auth.verify import verify_signature
from hub.canonical import digest
from hub.cases.commands import (
    CaseAction,
    CommandApplied,
    CommandError,
    CommandRejected,
    apply_command,
)
from hub.settings import Settings
from tests.unit.auth.cases import T0, case_of

pytestmark = pytest.mark.req(
    "REQ-P11-AUTH", "REQ-P11-ROLES", "REQ-P11-ESIG", "REQ-ALCOA-ATTRIBUTABLE"
)

NOW = T0 + timedelta(hours=2)
SEALER = Sealer(bytes(range(32)))
CRITICAL_IDENTITY = case_of("COI_MISMATCH_RECEIPT")
HIGH = case_of("CUSTOMS_HOLD")


@pytest.fixture
def gate(tmp_path: Path) -> Gate:
    settings = Settings(env="dev", dev_idp_dir=tmp_path)
    return Gate(
        TokenVerifier.from_settings(settings),
        load_authority(settings.authority_policy_file),
        SEALER,
        reauth_within=timedelta(minutes=5),
        clock=lambda: NOW,
    )


def person(
    subject: str, *roles: str, auth_min_ago: float = 1.0, name: str | None = "N"
) -> Principal:
    return Principal(subject, frozenset(roles), name, NOW - timedelta(minutes=auth_min_ago))


def prepared(outcome: Prepared | Refused) -> Prepared:
    assert isinstance(outcome, Prepared), outcome
    return outcome


def test_the_actor_is_the_authenticated_subject(gate) -> None:
    out = prepared(gate.command(person("op-olga", "operator"), HIGH, CaseAction.ACKNOWLEDGE, {}))
    assert out.refused is None
    cmd = out.command
    assert (cmd.actor, cmd.roles, cmd.at, cmd.signature) == ("op-olga", ["operator"], NOW, None)
    result = apply_command(HIGH, cmd)
    assert isinstance(result, CommandApplied)
    assert result.case.acknowledged_by == "op-olga"
    assert result.note.roles == ["operator"]


def test_a_body_naming_another_actor_is_refused(gate) -> None:
    olga = person("op-olga", "operator")
    refused = gate.command(olga, HIGH, CaseAction.ACKNOWLEDGE, {"actor": "qp-anna"})
    assert isinstance(refused, Refused)
    assert (refused.status, refused.error) == (400, "bad_command")
    assert "authenticated subject (op-olga)" in refused.reason
    same = gate.command(olga, HIGH, CaseAction.ACKNOWLEDGE, {"actor": "op-olga"})
    assert prepared(same).command.actor == "op-olga"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"reason": 7}, "'reason' must be a string"),
        ({"version": "1"}, "'version' must be an integer"),
        ({"version": True}, "'version' must be an integer"),
        ({"command_id": ["x"]}, "'command_id' must be a string"),
    ],
)
def test_malformed_fields_are_400(gate, body, message) -> None:
    refused = gate.command(person("op-olga", "operator"), HIGH, CaseAction.COMMENT, body)
    assert isinstance(refused, Refused)
    assert refused.status == 400
    assert refused.reason.startswith(message)


def test_an_operator_may_not_resolve_a_critical_identity_case(gate) -> None:
    olga = person("op-olga", "operator")
    out = prepared(gate.command(olga, CRITICAL_IDENTITY, CaseAction.RESOLVE, {"reason": "ok"}))
    assert out.refused is not None
    assert (out.refused.status, out.refused.error) == (403, "forbidden")
    assert out.refused.rule == "critical-release-or-identity-resolve"
    body = out.refused.body()
    assert body["allowed_roles"] == ["qualified-person"]
    assert body["your_roles"] == ["operator"]
    assert body["recorded"] is True
    assert body["command_id"] == out.command.command_id
    # the queued command carries the refusal; the desk records it as a rejection, unapplied
    assert out.command.refusal is not None
    rejected = apply_command(CRITICAL_IDENTITY, out.command)
    assert isinstance(rejected, CommandRejected)
    assert (rejected.error, rejected.actor) == (CommandError.NOT_AUTHORISED, "op-olga")
    assert "critical-release-or-identity-resolve" in rejected.message


def test_a_qualified_person_signs_the_version_she_names(gate) -> None:
    anna = person("qp-anna", "qualified-person", name="Anna Berg")
    body = {"reason": "scan error, re-verified by two persons", "version": 1}
    cmd = prepared(gate.command(anna, CRITICAL_IDENTITY, CaseAction.RESOLVE, body)).command
    sig = cmd.signature
    assert sig is not None
    assert (sig.signer, sig.name, sig.meaning) == (
        "qp-anna",
        "Anna Berg",
        SignatureMeaning.RESPONSIBILITY,
    )
    assert (sig.signed_at, sig.auth_time) == (NOW, NOW - timedelta(minutes=1))
    assert (sig.case_id, sig.case_version) == (CRITICAL_IDENTITY.case_id, 1)
    assert sig.case_digest == digest(CRITICAL_IDENTITY)
    assert verify_signature(sig, CRITICAL_IDENTITY, SEALER.public_key) == []
    applied = apply_command(CRITICAL_IDENTITY, cmd)
    assert isinstance(applied, CommandApplied)
    assert applied.case.signatures == [sig]
    assert applied.note.signature == sig


def test_a_signature_needs_a_recent_authentication(gate) -> None:
    anna = person("qp-anna", "qualified-person", auth_min_ago=6)
    body = {"reason": "r", "version": 1}
    out = prepared(gate.command(anna, CRITICAL_IDENTITY, CaseAction.RESOLVE, body))
    assert out.refused is not None
    assert (out.refused.status, out.refused.error) == (401, "reauthenticate")
    assert out.refused.body()["max_age_s"] == 300
    challenge = out.refused.headers()["WWW-Authenticate"]
    assert 'error="insufficient_user_authentication"' in challenge
    assert 'max_age="300"' in challenge
    assert out.command.signature is None
    rejected = apply_command(CRITICAL_IDENTITY, out.command)
    assert isinstance(rejected, CommandRejected)
    assert rejected.error is CommandError.REAUTHENTICATION_REQUIRED
    never = Principal("qp-anna", frozenset({"qualified-person"}), "Anna", None)
    refused = prepared(gate.command(never, CRITICAL_IDENTITY, CaseAction.RESOLVE, body)).refused
    assert refused is not None
    assert refused.error == "reauthenticate"


def test_signing_a_stale_version_is_409(gate) -> None:
    newer = CRITICAL_IDENTITY.model_copy(update={"version": 2})
    anna = person("qp-anna", "qualified-person")
    out = prepared(gate.command(anna, newer, CaseAction.RESOLVE, {"reason": "r", "version": 1}))
    assert out.refused is not None
    assert (out.refused.status, out.refused.error) == (409, "stale_version")
    assert out.refused.body()["version"] == 2
    rejected = apply_command(newer, out.command)
    assert isinstance(rejected, CommandRejected)
    assert rejected.error is CommandError.STALE_VERSION


def test_a_signature_must_name_its_version_and_keep_its_meaning(gate) -> None:
    anna = person("qp-anna", "qualified-person")
    missing = gate.command(anna, CRITICAL_IDENTITY, CaseAction.RESOLVE, {"reason": "r"})
    assert isinstance(missing, Refused)
    assert missing.status == 400
    assert "name the case version you sign" in missing.reason
    other = gate.command(
        anna,
        CRITICAL_IDENTITY,
        CaseAction.RESOLVE,
        {"reason": "r", "version": 1, "meaning": "review"},
    )
    assert isinstance(other, Refused)
    assert other.status == 400
    assert "RESPONSIBILITY" in other.reason


def test_a_signature_shows_a_printed_name(gate) -> None:
    nameless = person("qp-anna", "qualified-person", name=None)
    out = prepared(
        gate.command(nameless, CRITICAL_IDENTITY, CaseAction.RESOLVE, {"reason": "r", "version": 1})
    )
    assert out.refused is not None
    assert (out.refused.status, out.refused.rule) == (403, "signature.printed-name")


def test_an_unsigned_command_may_still_name_its_version(gate) -> None:
    olga = person("op-olga", "operator")
    stale = gate.command(
        olga, HIGH.model_copy(update={"version": 3}), CaseAction.ACKNOWLEDGE, {"version": 2}
    )
    assert prepared(stale).refused is not None
    fresh = gate.command(olga, HIGH, CaseAction.ACKNOWLEDGE, {"version": 1})
    assert prepared(fresh).refused is None


def test_reads_and_ingest_need_a_token(gate) -> None:
    assert gate.admit(None, "health") is None  # open by default
    assert gate.admit(None, "metrics") is None
    for resource in ("cases", "chains", "commands", "ingest"):
        refused = gate.admit(None, resource, "courier")
        assert isinstance(refused, Refused)
        assert refused.status == 401
        assert refused.headers() == {"WWW-Authenticate": 'Bearer realm="v2v-hub"'}
    bad = gate.admit("Bearer not.a.token", "cases")
    assert isinstance(bad, Refused)
    assert 'error="invalid_token"' in bad.headers()["WWW-Authenticate"]
    closed = Gate(gate.verifier, gate.policy, SEALER, open_health=False, open_metrics=False)
    assert isinstance(closed.admit(None, "health"), Refused)
    assert isinstance(closed.admit(None, "metrics"), Refused)
