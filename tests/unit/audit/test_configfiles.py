"""Configuration files on the trail: added, changed (old and new digest, revision), removed."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from hub.audit.configfiles import changes, known, snapshot
from hub.audit.keys import Ed25519PrivateKey
from hub.audit.records import CONFIG_CHAIN, AuditHead
from hub.audit.verify import verify
from tests.unit.audit.conftest import PARTNERS, POLICY, PROFILES

T = datetime(2026, 3, 1, tzinfo=UTC)


def test_changes_since_the_last_start_are_records_with_old_and_new_digest(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    shutil.copytree(PROFILES, profiles)
    policy = tmp_path / "policy.yaml"
    shutil.copy(POLICY, policy)
    head, first = changes(AuditHead(), {}, snapshot(profiles, policy, PARTNERS), T, "hub:test")
    assert {r.action for r in first} == {"ADDED"}
    assert {r.body["revision"] for r in first} == {1}
    assert all(r.chain == CONFIG_CHAIN for r in first)
    courier = next(r for r in first if r.ref == "partner:courier.yaml")
    assert courier.body["declared_version"] == "webhook v2"

    head, seen = known(first)
    assert changes(head, seen, snapshot(profiles, policy, PARTNERS), T, "hub:test")[1] == ()

    old = seen["profile:default.yaml"].digest
    (profiles / "default.yaml").write_text(
        (profiles / "default.yaml").read_text() + "\n# stricter\n"
    )
    (profiles / "cart-cryo-120.yaml").unlink()
    head2, second = changes(head, seen, snapshot(profiles, policy, PARTNERS), T, "hub:test")
    by_file = {r.ref: r for r in second}
    assert set(by_file) == {"profile:default.yaml", "profile:cart-cryo-120.yaml"}
    changed = by_file["profile:default.yaml"]
    assert (changed.action, changed.body["old_digest"], changed.body["revision"]) == (
        "CHANGED",
        old,
        2,
    )
    assert changed.body["new_digest"] != old
    assert by_file["profile:cart-cryo-120.yaml"].action == "REMOVED"
    assert second[0].prev == head.hash
    assert head2.seq == len(first) + 2
    trail = [r.as_json() for r in (*first, *second)]
    key = Ed25519PrivateKey.generate()
    assert verify([], [], trail, key.public_key()).ok
