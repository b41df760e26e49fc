"""Odd records never reach a chain: each is dead-lettered with a specific code and reason,
whether a connector made it (routed) or a direct producer wrote it to the events topic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.base import RawMessage
from connectors.conformance import sample_files
from hub.events.models import Event, EventType, Identifiers, ScheduleDetail
from hub.flow import FlowCore
from hub.flow.core import tick_event
from hub.flow.memory import MemoryHub
from hub.flow.screen import FUTURE_SKEW, MAX_COI, PAST_HORIZON, screen
from hub.settings import REPO_ROOT

PROFILES = {"default", "cart-fresh-48h"}


@pytest.fixture(scope="module")
def pickup(core: FlowCore) -> Event:
    path = next(p for p in sample_files("courier") if p.name.startswith("01"))
    at = datetime(2026, 11, 24, 13, 16, tzinfo=UTC)
    return core.ingest(RawMessage("courier", path.read_bytes(), at)).events[0]


@pytest.fixture(scope="module")
def order(core: FlowCore) -> Event:
    path = REPO_ROOT / "connectors" / "sap" / "samples" / "01-loipro-order-created.xml"
    raw = RawMessage("sap", path.read_bytes(), datetime(2026, 12, 1, tzinfo=UTC))
    ingested = core.ingest(raw)
    return next(e for e in ingested.events if e.event_type is EventType.THERAPY_ORDERED)


def code(event: Event) -> str | None:
    refused = screen(event, PROFILES, "route")
    return refused.code if refused is not None else None


def test_a_sample_event_passes(pickup: Event, order: Event) -> None:
    assert code(pickup) is None
    assert code(order) is None


def test_an_event_dated_9999_is_refused_with_both_dates_in_the_reason(pickup: Event) -> None:
    odd = pickup.model_copy(update={"occurred_at": datetime(9999, 12, 31, tzinfo=UTC)})
    refused = screen(odd, PROFILES, "route")
    assert refused is not None
    assert (refused.code, refused.field) == ("IMPLAUSIBLE_TIME", "occurred_at")
    assert "9999-12-31" in refused.reason
    assert "2026-11-24" in refused.reason


def test_the_time_window_is_a_day_ahead_and_fifteen_years_back(pickup: Event) -> None:
    received = pickup.source.received_at
    for at, expected in [
        (received + FUTURE_SKEW, None),
        (received + FUTURE_SKEW + timedelta(seconds=1), "IMPLAUSIBLE_TIME"),
        (received - PAST_HORIZON, None),
        (received - PAST_HORIZON - timedelta(seconds=1), "IMPLAUSIBLE_TIME"),
    ]:
        assert code(pickup.model_copy(update={"occurred_at": at, "recorded_at": at})) == expected


def test_an_order_naming_an_unknown_profile_is_refused_not_judged_by_the_default(
    order: Event,
) -> None:
    assert isinstance(order.detail, ScheduleDetail)
    odd = order.model_copy(
        update={"detail": order.detail.model_copy(update={"product_profile": "../../etc/passwd"})}
    )
    refused = screen(odd, PROFILES, "route")
    assert refused is not None
    assert refused.code == "UNKNOWN_PRODUCT_PROFILE"
    assert "../../etc/passwd" in refused.reason


def test_a_200_kb_coi_is_refused_and_not_quoted_whole(pickup: Event) -> None:
    odd = pickup.model_copy(update={"coi_id": "X" * 200_000})
    refused = screen(odd, PROFILES, "route")
    assert refused is not None
    assert refused.code == "IMPLAUSIBLE_IDENTIFIER"
    assert f"at most {MAX_COI}" in refused.reason
    assert len(refused.reason) < 300


def test_a_coi_with_an_iso_7064_check_character_passes(pickup: Event) -> None:
    assert code(pickup.model_copy(update={"coi_id": "V2VSIM001000005*"})) is None


@pytest.mark.parametrize(
    "ids",
    [
        Identifiers(din="=A9999" + "9" * 200),
        Identifiers(shipment_id="SHP\x00240001"),
        Identifiers(other={f"k{n}": "v" for n in range(33)}),
        Identifiers(other={"note": "v" * 257}),
    ],
)
def test_oversized_or_control_character_identifiers_are_refused(
    pickup: Event, ids: Identifiers
) -> None:
    assert code(pickup.model_copy(update={"identifiers": ids})) == "IMPLAUSIBLE_IDENTIFIER"


def test_a_clock_tick_is_never_taken_from_the_events_path(core: FlowCore) -> None:
    tick = tick_event(datetime(2099, 1, 1, tzinfo=UTC), 0, "wall")
    forged = tick.model_copy(update={"coi_id": "V2VSAMPLE000001T"})
    hub = MemoryHub(core)
    hub.inject(forged, route=False)  # a direct producer's record on the events topic
    [dead] = hub.dead_letters
    assert (dead.rejection.code, dead.rejection.stage) == ("TICK_NOT_FROM_HUB", "chain")
    assert not hub.chains


def test_a_direct_producer_s_odd_event_is_dead_lettered_at_the_chain(
    core: FlowCore, pickup: Event
) -> None:
    hub = MemoryHub(core)
    hub.inject(pickup.model_copy(update={"occurred_at": datetime(9999, 12, 31, tzinfo=UTC)}))
    hub.inject(
        pickup.model_copy(update={"occurred_at": datetime(9999, 12, 31, tzinfo=UTC)}), route=False
    )
    assert [(d.rejection.code, d.rejection.stage) for d in hub.dead_letters] == [
        ("IMPLAUSIBLE_TIME", "route"),
        ("IMPLAUSIBLE_TIME", "chain"),
    ]
    assert not hub.chains
    hub.inject(pickup)
    assert list(hub.chains) == [pickup.coi_id]  # the chain goes on with sane records


@given(text=st.text(max_size=300))
def test_any_coi_is_either_taken_or_refused_with_a_reason(text: str) -> None:
    event = tick_event(datetime(2026, 1, 1, tzinfo=UTC)).model_copy(
        update={"event_type": EventType.SHIPMENT_STATUS, "coi_id": text or None}
    )
    refused = screen(event, PROFILES, "route")
    visible = text.isascii() and text.isprintable() and " " not in text
    if not text or (visible and len(text) <= MAX_COI):
        assert refused is None
    else:
        assert refused is not None
        assert refused.code == "IMPLAUSIBLE_IDENTIFIER"
