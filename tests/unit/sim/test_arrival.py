"""The realistic arrival: per-feed order, never before sending, deterministic, reordered
across partners, resends, and exactly the intended records beyond allowed lateness."""

from __future__ import annotations

import hashlib
import itertools
from collections import defaultdict
from datetime import datetime, timedelta

import pytest

from connectors.base import RawMessage
from hub.chain.profiles import load_profiles
from hub.errors import NormalisationError
from hub.flow import FlowCore
from hub.sim.arrival import ORDERED, REALISTIC, next_run
from hub.sim.offline import DEV_KEY, POLICY_FILE, Outcome
from hub.sim.scenario import OVERDUE, PROFILE_DIR, Message, Scenario, build
from tests.unit.sim.conftest import SEED

ORDERED_DIGEST = "6e458a675c48222b235a690009728b8826b70db3d63ad8176b3c17dd89e40de3"
"""The messages of ``build(SEED, 12)`` before arrival models existed (the injections' texts
may change; the messages partners send may not)."""
"""sha256 of ``build(7, 12)`` as ordered arrival made it before the arrival model existed
(update it only when the journey itself changes on purpose)."""

_SYSTEMS = ("collection", "lymphodepletion", "thaw", "infusion")


def digest(scenario: Scenario) -> str:
    h = hashlib.sha256()
    for m in scenario.messages:
        h.update(repr((m.n, m.step, m.partner, m.received.isoformat(), m.payload)).encode())
    return h.hexdigest()


def feed(m: Message) -> str:
    """The feed as :func:`hub.sim.arrival.feed` sees it: the EHR split by source system."""
    system = m.step.split(".")[0]
    return f"fhir:{system}" if m.partner == "fhir" and system in _SYSTEMS else m.partner


@pytest.fixture(scope="module")
def ordered() -> Scenario:
    return build(SEED, 50)


def sent_at(ordered: Scenario) -> dict[tuple[int, str], datetime]:
    """When each message was sent: its receipt time under ordered arrival."""
    return {(m.n, m.step): m.received for m in ordered.messages}


def test_ordered_arrival_is_todays_scenario() -> None:
    scenario = build(SEED, 12, arrival=ORDERED)
    assert digest(scenario) == digest(build(SEED, 12)) == ORDERED_DIGEST
    assert scenario.overdue == ()


def test_an_unknown_arrival_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown arrival"):
        build(SEED, 4, arrival="chaotic")


def test_the_same_seed_gives_the_same_arrival() -> None:
    one, again = build(SEED, 12, arrival=REALISTIC), build(SEED, 12, arrival=REALISTIC)
    assert digest(one) == digest(again)
    assert digest(one) != digest(build(SEED + 1, 12, arrival=REALISTIC))


def test_no_message_is_received_before_it_was_sent(
    realistic: tuple[Scenario, Outcome], ordered: Scenario
) -> None:
    scenario, _ = realistic
    sent = sent_at(ordered)
    first: dict[tuple[int, str], datetime] = {}
    for m in scenario.messages:
        if m.step.endswith(".resend"):
            original = (m.n, m.step.removesuffix(".resend"))
            assert m.received > first[original], "a resend follows its original"
        else:
            first[(m.n, m.step)] = m.received
            if (m.n, m.step) in sent:
                assert m.received >= sent[(m.n, m.step)], (m.n, m.step)
            else:  # a logger series read out on arrival
                assert m.step.endswith(".logger.readout"), (m.n, m.step)


def test_each_feed_of_a_chain_keeps_its_order(
    realistic: tuple[Scenario, Outcome], ordered: Scenario
) -> None:
    """Every feed in its order, but a retried courier webhook, which the courier's later ones
    may overtake (a small share: the one reordering within a feed)."""
    scenario, _ = realistic
    sent = sent_at(ordered)
    last: dict[tuple[int, str], datetime] = {}
    overtaken, courier = 0, 0
    for m in scenario.messages:  # the order the hub reads them in
        if m.step.endswith(".resend") or (m.n, m.step) not in sent:
            continue
        key, at = (m.n, feed(m)), sent[(m.n, m.step)]
        courier += m.partner == "courier"
        if at < last.get(key, at):
            assert m.partner == "courier", (m.n, m.step)
            assert timedelta(minutes=1) <= m.received - at <= timedelta(minutes=64), m.step
            overtaken += 1
        last[key] = max(at, last.get(key, at))
    assert 0 < overtaken < courier / 20


def test_partners_are_reordered_against_each_other(
    realistic: tuple[Scenario, Outcome], ordered: Scenario
) -> None:
    scenario, _ = realistic
    sent = sent_at(ordered)
    by_chain: dict[int, list[Message]] = defaultdict(list)
    for m in scenario.messages:
        if (m.n, m.step) in sent:
            by_chain[m.n].append(m)
    swapped = {
        (a.partner, b.partner)
        for msgs in by_chain.values()
        for a, b in itertools.combinations(msgs, 2)  # a received before b
        if a.partner != b.partner and sent[(a.n, a.step)] > sent[(b.n, b.step)]
    }
    # e.g. the MES receipt before the courier's (retried) delivery webhook, the site's EPCIS
    # receipt before the EHR's lymphodepletion record
    assert {("logger", "courier"), ("mes", "courier"), ("epcis", "fhir")} <= swapped, swapped


def test_thaw_and_infusion_arrive_in_either_order(realistic: tuple[Scenario, Outcome]) -> None:
    scenario, _ = realistic
    seen: dict[int, list[str]] = defaultdict(list)
    for m in scenario.messages:
        if m.step in ("thaw", "infusion"):
            seen[m.n].append(m.step)
    orders = {tuple(steps) for steps in seen.values()}
    assert ("thaw", "infusion") in orders
    assert ("infusion", "thaw") in orders


def test_resends_repeat_the_same_bytes(realistic: tuple[Scenario, Outcome]) -> None:
    scenario, _ = realistic
    payloads = {(m.n, m.step): m.payload for m in scenario.messages}
    resends = [m for m in scenario.messages if m.step.endswith(".resend")]
    assert {m.partner for m in resends} >= {"courier", "logger"}
    for m in resends:
        assert m.payload == payloads[(m.n, m.step.removesuffix(".resend"))]


def test_loggers_batch_up_and_some_are_read_out_on_arrival(
    realistic: tuple[Scenario, Outcome], ordered: Scenario
) -> None:
    scenario, _ = realistic
    count = sum(1 for m in scenario.messages if m.partner == "logger")
    assert count < sum(1 for m in ordered.messages if m.partner == "logger")
    readouts = [m for m in scenario.messages if m.step.endswith(".logger.readout")]
    assert readouts
    profile = {c.n: c.profile for c in scenario.chains}
    assert {profile[m.n] for m in readouts} == {"cart-fresh-48h"}  # the only one it fits


def beyond_lateness(scenario: Scenario) -> set[tuple[int, str]]:
    """(patient, step) of every message carrying a new event later than its type's lateness,
    as the hub's connectors read it."""
    core = FlowCore.from_files(PROFILE_DIR, POLICY_FILE, DEV_KEY)
    profiles = load_profiles(PROFILE_DIR)
    profile = {c.n: profiles[c.profile] for c in scenario.chains}
    seen: set[str] = set()
    late: set[tuple[int, str]] = set()
    for m in scenario.messages:
        connector = core.connectors[m.partner]
        try:
            payload = connector.prepare_raw(m.payload)
        except NormalisationError:
            continue
        result = connector.process(RawMessage(m.partner, payload, m.received, m.content_type))
        for event in getattr(result, "events", None) or ():
            if event.event_id in seen:
                continue
            seen.add(event.event_id)
            if m.received - event.occurred_at > profile[m.n].late_sla(event.event_type):
                late.add((m.n, m.step))
    return late


@pytest.mark.parametrize("seed", [SEED, 3])
def test_exactly_the_intended_records_are_beyond_lateness(seed: int) -> None:
    scenario = build(seed, 50, arrival=REALISTIC)
    late_fault = {
        (c.n, "lymphodepletion") for c in scenario.chains if c.injection.fault == "LATE_EVENT"
    }
    assert 1 <= len(scenario.overdue) <= 3
    assert beyond_lateness(scenario) == set(scenario.overdue) | late_fault
    chains = {c.n: c for c in scenario.chains}
    for n, step in scenario.overdue:
        injection = chains[n].injection
        assert (injection.fault, injection.codes) == (OVERDUE, ("LATE_EVENT",))
        assert step in injection.how


def test_ordered_arrival_sends_nothing_beyond_lateness_but_the_fault() -> None:
    scenario = build(SEED, 50)
    late_fault = {
        (c.n, "lymphodepletion") for c in scenario.chains if c.injection.fault == "LATE_EVENT"
    }
    assert beyond_lateness(scenario) == late_fault


def test_late_event_cases_are_exactly_the_expected_ones(
    realistic: tuple[Scenario, Outcome],
) -> None:
    scenario, outcome = realistic
    expected = {c.coi for c in scenario.chains if "LATE_EVENT" in c.injection.codes}
    assert {c.coi_id for c in outcome.cases.values() if c.code == "LATE_EVENT"} == expected


def test_waves_keep_each_chain_in_receipt_order(realistic: tuple[Scenario, Outcome]) -> None:
    scenario, outcome = realistic
    fed: list[Message] = []
    for step in scenario.steps():
        for wave in step.waves:
            assert len({m.coi for m in wave}) == len(wave)
            assert all(m.received <= step.at for m in wave)
            fed.extend(wave)
    for n in {c.n for c in scenario.chains}:
        assert [m for m in fed if m.n == n] == [m for m in scenario.messages if m.n == n]
    assert len(outcome.plans) == len(scenario.messages), "one plan per message, resends too"


def test_jobs_run_on_their_grid() -> None:
    at = datetime.fromisoformat("2025-02-01T10:07:00+00:00")
    assert next_run(at, 15, 0) == datetime.fromisoformat("2025-02-01T10:15:00+00:00")
    assert next_run(at, 30, 7) == at
