"""Which B2MML a message speaks (namespace -> version) and whether the hub reads its verb + noun.

Namespaces by release (the root's namespace; every lookup below it goes by local name):

==============================================  =======================================
namespace                                       release
==============================================  =======================================
none                                            unqualified (version unknown)
``http://www.wbf.org/xml/B2MML-V0401`` ...      V04xx, V05xx (WBF releases)
``http://www.mesa.org/xml/B2MML-V0600``         V0600 (MESA; ``www.wbf.org`` also read)
``http://www.mesa.org/xml/B2MML``               V07 (V0700 and later drop the version)
==============================================  =======================================

Older releases (V02, V03) and BatchML's own namespaces are refused by name, as is any other
namespace. Both noun families are read in every release: ISA-95 renamed ProductionPerformance
/ ProductionResponse to OperationsPerformance / OperationsResponse (V0600 has both, V07 only
the latter), and partners mix them; a refusal names the release it read the noun in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from connectors.xmlsupport import Element, child, children, local_name, namespace
from hub.errors import NormalisationError

B2MML_NAMESPACE = "http://www.mesa.org/xml/B2MML"
_VERSIONED = re.compile(r"^https?://www\.(?:wbf|mesa)\.org/xml/b2mml-v(\d{2})(\d{2})?$", re.I)
_BATCHML = re.compile(r"^https?://www\.(?:wbf|mesa)\.org/xml/batchml", re.I)
OLDEST = 4  # V04 (V0401 is its first widely used revision)

# ISA-95 Part 5 verbs, longest first so ``Acknowledge`` is never read as a shorter prefix.
VERBS = (
    "Acknowledge",
    "Respond",
    "Process",
    "Confirm",
    "Cancel",
    "Change",
    "Notify",
    "Show",
    "Sync",
    "Get",
)
# Verbs that report a fact the sender holds; the others ask for something (Get, Process's
# replies Acknowledge / Respond, Change, Cancel) or confirm receipt of a BOD (Confirm).
REPORTING_VERBS = ("Process", "Notify", "Sync", "Show")
_VERB_MEANING = {
    "Get": "asks for data",
    "Acknowledge": "acknowledges a Process request",
    "Respond": "answers a Change request",
    "Change": "asks the receiver to change data",
    "Cancel": "asks the receiver to cancel a request",
    "Confirm": "confirms receipt of another BOD",
}
_VERB_LIKE_NOUNS = ("ProcessSegment",)  # a bare noun that starts with a verb
WITHDRAWING_ACTIONS = frozenset({"DELETE"})


@dataclass(frozen=True)
class Dialect:
    """The B2MML release a message was written in."""

    namespace: str | None
    version: str  # "V0401", "V0600", "V07", or "" when the root has no namespace

    @property
    def label(self) -> str:
        return f"B2MML {self.version}" if self.version else "B2MML (no namespace)"


def dialect_of(root: Element, partner: str) -> Dialect:
    """The release of ``root``'s namespace, or ``UNSUPPORTED_NAMESPACE`` naming it."""
    ns = namespace(root)
    if ns is None:
        return Dialect(None, "")
    if ns == B2MML_NAMESPACE:
        return Dialect(ns, "V07")
    match = _VERSIONED.match(ns)
    if match is not None:
        major, minor = match.group(1), match.group(2) or "00"
        if int(major) >= OLDEST:
            version = "V07" if int(major) >= 7 else f"V{major}{minor}"
            return Dialect(ns, version)
        reason = (
            f"root <{local_name(root)}> is in namespace {ns!r}: B2MML V{major}{minor}, older "
            "than V0401, is not read (B2MML V0401 to V0600 and V07 are)"
        )
    elif _BATCHML.match(ns):
        reason = (
            f"root <{local_name(root)}> is in namespace {ns!r}: BatchML (ISA-88 batch "
            "records and recipes), not B2MML"
        )
    else:
        reason = (
            f"root <{local_name(root)}> is in namespace {ns!r}, not a B2MML one "
            f"({B2MML_NAMESPACE}, {B2MML_NAMESPACE}-Vnnnn, http://www.wbf.org/xml/B2MML-Vnnnn "
            "or none)"
        )
    raise NormalisationError(
        reason, partner=partner, field=local_name(root), code="UNSUPPORTED_NAMESPACE"
    )


def split_verb(root_name: str) -> tuple[str | None, str]:
    """``SyncMaterialLot`` -> (``Sync``, ``MaterialLot``); a bare noun -> (None, noun)."""
    if root_name.startswith(_VERB_LIKE_NOUNS):
        return None, root_name
    for verb in VERBS:
        if root_name.startswith(verb) and root_name[len(verb) : len(verb) + 1].isupper():
            return verb, root_name[len(verb) :]
    return None, root_name


def unsupported(dialect: Dialect, root: Element, reason: str, partner: str) -> NormalisationError:
    return NormalisationError(
        f"{dialect.label} message <{local_name(root)}>: {reason}",
        partner=partner,
        field=local_name(root),
        code="UNSUPPORTED_MESSAGE",
    )


def check_verb(dialect: Dialect, root: Element, verb: str, partner: str) -> None:
    """Refuse a verb that reports nothing, and a Sync / Process that withdraws its noun."""
    if verb not in REPORTING_VERBS:
        meaning = _VERB_MEANING.get(verb, "is not a report")
        raise unsupported(
            dialect,
            root,
            f"verb {verb} {meaning}; the hub reads reports ({', '.join(REPORTING_VERBS)})",
            partner,
        )
    data_area = child(root, "DataArea")
    verb_el = child(data_area, verb) if data_area is not None else None
    if verb_el is None:
        return
    for criteria in children(verb_el, "ActionCriteria"):
        for expression in children(criteria, "ActionExpression"):
            action = (expression.get("actionCode") or "").strip()
            if action.upper() in WITHDRAWING_ACTIONS:
                raise unsupported(
                    dialect,
                    root,
                    f"{verb} with actionCode {action} withdraws the noun; the hub maps no "
                    "deletion (a correction comes as a new report)",
                    partner,
                )
