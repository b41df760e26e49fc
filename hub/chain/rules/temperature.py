"""Temperature rules: TEMP_EXCURSION_FRESH, TEMP_EXCURSION_CRYO, LOGGER_DATA_GAP.

Readings are tracked per *channel*: the shipment the reading belongs to (its shipment id, the
shipment its logger travels with, or the only shipment in transit), else the logger, else the
chain. Each report is a span: one reading is a point, an interval report covers
``interval_start..interval_end`` with min/max(/mean).

Excursions honour the profile's tolerance: the first out-of-range report opens an excursion,
an in-range report closes it, and it becomes a finding only when the out-of-range time exceeds
the tolerance (a tolerance of 0 means any out-of-range value). For an interval report the
engine cannot know how long within the interval the value was out, so it takes the worst case
(the whole interval): a spike inside tolerance stays silent only when the reporting interval is
finer than the tolerance. A report older than the channel's latest is ignored (out-of-order
upload).

LOGGER_DATA_GAP means a logger went silent in transit: the watch starts at departure when the
departure names the shipment's logger, else at the shipment's first reading. A shipment that
never had any reading is reported by release readiness ("no temperature record"), not here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime

from hub.chain.catalogue import CatalogueEntry, Timing, deadline, entry, rule
from hub.chain.findings import Finding, Severity
from hub.chain.profiles import ProductProfile
from hub.chain.state import ChainState, Deadline, Excursion, Mode, ShipmentTrack
from hub.events.models import Event, EventType, TemperatureDetail

TEMP_EXCURSION_FRESH = entry(
    "TEMP_EXCURSION_FRESH",
    "Fresh material left its transport range beyond tolerance",
    Severity.HIGH,
    "QA",
    evidence=("sensor series (logger id, readings)", "range and tolerance of the profile"),
    playbook=(
        "Download the full logger series and attach it to the case",
        "QA assesses the excursion against the product's stability data",
        "Decide with the manufacturer whether the material can still be used",
    ),
    timing=Timing.AFTER_LATENESS,
)
TEMP_EXCURSION_CRYO = entry(
    "TEMP_EXCURSION_CRYO",
    "Cryopreserved product above its label limit",
    Severity.CRITICAL,
    "QA / QP",
    evidence=("sensor series", "logger id", "label limit of the profile"),
    playbook=(
        "Quarantine the product; do not thaw or infuse",
        "Secure the logger data and the shipper's LN2 record",
        "QP assesses product impact with the manufacturer; inform the treating physician",
    ),
    timing=Timing.AT_ONCE,
)
LOGGER_DATA_GAP = entry(
    "LOGGER_DATA_GAP",
    "No temperature readings while in transit",
    Severity.MEDIUM,
    "logistics",
    evidence=("gap report (last reading, silence)", "logger id"),
    playbook=(
        "Ask the carrier to check the logger and download its memory",
        "Attach the recovered series; QA decides if the temperature record is complete",
    ),
    timing=Timing.AFTER_LATENESS,
    awaits=(EventType.TEMPERATURE_READING,),
)

_TO_CELSIUS = {
    "CEL": lambda v: v,
    "C": lambda v: v,
    "°C": lambda v: v,
    "CELSIUS": lambda v: v,
    "FAH": lambda v: (v - 32) * 5 / 9,
    "F": lambda v: (v - 32) * 5 / 9,
    "KEL": lambda v: v - 273.15,
    "K": lambda v: v - 273.15,
}
_CRYO_MILESTONES = (EventType.CRYOPRESERVED.value, EventType.MANUFACTURING_COMPLETED.value)


def _channel(state: ChainState, event: Event, detail: TemperatureDetail) -> tuple[str, str | None]:
    sid = event.identifiers.shipment_id
    logger = detail.logger_id or event.identifiers.logger_id
    tracks = state.shipment_tracks
    if sid is None and logger:
        sid = next((t.shipment_id for t in tracks.values() if t.logger_id == logger), None)
    if sid is None:
        moving = [t.shipment_id for t in tracks.values() if t.departed_at and not t.delivered_at]
        sid = moving[0] if len(moving) == 1 else None
    if sid is not None:
        return sid, sid
    return (f"logger:{logger}" if logger else "chain"), None


def _mode(state: ChainState, profile: ProductProfile, track: ShipmentTrack | None) -> Mode:
    if track is not None:
        return track.mode
    if profile.starting_material == "cryopreserved":
        return "cryo"
    return "cryo" if any(m in state.milestones for m in _CRYO_MILESTONES) else "fresh"


def _in_transit(track: ShipmentTrack | None, at: datetime) -> bool:
    if track is None or track.departed_at is None or at < track.departed_at:
        return False
    return track.delivered_at is None or at <= track.delivered_at


def _arm_gap(state: ChainState, sid: str, due: datetime, event_id: str) -> None:
    """One gap deadline per shipment, moved by every reading (the finding's subject and
    summary are worked out when it falls due, not on every reading)."""
    state.set_deadline(LOGGER_DATA_GAP.code, sid, due, [event_id], "")


@rule(EventType.SHIPMENT_DEPARTED, EventType.SHIPMENT_DELIVERED)
def gap_watch(state: ChainState, event: Event, profile: ProductProfile) -> Iterable[Finding]:
    sid = event.identifiers.shipment_id
    track = state.shipment_tracks.get(sid) if sid else None
    if sid is None or track is None:
        return ()
    if event.event_type is EventType.SHIPMENT_DELIVERED:
        state.clear_deadline(LOGGER_DATA_GAP.code, sid)
    elif track.delivered_at is None and track.departed_at is not None and track.logger_id:
        last = state.temperatures.last_reading_at.get(sid)
        since = max(last, track.departed_at) if last else track.departed_at
        _arm_gap(state, sid, since + profile.logger_gap(), event.event_id)
    return ()


@deadline(LOGGER_DATA_GAP.code)
def logger_silent(state: ChainState, due: Deadline, profile: ProductProfile) -> Iterable[Finding]:
    track = state.shipment_tracks.get(due.subject)
    if track is None or track.delivered_at is not None or track.departed_at is None:
        return ()
    last = state.temperatures.last_reading_at.get(due.subject)
    since = max(last, track.departed_at) if last else track.departed_at
    subject = f"{due.subject}@{since.isoformat()}"
    if subject in state.temperatures.gaps:
        return ()
    state.temperatures.gaps.append(subject)
    silent = (due.due_at - since).total_seconds() / 60
    return (
        LOGGER_DATA_GAP.finding(
            state,
            subject,
            due.due_at,
            f"shipment {due.subject} in transit without a temperature reading since "
            f"{since.isoformat()} ({silent:g} min; limit {profile.logger.gap_multiple:g} x the "
            "logging interval)",
            due.evidence_event_ids,
        ),
    )


@rule(EventType.TEMPERATURE_READING)
def temperature_reading(
    state: ChainState, event: Event, profile: ProductProfile
) -> Iterable[Finding]:
    detail = event.detail
    if not isinstance(detail, TemperatureDetail):
        return ()
    convert = _TO_CELSIUS.get(detail.unit.strip().upper())
    low = detail.value if detail.value is not None else detail.min_value
    high = detail.value if detail.value is not None else detail.max_value
    low = low if low is not None else detail.mean_value
    high = high if high is not None else detail.mean_value
    if convert is None or low is None or high is None:
        return ()
    low, high = sorted((convert(low), convert(high)))
    if not (math.isfinite(low) and math.isfinite(high)):
        return ()  # a broken sensor value neither opens nor closes an excursion
    start = detail.interval_start or event.occurred_at
    end = max(detail.interval_end or event.occurred_at, start)
    channel, sid = _channel(state, event, detail)
    track = state.shipment_tracks.get(sid) if sid else None
    temps = state.temperatures
    last = temps.last_reading_at.get(channel)
    if last is not None and end < last:
        return ()
    findings: list[Finding] = []
    temps.last_reading_at[channel] = end
    if sid is not None and track is not None:
        temps.readings[sid] = temps.readings.get(sid, 0) + 1
        if _in_transit(track, start) and track.departed_at is not None:
            since = max(last, track.departed_at) if last else track.departed_at
            gap = profile.logger_gap(detail.logging_interval_s)
            subject = f"{sid}@{since.isoformat()}"
            if start - since > gap and subject not in temps.gaps:
                temps.gaps.append(subject)
                findings.append(
                    LOGGER_DATA_GAP.finding(
                        state,
                        subject,
                        start,
                        f"shipment {sid}: no reading from {since.isoformat()} to "
                        f"{start.isoformat()} (limit {gap.total_seconds() / 60:g} min)",
                        [event.event_id],
                    )
                )
            if track.delivered_at is None:
                _arm_gap(state, sid, end + gap, event.event_id)
    mode = _mode(state, profile, track)
    findings.extend(_excursion(state, event, profile, channel, mode, (low, high), (start, end)))
    return findings


def _excursion(
    state: ChainState,
    event: Event,
    profile: ProductProfile,
    channel: str,
    mode: Mode,
    values: tuple[float, float],
    span: tuple[datetime, datetime],
) -> list[Finding]:
    code: CatalogueEntry
    if mode == "fresh":
        lo: float | None = profile.fresh_transport.min_c
        hi = profile.fresh_transport.max_c
        tolerance = profile.fresh_transport.excursion_tolerance_min
        code = TEMP_EXCURSION_FRESH
    else:
        lo, hi = None, profile.cryo.max_c
        tolerance = profile.cryo.excursion_tolerance_min
        code = TEMP_EXCURSION_CRYO
    low, high = values
    over = high > hi
    under = lo is not None and low < lo
    excursions = state.temperatures.excursions
    current = excursions.get(channel)
    if not (over or under):
        if current is not None:
            del excursions[channel]
        return []

    def deviation(value: float) -> float:
        return max(value - hi, (lo - value) if lo is not None else value - hi)

    worst = high if deviation(high) >= deviation(low) else low
    if current is None or current.mode != mode:
        current = Excursion(
            mode=mode,
            started_at=span[0],
            last_out_at=span[1],
            first_event_id=event.event_id,
            worst_c=worst,
        )
    else:
        worse = worst if deviation(worst) > deviation(current.worst_c) else current.worst_c
        current = current.model_copy(
            update={"last_out_at": max(current.last_out_at, span[1]), "worst_c": worse}
        )
    minutes = (current.last_out_at - current.started_at).total_seconds() / 60
    findings: list[Finding] = []
    if not current.reported and (tolerance == 0 or minutes > tolerance):
        current = current.model_copy(update={"reported": True})
        limits = f"{lo:g}..{hi:g} C" if lo is not None else f"<= {hi:g} C"
        findings.append(
            code.finding(
                state,
                f"{channel}@{current.started_at.isoformat()}",
                event.occurred_at,
                f"{channel}: out of {limits} for {minutes:.0f} min since "
                f"{current.started_at.isoformat()} (tolerance {tolerance:g} min), "
                f"worst {current.worst_c:.1f} C",
                [current.first_event_id, event.event_id],
            )
        )
    excursions[channel] = current
    return findings
