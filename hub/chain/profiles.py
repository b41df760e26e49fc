"""Product profiles: every number a rule needs, per product, from validated YAML.

A profile is configuration, never code: ``hub/chain/profiles/*.yaml`` holds the examples. Every
number of DOMAIN.md section 5 is a field here (with the conservative default in brackets); rules
read them through the helpers below, which return :class:`~datetime.timedelta` values.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Literal, Self

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from hub.chain.vocab import norm
from hub.errors import ConfigurationError
from hub.events.identifiers import DEFAULT_COI_PATTERN
from hub.events.models import EventType, Frozen


class Lane(Frozen):
    """A transport lane: origin -> destination with its validated turnaround."""

    origin: str
    destination: str
    turnaround_h: float = Field(gt=0)


class TemperatureRange(Frozen):
    """Fresh starting material in transport: the validated range and how long it may be left."""

    min_c: float = Field(2.0, ge=-10, le=30)
    max_c: float = Field(8.0, ge=-10, le=40)
    excursion_tolerance_min: float = Field(
        30.0, ge=0, description="out-of-range time allowed before it is an excursion; 0 = none"
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min_c >= self.max_c:
            raise ValueError(f"min_c {self.min_c} must be below max_c {self.max_c}")
        return self


class CryoLimit(Frozen):
    """Cryopreserved product: the label's upper limit (LN2 vapour <= -150 C, some <= -120 C)."""

    max_c: float = Field(-150.0, le=-60)
    excursion_tolerance_min: float = Field(0.0, ge=0, description="0 = any reading above")


class DryShipper(Frozen):
    """LN2 dry shipper: validated hold time, derated because units vary by up to 40 %."""

    validated_hold_h: float = Field(240.0, gt=0)
    safety_factor: float = Field(0.7, gt=0, le=1, description="share of the hold time usable")


class LoggerSpec(Frozen):
    """Data logger: expected reporting interval (2 s .. 9 h) and the gap that is a data gap."""

    interval_min: float = Field(15.0, ge=2 / 60, le=540)
    gap_multiple: float = Field(4.0, ge=1, description="gap = more than N x interval silent")


class QcSpec(Frozen):
    """The specification of one QC test: numeric limits and/or accepted result texts."""

    unit: str | None = None
    low: float | None = None
    high: float | None = None
    accepted: list[str] = Field(default_factory=list, description="e.g. negative, not detected")
    required: bool = Field(True, description="required for release readiness")

    @model_validator(mode="after")
    def _usable(self) -> Self:
        if self.low is None and self.high is None and not self.accepted:
            raise ValueError("a QC spec needs low and/or high limits or accepted texts")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"spec low {self.low} is above high {self.high}")
        return self


class Lymphodepletion(Frozen):
    """When lymphodepletion may start: after release, or after receipt at the site; and its
    window before infusion (labels: days -5..-3)."""

    requires: Literal["released", "received_at_site"] = "released"
    min_days_before_infusion: float = Field(2.0, ge=0)
    max_days_before_infusion: float = Field(14.0, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min_days_before_infusion > self.max_days_before_infusion:
            raise ValueError("LD window: min_days_before_infusion > max_days_before_infusion")
        return self


class LateEventSla(Frozen):
    """How late a record may reach the hub after it happened (the later of the partner's
    ``recorded_at`` and the hub's receipt, minus ``occurred_at``): the allowed lateness.

    ``sla_min`` is the chain's own: the hub judges order and absence in event time once that
    long has passed on its clock. ``by_event_type_min`` gives a feed that is later by design
    (e.g. logger series read out on arrival) its own, longer lateness: absence rules waiting for
    that type wait that long, and only a record later than its type's lateness is LATE_EVENT.
    """

    sla_min: float = Field(240.0, gt=0)
    by_event_type_min: dict[EventType, float] = Field(default_factory=dict)
    rejudge_min: float = Field(
        1440.0,
        gt=0,
        description="event time behind its frontier a chain keeps its judged records, to "
        "re-judge in order a record on time by its own stamps that reaches it behind them "
        "(at least the longest lateness)",
    )
    rejudge_max: int = Field(
        200, ge=1, description="judged records a chain keeps at least (at most twice as many)"
    )


class ProductProfile(Frozen):
    name: str
    description: str = ""
    starting_material: Literal["fresh", "cryopreserved"] = "fresh"
    # chain of custody and lanes
    custody_grace_h: float = Field(4.0, ge=0, description="grace after lane turnaround")
    default_turnaround_h: float = Field(48.0, gt=0, description="for shipments on unknown lanes")
    lanes: dict[str, Lane] = Field(default_factory=dict)
    # temperature and logistics
    fresh_transport: TemperatureRange = Field(default_factory=TemperatureRange)
    cryo: CryoLimit = Field(default_factory=CryoLimit)
    dry_shipper: DryShipper = Field(default_factory=DryShipper)
    logger: LoggerSpec = Field(default_factory=LoggerSpec)
    eta_margin_min: float = Field(0.0, ge=0, description="warn when ETA + margin > window")
    # manufacturing and quality
    fresh_stability_h: float = Field(48.0, gt=0, description="collection end -> mfg start")
    slot_grace_h: float = Field(0.0, ge=0, description="material may arrive this late")
    qc_tests: dict[str, QcSpec] = Field(default_factory=dict)
    release_ready_margin_h: float = Field(24.0, ge=0, description="ready this long before ship")
    # clinic
    thaw_window_min: float = Field(30.0, gt=0, description="thaw -> infusion")
    lymphodepletion: Lymphodepletion = Field(default_factory=Lymphodepletion)
    v2v_target_days: float = Field(30.0, gt=0, description="collection -> infusion")
    expiry_margin_h: float = Field(72.0, ge=0)
    # identity and data quality
    din_link_grace_h: float = Field(24.0, ge=0, description="a DIN must be linked by then")
    validate_coi: bool = Field(False, description="check COI format + Mod 37-2 in the engine")
    coi_pattern: str = DEFAULT_COI_PATTERN
    late_event: LateEventSla = Field(default_factory=LateEventSla)

    @field_validator("qc_tests")
    @classmethod
    def _test_codes(cls, value: dict[str, QcSpec]) -> dict[str, QcSpec]:
        """Test codes are matched case-insensitively (``Viability`` = ``VIABILITY``)."""
        return {norm(code): spec for code, spec in value.items()}

    @field_validator("coi_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"coi_pattern is not a regular expression: {exc}") from exc
        return value

    def turnaround(self, lane: str | None) -> timedelta:
        hours = self.lanes[lane].turnaround_h if lane in self.lanes else self.default_turnaround_h
        return timedelta(hours=hours)

    @property
    def custody_grace(self) -> timedelta:
        return timedelta(hours=self.custody_grace_h)

    @property
    def fresh_stability(self) -> timedelta:
        return timedelta(hours=self.fresh_stability_h)

    @property
    def slot_grace(self) -> timedelta:
        return timedelta(hours=self.slot_grace_h)

    @property
    def shipper_limit(self) -> timedelta:
        """Time in a dry shipper after which the shipment is at risk (hold x safety factor)."""
        return timedelta(hours=self.dry_shipper.validated_hold_h * self.dry_shipper.safety_factor)

    @property
    def release_ready_margin(self) -> timedelta:
        return timedelta(hours=self.release_ready_margin_h)

    @property
    def thaw_window(self) -> timedelta:
        return timedelta(minutes=self.thaw_window_min)

    @property
    def v2v_target(self) -> timedelta:
        return timedelta(days=self.v2v_target_days)

    @property
    def expiry_margin(self) -> timedelta:
        return timedelta(hours=self.expiry_margin_h)

    @property
    def din_link_grace(self) -> timedelta:
        return timedelta(hours=self.din_link_grace_h)

    @property
    def eta_margin(self) -> timedelta:
        return timedelta(minutes=self.eta_margin_min)

    @property
    def ld_max_before_infusion(self) -> timedelta:
        return timedelta(days=self.lymphodepletion.max_days_before_infusion)

    def logger_gap(self, interval_s: int | None = None) -> timedelta:
        """Silence that counts as a data gap: N x the logger's own interval when it reports one,
        else N x the profile's expected interval."""
        minutes = interval_s / 60 if interval_s and interval_s > 0 else self.logger.interval_min
        return timedelta(minutes=minutes * self.logger.gap_multiple)

    @property
    def allowed_lateness(self) -> timedelta:
        """The chain's allowed lateness: how long the hub waits before judging in event time."""
        return timedelta(minutes=self.late_event.sla_min)

    @property
    def rejudge_window(self) -> timedelta:
        """How far behind its frontier (event time) a chain can still re-judge in order."""
        late = self.late_event
        return timedelta(
            minutes=max(late.rejudge_min, late.sla_min, *late.by_event_type_min.values())
        )

    def late_sla(self, event_type: EventType) -> timedelta:
        minutes = self.late_event.by_event_type_min.get(event_type, self.late_event.sla_min)
        return timedelta(minutes=minutes)


DEFAULT_PROFILE = "default"


def load_profiles(directory: Path) -> dict[str, ProductProfile]:
    """Every ``*.yaml`` profile in ``directory``, keyed by name; invalid files fail loudly."""
    profiles: dict[str, ProductProfile] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            profile = ProductProfile.model_validate(
                yaml.safe_load(path.read_text(encoding="utf-8"))
            )
        except (yaml.YAMLError, ValidationError, OSError) as exc:
            raise ConfigurationError(f"product profile {path}: {exc}") from exc
        if profile.name in profiles:
            raise ConfigurationError(f"product profile {profile.name!r} defined twice ({path})")
        profiles[profile.name] = profile
    if DEFAULT_PROFILE not in profiles:
        raise ConfigurationError(f"no '{DEFAULT_PROFILE}' profile in {directory}")
    return profiles
