"""Signed checkpoints: Ed25519 over the canonical JSON, a grid of the hub's clock, only the
heads that moved, a full one after a restart or rebalance; and the signing key's file."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.audit import keys
from hub.audit.checkpoint import Checkpointer, check_signature
from hub.audit.keys import Ed25519PrivateKey
from hub.audit.merkle import heads_root
from hub.errors import ConfigurationError
from hub.settings import Settings, missing_secrets

pytestmark = pytest.mark.req("REQ-P11-AUDIT-CHAIN")

T = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
HEADS = {"A": (3, "ha"), "B": (1, "hb")}


def test_a_checkpoint_signs_the_root_of_every_head() -> None:
    key = Ed25519PrivateKey.generate()
    cp = Checkpointer(key, timedelta(minutes=5)).make(2, T, HEADS)
    assert cp is not None
    assert (cp.partition, cp.chains, cp.records, cp.prev) == (2, 2, 4, None)
    assert cp.root == heads_root(HEADS)
    assert check_signature(cp.as_json(), key.public_key()) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("root", "0" * 64), ("records", 5), ("at", "2026-03-01T11:00:00Z"), ("heads", {})],
)
def test_any_change_to_a_signed_checkpoint_is_seen(field: str, value: object) -> None:
    key = Ed25519PrivateKey.generate()
    cp = Checkpointer(key, timedelta(minutes=5)).make(0, T, HEADS)
    assert cp is not None
    forged = {**cp.as_json(), field: value}
    assert "its hash does not match its content" in check_signature(forged, key.public_key())
    # re-hashed by the forger: the signature still gives it away
    from hub.canonical import digest

    body = {k: v for k, v in forged.items() if k not in ("hash", "signature")}
    rehashed = {**forged, "hash": digest(body)}
    assert check_signature(rehashed, key.public_key()) == ["its signature does not verify"]


def test_a_checkpoint_signed_with_another_key_is_refused() -> None:
    mine, theirs = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    cp = Checkpointer(theirs, timedelta(minutes=5)).make(0, T, HEADS)
    assert cp is not None
    [problem] = check_signature(cp.as_json(), mine.public_key())
    assert "not the trusted key" in problem


def test_checkpoints_follow_the_hub_clock_grid_and_list_only_moved_heads() -> None:
    signer = Checkpointer(Ed25519PrivateKey.generate(), timedelta(minutes=5))
    assert signer.make(0, T, {}) is None  # nothing to attest yet
    first = signer.make(0, T, HEADS)
    assert first is not None
    assert not signer.due(0, T + timedelta(minutes=4, seconds=59))
    assert signer.due(0, T + timedelta(minutes=5))
    assert signer.due(1, T)  # another partition has its own
    assert signer.make(0, T + timedelta(minutes=5), HEADS) is None  # nothing moved
    moved = {**HEADS, "B": (2, "hb2"), "C": (1, "hc")}
    second = signer.make(0, T + timedelta(minutes=10), moved)
    assert second is not None
    assert second.prev == first.hash
    assert set(second.heads) == {"B", "C"}
    assert second.root == heads_root(moved)
    signer.forget()  # partitions revoked: the next one is full again
    third = signer.make(0, T + timedelta(minutes=15), moved)
    assert third is not None
    assert (third.prev, set(third.heads)) == (None, {"A", "B", "C"})


def test_the_key_file_is_generated_once_private_and_refused_when_wrong(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "key.pem"
    with pytest.raises(ConfigurationError, match="does not exist"):
        keys.load_private(path)
    key = keys.load_private(path, generate_missing=True)
    assert os.stat(path).st_mode & 0o777 == 0o600
    again = keys.load_private(path, generate_missing=True)
    assert keys.key_id(again.public_key()) == keys.key_id(key.public_key())
    public = tmp_path / "public.pem"
    public.write_text(keys.public_pem(key.public_key()))
    assert keys.key_id(keys.load_public(public)) == keys.key_id(key.public_key())
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    with pytest.raises(ConfigurationError):
        keys.load_private(junk)
    with pytest.raises(FileExistsError):
        keys.generate(path)


def test_outside_development_mode_the_signing_key_is_a_required_secret(tmp_path: Path) -> None:
    assert missing_secrets(Settings(env="dev")) == []
    assert "V2V_AUDIT_SIGNING_KEY_FILE" in missing_secrets(Settings(env="prod"))
    absent = Settings(env="prod", audit_signing_key_file=tmp_path / "none.pem")
    assert "V2V_AUDIT_SIGNING_KEY_FILE" in missing_secrets(absent)
    present = tmp_path / "key.pem"
    keys.generate(present)
    given = Settings(env="prod", audit_signing_key_file=present)
    assert "V2V_AUDIT_SIGNING_KEY_FILE" not in missing_secrets(given)


def test_a_worker_outside_development_mode_refuses_to_start_without_the_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.cli import main

    monkeypatch.setenv("V2V_ENV", "prod")
    monkeypatch.delenv("V2V_AUDIT_SIGNING_KEY_FILE", raising=False)
    monkeypatch.setenv("V2V_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # never reached
    assert main(["run"]) == 2
    assert "V2V_AUDIT_SIGNING_KEY_FILE" in capsys.readouterr().err
