"""Ingress pieces that need no broker: content types, headers, file-drop stability and moves."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path, PurePath

import pytest

from connectors.courier.normalise import CourierConnector
from hub.headers import RECEIVED_AT_HEADER
from hub.ingress.edge import (
    accepts,
    edge_headers,
    extension_type,
    media_type,
)
from hub.ingress.filedrop import is_candidate, settled, snapshot, unique_target

pytestmark = pytest.mark.req("REQ-FN-INGRESS")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("application/json", "application/json"),
        ("Application/JSON; charset=UTF-8", "application/json"),
        ("  text/csv ;charset=utf-8; header=present", "text/csv"),
        ("application/fhir+json", "application/fhir+json"),
        (None, None),
        ("", None),
        ("json", None),
        ("application/", None),
        ("/json", None),
        ("application/ json", None),
    ],
)
def test_media_type_is_the_bare_lower_case_type(value, expected) -> None:
    assert media_type(value) == expected


def test_a_connector_accepts_its_declared_types_with_any_parameters() -> None:
    courier = CourierConnector()
    assert courier.content_types == ("application/json",)
    assert accepts(courier, "application/json")
    assert accepts(courier, "application/json; charset=utf-8")
    assert not accepts(courier, "text/csv")
    assert not accepts(courier, "application/jsonx")
    assert not accepts(courier, None)


def test_extension_types_follow_the_conformance_kit() -> None:
    assert extension_type(PurePath("a.JSON")) == "application/json"
    assert extension_type(PurePath("b.jsonld")) == "application/ld+json"
    assert extension_type(PurePath("c.xml")) == "application/xml"
    assert extension_type(PurePath("d.csv")) == "text/csv"
    assert extension_type(PurePath("e.pdf")) is None
    assert extension_type(PurePath("noext")) is None


@pytest.mark.req("REQ-ALCOA-CONTEMPORANEOUS")
def test_edge_headers_stamp_receipt_in_utc() -> None:
    at = datetime(2026, 11, 24, 8, 15, tzinfo=timezone(timedelta(hours=-5)))
    headers = dict(edge_headers("text/csv", "abc", at, extra=[("file-name", "x.csv")]))
    assert headers == {
        "content-type": b"text/csv",
        "v2v.received_at": b"2026-11-24T13:15:00+00:00",
        "ingest-id": b"abc",
        "file-name": b"x.csv",
    }
    stamp = dict(edge_headers("text/csv", "abc"))[RECEIVED_AT_HEADER].decode()
    assert datetime.fromisoformat(stamp).tzinfo is not None
    assert abs(datetime.fromisoformat(stamp) - datetime.now(UTC)) < timedelta(minutes=1)


@pytest.mark.parametrize(
    ("name", "candidate"),
    [
        ("export.csv", True),
        ("2026-11-24T0815-pickup.json", True),
        (".export.csv", False),
        ("export.csv.part", False),
        ("export.csv.PART", False),
        ("export.csv.partial", False),
        ("export.csv.tmp", False),
        ("export.csv.crdownload", False),
        ("export.csv~", False),
        ("", False),
    ],
)
def test_partial_and_hidden_files_are_never_candidates(name, candidate) -> None:
    assert is_candidate(name) is candidate


def test_only_files_unchanged_between_two_snapshots_are_settled(tmp_path: Path) -> None:
    (tmp_path / "b.json").write_bytes(b"{}")
    (tmp_path / "a.json").write_bytes(b"{}")
    (tmp_path / "growing.csv").write_bytes(b"h\n")
    (tmp_path / "upload.csv.part").write_bytes(b"h\n")
    (tmp_path / ".hidden.json").write_bytes(b"{}")
    (tmp_path / "done").mkdir()
    (tmp_path / "link.json").symlink_to(tmp_path / "a.json")
    before = snapshot(tmp_path)
    assert sorted(before) == ["a.json", "b.json", "growing.csv"]

    with (tmp_path / "growing.csv").open("ab") as f:
        f.write(b"row\n")
    (tmp_path / "late.json").write_bytes(b"{}")  # new: seen once, not yet settled
    now = snapshot(tmp_path)
    assert settled(before, now) == ["a.json", "b.json"]  # name order
    assert settled(now, snapshot(tmp_path)) == ["a.json", "b.json", "growing.csv", "late.json"]


def test_a_rewritten_file_of_the_same_size_is_not_settled(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(b"{}")
    before = snapshot(tmp_path)
    path.write_bytes(b"[]")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert settled(before, snapshot(tmp_path)) == []


def test_unique_target_never_overwrites(tmp_path: Path) -> None:
    assert unique_target(tmp_path, "x.csv") == tmp_path / "x.csv"
    (tmp_path / "x.csv").write_bytes(b"")
    assert unique_target(tmp_path, "x.csv") == tmp_path / "x.1.csv"
    (tmp_path / "x.1.csv").write_bytes(b"")
    (tmp_path / "x.2.csv.reason.txt").write_bytes(b"")
    assert unique_target(tmp_path, "x.csv") == tmp_path / "x.3.csv"
