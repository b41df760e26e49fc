"""The fault suite's harness: one simulated scenario through the real stack with a fault injected
between simulated hours, compared with the same scenario through the flow core in memory.

:class:`FaultRun` holds the scenario, its fault-free plan, the hub's settings (a loopback webhook
:class:`Receiver`), the workers and the figures; :meth:`FaultRun.run` feeds the scenario (the
fault is a ``between(hour)`` hook) and :meth:`FaultRun.check` asserts what every fault case
asserts, then prints the figures. :class:`LocalStack` stops and starts one service of the local
stack (``deploy/local/stack.sh``) as a fault.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis
from confluent_kafka import KafkaException

from hub.deadletter import header_dict
from hub.errors import DeliveryError
from hub.settings import REPO_ROOT, Settings
from hub.sim.arrival import REALISTIC
from hub.sim.live import Caused, collect, feed
from hub.sim.offline import Outcome, run_offline
from hub.sim.report import RunResult
from hub.sim.scenario import Scenario, build
from hub.sim.stack import TopicReader, WorkerProcess, free_port, group_offsets
from hub.topics import Topics, ensure_topics

SEED = 7
# Bounded in ``make test``; ``make faults`` sets the full figures.
KILLS = int(os.environ.get("V2V_FAULT_KILLS", "3"))
PATIENTS = int(os.environ.get("V2V_FAULT_PATIENTS", "1"))
OUTAGE_S = float(os.environ.get("V2V_FAULT_OUTAGE_S", "8"))  # broker, Redis
RECEIVER_DOWN_S = float(os.environ.get("V2V_FAULT_RECEIVER_DOWN_S", "15"))
CHAINS = int(os.environ.get("V2V_FAULT_CHAINS", "2000"))  # the restart over many chains
CATCH_UP_S = 120.0
STACK = REPO_ROOT / "deploy" / "local" / "stack.sh"


class Receiver:
    """A loopback webhook receiver counting deliveries per escalation id; :meth:`down` closes
    its socket (connections refused), :meth:`up` listens again on the same port."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.first_after_up: float | None = None
        self._up_at: float | None = None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/escalations"
        self.server: ThreadingHTTPServer | None = None
        self.up()

    def up(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                owner.seen[self.headers.get("Idempotency-Key", "")] += 1
                if owner._up_at is not None and owner.first_after_up is None:
                    owner.first_after_up = time.monotonic() - owner._up_at
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self._up_at = time.monotonic() if self._up_at is not None else None

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        self._up_at = 0.0  # the next up() measures the first delivery after it

    def close(self) -> None:
        self.down()


class LocalStack:
    """One service of the local stack (``deploy/local/stack.sh``) stopped and started again."""

    def __init__(self, settings: Settings) -> None:
        self.env = {**os.environ}
        kafka_port = settings.kafka_bootstrap_servers.split(",")[0].rsplit(":", 1)[1]
        redis_port = settings.redis_url.rsplit(":", 1)[1].split("/")[0]
        self.env.setdefault("V2V_LOCAL_KAFKA_PORT", kafka_port)
        self.env.setdefault("V2V_LOCAL_REDIS_PORT", redis_port)
        self.env.setdefault(
            "V2V_LOCAL_READY_TIMEOUT_S", "300"
        )  # a broker restarts slowly on a busy machine
        status = self._stack("status", check=False)
        if "kafka: running" not in status or "redis: running" not in status:
            pytest.fail(
                "the fault suite stops and starts the local stack (deploy/local/stack.sh, as "
                f"make test and make faults start it); its status says:\n{status}"
            )

    def _stack(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            [str(STACK), *args], env=self.env, capture_output=True, text=True, check=False
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"stack.sh {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout + done.stderr

    def stop(self, service: str) -> None:
        self._stack("stop", service)

    def start(self, service: str) -> None:
        """Start (once the stopped server let go of its port) and wait until it answers."""
        port = int(self.env[f"V2V_LOCAL_{service.upper()}_PORT"])
        deadline = time.monotonic() + 60
        while not _free(port):  # a broker killed after a slow shutdown may hold it a moment
            if time.monotonic() > deadline:
                raise RuntimeError(f"port {port} of {service} still taken after 60 s")
            time.sleep(0.2)
        self._stack("start", service)


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass
class FaultRun:
    """One fault case: the scenario, its fault-free plan, the hub's workers and the figures."""

    name: str
    settings: Settings
    receiver: Receiver
    log_dir: Path
    patients: int = PATIENTS
    catch_up_s: float = CATCH_UP_S  # how long the hub may take to write its last records
    scenario: Scenario = field(init=False)
    plan: Outcome = field(init=False)
    workers: list[WorkerProcess] = field(default_factory=list)
    recovered: list[float] = field(default_factory=list)  # seconds, one per fault cleared
    figures: dict[str, object] = field(default_factory=dict)
    poison: dict[bytes, str] = field(default_factory=dict)  # value -> topic, written by the case
    _cleared: float | None = None

    def __post_init__(self) -> None:
        self.scenario = build(SEED, self.patients, arrival=REALISTIC)
        self.plan = run_offline(
            self.scenario,
            self.settings.profile_dir,
            self.settings.escalation_policy_file,
            self.settings.pseudonym_secret(),
            self.settings.partner_dir,
        )
        self.settings = self.settings.model_copy(
            update={"partners": [], "webhook_url": self.receiver.url, "webhook_max_backoff_s": 2}
        )
        self.topics = Topics.of(self.settings)
        ensure_topics(self.settings)
        steps = list(self.scenario.steps())
        self.hours = len(steps)
        self.busy = {hour for hour, step in enumerate(steps) if step.waves}

    def at(self, share: float) -> int:
        """The first simulated hour with records at or after ``share`` of the scenario."""
        return min(h for h in self.busy if h >= int(self.hours * share))

    def start_worker(self) -> WorkerProcess:
        """One more worker of the hub (same app id: it shares the partitions)."""
        n = len(self.workers)
        settings = (
            self.settings
            if n == 0
            else self.settings.model_copy(
                update={"web_port": free_port(), "data_dir": self.log_dir / f"faust-{n}"}
            )
        )
        worker = WorkerProcess(settings, self.log_dir / f"worker-{n}.log").start()
        self.workers.append(worker)
        return worker

    def cleared(self) -> None:
        """The fault is over: the time to recover runs until the hub wrote every record of the
        next simulated hour that has any."""
        self._cleared = time.monotonic()

    def outage(
        self,
        what: str,
        stop: Callable[[], None],
        start: Callable[[], None],
        seconds: float,
        down: float = 0.3,
        up: float = 0.6,
    ) -> Callable[[int], None]:
        """A fault: ``stop()`` at the share ``down`` of the scenario, ``start()`` at ``up`` but
        no sooner than ``seconds`` after; the scenario goes on in between."""
        down_at, up_at = self.at(down), self.at(up)
        while_down = [h for h in self.busy if down_at < h < up_at]
        assert while_down, f"the scenario sends records while {what} is down"
        self.figures["simulated hours with records during the outage"] = len(while_down)
        stopped = 0.0

        def fault(hour: int) -> None:
            nonlocal stopped
            if hour == down_at:
                stop()
                stopped = time.monotonic()
            elif hour == up_at:
                time.sleep(max(0.0, seconds - (time.monotonic() - stopped)))  # the outage
                self.figures[f"{what} down (s)"] = round(time.monotonic() - stopped, 1)
                start()
                self.cleared()

        return fault

    def run(self, fault: Callable[[int], Caused | None] = lambda hour: None) -> RunResult:
        """The scenario through the live hub, ``fault(hour)`` after each simulated hour (it
        returns what it wrote itself, if anything); then what the hub wrote, and the workers'
        figures while they still run."""

        def between(hour: int) -> Caused | None:
            if self._cleared is not None and hour in self.busy:
                self.recovered.append(time.monotonic() - self._cleared)
                self._cleared = None
            return fault(hour)

        if not self.workers:
            self.start_worker()
        try:
            for worker in self.workers:
                worker.wait_ready()
            try:
                self.events, self.dlq = feed(self.settings, self.scenario, self.plan, between)
            except DeliveryError as exc:  # a stalled hub: what its workers were doing
                tails = "\n".join(f"--- {w.log_path}\n{w.tail(80)}" for w in self.workers)
                raise DeliveryError(f"{exc}\n{self._positions()}\n{tails}") from exc
            result = collect(
                self.settings, self.scenario, self.plan, self.dlq, lambda: 0.0, self.catch_up_s
            )
            self.read_model = self._read_model()
            live = [w for w in self.workers if w.process and w.process.poll() is None]
            self.figures["notifications retried"] = int(
                sum(w.metric("v2v_notification_retries_total") for w in live)
            )
            self.figures["chains projected again"] = int(
                sum(w.metric("v2v_projection_rebuilt_total") for w in live)
            )
        finally:
            for worker in self.workers:
                worker.stop()
        return result

    def _read_model(self) -> set[tuple[str, int, str]]:
        """(id, version, status) of every planned case in the Redis read model, read until it
        has caught up with the plan (or the time is up: then what is there)."""
        want = brief(self.plan.cases.values())
        client = redis.Redis.from_url(self.settings.redis_url)
        prefix = f"{self.settings.redis_key_prefix}:{self.settings.topic_prefix}"
        ids = sorted(self.plan.cases)
        deadline = time.monotonic() + self.catch_up_s
        try:
            while True:
                got: set[tuple[str, int, str]] = set()
                raws = client.mget([f"{prefix}:case:{i}" for i in ids])
                for case_id, raw in zip(ids, raws, strict=True):
                    if raw:
                        case = json.loads(raw)
                        got.add((case_id, case["version"], case["status"]))
                if got == want or time.monotonic() > deadline:
                    return got
                time.sleep(0.2)
        finally:
            client.close()

    def check(self, result: RunResult, crashed: bool = False) -> None:
        """What every fault case asserts against the fault-free run; prints the figures.

        ``crashed``: a worker was SIGKILLed. A kill between a webhook's success and its
        delivered marker reaching Kafka makes the replay deliver again, with the same
        ``Idempotency-Key``: the receiver's idempotency makes that once in effect (the design's
        exactly-once in effect), and the suite counts such redeliveries. Without a crash there
        is none."""
        plan, receiver = self.plan, self.receiver
        self.events.pump()
        self.dlq.pump()
        self.figures["duplicate event records suppressed"] = self.events.duplicates
        self.figures["duplicate dead letters suppressed"] = self.dlq.duplicates
        redelivered = sum(n - 1 for n in receiver.seen.values())
        self.figures["webhook redeliveries (same Idempotency-Key)"] = redelivered
        recovered = ", ".join(f"{s:.1f}" for s in self.recovered) or "-"
        print(
            f"\nfaults[{self.name}]: {self.patients} patients, {self.hours} simulated hours; "
            f"recovered after {recovered} s; "
            + "; ".join(f"{k} {v}" for k, v in self.figures.items())
        )
        # the final case set, in Kafka and in the read model
        assert brief(result.cases) == brief(plan.cases.values())
        assert self.read_model == brief(plan.cases.values()), "the read model did not catch up"
        # every escalation issued, once each delivered to the webhook receiver
        assert result.escalations == len({e.escalation_id for e in plan.escalations})
        webhook = {e.escalation_id for e in plan.escalations if e.channel == "webhook"}
        assert webhook, "the scenario escalates to the webhook"
        assert set(receiver.seen) == webhook  # each delivered, under its own Idempotency-Key
        if not crashed:
            assert redelivered == 0, receiver.seen.most_common(3)
        # every event the hub should write, written (duplicates from replays are suppressed)
        assert self.events.distinct_keyed == sum(p.events_out for p in plan.plans.values())
        # raw in = accepted + dead-lettered per partner: every message in, the same dead letters
        raw_in = self._raw_in()
        for partner, topic in self.topics.raw.items():
            planned = sum(1 for p in plan.plans.values() if p.raw and p.message.partner == partner)
            poison = sum(1 for t in self.poison.values() if t == topic)
            assert raw_in[partner] == planned + poison, partner
        assert self._dead_letters() == Counter(d.partner for d in plan.dead_letters)
        assert len(result.dead_letters) == len(plan.dead_letters) + len(self.poison)

    def _dead_letters(self) -> Counter[str]:
        """Distinct dead letters per partner, the poison records' aside: each of those is among
        them, once, with a code and a reason, naming the topic it was read from."""
        per_partner: Counter[str] = Counter()
        poisoned: Counter[bytes] = Counter()
        seen: set[tuple[bytes, bytes]] = set()
        for record in self.dlq.records:
            key, value = record.key() or b"", record.value() or b""
            if (key, value) in seen:
                continue
            seen.add((key, value))
            headers = header_dict(record.headers())
            if value not in self.poison:
                per_partner[headers.get("v2v.errors.partner", "?")] += 1
                continue
            poisoned[value] += 1
            assert headers.get("v2v.errors.code"), headers
            assert headers.get("__connect.errors.exception.message"), headers
            assert headers.get("__connect.errors.topic") == self.poison[value], headers
        assert set(poisoned) == set(self.poison), "poison records not dead-lettered"
        return per_partner

    def _positions(self) -> str:
        """Where the workers' group stands on each partition it reads that holds records:
        committed offset against end offset (a stalled run says whether the hub read a record
        or never got to it)."""
        names = [*self.topics.raw.values(), self.topics.identity, self.topics.events,
                 self.topics.commands, self.topics.feeds]  # fmt: skip
        try:
            offsets = group_offsets(self.settings, names)
        except KafkaException as exc:
            return f"--- positions not read: {exc}"
        lines = [
            "--- the group's committed offset (- for none) / end offset, partitions with records"
        ]
        for topic, partition, committed, end in offsets:
            if end > 0:
                lines.append(f"{topic}[{partition}] {committed if committed >= 0 else '-'}/{end}")
        return "\n".join(lines)

    def _raw_in(self) -> dict[str, int]:
        counts = {}
        for partner, topic in self.topics.raw.items():
            with TopicReader(self.settings, topic, keep=False) as reader:
                counts[partner] = reader.size()
        return counts


def brief(cases: Any) -> set[tuple[str, int, str]]:
    return {(c.case_id, c.version, c.status.value) for c in cases}
