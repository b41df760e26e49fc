"""Offline verification: a good trail verifies; each tampering is found and named."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from hub.audit.checkpoint import Checkpointer
from hub.audit.files import Trail, read_export
from hub.audit.keys import Ed25519PrivateKey
from hub.audit.records import record_hash
from hub.audit.verify import Verdict, verify
from hub.canonical import digest
from tests.unit.audit.conftest import Made

pytestmark = pytest.mark.req("REQ-P11-AUDIT-CHAIN")


def check(made: Made, trail: Trail | None = None) -> Verdict:
    t = trail or made.trail
    return verify(t.records, t.checkpoints, t.config, made.key.public_key(), t.scope)


def tampered(made: Made) -> Trail:
    return copy.deepcopy(made.trail)


def positions(trail: Trail, coi: str) -> list[int]:
    return [i for i, r in enumerate(trail.records) if r["chain"] == coi]


def one_problem(verdict: Verdict, word: str) -> str:
    assert not verdict.ok
    found = [p for p in verdict.problems if p.startswith(word)]
    assert found, verdict.problems
    return found[0]


def test_an_untouched_trail_verifies(made: Made) -> None:
    verdict = check(made)
    assert verdict.ok, verdict.problems
    assert verdict.records == len(made.trail.records)
    assert verdict.chains == 3
    assert verdict.checkpoints == len(made.trail.checkpoints) >= 4
    assert verdict.unattested == 2  # the acknowledgement after the last checkpoint
    assert verdict.attested == verdict.records - 2
    assert verdict.config_records == len(made.trail.config) > 0


def test_a_redelivered_copy_is_counted_not_a_problem(made: Made) -> None:
    trail = tampered(made)
    i = positions(trail, made.cois[0])[4]
    trail.records.insert(i + 3, copy.deepcopy(trail.records[i]))
    verdict = check(made, trail)
    assert verdict.ok, verdict.problems
    assert verdict.duplicates == 1


def test_a_deleted_record_is_found(made: Made) -> None:
    trail = tampered(made)
    del trail.records[positions(trail, made.cois[0])[3]]
    assert one_problem(check(made, trail), "deleted") == (
        f"deleted: {made.cois[0]} records #4 missing before #5"
    )


def test_an_altered_record_is_found_with_or_without_a_new_hash(made: Made) -> None:
    trail = tampered(made)
    record = trail.records[positions(trail, made.cois[1])[2]]
    record["actor"] = "someone-else"
    assert f"{made.cois[1]}#3" in one_problem(check(made, trail), "altered")
    record["hash"] = record_hash(record)  # the forger re-hashes it: the next record disowns it
    assert f"{made.cois[1]}#4 does not follow #3" in one_problem(check(made, trail), "reordered")


def test_a_reordered_record_is_found(made: Made) -> None:
    trail = tampered(made)
    a, b = positions(trail, made.cois[2])[5:7]
    trail.records[a], trail.records[b] = trail.records[b], trail.records[a]
    assert one_problem(check(made, trail), "reordered")


def test_a_truncated_chain_is_found_against_its_checkpoint(made: Made) -> None:
    trail = tampered(made)
    mine = positions(trail, made.cois[0])
    for i in reversed(mine[-3:]):  # the chain's last three records, all attested
        del trail.records[i]
    problem = one_problem(check(made, trail), "truncated")
    assert f"{made.cois[0]}#{len(mine)}, the trail ends at #{len(mine) - 3}" in problem


def test_a_chain_rewritten_consistently_is_found_against_its_checkpoint(made: Made) -> None:
    trail = tampered(made)
    prev = None
    for i in positions(trail, made.cois[0]):
        record = trail.records[i]
        if record["seq"] == 2:
            record["actor"] = "forger"
        record["prev"] = prev
        record["hash"] = prev = record_hash(record)
    assert one_problem(check(made, trail), "altered").endswith("with another hash than the trail's")


def test_a_forged_checkpoint_is_found(made: Made) -> None:
    trail = tampered(made)
    cp = trail.checkpoints[-1]
    cp["records"] += 1
    body = {k: v for k, v in cp.items() if k not in ("hash", "signature")}
    cp["hash"] = digest(body)
    assert "its signature does not verify" in one_problem(check(made, trail), "forged")


def test_a_checkpoint_signed_by_another_key_is_found(made: Made) -> None:
    trail = tampered(made)
    other = Checkpointer(Ed25519PrivateKey.generate(), made.trail_interval()).make(
        0, made.hub.audit[-1].at, {"X": (1, "h")}
    )
    assert other is not None
    trail.checkpoints.append(other.as_json())
    assert "not the trusted key" in one_problem(check(made, trail), "forged")


def test_a_deleted_checkpoint_is_found(made: Made) -> None:
    trail = tampered(made)
    zero = [i for i, cp in enumerate(trail.checkpoints) if cp["partition"] == 0]
    del trail.checkpoints[zero[0]]  # the next one names it as its previous
    assert "follows a missing checkpoint" in one_problem(check(made, trail), "deleted")


def test_the_configuration_chain_is_verified_too(made: Made) -> None:
    trail = tampered(made)
    trail.config[1]["body"]["new_digest"] = "0" * 64
    assert "hub:config#2" in one_problem(check(made, trail), "altered")


def test_an_export_on_disk_verifies_and_a_bad_line_is_reported(
    made: Made, export_dir: Path
) -> None:
    trail = read_export(export_dir)
    assert check(made, trail).ok
    path = export_dir / "records.jsonl"
    lines = path.read_text().splitlines()
    lines[7] = lines[7][:-5]
    path.write_text("\n".join(lines) + "\n")
    broken = read_export(export_dir)
    assert broken.bad_lines == ["records.jsonl line 8 is not JSON"]
    assert not check(made, broken).ok  # the record is gone: its chain has a gap


@pytest.mark.parametrize("coi_index", [0, 1])
def test_an_export_of_one_chain_verifies_against_every_checkpoint(
    made: Made, coi_index: int
) -> None:
    coi = made.cois[coi_index]
    trail = Trail(
        records=[r for r in made.trail.records if r["chain"] == coi],
        checkpoints=made.trail.checkpoints,
        config=made.trail.config,
        manifest={"coi": coi},
    )
    verdict = check(made, trail)
    assert verdict.ok, verdict.problems
    assert verdict.chains == 1
    del trail.records[-4]
    assert not check(made, trail).ok


def test_json_verdict_is_plain_data(made: Made) -> None:
    data = json.loads(json.dumps(check(made).as_json()))
    assert data["ok"] is True
    assert data["problems"] == []
