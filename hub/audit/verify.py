"""Offline verification of an audit trail: records, configuration records and checkpoints as
JSON data (from an export's files or read from the topics), no broker needed (pure).

What is checked, and what each tampering looks like:

* each record's ``hash`` against its content: an **altered** record;
* per chain, in the order the records were written: ``seq`` 1, 2, 3, ... and each ``prev`` equal
  to the hash before: a **deleted** record (a gap), a **reordered** or inserted one (a ``seq`` or
  ``prev`` out of place); an exact copy of a record already seen is a redelivery (the worker is
  at-least-once) and only counted;
* each checkpoint's hash and Ed25519 signature by the trusted public key: a **forged**
  checkpoint; per partition, each checkpoint's ``prev`` naming the checkpoint before it, and its
  root, chain and record counts over the heads rebuilt from the checkpoints so far;
* each head a checkpoint attests against the records: a chain **truncated** below an attested
  head, or rewritten consistently (new hashes throughout) but not matching the signed head.

Records after a chain's last checkpoint are protected by the hash chain only until the next
checkpoint; the verdict counts them (``unattested``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hub.audit.checkpoint import check_signature
from hub.audit.merkle import heads_root
from hub.audit.records import CONFIG_CHAIN, record_hash

Json = dict[str, Any]


@dataclass
class Verdict:
    records: int = 0
    chains: int = 0
    config_records: int = 0
    checkpoints: int = 0
    duplicates: int = 0
    attested: int = 0
    unattested: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    heads: dict[str, tuple[int, str]] = field(default_factory=dict)
    last_checkpoint_at: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        state = "VERIFIED" if self.ok else f"FAILED ({len(self.problems)} problems)"
        return (
            f"{state}: {self.records} records on {self.chains} chains, "
            f"{self.config_records} configuration records, {self.checkpoints} checkpoints "
            f"(latest {self.last_checkpoint_at or '-'}); {self.attested} records attested by a "
            f"signed checkpoint, {self.unattested} after the last one; "
            f"{self.duplicates} redelivered copies"
        )

    def as_json(self) -> Json:
        return {
            "ok": self.ok,
            "records": self.records,
            "chains": self.chains,
            "config_records": self.config_records,
            "checkpoints": self.checkpoints,
            "duplicates": self.duplicates,
            "attested": self.attested,
            "unattested": self.unattested,
            "last_checkpoint_at": self.last_checkpoint_at,
            "problems": self.problems,
            "warnings": self.warnings,
        }


def _chain_records(chain: str, records: list[Json], verdict: Verdict) -> dict[int, str]:
    """Check one chain's records in written order; returns seq -> hash of the ones accepted."""
    accepted: dict[int, str] = {}
    expected, prev = 1, None
    for r in records:
        seq, stated = r.get("seq"), r.get("hash")
        where = f"{chain}#{seq}"
        if not isinstance(seq, int):
            verdict.problems.append(f"{chain}: a record without a sequence number")
            continue
        if record_hash(r) != stated:
            verdict.problems.append(f"altered: record {where}: its hash does not match its content")
            continue
        if seq < expected:
            if accepted.get(seq) == stated:
                verdict.duplicates += 1
                continue
            verdict.problems.append(
                f"reordered: record {where} comes after #{expected - 1} "
                f"(or a second, different record #{seq})"
            )
            continue
        if seq > expected:
            missing = f"#{expected}" if seq == expected + 1 else f"#{expected}..#{seq - 1}"
            verdict.problems.append(f"deleted: {chain} records {missing} missing before #{seq}")
        elif r.get("prev") != prev:
            verdict.problems.append(f"reordered: record {where} does not follow #{seq - 1}")
        accepted[seq] = str(stated)
        expected, prev = seq + 1, stated
    return accepted


def verify(
    records: Iterable[Json],
    checkpoints: Iterable[Json],
    config: Iterable[Json],
    public: Ed25519PublicKey,
    scope: set[str] | None = None,
) -> Verdict:
    """The verdict on a trail. ``scope``: the chains an export was restricted to (``--coi``);
    heads of other chains in the checkpoints are then not looked for."""
    verdict = Verdict()
    by_chain: dict[str, list[Json]] = {}
    for r in records:
        by_chain.setdefault(str(r.get("chain")), []).append(r)
        verdict.records += 1
    config_list = list(config)
    verdict.config_records = len(config_list)
    verdict.chains = len(by_chain)
    accepted = {c: _chain_records(c, rs, verdict) for c, rs in by_chain.items()}
    accepted[CONFIG_CHAIN] = _chain_records(CONFIG_CHAIN, config_list, verdict)
    for chain, rs in accepted.items():
        if rs and chain != CONFIG_CHAIN:
            top = max(rs)
            verdict.heads[chain] = (top, rs[top])
    attested = _checkpoints(list(checkpoints), public, scope, accepted, verdict)
    for chain, rs in accepted.items():
        if chain == CONFIG_CHAIN:
            continue
        covered = attested.get(chain, 0)
        verdict.attested += min(covered, len(rs))
        verdict.unattested += max(len(rs) - covered, 0)
    return verdict


def _checkpoints(
    checkpoints: list[Json],
    public: Ed25519PublicKey,
    scope: set[str] | None,
    accepted: Mapping[str, dict[int, str]],
    verdict: Verdict,
) -> dict[str, int]:
    """Check the checkpoints in written order; returns chain -> highest attested seq."""
    heads: dict[int, dict[str, tuple[int, str]]] = {}  # partition -> chain -> head
    last: dict[int, str] = {}
    known: set[str] = set()
    attested: dict[str, int] = {}
    for cp in checkpoints:
        verdict.checkpoints += 1
        part, at = cp.get("partition"), cp.get("at")
        name = f"checkpoint of partition {part} at {at}"
        problems = check_signature(cp, public)
        if problems:
            verdict.problems.extend(f"forged: {name}: {p}" for p in problems)
            continue
        if not isinstance(part, int):
            verdict.problems.append(f"{name}: no partition")
            continue
        prev = cp.get("prev")
        if prev is None:
            heads[part] = {}
        elif prev != last.get(part):
            what = "an earlier" if prev in known else "a missing"
            verdict.problems.append(f"deleted: {name} follows {what} checkpoint, not the last one")
            heads.setdefault(part, {})
        known.add(str(cp["hash"]))
        last[part] = str(cp["hash"])
        tree = heads.setdefault(part, {})
        for chain, head in (cp.get("heads") or {}).items():
            tree[chain] = (int(head["seq"]), str(head["hash"]))
        if heads_root(tree) != cp.get("root") or len(tree) != cp.get("chains"):
            verdict.problems.append(f"{name}: its root does not match the heads signed so far")
        if sum(s for s, _ in tree.values()) != cp.get("records"):
            verdict.problems.append(f"{name}: its record count does not match its heads")
        verdict.last_checkpoint_at = str(at)
        for chain, head in (cp.get("heads") or {}).items():
            if scope is not None and chain not in scope:
                continue
            _attest(chain, int(head["seq"]), str(head["hash"]), name, accepted, attested, verdict)
        config = cp.get("config")
        if config:
            _attest(CONFIG_CHAIN, int(config["seq"]), str(config["hash"]), name, accepted,
                    attested, verdict)  # fmt: skip
    return attested


def _attest(
    chain: str,
    seq: int,
    hash_: str,
    name: str,
    accepted: Mapping[str, dict[int, str]],
    attested: dict[str, int],
    verdict: Verdict,
) -> None:
    records = accepted.get(chain, {})
    have = records.get(seq)
    if have is None:
        top = max(records, default=0)
        if top < seq:
            verdict.problems.append(
                f"truncated: {name} attests {chain}#{seq}, the trail ends at #{top}"
            )
        return  # a gap below the top is reported as deleted already
    if have != hash_:
        verdict.problems.append(
            f"altered: {name} attests {chain}#{seq} with another hash than the trail's"
        )
        return
    attested[chain] = max(attested.get(chain, 0), seq)
