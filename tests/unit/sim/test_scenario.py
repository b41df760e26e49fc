"""The scenario: seeded and reproducible, every partner dialect, ordered steps and waves."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections import Counter

from connectors.registry import CONNECTORS
from hub.sim.offline import Outcome
from hub.sim.scenario import Scenario, build
from tests.unit.sim.conftest import SEED


def test_the_same_seed_gives_byte_identical_messages() -> None:
    first, again = build(SEED, 12), build(SEED, 12)
    assert [(m.partner, m.step, m.received, m.payload) for m in first.messages] == [
        (m.partner, m.step, m.received, m.payload) for m in again.messages
    ]
    assert first.injections == again.injections


def test_another_seed_gives_another_network() -> None:
    one, other = build(SEED, 12), build(SEED + 1, 12)
    assert {m.payload for m in one.messages}.isdisjoint({m.payload for m in other.messages})


def test_every_partner_dialect_is_spoken(full: tuple[Scenario, Outcome]) -> None:
    scenario, _ = full
    partners = Counter(m.partner for m in scenario.messages)
    assert set(partners) == set(CONNECTORS)
    kinds = Counter(m.content_type for m in scenario.messages)
    assert {"application/xml", "text/csv", "application/fhir+json", "application/ld+json"} <= set(
        kinds
    )


def test_every_clinic_and_profile_takes_part(full: tuple[Scenario, Outcome]) -> None:
    scenario, _ = full
    pairs = {(c.clinic, c.profile) for c in scenario.chains}
    assert {clinic for clinic, _ in pairs} == {"BOS", "AMS", "CHI"}
    assert {profile for _, profile in pairs} == {"default", "cart-fresh-48h", "cart-cryo-120"}


def test_steps_are_hourly_and_waves_keep_each_chain_in_order(
    full: tuple[Scenario, Outcome],
) -> None:
    scenario, _ = full
    steps = list(scenario.steps())
    assert steps[0].at == scenario.start
    assert steps[-1].at == scenario.horizon
    assert all((b.at - a.at).total_seconds() == 3600 for a, b in itertools.pairwise(steps))
    fed = []
    for step in steps:
        for wave in step.waves:
            cois = [m.coi for m in wave]
            assert len(cois) == len(set(cois)), "one message per chain per wave"
            assert all(m.received <= step.at for m in wave)
            fed.extend(wave)
    assert len(fed) == len(scenario.messages)
    for coi in {m.coi for m in fed}:
        times = [m.received for m in fed if m.coi == coi]
        assert times == sorted(times)


def test_a_small_network_keeps_a_quarter_of_its_chains_clean() -> None:
    scenario = build(SEED, 12)
    faults = Counter(c.injection.fault for c in scenario.chains)
    assert faults["clean"] >= 3
    assert "PATIENT_STATUS_CHANGE" in faults
    assert "CUSTODY_GAP" in faults


def test_messages_do_not_depend_on_the_interpreter_run() -> None:
    """Byte-identical across processes too (no set order or hash seed leaks into a message)."""
    code = (
        "import hashlib\nfrom hub.sim.scenario import build\n"
        "h = hashlib.sha256()\n"
        "for m in build(7, 8).messages:\n"
        "    h.update(m.partner.encode() + m.received.isoformat().encode() + m.payload)\n"
        "print(h.hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(digests) == 1
