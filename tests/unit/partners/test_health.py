"""Partner feed health, the pure logic (``hub.partners.health``), on an injected clock: the tick
times are the test's own. Silence beyond the freshness SLA, recovery when the partner speaks,
a dead-letter rate over its limit (and not at or below it, nor on too few messages), and the
chains a silent partner puts at risk in the next 72 hours, each with its nearest deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.chain.catalogue import Scope, Timing, catalogue, lookup
from hub.chain.findings import Severity
from hub.chain.state import ChainState, Deadline
from hub.errors import ConfigurationError
from hub.partners.health import (
    FeedHealth,
    FeedPolicy,
    at_risk,
    feed_key,
    hear,
    is_feed_key,
    judge,
    take,
)
from hub.partners.registry import load_entry, load_registry
from hub.settings import REPO_ROOT

pytestmark = pytest.mark.req("REQ-EXC-PARTNER_FEED_SILENT", "REQ-EXC-PARTNER_FEED_DEGRADED")

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
SLA = timedelta(minutes=120)
POLICY = FeedPolicy(
    partner="courier",
    names=frozenset({"courier"}),
    freshness_sla=SLA,
    max_rate=0.2,
    window=timedelta(minutes=60),
    min_messages=5,
)


class Feed:
    """One partner's feed driven as a driver would: messages heard, then a tick."""

    def __init__(self, policy: FeedPolicy = POLICY, chains: list[ChainState] | None = None):
        self.policy, self.chains = policy, chains or []
        self.health = FeedHealth(partner=policy.partner)
        self.asked = 0

    def hear(self, at: datetime, dead: bool = False, times: int = 1) -> None:
        for _ in range(times):
            heard = hear(self.health, at, dead)
            assert heard is not None
            self.health = heard

    def tick(self, now: datetime):
        def dependents() -> list[ChainState]:
            self.asked += 1
            return self.chains

        heard, health = take(self.health, now)
        verdict = judge(health, self.policy, heard, now, f"tick@{now}", dependents)
        self.health = verdict.health
        return verdict


def chain(coi: str, feeds: dict[str, datetime], *due: tuple[str, datetime]) -> ChainState:
    return ChainState(
        coi_id=coi,
        feeds=feeds,
        deadlines=[Deadline(code=code, subject=f"{code.lower()}-1", due_at=at) for code, at in due],
    )


def test_a_partner_silent_beyond_its_sla_raises_one_case_on_its_feed_key() -> None:
    feed = Feed()
    feed.hear(T0 - timedelta(seconds=20))
    assert feed.tick(T0).findings == ()
    assert feed.tick(T0 + SLA - timedelta(seconds=20)).findings == ()  # exactly the SLA: on time
    verdict = feed.tick(T0 + SLA + timedelta(minutes=1))
    [finding] = verdict.findings
    assert finding.code == "PARTNER_FEED_SILENT"
    assert finding.coi_id == feed_key("courier") == "partner:courier"
    assert finding.subject == f"courier@{(T0 - timedelta(seconds=20)).isoformat()}"
    assert finding.occurred_at == T0 - timedelta(seconds=20) + SLA  # when the SLA ran out
    assert finding.evidence_event_ids == [f"tick@{T0 + SLA + timedelta(minutes=1)}"]
    assert "no chain depends on it in the next 72 h" in finding.summary
    assert feed.health.silent is not None
    # still silent on the next ticks: the same episode, no second finding
    assert feed.tick(T0 + 3 * SLA).findings == ()
    assert feed.tick(T0 + 30 * SLA).recovered == ()


def test_a_partner_never_heard_from_is_not_judged() -> None:
    feed = Feed()
    verdict = feed.tick(T0 + 100 * SLA)
    assert (verdict.findings, verdict.recovered) == ((), ())
    assert feed.health == FeedHealth(partner="courier")


def test_a_silent_partner_that_speaks_again_recovers_and_a_new_silence_is_a_new_case() -> None:
    feed = Feed()
    feed.hear(T0)
    [first] = feed.tick(T0 + SLA + timedelta(minutes=5)).findings
    back = T0 + SLA + timedelta(minutes=7, seconds=30)
    feed.hear(back)
    assert feed.tick(T0 + SLA + timedelta(minutes=7)).recovered == ()  # not heard by then yet
    verdict = feed.tick(T0 + SLA + timedelta(minutes=8))
    [recovery] = verdict.recovered
    assert (recovery.code, recovery.subject) == ("PARTNER_FEED_SILENT", first.subject)
    assert back.isoformat() in recovery.reason
    assert verdict.findings == ()
    assert feed.health.silent is None
    assert feed.health.last_seen == back
    [second] = feed.tick(back + SLA + timedelta(minutes=1)).findings
    assert second.subject == f"courier@{back.isoformat()}" != first.subject


def test_a_feed_without_a_freshness_sla_is_never_silent() -> None:
    feed = Feed(FeedPolicy("qms", frozenset({"qms"}), None, 0.2, timedelta(hours=1), 5))
    feed.hear(T0)
    assert feed.tick(T0 + timedelta(days=30)).findings == ()


def test_a_dead_letter_rate_above_the_limit_degrades_the_feed() -> None:
    feed = Feed()
    feed.hear(T0 - timedelta(minutes=30), times=7)
    feed.hear(T0 - timedelta(minutes=10), dead=True, times=3)
    verdict = feed.tick(T0)
    [finding] = verdict.findings
    assert finding.code == "PARTNER_FEED_DEGRADED"
    assert finding.coi_id == "partner:courier"
    assert finding.subject == f"courier@{T0.isoformat()}"
    assert "3 of 10 messages dead-lettered in the last 60 min (30%; limit 20%)" in finding.summary
    assert feed.health.dead_letter_rate == pytest.approx(0.3)
    assert (feed.health.window_messages, feed.health.window_dead) == (10, 3)
    assert feed.tick(T0 + timedelta(minutes=1)).findings == ()  # one case per episode


@pytest.mark.parametrize(
    ("good", "dead"),
    [(8, 2), (0, 4)],
    ids=["at the limit (20%)", "too few messages to judge (4 < 5)"],
)
def test_a_rate_at_the_limit_or_on_too_few_messages_is_not_degraded(good: int, dead: int) -> None:
    feed = Feed()
    feed.hear(T0 - timedelta(minutes=5), times=good)
    feed.hear(T0 - timedelta(minutes=5), dead=True, times=dead)
    assert feed.tick(T0).findings == ()
    assert feed.health.degraded is None
    assert feed.health.dead_letter_rate == pytest.approx(dead / (good + dead))


def test_bad_messages_that_leave_the_window_end_the_degradation() -> None:
    feed = Feed()
    feed.hear(T0 - timedelta(minutes=50), dead=True, times=5)
    [opened] = feed.tick(T0).findings
    feed.hear(T0 + timedelta(minutes=5), times=5)
    # 5 bad ones still in the window of the tick at T0 + 9 min: 50%, still degraded
    assert feed.tick(T0 + timedelta(minutes=9)).recovered == ()
    verdict = feed.tick(T0 + timedelta(minutes=11))  # the bad minute left the window
    [recovery] = verdict.recovered
    assert (recovery.code, recovery.subject) == ("PARTNER_FEED_DEGRADED", opened.subject)
    assert "0 of 5 messages dead-lettered" in recovery.reason
    assert feed.health.degraded is None
    assert [b.end for b in feed.health.buckets] == [T0 + timedelta(minutes=5)]


def test_a_silence_lists_the_chains_that_depend_on_the_partner_with_their_nearest_deadline() -> (
    None
):
    now = T0 + SLA + timedelta(minutes=1)
    chains = [
        chain(  # depends; its nearest deadline ahead is the custody gap (the slot one passed)
            "V2VCHAINA000001X",
            {"courier": T0},
            ("SLOT_MISSED", now - timedelta(hours=1)),
            ("CUSTODY_GAP", now + timedelta(hours=30)),
            ("ETA_BEYOND_WINDOW", now + timedelta(hours=50)),
        ),
        chain("V2VCHAINB000001X", {"courier": T0}, ("SLOT_MISSED", now + timedelta(hours=2))),
        chain(  # depends, but its deadline is beyond 72 h
            "V2VCHAINC000001X", {"courier": T0}, ("V2V_OVER_TARGET", now + timedelta(hours=73))
        ),
        chain(  # another partner's chain: the courier never reported on it
            "V2VCHAIND000001X", {"fhir": T0}, ("SLOT_MISSED", now + timedelta(hours=1))
        ),
        chain("V2VCHAINE000001X", {"courier": T0}),  # no deadline at all
    ]
    feed = Feed(chains=chains)
    feed.hear(T0)
    assert feed.tick(T0 + timedelta(minutes=1)).findings == ()
    assert feed.asked == 0  # the chains are looked through only when a silence begins
    [finding] = feed.tick(now).findings
    assert feed.asked == 1
    listed = [(r.coi_id, r.code, r.due_at) for r in feed.health.silent.at_risk]
    assert listed == [
        ("V2VCHAINB000001X", "SLOT_MISSED", now + timedelta(hours=2)),
        ("V2VCHAINA000001X", "CUSTODY_GAP", now + timedelta(hours=30)),
    ]
    assert feed.health.silent.at_risk_total == 2
    assert "2 chain(s) depend on it in the next 72 h" in finding.summary
    assert finding.summary.index("V2VCHAINB000001X") < finding.summary.index("V2VCHAINA000001X")
    assert f"CUSTODY_GAP custody_gap-1 due {(now + timedelta(hours=30)).isoformat()}" in (
        finding.summary
    )
    for absent in ("V2VCHAINC000001X", "V2VCHAIND000001X", "V2VCHAINE000001X"):
        assert absent not in finding.summary


def test_a_chain_depends_on_a_partner_under_any_of_its_names() -> None:
    """Events name their connector as source partner: a registry partner whose id differs
    from its connector's name is found under either."""
    due = T0 + timedelta(hours=5)
    states = [chain("V2VCHAINA000001X", {"fhir": T0}, ("SLOT_MISSED", due))]
    assert [r.coi_id for r in at_risk(states, {"amsterdam-umc", "fhir"}, T0)] == [
        "V2VCHAINA000001X"
    ]
    assert at_risk(states, {"courier"}, T0) == []


def test_heard_hands_over_whole_minutes_up_to_the_tick_once() -> None:
    health = FeedHealth(partner="courier")
    for at, dead in [(T0 - timedelta(seconds=30), False), (T0, True)]:  # on the minute: ends it
        health = hear(health, at, dead) or health
    later = hear(health, T0 + timedelta(seconds=1), False)
    assert later is not None
    assert later.latest_heard() == T0 + timedelta(seconds=1)
    [minute], rest = take(later, T0)
    assert (minute.end, minute.messages, minute.dead, minute.last) == (T0, 2, 1, T0)
    assert take(rest, T0) == ((), rest)  # handed over once
    [next_minute], empty = take(rest, T0 + timedelta(minutes=1))
    assert next_minute.end == T0 + timedelta(minutes=1)
    assert empty.unjudged == ()
    assert empty.latest_heard() is None


def test_a_message_heard_again_from_its_source_counts_once() -> None:
    """A worker that crashed after writing a heard note writes it again when the raw message is
    read again: at or below the source's last offset counted, it changes nothing."""
    health = FeedHealth(partner="courier")
    first = hear(health, T0, False, "v2v.raw.courier:3", 41)
    assert first is not None
    assert hear(first, T0, False, "v2v.raw.courier:3", 41) is None
    assert hear(first, T0, False, "v2v.raw.courier:3", 40) is None
    other = hear(first, T0, True, "v2v.raw.courier:4", 0)  # another partition: its own offsets
    assert other is not None
    nxt = hear(other, T0, False, "v2v.raw.courier:3", 42)
    assert nxt is not None
    [minute] = nxt.unjudged
    assert (minute.messages, minute.dead) == (3, 1)
    assert dict(nxt.heard_upto) == {"v2v.raw.courier:3": 42, "v2v.raw.courier:4": 0}


def test_feed_keys_can_never_be_a_coi() -> None:
    assert is_feed_key("partner:courier")
    assert not is_feed_key("V2VSAMPLE000001T")
    assert not is_feed_key(None)
    assert not is_feed_key("")


def test_the_catalogue_has_the_two_feed_codes_apart_from_the_chain_codes() -> None:
    feed = catalogue(Scope.PARTNER_FEED)
    assert [(e.code, e.severity, e.owner_role, e.timing) for e in feed] == [
        ("PARTNER_FEED_SILENT", Severity.HIGH, "integration ops", Timing.ON_TICK),
        ("PARTNER_FEED_DEGRADED", Severity.MEDIUM, "integration ops", Timing.ON_TICK),
    ]
    for entry in feed:
        assert entry.evidence
        assert len(entry.playbook) >= 2
        assert lookup(entry.code) is entry
    assert not {e.code for e in feed} & {e.code for e in catalogue(Scope.CHAIN)}


def test_the_policy_comes_from_the_registry_entry() -> None:
    registry = load_registry(REPO_ROOT / "deploy" / "partners")
    courier = FeedPolicy.of(registry["courier"])
    assert courier.freshness_sla == timedelta(minutes=registry["courier"].cadence.freshness_sla_min)
    assert courier.names == {"courier"}
    limit = registry["courier"].dead_letters
    assert (courier.max_rate, courier.window, courier.min_messages) == (
        limit.max_rate,
        timedelta(minutes=limit.window_min),
        limit.min_messages,
    )


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ("cadence: {heartbeat_min: 90, freshness_sla_min: 60}", "heartbeat_min (90) exceeds"),
        ("dead_letters: {max_rate: 1.5}", "dead_letters.max_rate: Input should be less than 1"),
        ("dead_letters: {window_min: 0}", "dead_letters.window_min: Input should be greater"),
        ("dead_letters: {min_messages: 0}", "dead_letters.min_messages: Input should be greater"),
        ("dead_letters: {rate: 0.1}", "dead_letters.rate: Extra inputs are not permitted"),
    ],
)
def test_a_bad_cadence_or_dead_letter_limit_is_refused(
    tmp_path: Path, extra: str, problem: str
) -> None:
    text = (REPO_ROOT / "deploy" / "partners" / "courier.yaml").read_text()
    kept = [ln for ln in text.splitlines() if not ln.startswith(("cadence:", "dead_letters:"))]
    path = tmp_path / "courier.yaml"
    path.write_text("\n".join([*kept, extra]) + "\n")
    with pytest.raises(ConfigurationError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        load_entry(path)
