"""Per-partner options of the MES connector: which B2MML property IDs carry what.

B2MML has no element for a chain-of-identity id or an ISBT 128 DIN; an MES carries them (and the
receipt's scans and signatures) in ``MaterialActualProperty`` / ``MaterialLotProperty`` elements
under IDs its customer chose. The defaults are the IDs the hub has always read; a partner that
names them differently gets its own :class:`MesOptions`.

The options come from ``ConnectorConfig.partner_options["mes"]`` (a mapping, later filled from
the partner registry) and are validated once, when the connector is built: a bad entry is a
:class:`~hub.errors.ConfigurationError` at start-up, never a rejection of a partner's message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from hub.errors import ConfigurationError

OPTIONS_KEY = "mes"


class PropertyIds(BaseModel):
    """B2MML property ``ID`` per meaning; matched case-insensitively, so no two may be equal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # MaterialActualProperty (production performance) and MaterialLotProperty (receipt)
    coi: str = "COI"
    din: str = "DIN"
    expiration_date: str = "ExpirationDate"
    # MaterialLotProperty only (receipt)
    receipt_time: str = "ReceiptTime"
    collection_end: str = "CollectionEnd"
    received_by: str = "ReceivedBy"
    shipment_id: str = "ShipmentID"
    scanned_coi: str = "ScannedCOI"
    scanned_din: str = "ScannedDIN"
    identity_check_result: str = "IdentityCheckResult"
    verified_by: str = "VerifiedBy"
    accepted_by: str = "AcceptedBy"
    carrier: str = "Carrier"
    signature: str = "Signature"

    @model_validator(mode="after")
    def _distinct_and_trimmed(self) -> PropertyIds:
        seen: dict[str, str] = {}
        for name, value in self.model_dump().items():
            if not value or value != value.strip():
                raise ValueError(f"{name}: a property ID must be non-blank without edge spaces")
            other = seen.setdefault(value.upper(), name)
            if other != name:
                raise ValueError(f"{other} and {name} both name property ID {value!r}")
        return self


class MesOptions(BaseModel):
    """What differs between MES partners; every default is the hub's historical reading."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    properties: PropertyIds = PropertyIds()

    @classmethod
    def from_partner_options(cls, partner_options: Mapping[str, Any]) -> MesOptions:
        """The options under ``partner_options["mes"]`` (absent: the defaults)."""
        raw = partner_options.get(OPTIONS_KEY)
        if raw is None:
            return cls()
        if isinstance(raw, MesOptions):
            return raw
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise ConfigurationError(f"partner_options[{OPTIONS_KEY!r}]: {exc}") from exc
