"""The fault suite: a simulated network through the real stack while a fault strikes, compared
with the same scenario through the flow core in memory (no faults).

The faults: the worker SIGKILLed and restarted, again and again; the broker stopped and started
mid-stream; Redis down (it comes back empty); the webhook receiver down; three workers sharing
the partitions, one SIGKILLed; poison records on every topic the hub consumes. Each case asserts
(``FaultRun.check``): the final case set identical (ids, versions, statuses), in Kafka and in
the Redis read model; every escalation issued, each webhook escalation delivered exactly once to
a real loopback receiver; every event written (replayed duplicates suppressed, never counted as
progress); raw in per partner as sent, and the same dead letters (the poison records' aside).
Each prints its figures: time to recover, duplicates suppressed, notifications retried.

``make test`` runs a bounded version (3 kills, 1 patient, outages of seconds); ``make faults``
the full one (``V2V_FAULT_KILLS``, ``V2V_FAULT_PATIENTS``, ``V2V_FAULT_OUTAGE_S``,
``V2V_FAULT_RECEIVER_DOWN_S``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from itertools import cycle
from pathlib import Path

import httpx
import pytest

from hub.bench.report import TARGET_RESTART_S
from hub.bench.restart import restart_with_chains
from hub.events.models import Event
from hub.flow.core import tick_event
from hub.serde import wire_for
from hub.settings import Settings
from hub.sim.live import Caused
from hub.sim.stack import Feeder
from tests.integration.faults import (
    CHAINS,
    KILLS,
    OUTAGE_S,
    RECEIVER_DOWN_S,
    FaultRun,
    LocalStack,
    Receiver,
)

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.faults,
    pytest.mark.req("REQ-A11-CONTINUITY", "REQ-INV-01"),
]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def fault_run(
    hub_settings: Settings, receiver: Receiver, tmp_path: Path
) -> Callable[[str], FaultRun]:
    """``fault_run(name)``: a fault case on this test's own hub, topics and receiver."""
    return lambda name: FaultRun(name, hub_settings, receiver, tmp_path)


def test_a_worker_killed_repeatedly_loses_and_duplicates_nothing(
    fault_run: Callable[[str], FaultRun],
) -> None:
    run = fault_run("SIGKILL")
    kill_at = {run.at((i + 1) / (KILLS + 1)) for i in range(KILLS)}
    worker = run.start_worker()
    ready: list[float] = []

    def crash(hour: int) -> None:
        if hour in kill_at:
            worker.kill()
            began = time.monotonic()
            worker.start()
            worker.wait_ready()
            ready.append(round(time.monotonic() - began, 1))
            run.cleared()

    result = run.run(crash)
    run.figures["kills survived"] = len(run.recovered)
    run.figures["ready after each restart (s)"] = ready
    run.check(result, crashed=True)
    assert len(run.recovered) == KILLS


@pytest.mark.faults_long
def test_the_broker_stopped_and_restarted_mid_stream(fault_run: Callable[[str], FaultRun]) -> None:
    run = fault_run("broker")
    stack, hour_of = LocalStack(run.settings), run.at(0.4)

    def outage(hour: int) -> None:
        if hour == hour_of:
            stack.stop("kafka")
            time.sleep(OUTAGE_S)  # the outage itself
            stack.start("kafka")
            run.cleared()

    result = run.run(outage)
    run.figures["broker down (s)"] = OUTAGE_S
    run.check(result)
    assert len(run.recovered) == 1


@pytest.mark.faults_long
def test_redis_down_processing_goes_on_and_the_read_model_catches_up(
    fault_run: Callable[[str], FaultRun],
) -> None:
    run = fault_run("redis")
    stack = LocalStack(run.settings)
    worker = run.start_worker()

    def back() -> None:
        rebuilt = worker.metric("v2v_projection_rebuilt_total")
        began = time.monotonic()
        stack.start("redis")  # empty: the local Redis keeps nothing across a restart
        worker.wait_metric("v2v_projection_rebuilt_total", rebuilt + 1)
        run.figures["read model rebuilt after (s)"] = round(time.monotonic() - began, 1)

    result = run.run(run.outage("Redis", lambda: stack.stop("redis"), back, OUTAGE_S))
    run.check(result)


@pytest.mark.faults_long
def test_the_webhook_receiver_down_notifications_wait_and_arrive_once(
    fault_run: Callable[[str], FaultRun],
) -> None:
    run = fault_run("webhook receiver")
    receiver = run.receiver
    result = run.run(run.outage("receiver", receiver.down, receiver.up, RECEIVER_DOWN_S))
    run.figures["first delivery after the receiver returned (s)"] = round(
        receiver.first_after_up or -1, 1
    )
    run.check(result)
    assert run.figures["notifications retried"], "notifications waited for the receiver"


@pytest.mark.faults_long
def test_three_workers_one_killed_partitions_move_and_state_follows(
    fault_run: Callable[[str], FaultRun],
) -> None:
    run = fault_run("3 workers, 1 SIGKILL")
    workers = [run.start_worker() for _ in range(3)]
    kill_at = run.at(0.4)

    def crash(hour: int) -> None:
        if hour == kill_at:
            # the worker holding the most partitions (a group of three over four partitions
            # may leave one with none, standing by): its partitions must move
            held = [httpx.get(f"{w.url}/ready", timeout=5).json()["partitions"] for w in workers]
            busiest = max(range(len(workers)), key=held.__getitem__)
            assert held[busiest] > 0
            run.figures["partitions of the killed worker"] = held[busiest]
            workers[busiest].kill()
            run.cleared()

    result = run.run(crash)
    run.check(result, crashed=True)
    assert len(run.recovered) == 1


def test_poison_on_every_topic_the_hub_reads_is_dead_lettered_and_chains_go_on(
    fault_run: Callable[[str], FaultRun],
) -> None:
    run = fault_run("poison")
    topics, poison_at = run.topics, run.at(0.4)
    # Undecodable bytes on every topic an agent reads, and a CLOCK_TICK from an arbitrary
    # client (unsigned, dated 2099) on the events topic. Unkeyed on the events topic: the
    # barriers count the keyed records there, the hub's own events.
    poison: dict[str, list[tuple[bytes | None, bytes]]] = {
        **{t: [(b"POISON", b"\x00poison for " + t.encode())] for t in topics.raw.values()},
        topics.identity: [(b"POISON", b"\x00poison identity")],
        topics.events: [(None, b"\x00poison event")],
        topics.commands: [(b"POISON", b"\x00poison command")],
        topics.feeds: [(b"POISON", b"\x00poison feed record")],
        topics.cases: [(b"POISON", b"\x00poison case")],
        topics.escalations: [(b"POISON", b"\x00poison escalation")],
    }
    wire = wire_for(
        Event, run.settings.wire_format, topics.events, run.settings.schema_registry_url
    )
    forged = wire.encode(tick_event(datetime(2099, 1, 1, tzinfo=UTC), 0, "wall"))
    poison[topics.events].append((b"", forged))

    def inject(hour: int) -> Caused | None:
        if hour != poison_at:
            return None
        # in batches of every codec Kafka has: a client may compress with any of them
        feeders = {codec: Feeder(run.settings, codec) for codec in CODECS}
        try:
            for codec, (topic, records) in zip(cycle(CODECS), poison.items(), strict=False):
                feeders[codec].send(topic, ((key, value, None) for key, value in records))
                run.poison.update({value: topic for _, value in records})
        finally:
            for feeder in feeders.values():
                feeder.close()
        # each raw poison record is heard (a dead-lettered message of its partner) too
        return Caused(dead=len(run.poison), raw=len(topics.raw))

    result = run.run(inject)
    run.figures["poison records dead-lettered"] = len(run.poison)
    run.check(result)


@pytest.mark.faults_long
@pytest.mark.timeout(3600)
def test_a_worker_restarted_over_many_chains_recovers_their_state(
    hub_settings: Settings, tmp_path: Path
) -> None:
    """The chain table filled with ``V2V_FAULT_CHAINS`` chains (100 000 in ``make faults``, in
    RocksDB), then the worker restarted: seconds until ready, and until it applied an event of
    an existing chain on the recovered state. Speed is printed against its target, not asserted
    (the figure depends on the machine); the recovered state is asserted."""
    restart = restart_with_chains(hub_settings, CHAINS, tmp_path, say=print)
    target = f"target < {TARGET_RESTART_S:.0f} s at 100,000 chains"
    print(
        f"\nfaults[restart]: {restart.chains:,} chains ({restart.changelog_writes:,} changelog "
        f"records): ready after {restart.ready_s:.1f} s, resumed after {restart.resume_s:.1f} s "
        f"({target})"
    )
    assert restart.state_recovered
