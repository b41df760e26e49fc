"""A partner registry entry (one YAML file per partner, ``docs/partners.md``).

Everything that differs between partners lives here, not in connector code: the time zone of
its local times, its codes (which local or standard codes mean apheresis, lymphodepletion, thaw,
infusion, which orders are a therapy order of which product profile), the identifier systems
that hold the COI, DIN and order id, where customer extensions put fields, units and QC test
names, expected cadence, dead-letter limit and allowed lateness. A connector reads what it
understands through ``ConnectorConfig.partner_options``; what a connector leaves unset keeps the
connector's default.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from hub.events.models import Frozen

ROLES = (
    "clinic",
    "collection-centre",
    "manufacturer",
    "erp",
    "mes",
    "qc-lab",
    "qms",
    "logistics",
    "temperature-monitoring",
    "serialisation",
)


class Contact(Frozen):
    name: str
    role: str = Field(description="e.g. integration lead, on-call, account manager")
    email: str | None = None
    phone: str | None = None


class Cadence(Frozen):
    """How often the partner's feed speaks: silent longer than ``freshness_sla_min`` on the
    hub's clock, its feed raises ``PARTNER_FEED_SILENT`` (``hub.partners.health``)."""

    heartbeat_min: float | None = Field(None, gt=0, description="expected message interval")
    freshness_sla_min: float = Field(gt=0, description="silent longer than this: feed at risk")

    @model_validator(mode="after")
    def _heartbeat_within_sla(self) -> Cadence:
        if self.heartbeat_min is not None and self.heartbeat_min > self.freshness_sla_min:
            raise ValueError(
                f"heartbeat_min ({self.heartbeat_min:g}) exceeds freshness_sla_min "
                f"({self.freshness_sla_min:g}): a feed on its normal cadence would be silent"
            )
        return self


class DeadLetterLimit(Frozen):
    """When the share of the partner's messages the hub dead-letters makes its feed degraded
    (``PARTNER_FEED_DEGRADED``): over a sliding window of the hub's clock, judged at every
    tick once the window holds ``min_messages``."""

    max_rate: float = Field(
        0.2,
        ge=0,
        lt=1,
        description="dead-lettered share of its messages above which it is degraded",
    )
    window_min: float = Field(60, gt=0, description="the sliding window, in minutes")
    min_messages: int = Field(5, ge=1, description="fewer messages in the window: not judged")


class Codes(Frozen):
    """Local (or standard) codes -> what the hub means by them. Keys are ``system|code`` or a
    bare code (any system)."""

    procedures: dict[str, str] = Field(
        default_factory=dict, description="-> apheresis | lymphodepletion | thaw | infusion"
    )
    therapy_orders: dict[str, str] = Field(
        default_factory=dict, description="order code -> product profile name"
    )
    statuses: dict[str, str] = Field(
        default_factory=dict, description="partner status code -> canonical status word"
    )


class IdentifierSystems(Frozen):
    """Which identifier systems (FHIR ``Identifier.system``, EPC prefixes ...) hold an id."""

    coi: list[str] = Field(default_factory=list)
    din: list[str] = Field(default_factory=list)
    order_id: list[str] = Field(default_factory=list)


class PartnerEntry(Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]{1,40}$", description="also the raw topic suffix")
    organisation: str
    role: str = Field(description=f"one of: {', '.join(ROLES)}")
    owner: str = Field(description="who in integration ops owns this feed")
    contacts: list[Contact] = Field(default_factory=list)
    connector: str = Field(description="the dialect: a folder of connectors/")
    dialect_version: str | None = None
    time_zone: str | None = Field(
        None, description="IANA zone of the partner's local times (a naive time is read in it)"
    )
    codes: Codes = Field(default_factory=Codes)
    identifier_systems: IdentifierSystems = Field(default_factory=IdentifierSystems)
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="canonical field -> where the partner puts it (SAP ZZ* field, own segment, "
        "B2MML property id ...)",
    )
    units: dict[str, str] = Field(
        default_factory=dict, description="partner unit -> UN/ECE Rec 20 code (CEL, FAH, KEL)"
    )
    qc_test_aliases: dict[str, str] = Field(
        default_factory=dict, description="partner test name -> profile QC test code"
    )
    cadence: Cadence | None = None
    dead_letters: DeadLetterLimit = Field(default_factory=DeadLetterLimit)
    allowed_lateness_min: float | None = Field(
        None, gt=0, description="how late its records may arrive (default: the profile's)"
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="connector-specific settings (see its README)"
    )

    @field_validator("role")
    @classmethod
    def _known_role(cls, value: str) -> str:
        if value not in ROLES:
            raise ValueError(f"unknown role {value!r}; one of {', '.join(ROLES)}")
        return value

    @field_validator("time_zone")
    @classmethod
    def _iana(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"{value!r} is not an IANA time zone") from exc
        return value

    def connector_options(self) -> dict[str, Any]:
        """What the connector is given as ``ConnectorConfig.partner_options``."""
        return {
            "codes": self.codes.model_dump(),
            "identifier_systems": self.identifier_systems.model_dump(),
            "fields": dict(self.fields),
            "units": dict(self.units),
            "qc_test_aliases": dict(self.qc_test_aliases),
            **self.options,
        }
