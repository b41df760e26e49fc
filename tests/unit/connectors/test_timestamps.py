"""The one timestamp rule set every connector follows (connectors/timestamps.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from connectors.timestamps import BadTimestamp, instant, localise, parse_timestamp
from hub.errors import TimezoneMissingError

pytestmark = pytest.mark.req("REQ-ALCOA-CONTEMPORANEOUS", "REQ-EXC-TIMEZONE_MISSING")


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-01T09:30:00Z",
        "2026-03-01T09:30:00z",
        " 2026-03-01T10:30:00+01:00 ",
        "2026-03-01T04:30-05:00",
    ],
)
def test_an_offset_gives_the_utc_instant(text: str) -> None:
    assert instant(text) == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert instant(text).tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("2026-03-01T09:30:00", "TIMEZONE_MISSING"),
        ("2026-03-01", "TIMEZONE_MISSING"),
        ("yesterday", "BAD_TIMESTAMP"),
        ("0001-01-01T00:00:00+01:00", "BAD_TIMESTAMP"),
    ],
)
def test_what_is_not_an_instant_has_its_code(text: str, code: str) -> None:
    with pytest.raises(BadTimestamp) as caught:
        instant(text)
    assert caught.value.code == code


def test_the_rejection_names_the_field_and_may_withhold_the_value() -> None:
    with pytest.raises(TimezoneMissingError) as caught:
        parse_timestamp("2026-03-01T09:30", "a.b[0].at", "p", "m-1", quote=False)
    assert (caught.value.field, caught.value.message_id) == ("a.b[0].at", "m-1")
    assert "09:30" not in caught.value.reason


def test_a_local_time_needs_its_zone_and_must_exist_once() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert localise(datetime(2026, 7, 1, 12, 0), berlin) == datetime(2026, 7, 1, 10, tzinfo=UTC)
    with pytest.raises(BadTimestamp, match="no time zone") as missing:
        localise(datetime(2026, 7, 1, 12, 0), None)
    assert missing.value.code == "TIMEZONE_MISSING"
    with pytest.raises(BadTimestamp) as skipped:
        localise(datetime(2026, 3, 29, 2, 30), berlin)
    assert skipped.value.code == "AMBIGUOUS_LOCAL_TIME"
