"""Fault injection, offline: every code of the catalogue is detected with precision and recall
1.0, exactly the expected codes on each faulty chain, nothing on a clean one."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest

from hub.cases.escalation import load_policy
from hub.chain.catalogue import Scope, catalogue
from hub.partners.health import is_feed_key
from hub.sim.faults import ALL, CODES, FAULTS, default_faults
from hub.sim.offline import POLICY_FILE, Outcome, run_offline
from hub.sim.scenario import Scenario, build
from hub.sim.score import Score, score

pytestmark = pytest.mark.req("REQ-FN-DETECTION")


def _score(scenario: Scenario, outcome: Outcome) -> Score:
    dead = [f"{d.partner}:{d.code}" for d in outcome.dead_letters]
    return score(scenario.injections, outcome.cases.values(), dead)


def _codes_by_chain(outcome: Outcome) -> dict[str, set[str]]:
    raised: dict[str, set[str]] = defaultdict(set)
    for case in outcome.cases.values():
        raised[case.coi_id].add(case.code)
    return raised


def test_the_faults_cover_the_whole_catalogue() -> None:
    assert set(CODES) == {entry.code for entry in catalogue(Scope.CHAIN)}
    assert set(FAULTS) == set(ALL)
    for code in CODES:
        assert FAULTS[code].codes == (code,), "each fault raises its own code and only it"
    assert default_faults(50) == ALL


@pytest.mark.parametrize("code", CODES)
def test_every_code_is_detected_exactly(full: tuple[Scenario, Outcome], code: str) -> None:
    scenario, outcome = full
    row = next(r for r in _score(scenario, outcome).codes if r.code == code)
    assert (row.injected, row.detected, row.raised) == (1, 1, 1)
    assert row.precision == row.recall == 1.0
    assert row.latency_h
    assert row.latency_h[0] >= 0


def test_each_chain_raises_exactly_its_ground_truth(full: tuple[Scenario, Outcome]) -> None:
    scenario, outcome = full
    raised = _codes_by_chain(outcome)
    for chain in scenario.chains:
        assert raised.get(chain.coi, set()) == set(chain.injection.codes), chain.injection.fault
    result = _score(scenario, outcome)
    assert result.ok
    assert result.clean_chains == len(scenario.chains) - len(CODES) >= len(scenario.chains) // 4
    assert not result.noisy_clean


def test_clean_chains_raise_nothing(clean: tuple[Scenario, Outcome]) -> None:
    scenario, outcome = clean
    assert [c for c in outcome.cases.values() if not is_feed_key(c.coi_id)] == []
    # The network's partners speak about its 24 chains only, so they fall silent between
    # them (a feed case, hub.partners.health); none sends enough bad messages to degrade.
    assert {c.code for c in outcome.cases.values()} <= {"PARTNER_FEED_SILENT"}
    assert {s.stage for s in outcome.states.values()} == {"INFUSED"}
    assert {(c.clinic, c.profile) for c in scenario.chains} == {
        ("BOS", "cart-fresh-48h"), ("BOS", "default"), ("AMS", "cart-cryo-120"),
        ("AMS", "default"), ("CHI", "default"),
    }  # fmt: skip


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_other_seeds_detect_as_exactly(seed: int) -> None:
    """Other seeds put the faults on other clinics, products and timings."""
    scenario = build(seed, len(ALL) + 4)  # the smallest network that gets every fault
    outcome = run_offline(scenario)
    result = _score(scenario, outcome)
    assert result.ok, (result.missed, result.unexpected, result.noisy_clean, result.dead_got)
    assert {r.code for r in result.codes} == set(CODES)


@pytest.mark.req("REQ-FN-ESCALATION")
def test_every_case_is_escalated_once_and_unacknowledged_ones_go_up_in_simulated_time(
    full: tuple[Scenario, Outcome],
) -> None:
    _, outcome = full
    first = [e for e in outcome.escalations if e.level == 1]
    assert sorted(e.case_id for e in first) == sorted(outcome.cases)
    assert len([e for e in first if not is_feed_key(e.coi_id)]) == len(CODES)
    opened = {e.case_id: e.issued_at for e in first}
    policy = load_policy(POLICY_FILE)
    for escalation in outcome.escalations:
        case = outcome.cases[escalation.case_id]
        levels = policy.levels[case.severity]
        assert escalation.recipient_role == levels[escalation.level - 1].role
        if escalation.level > 1:  # nobody acknowledges in the simulation: the next level is due
            assert escalation.issued_at == opened[case.case_id] + timedelta(
                minutes=sum(lv.ack_within_min or 0 for lv in levels[: escalation.level - 1])
            )
    assert len({e.escalation_id for e in outcome.escalations}) == len(outcome.escalations)
    assert any(e.level > 1 for e in outcome.escalations)
