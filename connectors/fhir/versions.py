"""FHIR R4 or R5? Resources do not say, so the shape of version-specific fields decides.

========================== ===================================== ===============================
resource                   R4 signals                            R5 signals
========================== ===================================== ===============================
ServiceRequest             ``code`` a CodeableConcept,           ``code`` a CodeableReference,
                           ``locationReference``, ``orderDetail`` ``location``,
                           of CodeableConcepts                   ``orderDetail[].parameter``
Procedure                  ``performed[x]``, ``usedReference``,  ``occurrence[x]``, ``used``,
                           ``asserter``                          ``recorded``, ``focus``
BiologicallyDerivedProduct ``productCategory`` a code,           ``productCategory`` a Coding,
                           ``status``, ``quantity``,             ``productStatus``,
                           ``storage``, ``processing``           ``biologicalSourceEvent``,
                                                                 ``expirationDate``
========================== ===================================== ===============================

A resource with signals of both versions is rejected (``FHIR_VERSION_CONFLICT``); one with
neither is read with the fields both versions share.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.errors import NormalisationError

if TYPE_CHECKING:
    from connectors.fhir.resources import Scope


def _service_request(res: dict[str, Any]) -> tuple[list[str], list[str]]:
    r4: list[str] = []
    r5: list[str] = []
    code = res.get("code")
    if isinstance(code, dict):
        if "concept" in code or "reference" in code:
            r5.append("code.concept")
        elif "coding" in code or "text" in code:
            r4.append("code.coding")
    if "locationReference" in res or "locationCode" in res:
        r4.append("locationReference")
    if "location" in res:
        r5.append("location")
    details = res.get("orderDetail")
    if isinstance(details, list):
        for item in details:
            if isinstance(item, dict) and ("parameter" in item or "parameterFocus" in item):
                r5.append("orderDetail.parameter")
            elif isinstance(item, dict) and ("coding" in item or "text" in item):
                r4.append("orderDetail.coding")
    return r4, r5


def _procedure(res: dict[str, Any]) -> tuple[list[str], list[str]]:
    r4 = [k for k in res if k.startswith("performed") or k in ("usedReference", "asserter")]
    r5 = [k for k in res if k.startswith("occurrence") or k in ("used", "recorded", "focus")]
    return r4, r5


def _product(res: dict[str, Any]) -> tuple[list[str], list[str]]:
    r4: list[str] = [
        k for k in ("status", "quantity", "storage", "processing", "manipulation") if k in res
    ]
    r5: list[str] = [
        k
        for k in (
            "productStatus",
            "biologicalSourceEvent",
            "expirationDate",
            "storageTempRequirements",
            "processingFacility",
            "division",
            "property",
        )
        if k in res
    ]
    category = res.get("productCategory")
    if isinstance(category, str):
        r4.append("productCategory (code)")
    elif isinstance(category, dict):
        r5.append("productCategory (Coding)")
    return r4, r5


_SIGNALS = {
    "ServiceRequest": _service_request,
    "Procedure": _procedure,
    "BiologicallyDerivedProduct": _product,
}


def detect_version(s: Scope) -> str | None:
    """``"R4"``, ``"R5"`` or None (no version-specific field present)."""
    r4, r5 = _SIGNALS[s.kind](s.res)
    if r4 and r5:
        raise NormalisationError(
            f"{s.kind} mixes FHIR R4 fields ({', '.join(sorted(set(r4)))}) and R5 fields "
            f"({', '.join(sorted(set(r5)))})",
            partner=s.r.partner,
            message_id=s.r.message_id,
            field=s.path or None,
            code="FHIR_VERSION_CONFLICT",
        )
    return "R4" if r4 else "R5" if r5 else None
