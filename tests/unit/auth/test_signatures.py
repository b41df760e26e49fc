"""Sealed e-signatures verify against the version they sign, and fail when moved or altered."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.auth.signatures import ESignature, Sealer, SignatureMeaning
from hub.auth.verify import verify_case_history, verify_signature, verify_signed_version
from hub.canonical import digest
from hub.cases.commands import CaseAction, CaseCommand, CommandApplied, apply_command
from hub.cases.lifecycle import apply_findings
from hub.cases.models import Case
from hub.chain.findings import Finding, Severity
from tests.unit.auth.cases import T0, case_of

pytestmark = pytest.mark.req("REQ-P11-ESIG")

SEALER = Sealer(bytes(range(32)))
AT = T0 + timedelta(hours=1)


def signed_resolve(case: Case, sealer: Sealer = SEALER, reason: str = "re-verified") -> CaseCommand:
    sig = sealer.sign(
        signer="qp-anna", name="Anna Berg", meaning=SignatureMeaning.RESPONSIBILITY,
        signed_at=AT, auth_time=AT - timedelta(minutes=2), action="RESOLVE", reason=reason,
        case_id=case.case_id, case_version=case.version, case_digest=digest(case),
    )  # fmt: skip
    return CaseCommand(
        command_id="c1", case_id=case.case_id, action=CaseAction.RESOLVE, actor="qp-anna",
        at=AT, reason=reason, roles=["qualified-person"], signature=sig,
    )  # fmt: skip


def resolved(case: Case) -> tuple[Case, ESignature]:
    result = apply_command(case, signed_resolve(case))
    assert isinstance(result, CommandApplied)
    return result.case, result.case.signatures[-1]


def test_a_signed_version_verifies() -> None:
    v1 = case_of("COI_MISMATCH_RECEIPT")
    v2, sig = resolved(v1)
    assert verify_signature(sig, v1, SEALER.public_key) == []
    assert verify_signed_version(v2, v1, SEALER.public_key) == []
    assert (v2.resolved_by, v2.resolution, v2.version) == ("qp-anna", "re-verified", 2)


def test_a_signature_moved_to_another_record_fails() -> None:
    v1 = case_of("COI_MISMATCH_RECEIPT")
    _, sig = resolved(v1)
    other = case_of("COI_MISMATCH_RECEIPT", coi="COI2")
    assert "made for" in verify_signature(sig, other, SEALER.public_key)[0]
    # pasted onto the other case's next version, as if she had resolved that one
    forged = other.model_copy(
        update={
            "version": 2,
            "signatures": [sig],
            "resolved_by": "qp-anna",
            "resolved_at": AT,
            "resolution": "re-verified",
        }
    )
    problems = verify_signed_version(forged, other, SEALER.public_key)
    assert any("made for" in p for p in problems)
    assert any("belongs on" in p for p in problems)
    # or onto a later version of the same case
    comment = v1.model_copy(update={"version": 3, "signatures": [sig]})
    assert verify_signature(sig, v1.model_copy(update={"version": 2}), SEALER.public_key)
    assert verify_signed_version(comment, v1.model_copy(update={"version": 2}), SEALER.public_key)


def test_an_altered_signed_record_fails() -> None:
    v1 = case_of("COI_MISMATCH_RECEIPT")
    v2, sig = resolved(v1)
    altered = v1.model_copy(update={"summary": "nothing to see"})
    assert "altered" in verify_signature(sig, altered, SEALER.public_key)[0]
    assert verify_signed_version(v2, altered, SEALER.public_key)
    # the version that carries the signature records something it did not sign
    rewritten = v2.model_copy(update={"resolution": "no problem at all"})
    assert "records" in verify_signed_version(rewritten, v1, SEALER.public_key)[0]


def test_an_altered_signature_or_another_key_fails() -> None:
    v1 = case_of("COI_MISMATCH_RECEIPT")
    _, sig = resolved(v1)
    for change in ({"name": "Someone Else"}, {"meaning": SignatureMeaning.REVIEW},
                   {"signed_at": AT + timedelta(days=1)}):  # fmt: skip
        assert (
            "altered or forged"
            in verify_signature(sig.model_copy(update=change), v1, SEALER.public_key)[0]
        )
    stranger = Sealer(bytes(32))
    assert "verifying with" in verify_signature(sig, v1, stranger.public_key)[0]
    forged = signed_resolve(v1, sealer=stranger).signature
    assert forged is not None
    assert verify_signature(forged, v1, SEALER.public_key)


def test_the_desk_applies_a_signature_only_to_the_version_it_signs() -> None:
    v1 = case_of("COI_MISMATCH_RECEIPT")
    cmd = signed_resolve(v1)
    finding = Finding(code="COI_MISMATCH_RECEIPT", coi_id="COI1", subject="s1",
                      occurred_at=T0, summary="again", evidence_event_ids=["e2"])  # fmt: skip
    (v2,) = apply_findings({v1.case_id: v1}, [finding], T0)
    assert apply_command(v2, cmd).error.value == "STALE_VERSION"  # type: ignore[union-attr]
    tampered = v1.model_copy(update={"summary": "edited in the table"})
    assert apply_command(tampered, cmd).error.value == "SIGNATURE_MISMATCH"  # type: ignore[union-attr]
    other_reason = cmd.model_copy(update={"reason": "another reason"})
    assert apply_command(v1, other_reason).error.value == "SIGNATURE_MISMATCH"  # type: ignore[union-attr]


def test_a_case_history_verifies_and_a_later_version_keeps_its_signatures() -> None:
    v1 = case_of("COI_MISMATCH_RECEIPT")
    v2, _ = resolved(v1)
    note = CaseCommand(
        command_id="c2",
        case_id=v1.case_id,
        action=CaseAction.COMMENT,
        actor="qa-quinn",
        at=AT + timedelta(hours=1),
        reason="CAPA opened",
    )
    applied = apply_command(v2, note)
    assert isinstance(applied, CommandApplied)
    v3 = applied.case
    assert v3.signatures == v2.signatures
    assert verify_case_history([v3, v1, v2], SEALER.public_key) == []
    broken = [v1.model_copy(update={"severity": Severity.LOW}), v2, v3]
    assert verify_case_history(broken, SEALER.public_key)
    assert "predecessor is missing" in verify_case_history([v2, v3], SEALER.public_key)[0]
