"""Redis read models, written by the agents after each state change (at least once, idempotent).

Keys (prefix ``<redis_key_prefix>:<topic_prefix>``, so deployments and test runs never mix):

* ``chain:<coi>``            JSON summary of one chain (stage, holder, deadlines, open cases)
* ``chains``                 set of every COI seen
* ``case:<case_id>``         JSON of the latest case version
* ``cases:open``             set of open or acknowledged case ids
* ``chain:<coi>:cases``      set of the chain's case ids
* ``notified:<escalation>``  idempotency key: set once when a notification went out
"""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis

from hub.cases.models import Case, CaseStatus
from hub.chain.state import ChainState
from hub.settings import Settings

_CASE_UPSERT = """
local current = redis.call('GET', KEYS[1])
if current then
  local v = cjson.decode(current)['version']
  if v and tonumber(v) > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
if ARGV[3] == 'RESOLVED' then redis.call('SREM', KEYS[2], ARGV[4])
else redis.call('SADD', KEYS[2], ARGV[4]) end
redis.call('SADD', KEYS[3], ARGV[4])
return 1
"""


def chain_summary(state: ChainState) -> dict[str, Any]:
    nxt = state.next_deadline
    return {
        "coi_id": state.coi_id,
        "stage": state.stage,
        "product_profile": state.product_profile,
        "holder": state.custody.holder,
        "event_count": state.event_count,
        "last_event_at": state.last_event_at.isoformat() if state.last_event_at else None,
        "next_deadline": (
            {"code": nxt.code, "subject": nxt.subject, "due_at": nxt.due_at.isoformat()}
            if nxt
            else None
        ),
        "open_cases": sorted(c.case_id for c in state.cases.values() if c.status != "RESOLVED"),
        "milestones": {k: v.isoformat() for k, v in state.milestones.items()},
    }


class Projection:
    """Writes the read models. Redis is a projection of Kafka, not a system of record: callers
    treat a failed write as a stale read model (logged, counted), never as a lost event."""

    def __init__(self, settings: Settings, client: aioredis.Redis | None = None) -> None:
        self.prefix = f"{settings.redis_key_prefix}:{settings.topic_prefix}"
        self.redis = client or aioredis.from_url(settings.redis_url)
        self._upsert = self.redis.register_script(_CASE_UPSERT)

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def chain_updated(self, state: ChainState) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(self.key("chain", state.coi_id), json.dumps(chain_summary(state)))
        pipe.sadd(self.key("chains"), state.coi_id)
        await pipe.execute()

    async def case_updated(self, case: Case) -> None:
        await self._upsert(
            keys=[
                self.key("case", case.case_id),
                self.key("cases", "open"),
                self.key("chain", case.coi_id, "cases"),
            ],
            args=[
                case.model_dump_json(),
                case.version,
                "RESOLVED" if case.status is CaseStatus.RESOLVED else case.status.value,
                case.case_id,
            ],
        )

    async def first_notification(self, escalation_id: str) -> bool:
        """True exactly once per escalation id, across restarts (idempotency key)."""
        return bool(await self.redis.set(self.key("notified", escalation_id), "1", nx=True))

    async def chain(self, coi_id: str) -> dict[str, Any] | None:
        raw = await self.redis.get(self.key("chain", coi_id))
        return None if raw is None else dict(json.loads(raw))

    async def open_cases(self) -> list[dict[str, Any]]:
        members = await self.redis.smembers(self.key("cases", "open"))
        ids = sorted(m.decode() if isinstance(m, bytes) else m for m in members)
        if not ids:
            return []
        raws = await self.redis.mget([self.key("case", i) for i in ids])
        return [json.loads(r) for r in raws if r is not None]

    async def close(self) -> None:
        await self.redis.aclose()
