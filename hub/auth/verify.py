"""Verify electronic signatures against the case versions they sign (offline, pure).

Each function returns the problems it found, in words (empty: verified). A signature verifies
when its seal holds under the hub's public key, and the case version it names (id, version)
is the one given, unaltered (same digest). A signed case version verifies when it carries its
predecessor's signatures unchanged plus one new signature that signs the predecessor and
states what the version records (who acknowledged or resolved, when, and why).
"""

from __future__ import annotations

from collections.abc import Iterable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hub.auth.signatures import ESignature, seal_problems
from hub.canonical import digest
from hub.cases.commands import CaseAction
from hub.cases.models import Case


def verify_signature(sig: ESignature, signed: Case, public: Ed25519PublicKey) -> list[str]:
    """Does ``sig`` sign exactly ``signed``, sealed by the hub's key ``public``?"""
    problems = seal_problems(sig, public)
    if (sig.case_id, sig.case_version) != (signed.case_id, signed.version):
        problems.append(
            f"the signature was made for {sig.case_id} version {sig.case_version}, not for "
            f"{signed.case_id} version {signed.version}"
        )
    elif digest(signed) != sig.case_digest:
        problems.append(
            f"{signed.case_id} version {signed.version} is not the version signed (its digest "
            "differs: altered)"
        )
    return problems


def verify_signed_version(new: Case, previous: Case, public: Ed25519PublicKey) -> list[str]:
    """Does ``new`` carry one new, valid signature on ``previous``, and record what it states?"""
    if (
        new.signatures[:-1] != previous.signatures
        or len(new.signatures) != len(previous.signatures) + 1
    ):
        return [
            f"{new.case_id} version {new.version} does not add one signature to its predecessor"
        ]
    sig = new.signatures[-1]
    problems = verify_signature(sig, previous, public)
    if (new.case_id, new.version) != (sig.case_id, sig.case_version + 1):
        problems.append(
            f"the signature belongs on {sig.case_id} version {sig.case_version + 1}, found on "
            f"{new.case_id} version {new.version}"
        )
    recorded: tuple[object, ...] | None = None
    stated: tuple[object, ...] | None = None
    if sig.action == CaseAction.ACKNOWLEDGE.value:
        recorded = (new.acknowledged_by, new.acknowledged_at)
        stated = (sig.signer, sig.signed_at)
    elif sig.action == CaseAction.RESOLVE.value:
        recorded = (new.resolved_by, new.resolved_at, new.resolution)
        stated = (sig.signer, sig.signed_at, (sig.reason or "").strip())
    if recorded != stated:
        problems.append(
            f"{new.case_id} version {new.version} records {recorded}, the signature states {stated}"
        )
    return problems


def verify_case_history(versions: Iterable[Case], public: Ed25519PublicKey) -> list[str]:
    """Every signature in the versions of one case (any order, each version once)."""
    by_version = {c.version: c for c in versions}
    problems: list[str] = []
    for version in sorted(by_version):
        case, previous = by_version[version], by_version.get(version - 1)
        before = previous.signatures if previous is not None else []
        if case.signatures == before:
            continue
        if previous is None:
            problems.append(
                f"{case.case_id} version {version}: signed, but its predecessor is missing"
            )
            continue
        problems += verify_signed_version(case, previous, public)
    return problems
