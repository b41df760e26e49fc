"""SAP local dates and times (``YYYYMMDD`` + ``HHMMSS``) to UTC, never guessing the zone.

SAP stores and sends dates and times without an offset, in the time zone of the user, the plant
or the system. The hub only converts them when the message names the zone; which field names it
is the dialect's business (see README.md). A zone is one of:

* an SAP time zone code from table TTZZ (``CET``, ``EST``, ``UTC``, ...), mapped below to the
  IANA zone with the same daylight-saving rule. SAP's ``EST`` follows US daylight saving, unlike
  IANA's fixed ``EST``, which is why SAP codes are looked up before IANA names;
* an IANA name (``Europe/Berlin``);
* a fixed offset (``+01:00``, ``-0500``, ``UTC+1``).

A local time that a daylight-saving change makes ambiguous (it happens twice) or non-existent
(it is skipped) is rejected as ``AMBIGUOUS_LOCAL_TIME`` rather than resolved by a guess.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from connectors.timestamps import BadTimestamp, localise, rejection
from hub.errors import NormalisationError

# SAP TTZZ codes -> IANA zones with the same rule (the common codes in pharma ERP landscapes).
SAP_ZONES: dict[str, str] = {
    "UTC": "UTC",
    "GMT": "UTC",
    "GMTUK": "Europe/London",
    "WET": "Europe/Lisbon",
    "CET": "Europe/Berlin",
    "EET": "Europe/Helsinki",
    "RUS03": "Europe/Moscow",
    "EST": "America/New_York",
    "CST": "America/Chicago",
    "MST": "America/Denver",
    "MSTNO": "America/Phoenix",
    "PST": "America/Los_Angeles",
    "BRAZIL": "America/Sao_Paulo",
    "INDIA": "Asia/Kolkata",
    "CHINA": "Asia/Shanghai",
    "SINGAP": "Asia/Singapore",
    "JAPAN": "Asia/Tokyo",
    "KOREA": "Asia/Seoul",
    "AUSNSW": "Australia/Sydney",
    "AUSVIC": "Australia/Melbourne",
    "AUSQLD": "Australia/Brisbane",
    "NZST": "Pacific/Auckland",
}
_OFFSET_RE = re.compile(r"^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$")
_IANA_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+){0,2}$")


class LocalTimes:
    """Converts one message's SAP dates and times; errors carry the partner and message id."""

    def __init__(self, partner: str, message_id: str | None = None) -> None:
        self.partner = partner
        self.message_id = message_id

    def _error(self, reason: str, field: str, code: str) -> NormalisationError:
        return NormalisationError(
            reason, partner=self.partner, message_id=self.message_id, field=field, code=code
        )

    def zone(self, code: str, field: str) -> tzinfo:
        """Resolve an SAP zone code, IANA name or fixed offset; unknown is UNKNOWN_TIMEZONE."""
        cleaned = code.strip()
        mapped = SAP_ZONES.get(cleaned.upper())
        if mapped is not None:
            return ZoneInfo(mapped)
        match = _OFFSET_RE.match(cleaned.upper())
        if match is not None:
            sign, hours, minutes = match.groups()
            delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
            if delta <= timedelta(hours=14):
                return timezone(-delta if sign == "-" else delta)
        if _IANA_RE.match(cleaned) and "/" in cleaned:
            try:
                return ZoneInfo(cleaned)
            except (ValueError, KeyError, OSError):
                pass
        raise self._error(
            f"time zone {code!r} is neither an SAP TTZZ code the hub knows, an IANA name "
            "nor a UTC offset",
            field,
            "UNKNOWN_TIMEZONE",
        )

    def parse_date(self, text: str | None, field: str) -> date | None:
        """``YYYYMMDD`` -> date; empty or SAP's initial value ``00000000`` -> None."""
        if text is None or text.strip("0 ") == "":
            return None
        cleaned = text.strip()
        try:
            if len(cleaned) != 8 or not cleaned.isdigit():
                raise ValueError(cleaned)
            return date(int(cleaned[:4]), int(cleaned[4:6]), int(cleaned[6:]))
        except ValueError as exc:
            raise self._error(
                f"'{field}' is not an SAP date YYYYMMDD: {text!r}", field, "BAD_TIMESTAMP"
            ) from exc

    def parse_time(self, text: str | None, field: str) -> tuple[time, int]:
        """``HHMMSS`` (or ``HH:MM:SS``) -> (time, extra days); ``240000`` is next midnight."""
        cleaned = (text or "000000").strip().replace(":", "")
        if len(cleaned) != 6 or not cleaned.isdigit():
            raise self._error(
                f"'{field}' is not an SAP time HHMMSS: {text!r}", field, "BAD_TIMESTAMP"
            )
        hour, minute, second = int(cleaned[:2]), int(cleaned[2:4]), int(cleaned[4:])
        if (hour, minute, second) == (24, 0, 0):
            return time(0, 0, 0), 1
        try:
            return time(hour, minute, second), 0
        except ValueError as exc:
            raise self._error(
                f"'{field}' is not an SAP time HHMMSS: {text!r}", field, "BAD_TIMESTAMP"
            ) from exc

    def to_utc(self, day: date, clock: time, zone: tzinfo | None, field: str) -> datetime:
        """A local date and time in ``zone`` -> UTC (:func:`connectors.timestamps.localise`)."""
        try:
            return localise(datetime.combine(day, clock), zone)
        except BadTimestamp as exc:
            raise rejection(exc, field, self.partner, self.message_id) from exc

    def combine(
        self,
        day_text: str | None,
        time_text: str | None,
        zone: tzinfo | None,
        field: str,
        *,
        required: bool = False,
    ) -> datetime | None:
        """SAP date + optional time in ``zone`` -> UTC; no date gives None (or MISSING_FIELD)."""
        day = self.parse_date(day_text, field)
        if day is None:
            if required:
                raise self._error(f"required date '{field}' is missing", field, "MISSING_FIELD")
            return None
        clock, extra_days = self.parse_time(time_text, field)
        try:
            day += timedelta(days=extra_days)
        except OverflowError as exc:
            raise self._error(f"'{field}' is out of range", field, "BAD_TIMESTAMP") from exc
        return self.to_utc(day, clock, zone, field)
