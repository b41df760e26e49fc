"""What one partner's EHR means by its codes and identifier systems.

Read once, when the connector is built, from ``ConnectorConfig.partner_options`` (the partner
registry fills it from YAML; empty gives the defaults below, which are the hub's own code systems
and reproduce what this connector always did). A resource counts only if its code maps:

- a ServiceRequest is a therapy order only if a coding of its ``code`` or ``orderDetail`` maps,
  through ``therapy_order_codes`` (``"system|code"`` -> product profile name) or because its
  system is one of ``product_profile_systems`` (the code is then the profile name);
- a Procedure is a vein-to-vein step only if a coding of its ``code`` maps through
  ``procedure_codes`` (``"system|code"`` -> apheresis / lymphodepletion / thaw / infusion);
- a BiologicallyDerivedProduct counts if its category is one of ``product_categories``
  (None: every category).

Everything else is passed over (and counted), never rejected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from connectors.fhir.codes import (
    COI_SYSTEMS,
    DIN_SYSTEMS,
    ORDER_INTENTS,
    PROCEDURE_CODES,
    PRODUCT_PROFILE_SYSTEM,
    ProcedureKind,
)
from hub.errors import ConfigurationError


def code_key(system: str | None, code: str) -> str:
    """The ``"system|code"`` key of a coding (FHIR's own token search syntax)."""
    return f"{system or ''}|{code}"


class FhirPartnerConfig(BaseModel):
    """One partner's FHIR dialect: code maps and identifier systems (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    procedure_codes: Mapping[str, ProcedureKind] = {
        code_key(system, code): kind for (system, code), kind in PROCEDURE_CODES.items()
    }
    therapy_order_codes: Mapping[str, str] = {}
    product_profile_systems: frozenset[str] = frozenset({PRODUCT_PROFILE_SYSTEM})
    product_categories: frozenset[str] | None = None
    order_intents: frozenset[str] = ORDER_INTENTS
    coi_systems: frozenset[str] = COI_SYSTEMS
    din_systems: frozenset[str] = DIN_SYSTEMS
    order_id_systems: frozenset[str] = frozenset()
    """Systems of the order number on a ServiceRequest; empty: the identifier typed ``PLAC``,
    else the first identifier that is not a COI."""

    @field_validator("procedure_codes", "therapy_order_codes")
    @classmethod
    def _system_bar_code(cls, value: Mapping[str, Any]) -> Mapping[str, Any]:
        for key in value:
            system, bar, code = key.rpartition("|")
            if not bar or not system or not code:
                raise ValueError(f"code map key {key!r} is not 'system|code'")
        return value

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> FhirPartnerConfig:
        """The configuration from ``ConnectorConfig.partner_options``: this class's fields (or
        an instance) under the key ``"fhir"``, extended by the partner registry's generic
        sections: ``codes.procedures`` and ``codes.therapy_orders`` (keys ``system|code``) add
        to the code maps, ``identifier_systems.coi/din/order_id`` to the systems.
        ``ConfigurationError`` if they do not fit."""
        registry = {"codes", "identifier_systems", "fields", "units", "qc_test_aliases"}
        own = "fhir" in options or registry & set(options)
        given = (options.get("fhir") or {}) if own else options  # or this class's fields alone
        if isinstance(given, FhirPartnerConfig):
            return given
        try:
            fields = dict(given)
            base = cls.model_validate(fields)
            codes = options.get("codes") or {}
            ids = options.get("identifier_systems") or {}
            extra = {
                "procedure_codes": {**base.procedure_codes, **(codes.get("procedures") or {})},
                "therapy_order_codes": {
                    **base.therapy_order_codes,
                    **(codes.get("therapy_orders") or {}),
                },
                "coi_systems": base.coi_systems | frozenset(ids.get("coi") or ()),
                "din_systems": base.din_systems | frozenset(ids.get("din") or ()),
                "order_id_systems": base.order_id_systems | frozenset(ids.get("order_id") or ()),
            }
            return cls.model_validate({**fields, **extra})
        except (ValidationError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigurationError(f"FHIR partner options are invalid: {exc}") from exc

    def procedure(self, system: str | None, code: str) -> ProcedureKind | None:
        return self.procedure_codes.get(code_key(system, code))

    def product_profile(self, codes: Iterable[tuple[str | None, str]]) -> str | None:
        """The product profile an order's codings name, or None if none maps: a code of a
        product profile system names it directly (and wins), else the first coding in
        ``therapy_order_codes``."""
        codes = list(codes)
        direct = next((c for sys, c in codes if sys in self.product_profile_systems), None)
        if direct is not None:
            return direct
        return next(
            (p for sys, c in codes if (p := self.therapy_order_codes.get(code_key(sys, c)))),
            None,
        )
