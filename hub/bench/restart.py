"""Restart with many chains, without building them one event at a time.

One chain is built by a real worker (its pick-up and departure, as the chains phase of ``v2v
bench`` builds each chain), its rows are read back from the chain table's changelog (and its
index row from the chain index's), and copies of them under ``chains - 1`` other COIs are
written to the changelogs, each on its COI's own partition (the rows name their partition).
Then the worker is stopped and a new one started with the same app id
(:func:`hub.bench.runner._restart`'s figures: seconds until ``/ready``, and until an event of the
real chain is applied on the recovered state). Filling the table directly takes seconds where
the chains phase takes minutes for 100 000 chains. With
``V2V_TABLE_STORE=rocksdb`` a worker first reads the copies into its store (as a worker that
built the chains would hold them), then the restart is measured.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from confluent_kafka import Producer

from hub.bench.report import Restart
from hub.bench.runner import BenchConfig, _restart, _Run
from hub.bench.workload import Workload, bench_coi
from hub.errors import DeliveryError
from hub.runtime.feeds import home_partition
from hub.settings import Settings
from hub.sim.stack import TopicReader
from hub.topics import ensure_topics


def restart_with_chains(
    settings: Settings, chains: int, workdir: Path, say: Callable[[str], None] = print
) -> Restart:
    """A worker restarted over ``chains`` chains; its figures."""
    run = _Run(settings, BenchConfig(chains=chains, holds=1, restart=True), workdir)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    run.workload = Workload(1, run.cfg.rows, start)
    try:
        ensure_topics(run.settings)
        worker, _ = run.start_worker("worker")
        worker.wait_ready()
        run.send(run.workload.pickups())
        run.wait_processed(run.budget(run.processed_target))
        worker.stop()
        began = time.monotonic()
        rows = _fill(run.settings, chains)
        say(f"restart: {chains:,} chains in the table ({rows:,} rows written in "
            f"{time.monotonic() - began:.1f} s)")  # fmt: skip
        if run.settings.table_store == "rocksdb":
            # the rows were written behind the worker's back: it reads them into its store
            # once, as a worker that built them would hold them, before the restart measured
            began = time.monotonic()
            if run.probe is not None:
                run.probe.close()
            settled, _ = run.start_worker("worker-settle")
            settled.wait_ready(timeout_s=300.0 + rows / 100.0)
            settled.stop()
            say(f"restart: the store read them in {time.monotonic() - began:.1f} s")
        # a changelog read at a few hundred records/s: time enough to measure, not to hang
        return _restart(run, timeout_s=300.0 + rows / 100.0)
    finally:
        run.close()


def _fill(settings: Settings, chains: int) -> int:
    """Copies of chain 0's rows (its row and its pending records') for chains 1 .. chains-1,
    and of its index row (:class:`hub.flow.chain.IndexEntry`), as a worker writes them."""
    template = bench_coi(0)
    # keys are JSON strings: '"<COI>"' for the chain's row, '"<COI> <event id>"' for a pending one
    tables = {
        table: _latest(settings, f"{settings.app_id}-{table}-changelog", template)
        for table in ("chains", "chain-index")
    }
    parts = settings.topic_partitions
    producer = Producer({**settings.kafka_config(), "linger.ms": 50, "acks": "all"})
    written = 0
    for n in range(1, chains):
        coi = bench_coi(n)
        partition = home_partition(coi, parts)
        for table, rows in tables.items():
            for key, value in rows.items():
                text = value.replace(template, coi)
                if key == json.dumps(template):  # the row naming its partition
                    row = json.loads(text)
                    if table == "chains":
                        row["state"]["partition"] = partition
                    else:
                        row["partition"] = partition
                    text = json.dumps(row)
                _produce(producer, f"{settings.app_id}-{table}-changelog",
                         key.replace(template, coi), text, partition)  # fmt: skip
                written += 1
        producer.poll(0)
    if producer.flush(120):
        raise DeliveryError("chain rows not acknowledged")
    return written


def _latest(settings: Settings, topic: str, template: str) -> dict[str, str]:
    """The latest row of each key of ``topic`` that names ``template``."""
    latest: dict[bytes, bytes | None] = {}
    with TopicReader(settings, topic) as reader:
        reader.read_all()
        for record in reader.records:
            latest[record.key()] = record.value()
    rows = {
        k.decode(): v.decode()
        for k, v in latest.items()
        if v is not None and template in k.decode()
    }
    if json.dumps(template) not in rows:
        raise DeliveryError(f"chain {template} is not in {topic}")
    return rows


def _produce(producer: Producer, topic: str, key: str, value: str, partition: int) -> None:
    while True:
        try:
            producer.produce(topic, key=key, value=value, partition=partition)
            return
        except BufferError:
            producer.poll(0.1)
