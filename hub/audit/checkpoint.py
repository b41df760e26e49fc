"""Signed checkpoints: the heads of every chain of one events partition under a Merkle root,
signed with the hub's Ed25519 key (the signed tree head of RFC 6962/9162 transparency logs).

A chain lives on one events partition and one worker, so no worker sees every chain's head: each
worker checkpoints the partitions it owns, driven by the hub's clock (the CLOCK_TICK of that
partition), at most once per ``interval`` on a grid of the hub's clock, and only when some head
moved. The latest checkpoint of every partition together cover every chain.

To stay small, a checkpoint lists only the heads that changed since the previous checkpoint of
its partition (``prev``, its hash); the first one a worker makes for a partition (``prev`` None:
after a start or a rebalance) lists every head. The root is always over every chain of the
partition, so a verifier rebuilds the full set by applying each checkpoint's heads onto the one
before. A checkpoint attests every record of a chain up to the head it lists: deleting,
altering or truncating any of them fails verification against the signature. Records written
after the last checkpoint are only hash-chained until the next one (RFC 6962 has the same
window: its maximum merge delay).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import Field

from hub.audit import keys
from hub.audit.merkle import heads_root
from hub.canonical import canonical_json, digest
from hub.events.models import Frozen, UtcDatetime

Heads = dict[str, tuple[int, str]]
"""chain id -> (seq, hash) of its last record."""


class ChainHead(Frozen):
    seq: int
    hash: str


class Checkpoint(Frozen):
    partition: int = Field(description="the events partition whose chains it covers")
    at: UtcDatetime = Field(description="the hub's clock: the tick that made it")
    prev: str | None = Field(description="hash of the partition's previous checkpoint; None: full")
    chains: int = Field(description="leaves of the tree: chains of the partition")
    records: int = Field(description="records those chains hold (sum of their seq)")
    root: str
    heads: dict[str, ChainHead] = Field(description="heads changed since prev (all when full)")
    config: ChainHead | None = Field(None, description="the configuration chain's head")
    key_id: str
    hash: str = Field(description="digest of every field above")
    signature: str = Field(description="Ed25519 over the canonical JSON of every field above")

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def signed_part(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in ("hash", "signature")}


def check_signature(data: Mapping[str, Any], public: Ed25519PublicKey) -> list[str]:
    """Problems with one checkpoint (JSON form): its hash and its signature by ``public``."""
    body = signed_part(data)
    problems = []
    if digest(body) != data.get("hash"):
        problems.append("its hash does not match its content")
    if body.get("key_id") != keys.key_id(public):
        problems.append(f"signed with key {body.get('key_id')}, not the trusted key")
    elif not keys.verify(public, canonical_json(body), str(data.get("signature", ""))):
        problems.append("its signature does not verify")
    return problems


@dataclass
class _Last:
    at: datetime
    hash: str
    heads: Heads


class Checkpointer:
    """One worker's checkpoints, in memory (a restart or rebalance starts with a full one)."""

    def __init__(
        self,
        key: Ed25519PrivateKey,
        interval: timedelta,
        config: ChainHead | None = None,
    ) -> None:
        if interval <= timedelta(0):
            raise ValueError("the checkpoint interval must be positive")
        self.key, self.interval, self.config = key, interval, config
        self.key_id = keys.key_id(key.public_key())
        self._last: dict[int, _Last] = {}

    def _slot(self, at: datetime) -> int:
        return int(at.timestamp() // self.interval.total_seconds())

    def due(self, partition: int, at: datetime) -> bool:
        """Whether the hub's clock at ``at`` starts a new interval for ``partition``."""
        last = self._last.get(partition)
        return last is None or self._slot(at) > self._slot(last.at)

    def make(self, partition: int, at: datetime, heads: Heads) -> Checkpoint | None:
        """The checkpoint of ``partition`` with these heads (every chain it holds), or None
        when no head moved since the last one (or there is none yet)."""
        last = self._last.get(partition)
        if last is None:
            if not heads:
                return None  # nothing to attest yet
            changed = dict(heads)
        else:
            changed = {c: h for c, h in heads.items() if last.heads.get(c) != h}
            if not changed and len(heads) == len(last.heads):
                self._last[partition] = _Last(at, last.hash, last.heads)
                return None
        body: dict[str, Any] = {
            "partition": partition,
            "at": at,
            "prev": last.hash if last else None,
            "chains": len(heads),
            "records": sum(seq for seq, _ in heads.values()),
            "root": heads_root(heads),
            "heads": {c: {"seq": s, "hash": h} for c, (s, h) in sorted(changed.items())},
            "config": self.config.model_dump() if self.config else None,
            "key_id": self.key_id,
        }
        draft = Checkpoint.model_validate({**body, "hash": "", "signature": ""})
        body = signed_part(draft.model_dump(mode="json"))
        signature = keys.sign(self.key, canonical_json(body))
        signed = {**body, "hash": digest(body), "signature": signature}
        self._last[partition] = _Last(at, signed["hash"], dict(heads))
        return Checkpoint.model_validate(signed)

    def forget(self, partitions: list[int] | None = None) -> None:
        """Partitions were revoked: their next checkpoint is a full one again."""
        for p in list(self._last) if partitions is None else partitions:
            self._last.pop(p, None)
