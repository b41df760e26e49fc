"""Where the console reads: the Redis read model (cases, chain summaries, timelines, partner
feed rows), the chain's audit trail on Kafka (``v2v.audit``, for evidence, versions, notes,
readings and reconstruction), the audit checkpoints, and the worker's own metrics."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hub.audit.checkpoint import check_signature
from hub.audit.records import AuditRecord
from hub.audit.topic import read_topic
from hub.console.chainview import audit_records
from hub.console.pages import PartnerRow
from hub.console.queue import Where, parse_time, where_of
from hub.flow import FlowCore
from hub.metrics import Metrics
from hub.partners.health import feed_key
from hub.runtime.projection import Projection
from hub.settings import Settings
from hub.topics import Topics


class Sources:
    def __init__(
        self,
        settings: Settings,
        projection: Projection,
        core: FlowCore,
        metrics: Metrics,
        audit_public: Ed25519PublicKey | None,
    ) -> None:
        self.settings, self.projection, self.core, self.metrics = (
            settings,
            projection,
            core,
            metrics,
        )
        self.topics = Topics.of(settings)
        self.audit_public = audit_public

    # --- read model -----------------------------------------------------------------------

    async def cases(self, status: str) -> list[dict[str, Any]]:
        return await self.projection.cases(status)

    async def case(self, case_id: str) -> dict[str, Any] | None:
        return await self.projection.case(case_id)

    async def chain(self, coi: str) -> dict[str, Any] | None:
        return await self.projection.chain(coi)

    async def where(self, cases: list[dict[str, Any]]) -> dict[str, Where]:
        """Each case's partners and sites, from its chain's timeline (one round trip)."""
        cois = sorted({str(c.get("coi_id")) for c in cases if c.get("coi_id")})
        pipe = self.projection.redis.pipeline(transaction=False)
        for coi in cois:
            pipe.zrange(self.projection.key("chain", coi, "timeline"), 0, -1)
        raws = await pipe.execute() if cois else []
        timelines = {
            coi: [json.loads(r) for r in entries] for coi, entries in zip(cois, raws, strict=True)
        }
        return {
            str(c["case_id"]): where_of(c, timelines.get(str(c.get("coi_id")), []))
            for c in cases
            if "case_id" in c
        }

    async def open_versions(self) -> list[tuple[str, Any]]:
        """(case id, version) of every open case: what the queue's live update watches."""
        return sorted((str(c["case_id"]), c.get("version")) for c in await self.cases("OPEN"))

    # --- audit trail ------------------------------------------------------------------------

    async def trail(self, coi: str) -> tuple[list[AuditRecord], int]:
        """The chain's audit records (read from the topic, to its end at the call)."""

        def read() -> list[dict[str, Any]]:
            out = []
            for _key, value in read_topic(self.settings, self.topics.audit, {coi.encode()}):
                try:
                    data = json.loads(value)
                except ValueError:
                    continue
                if isinstance(data, dict):
                    out.append(data)
            return out

        if not self.settings.audit_enabled:
            return [], 0
        return audit_records(await asyncio.to_thread(read), coi)

    async def checkpoint(self) -> dict[str, Any] | None:
        """The latest audit checkpoint, with the problems found verifying it (none: verified)
        and how many there are."""

        def read() -> list[dict[str, Any]]:
            values = read_topic(self.settings, self.topics.audit_checkpoints)
            return [d for _k, v in values if isinstance(d := json.loads(v), dict)]

        if not self.settings.audit_enabled:
            return None
        found = await asyncio.to_thread(read)
        if not found:
            return None
        latest = max(found, key=lambda d: str(d.get("at", "")))
        problems = (
            check_signature(latest, self.audit_public)
            if self.audit_public is not None
            else ["no public key to verify with"]
        )
        return {**latest, "problems": problems, "count": len(found)}

    # --- partners ---------------------------------------------------------------------------

    async def partner_rows(self) -> list[PartnerRow]:
        dead = self._samples("v2v_raw_rejected_total", "partner", "code")
        rows = []
        for partner, policy in sorted(self.core.feeds.items()):
            summary = await self.projection.chain(feed_key(partner)) or {}
            health: Mapping[str, Any] = summary.get("feed_health") or {}
            window = health.get("window") or {}
            sla = policy.freshness_sla.total_seconds() / 60 if policy.freshness_sla else None
            by_code: dict[str, float] = {}
            for name in policy.names:
                for code, count in dead.get(name, {}).items():
                    by_code[code] = by_code.get(code, 0) + count
            rows.append(
                PartnerRow(
                    partner=partner,
                    freshness_sla_min=sla,
                    last_seen=parse_time(health.get("last_seen")),
                    silent=health.get("silent") is not None,
                    degraded=health.get("degraded") is not None,
                    window_messages=int(window.get("messages") or 0),
                    window_dead=int(window.get("dead_lettered") or 0),
                    dead_by_code=by_code,
                )
            )
        return rows

    def hub_dead_letters(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for stage, codes in self._samples("v2v_dead_letters_total", "stage", "code").items():
            for code, count in codes.items():
                out[f"{stage}/{code}"] = count
        return out

    def _samples(self, name: str, outer: str, inner: str) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for family in self.metrics.registry.collect():
            for s in family.samples:
                if s.name == name and s.value:
                    group = out.setdefault(s.labels.get(outer, ""), {})
                    group[s.labels.get(inner, "")] = s.value
        return out
