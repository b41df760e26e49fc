"""Native messages: every one normalises except the deliberately malformed ones, which are
exactly the dead letters of the ground truth; the clinic's feed carries no identity onto a topic."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

from hub.settings import REPO_ROOT
from hub.sim.offline import Outcome
from hub.sim.scenario import Scenario


@pytest.mark.req("REQ-FN-CONNECTORS")
def test_clean_messages_all_normalise(clean: tuple[Scenario, Outcome]) -> None:
    scenario, outcome = clean
    assert outcome.dead_letters == []
    assert outcome.refused == []
    assert len(outcome.plans) == len(scenario.messages)
    assert all(p.events_out > 0 for p in outcome.plans.values())


@pytest.mark.req("REQ-INV-01")
def test_only_the_malformed_messages_are_dead_lettered(full: tuple[Scenario, Outcome]) -> None:
    scenario, outcome = full
    expected = Counter(d for i in scenario.injections for d in i.dead_letters)
    got = Counter(f"{d.partner}:{d.code}" for d in outcome.dead_letters)
    assert got == expected
    # the QMS's naive timestamp is read in the zone its registry entry declares: no dead letter
    assert set(expected) == {"courier:NOT_JSON", "lims:MISSING_COLUMN"}
    assert outcome.refused == []


@pytest.mark.req("REQ-INV-05")
def test_no_patient_identity_reaches_a_topic(full: tuple[Scenario, Outcome]) -> None:
    """What the edge writes for the clinic's feed is pseudonymised (DESIGN.md invariant 5)."""
    scenario, outcome = full
    people = {p.coi: p for p in scenario.network.patients}
    fhir = [p for p in outcome.plans.values() if p.message.partner == "fhir"]
    assert fhir
    for plan in fhir:
        patient = people[plan.message.coi]
        raw = plan.message.payload.decode()
        written = plan.payload.decode()
        assert patient.mrn in raw  # the EHR sends it...
        for token in (patient.mrn, patient.family, patient.birth_date):
            assert token not in written  # ...the edge never writes it
        json.loads(written)


@pytest.mark.req("REQ-INV-03")
def test_the_offline_runner_needs_no_broker_client() -> None:
    code = (
        "import sys, hub.sim.offline, hub.sim.report;"
        "assert not {'faust', 'confluent_kafka', 'redis'} & set(sys.modules), sys.modules.keys()"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)
