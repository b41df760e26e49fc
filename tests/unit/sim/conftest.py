"""Scenarios shared by the simulator tests (built once per session: they are deterministic)."""

from __future__ import annotations

import pytest

from hub.sim.faults import ALL
from hub.sim.offline import Outcome, run_offline
from hub.sim.scenario import Scenario, build

SEED = 7


@pytest.fixture(scope="session")
def full() -> tuple[Scenario, Outcome]:
    """The demo's network: 50 patients, every fault once, the rest clean."""
    scenario = build(SEED, 50)
    assert {c.injection.fault for c in scenario.chains} >= set(ALL)
    return scenario, run_offline(scenario)


@pytest.fixture(scope="session")
def clean() -> tuple[Scenario, Outcome]:
    """Clean chains only, across every clinic and product profile of the network."""
    scenario = build(11, 24, faults=[])
    return scenario, run_offline(scenario)


@pytest.fixture(scope="session")
def realistic() -> tuple[Scenario, Outcome]:
    """The demo's network as partners really deliver (``hub.sim.arrival``)."""
    scenario = build(SEED, 50, arrival="realistic")
    return scenario, run_offline(scenario)
