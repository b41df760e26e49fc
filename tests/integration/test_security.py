"""Authentication, authority and e-signatures through a real ``v2v run`` worker, Kafka and Redis.

One chain with a HIGH case (customs hold) and a CRITICAL identity case (a foreign DIN scanned at
receipt). Without a token nothing but /ready and /metrics answers; an operator acknowledges the
HIGH case as herself; she may not resolve the identity case (403, recorded on the audit topic);
the qualified person's resolution is refused while her authentication is stale (401) or she
signs an old version (409), and accepted with a fresh one: the new case version carries her
sealed signature, which verifies against the version she signed with the hub's public key.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from hub.auth.signatures import public_key_from_hex
from hub.auth.verify import verify_case_history, verify_signature
from hub.cases.models import Case
from hub.events.models import Event, EventType
from hub.serde import SingleObjectWireFormat, codec_for
from hub.sim.stack import Feeder, TopicReader, WorkerProcess
from hub.topics import Topics
from tests.scenarios.builders import Story
from tests.scenarios.timeline import din_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.req(
        "REQ-P11-AUTH", "REQ-P11-ROLES", "REQ-P11-ESIG", "REQ-P11-AUDIT", "REQ-ALCOA-ATTRIBUTABLE"
    ),
]

EVENTS = SingleObjectWireFormat(codec_for(Event))
CASES = SingleObjectWireFormat(codec_for(Case))


def troubled_inbound(n: int) -> Story:
    """Fresh material held by customs on the way in, then received with a foreign DIN."""
    s = Story("cart-fresh-48h", n)
    t = s.t
    s.phase_order()
    s.inbound_departed()
    hold = t.inbound_depart + timedelta(hours=1)
    s.shipment(EventType.SHIPMENT_STATUS, s.ship_in, hold, "CUSTOMS_HOLD", code="20")
    s.identity(
        "manufacturing_receipt",
        t.inbound_arrive,
        scanned={"coi": s.coi, "din": din_for(77)},
        matched=False,
    )
    return s


def versions(records: list[Any], case_id: str) -> list[Case]:
    decoded = (CASES.decode(r.value()) for r in records)
    return sorted((c for c in decoded if c.case_id == case_id), key=lambda c: c.version)


def commands(records: list[Any]) -> list[dict[str, Any]]:
    """The audit trail's records of case commands, applied or rejected, in order."""
    kinds = {"CASE_COMMAND", "COMMAND_REJECTED"}
    decoded = (json.loads(r.value()) for r in records)
    return [n for n in decoded if n.get("kind") in kinds]


@pytest.fixture
def opened(hub_settings, worker: WorkerProcess, tokens) -> dict[str, dict[str, Any]]:
    """The chain's two open cases by code, as the worker's read model shows them."""
    topics = Topics.of(hub_settings)
    story = troubled_inbound(41)
    with Feeder(hub_settings) as feeder:
        for event in sorted(story.events, key=lambda e: e.source.received_at):
            feeder.send(topics.events, [(event.coi_id.encode(), EVENTS.encode(event), None)])
    worker.wait_metric("v2v_events_processed_total", len(story.events))
    auditor = tokens.headers("au-alex", "auditor")

    def both() -> dict[str, dict[str, Any]]:
        page = httpx.get(f"{worker.url}/cases", headers=auditor, timeout=5).json()
        return {c["code"]: c for c in page["cases"] if c["coi_id"] == story.coi}

    with TopicReader(hub_settings, topics.cases) as cases:
        assert cases.poll_until(lambda _: len(both()) == 2, timeout_s=60), worker.tail()
    found = both()
    assert found["CUSTOMS_HOLD"]["severity"] == "HIGH"
    assert found["COI_MISMATCH_RECEIPT"]["severity"] == "CRITICAL"
    return found


def test_without_a_token_only_health_and_metrics_answer(worker, tokens, opened) -> None:
    case = opened["CUSTOMS_HOLD"]
    paths = ["/cases", f"/cases/{case['case_id']}", f"/chains/{case['coi_id']}",
             f"/chains/{case['coi_id']}/timeline", "/seal-key", "/", "/table/chains"]  # fmt: skip
    for path in paths:
        answer = httpx.get(f"{worker.url}{path}", timeout=5)
        assert answer.status_code == 401, path
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    ack = httpx.post(f"{worker.url}/cases/{case['case_id']}/ack", json={"actor": "op-olga"})
    assert ack.status_code == 401
    assert httpx.get(f"{worker.url}/ready", timeout=5).status_code == 200
    assert httpx.get(f"{worker.url}/metrics", timeout=5).status_code == 200

    partner = tokens.headers("courier-gateway", "partner:courier")
    refused = httpx.get(f"{worker.url}/cases", headers=partner, timeout=5)
    assert refused.status_code == 403
    assert refused.json()["rule"] == "read.cases"
    operator = tokens.headers("op-olga", "operator")
    assert httpx.get(f"{worker.url}/", headers=operator).json()["rule"] == "unlisted-route"
    assert httpx.get(f"{worker.url}/table/chains", headers=operator).status_code == 404
    expired = tokens.idp.mint("op-olga", ["operator"], minutes=-5)
    stale = httpx.get(f"{worker.url}/cases", headers={"Authorization": f"Bearer {expired}"})
    assert stale.status_code == 401
    assert "expired" in stale.json()["reason"]


def test_commands_are_attributed_authorised_and_signed(
    hub_settings, worker, tokens, opened
) -> None:
    topics = Topics.of(hub_settings)
    high, critical = opened["CUSTOMS_HOLD"], opened["COI_MISMATCH_RECEIPT"]
    olga = tokens.headers("op-olga", "operator", name="Olga Petrova")
    url = f"{worker.url}/cases"

    # the operator acknowledges the HIGH case; the actor is her token's subject
    posed = httpx.post(f"{url}/{high['case_id']}/ack", json={"actor": "qp-anna"}, headers=olga)
    assert posed.status_code == 400
    acked = httpx.post(f"{url}/{high['case_id']}/ack", json={"reason": "on it"}, headers=olga)
    assert acked.status_code == 202, acked.text
    assert acked.json()["actor"] == "op-olga"

    # she may not resolve the CRITICAL identity case: 403 with the rule, and recorded
    forbidden = httpx.post(
        f"{url}/{critical['case_id']}/resolve", json={"reason": "looks fine"}, headers=olga
    )
    assert forbidden.status_code == 403, forbidden.text
    assert forbidden.json()["rule"] == "critical-release-or-identity-resolve"
    assert forbidden.json()["allowed_roles"] == ["qualified-person"]

    # the qualified person: stale authentication, then an old version, then a good signature
    body = {"reason": "foreign DIN was a mislabelled sample tube; re-verified", "version": 1}
    late = tokens.headers("qp-anna", "qualified-person", name="Anna Berg", auth_age_min=10)
    reauth = httpx.post(f"{url}/{critical['case_id']}/resolve", json=body, headers=late)
    assert reauth.status_code == 401, reauth.text
    assert reauth.json()["error"] == "reauthenticate"
    assert 'error="insufficient_user_authentication"' in reauth.headers["WWW-Authenticate"]
    anna = tokens.headers("qp-anna", "qualified-person", name="Anna Berg")
    old = httpx.post(
        f"{url}/{critical['case_id']}/resolve", json={**body, "version": 0}, headers=anna
    )
    assert old.status_code == 409, old.text
    signed = httpx.post(f"{url}/{critical['case_id']}/resolve", json=body, headers=anna)
    assert signed.status_code == 202, signed.text
    assert signed.json()["signature"]["meaning"] == "RESPONSIBILITY"

    worker.wait_metric("v2v_commands_processed_total", 5)
    with TopicReader(hub_settings, topics.cases) as cases:
        assert cases.reach(int(worker.metric("v2v_case_versions_total")), timeout_s=30)
    high_versions = versions(cases.records, high["case_id"])
    assert [(c.version, c.status.value) for c in high_versions] == [
        (1, "OPEN"),
        (2, "ACKNOWLEDGED"),
    ]
    assert high_versions[-1].acknowledged_by == "op-olga"
    assert high_versions[-1].signatures == []
    history = versions(cases.records, critical["case_id"])
    assert [(c.version, c.status.value) for c in history] == [(1, "OPEN"), (2, "RESOLVED")]
    resolved = history[-1]
    assert (resolved.resolved_by, resolved.resolution) == ("qp-anna", body["reason"])
    [sig] = resolved.signatures
    assert (sig.signer, sig.name, sig.case_version) == ("qp-anna", "Anna Berg", 1)

    key = httpx.get(f"{worker.url}/seal-key", headers=anna, timeout=5).json()
    public = public_key_from_hex(key["public_key"])
    assert verify_signature(sig, history[0], public) == []
    assert verify_case_history(history, public) == []
    moved = high_versions[0]
    assert verify_signature(sig, moved, public)  # not the record she signed

    with TopicReader(hub_settings, topics.audit) as audit:
        assert audit.poll_until(lambda rs: len(commands(rs)) >= 5, timeout_s=30), worker.tail()
    notes = commands(audit.records)
    rejected = {(n["body"]["error"], n["actor"]) for n in notes if n["kind"] == "COMMAND_REJECTED"}
    assert rejected == {
        ("NOT_AUTHORISED", "op-olga"),
        ("REAUTHENTICATION_REQUIRED", "qp-anna"),
        ("STALE_VERSION", "qp-anna"),
    }
    forbidden_record = next(n for n in notes if n["body"].get("error") == "NOT_AUTHORISED")
    refusal = forbidden_record["body"]["command"]["refusal"]
    assert refusal["rule"] == "critical-release-or-identity-resolve"
    applied = [n for n in notes if n["kind"] == "CASE_COMMAND"]
    assert [(n["action"], n["actor"], n["body"]["command"]["roles"]) for n in applied] == [
        ("ACKNOWLEDGE", "op-olga", ["operator"]),
        ("RESOLVE", "qp-anna", ["qualified-person"]),
    ]
    assert applied[1]["body"]["note"]["signature"]["seal"] == sig.seal
