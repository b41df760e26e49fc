"""The benchmark's raw partner messages: deterministic courier webhooks and logger exports.

Every chain ``n`` is one inbound fresh shipment (lane BOS-PHL-FRESH, default profile): a courier
pick-up (custody release, which also links the shipment to the COI), a departure, then an
endless run of temperature logger exports (``rows`` one-minute readings each, 2-8 degC, on the
shipment) with a courier "delayed" status after every ``status_every - 1`` exports. None of
these raises a case. :meth:`Workload.hold` is the exception: a Rec 24 code 20 with
``customs_hold`` that raises CUSTOMS_HOLD on the spot.

The same (chains, rows, start) and the same calls give byte-identical messages, so a run can be
repeated and the offline checks in the unit tests see exactly what the hub sees. Nothing here
touches Kafka.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.events.identifiers import mod37_2

LANE = "BOS-PHL-FRESH"
ORIGIN = "Boston Apheresis Centre"
DESTINATION = "Philadelphia Cell Therapy Facility"
CARRIER = "CryoExpress"
READING_INTERVAL = timedelta(minutes=1)
STATUS_STEP = timedelta(minutes=1)
RECEIPT_LAG = timedelta(minutes=1)


def bench_coi(n: int) -> str:
    body = f"V2VBENCH{n:07d}"
    return body + mod37_2(body)


def shipment_of(n: int) -> str:
    return f"SHP-BENCH-{n}"


@dataclass(frozen=True)
class BenchMessage:
    """One raw partner message (keyed by its shipment, as partners key) and what the hub
    should make of it."""

    partner: str
    key: bytes
    value: bytes
    content_type: str
    received_at: datetime
    coi_id: str
    events: int
    raises_case: bool = False


class Workload:
    """Per-chain journeys, handed out round robin (chain 0, 1, ... C-1, 0, 1, ...).

    Each chain keeps its own clock (simulated event time) and cursor, so calls interleave
    freely: :meth:`pickups` first (it creates the chains), then any mix of :meth:`updates` and
    :meth:`hold`.
    """

    def __init__(self, chains: int, rows: int, start: datetime, status_every: int = 4) -> None:
        if chains < 1 or rows < 1 or status_every < 2:
            raise ValueError("chains and rows must be >= 1, status_every >= 2")
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self.chains = chains
        self.rows = rows
        self.status_every = status_every
        self._start = start
        self._clock = [start + timedelta(seconds=n) for n in range(chains)]
        self._step = [0] * chains
        self._next = 0

    def pickups(self) -> list[BenchMessage]:
        """Pick-up and departure of every chain (three events each): the chains exist after."""
        out = []
        for n in range(self.chains):
            out.append(self._status(n, "13"))
            out.append(self._status(n, "24"))
        return out

    def updates(self, count: int) -> list[BenchMessage]:
        """The next ``count`` messages, one chain after the other."""
        out = []
        for _ in range(count):
            n = self._next
            self._next = (n + 1) % self.chains
            step = self._step[n]
            self._step[n] += 1
            if step % self.status_every == self.status_every - 1:
                out.append(self._status(n, "20"))
            else:
                out.append(self._export(n, step))
        return out

    def status(self, n: int) -> BenchMessage:
        """Chain ``n``'s courier reports a delay (one event, no case)."""
        return self._status(n, "20")

    def hold(self, n: int) -> BenchMessage:
        """Chain ``n``'s shipment is held by customs (raises CUSTOMS_HOLD immediately)."""
        return self._status(n, "20", hold=True)

    # --- message builders ----------------------------------------------------------------

    def _tick(self, n: int, by: timedelta) -> datetime:
        at = self._clock[n]
        self._clock[n] = at + by
        return at

    def _status(self, n: int, code: str, *, hold: bool = False) -> BenchMessage:
        at = self._tick(n, STATUS_STEP)
        coi = bench_coi(n)
        body: dict[str, object] = {
            "message_id": f"BENCH-{n}-{code}-{at.strftime('%Y%m%dT%H%M%S')}",
            "type": "status",
            "status_code": code,
            "event_time": at.isoformat(),
            "shipment_id": shipment_of(n),
            "carrier": CARRIER,
            "lane": LANE,
            "coi": coi,
            "location": {"id": "BOS-HUB", "name": "CryoExpress Boston hub", "country": "US"},
        }
        events = 1
        if code == "13":
            body["custody"] = {
                "from": ORIGIN,
                "to": DESTINATION,
                "released_by": "nurse-01",
                "identity_scanned": True,
            }
            events = 2
        elif code == "20":
            body["reason"] = "import permit under review" if hold else "traffic on the route"
            if hold:
                body["customs_hold"] = True
        return BenchMessage(
            partner="courier",
            key=shipment_of(n).encode(),
            value=json.dumps(body, separators=(",", ":")).encode(),
            content_type="application/json",
            received_at=at + RECEIPT_LAG,
            coi_id=coi,
            events=events,
            raises_case=hold,
        )

    def _export(self, n: int, step: int) -> BenchMessage:
        first = self._tick(n, READING_INTERVAL * self.rows)
        logger = f"LGR-BENCH-{n}"
        lines = [
            f"# export_id: {logger}-EXP-{step:06d}",
            f"# logging_interval_s: {int(READING_INTERVAL.total_seconds())}",
            "logger_id,shipment_id,timestamp,value,unit",
        ]
        for i in range(self.rows):
            at = first + READING_INTERVAL * i
            value = 4.0 + ((n + step + i) % 7) * 0.5  # 4.0 .. 7.0 degC: inside 2-8
            lines.append(f"{logger},{shipment_of(n)},{at.isoformat()},{value:.1f},C")
        last = first + READING_INTERVAL * (self.rows - 1)
        return BenchMessage(
            partner="logger",
            key=shipment_of(n).encode(),
            value=("\n".join(lines) + "\n").encode(),
            content_type="text/csv",
            received_at=last + RECEIPT_LAG,
            coi_id=bench_coi(n),
            events=self.rows,
        )
