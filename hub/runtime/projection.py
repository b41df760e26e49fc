"""Redis read models, written by the agents after each state change (at least once, idempotent).

Keys (prefix ``<redis_key_prefix>:<topic_prefix>``, so deployments and test runs never mix):

* ``chain:<coi>``            JSON summary of one chain (stage, holder, deadlines, open cases)
* ``chains``                 set of every COI seen
* ``chain:<coi>:timeline``   sorted set (score: occurred_at) of the chain's events, in brief
* ``case:<case_id>``         JSON of the latest case version, with ``playbook_url`` (its code's
                             section of ``docs/continuity.md``)
* ``cases:open``             set of open or acknowledged case ids
* ``cases:status:<STATUS>``  set of case ids per status (OPEN, ACKNOWLEDGED, RESOLVED, WITHDRAWN)
* ``chain:<coi>:cases``      set of the chain's case ids
* ``notified:<escalation>``  set once a notification was delivered (for people to see; the
                             worker's own ``notified`` table is what keeps it exactly once)

Three connection pools, each bounded and with timeouts (``V2V_REDIS_*``): **reads** for the
HTTP views, **writes** for the agents' read-model writes, **notices** for the notified markers.
However many readers there are, and however slowly they read, they wait for (and time out on)
their own pool only; the agents' writes never queue behind them. Every call gives up after
``V2V_REDIS_TIMEOUT_S`` (one retry), so a stalled Redis is a RedisError in seconds, not a hang.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from hub.cases.models import Case, CaseStatus
from hub.chain.catalogue import playbook_url
from hub.events.models import Event
from hub.flow import Chain
from hub.settings import Settings

CASE_STATUSES = tuple(s.value for s in CaseStatus)

_CASE_UPSERT = """
local current = redis.call('GET', KEYS[1])
if current then
  local v = cjson.decode(current)['version']
  if v and tonumber(v) > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
if ARGV[3] == 'RESOLVED' or ARGV[3] == 'WITHDRAWN' then redis.call('SREM', KEYS[2], ARGV[4])
else redis.call('SADD', KEYS[2], ARGV[4]) end
redis.call('SADD', KEYS[3], ARGV[4])
for _, status in ipairs({'OPEN', 'ACKNOWLEDGED', 'RESOLVED', 'WITHDRAWN'}) do
  local key = ARGV[5] .. status
  if status == ARGV[3] then redis.call('SADD', key, ARGV[4])
  else redis.call('SREM', key, ARGV[4]) end
end
return 1
"""


def _timeline_entry(event: Event) -> str:
    entry = {
        "event_id": event.event_id,
        "event_type": event.event_type.value,
        "occurred_at": event.occurred_at.isoformat(),
        "recorded_at": event.recorded_at.isoformat(),
        "partner": event.source.partner,
        "message_id": event.source.message_id,
        "actor": event.actor.id if event.actor else None,
        "location": event.location.id if event.location else None,
    }
    return json.dumps(entry, sort_keys=True)


def redis_client(settings: Settings, pool_size: int) -> aioredis.Redis:
    """A client on a pool of at most ``pool_size`` connections; a caller waits for a free one
    ``redis_timeout_s`` at most, and every connect and reply is bounded by the same timeout."""
    timeout = settings.redis_timeout_s
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=pool_size,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=1),
    )
    return aioredis.Redis(connection_pool=pool)


class Projection:
    """Writes the read models. Redis is a projection of Kafka, not a system of record: callers
    treat a failed write as a stale read model (logged, counted), never as a lost event, and a
    failed read as "not available now" (HTTP 503), never as "not found"."""

    def __init__(self, settings: Settings, client: aioredis.Redis | None = None) -> None:
        self.prefix = f"{settings.redis_key_prefix}:{settings.topic_prefix}"
        # ``client`` (tests): one client for all three uses.
        self.redis = client or redis_client(settings, settings.redis_write_pool_size)
        self.reads = client or redis_client(settings, settings.redis_read_pool_size)
        self.notices = client or redis_client(settings, 2)
        self._upsert = self.redis.register_script(_CASE_UPSERT)

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def chain_updated(self, chain: Chain) -> None:
        await self.chains_updated([chain], [])

    async def chains_updated(self, chains: Iterable[Chain], events: Iterable[Event]) -> None:
        """A batch in one round trip: the summary of each chain (give each chain's latest state
        only) and the timeline entries of ``events``. Equal, at rest, to calling
        :meth:`chain_updated` and :meth:`timeline_add` once per change."""
        pipe = self.redis.pipeline(transaction=False)
        cois = []
        for chain in chains:
            pipe.set(self.key("chain", chain.coi_id), json.dumps(chain.summary()))
            cois.append(chain.coi_id)
        if cois:
            pipe.sadd(self.key("chains"), *cois)
        entries: dict[str, dict[str, float]] = {}
        for event in events:
            entries.setdefault(event.coi_id or "", {})[_timeline_entry(event)] = (
                event.occurred_at.timestamp()
            )
        for coi_id, members in entries.items():
            pipe.zadd(self.key("chain", coi_id, "timeline"), members)
        if cois or entries:
            await pipe.execute()

    async def case_updated(self, case: Case) -> None:
        await self._upsert(
            keys=[
                self.key("case", case.case_id),
                self.key("cases", "open"),
                self.key("chain", case.coi_id, "cases"),
            ],
            args=[
                json.dumps(
                    {**case.model_dump(mode="json"), "playbook_url": playbook_url(case.code)}
                ),
                case.version,
                case.status.value,
                case.case_id,
                self.key("cases", "status", ""),
            ],
        )

    async def timeline_add(self, event: Event) -> None:
        await self.chains_updated([], [event])

    async def timeline(self, coi_id: str) -> list[dict[str, Any]]:
        raws = await self.reads.zrange(self.key("chain", coi_id, "timeline"), 0, -1)
        return [json.loads(r) for r in raws if isinstance(r, bytes | str)]

    async def mark_notified(self, escalation_id: str) -> None:
        await self.notices.set(self.key("notified", escalation_id), "1")

    async def case(self, case_id: str) -> dict[str, Any] | None:
        raw = await self.reads.get(self.key("case", case_id))
        return None if raw is None else dict(json.loads(raw))

    async def cases(self, status: str) -> list[dict[str, Any]]:
        """Cases by status: ``OPEN`` (open or acknowledged), ``ACKNOWLEDGED``, ``RESOLVED``,
        ``WITHDRAWN``,
        ``ALL``; the latest version of each."""
        if status == "OPEN":
            key = self.key("cases", "open")
        elif status == "ALL":
            key = ""
        else:
            key = self.key("cases", "status", status)
        if key:
            members = await self.reads.smembers(key)
        else:
            members = set()
            for s in CASE_STATUSES:
                members |= await self.reads.smembers(self.key("cases", "status", s))
        ids = sorted(m.decode() if isinstance(m, bytes) else m for m in members)
        if not ids:
            return []
        raws = await self.reads.mget([self.key("case", i) for i in ids])
        return [json.loads(r) for r in raws if r is not None]

    async def chain(self, coi_id: str) -> dict[str, Any] | None:
        raw = await self.reads.get(self.key("chain", coi_id))
        return None if raw is None else dict(json.loads(raw))

    async def ping(self) -> None:
        """RedisError unless Redis answers (on the writers' pool: what the agents need)."""
        await self.redis.ping()

    async def close(self) -> None:
        for client in {id(c): c for c in (self.redis, self.reads, self.notices)}.values():
            await client.aclose()
