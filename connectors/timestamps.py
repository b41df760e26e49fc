"""Partner timestamps to UTC instants: the one rule set every connector follows.

* An instant is ISO 8601 with an explicit UTC offset (``Z``, ``z`` or ``+hh:mm``), surrounding
  blanks ignored; it becomes an aware datetime in UTC.
* No offset is ``TIMEZONE_MISSING``: the hub never guesses a zone. Where the partner registry
  declares the partner's zone (:func:`declared_zone`, set by ``Connector.process``) a naive
  time is read in it instead, and the events are marked so the chain raises TIMEZONE_MISSING
  (the partner should still send offsets); a time a daylight-saving change makes ambiguous
  stays refused.
* Text that is not ISO 8601, or an instant outside datetime's range once in UTC (year 1 with a
  positive offset), is ``BAD_TIMESTAMP``.
* A local date and time is an instant only in the zone its message names (:func:`localise`); a
  local time that a daylight-saving change skips or repeats is ``AMBIGUOUS_LOCAL_TIME``.

Dialects with their own spellings (SAP ``YYYYMMDD`` + ``HHMMSS``, OData ``/Date(ms)/``, FHIR
partial dates) read the spelling and leave the rule to this module. The core functions raise
:class:`BadTimestamp`, which knows its rejection code but not the message's context;
:func:`rejection` turns it into the :class:`~hub.errors.NormalisationError` a connector raises.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, tzinfo

from hub.errors import NormalisationError, TimezoneMissingError
from hub.events.models import Event

_ZONE: ContextVar[tzinfo | None] = ContextVar("declared_zone", default=None)
_INTERPRETED: ContextVar[list[str] | None] = ContextVar("interpreted_local_times", default=None)
LOCAL_TIME = "local time"


@contextmanager
def declared_zone(zone: tzinfo | None) -> Iterator[list[str]]:
    """Within: a naive time is read in ``zone`` (when given); the list yielded names what was
    read so (the field where a caller knows it)."""
    interpreted: list[str] = []
    zone_token, list_token = _ZONE.set(zone), _INTERPRETED.set(interpreted)
    try:
        yield interpreted
    finally:
        _ZONE.reset(zone_token)
        _INTERPRETED.reset(list_token)


def mark_local_times(events: Sequence[Event], interpreted: list[str]) -> list[Event]:
    """``events`` marked ``identifiers.other["timezone_missing"]`` when a local time was read in
    the declared zone (the engine's TIMEZONE_MISSING rule opens the case)."""
    if not interpreted:
        return list(events)
    named = sorted({f for f in interpreted if f != LOCAL_TIME}) or [LOCAL_TIME]
    marks = {"timezone_missing": ", ".join(named)}
    return [
        e.model_copy(
            update={
                "identifiers": e.identifiers.model_copy(
                    update={"other": {**e.identifiers.other, **marks}}
                )
            }
        )
        for e in events
    ]


def _declared(naive: datetime, field: str = LOCAL_TIME) -> datetime | None:
    """``naive`` read in the declared zone, or None when no zone is declared."""
    zone = _ZONE.get()
    if zone is None:
        return None
    value = localise(naive, zone)
    interpreted = _INTERPRETED.get()
    if interpreted is not None:
        interpreted.append(field)
    return value


class BadTimestamp(ValueError):
    """Why a value is not an instant: ``code`` is the rejection code, ``problem`` a phrase
    that follows the field's name (``'eventTime' has no UTC offset``)."""

    def __init__(self, code: str, problem: str) -> None:
        super().__init__(problem)
        self.code = code
        self.problem = problem

    def reason(self, field: str, text: str | None = None) -> str:
        """``'<field>' <problem>``, quoting ``text`` when given (never for patient data)."""
        quoted = f": {text!r}" if text is not None else ""
        return f"'{field}' {self.problem}{quoted}"


def instant(text: str) -> datetime:
    """ISO 8601 with an explicit offset -> aware UTC datetime, or :class:`BadTimestamp`."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise BadTimestamp("BAD_TIMESTAMP", "is not an ISO 8601 timestamp") from exc
    return to_utc(value)


def to_utc(value: datetime) -> datetime:
    """An aware datetime in UTC; a naive one is read in the declared zone, else it is
    TIMEZONE_MISSING."""
    if value.tzinfo is None or value.utcoffset() is None:
        declared = _declared(value)
        if declared is not None:
            return declared
        raise BadTimestamp("TIMEZONE_MISSING", "has no UTC offset")
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise BadTimestamp("BAD_TIMESTAMP", "is outside the representable time range") from exc


def localise(naive: datetime, zone: tzinfo | None) -> datetime:
    """A local date and time in ``zone`` -> UTC; no zone is TIMEZONE_MISSING, a local time that
    happens twice or never (daylight-saving change) is AMBIGUOUS_LOCAL_TIME."""
    if zone is None:
        declared = _declared(naive)
        if declared is not None:
            return declared
        raise BadTimestamp(
            "TIMEZONE_MISSING",
            "is a local time and the message names no time zone (the hub never guesses one)",
        )
    local = naive.replace(tzinfo=zone)
    if local.utcoffset() != local.replace(fold=1).utcoffset():
        raise BadTimestamp(
            "AMBIGUOUS_LOCAL_TIME",
            f"{naive.isoformat()} is ambiguous or does not exist in time zone {zone} "
            "(daylight-saving change)",
        )
    try:
        return local.astimezone(UTC)
    except OverflowError as exc:
        raise BadTimestamp("BAD_TIMESTAMP", f"{naive.isoformat()} is out of range") from exc


def rejection(
    exc: BadTimestamp,
    field: str,
    partner: str,
    message_id: str | None = None,
    text: str | None = None,
) -> NormalisationError:
    """The connector error for ``exc`` at ``field`` (quoting ``text`` when given);
    TIMEZONE_MISSING is a :class:`~hub.errors.TimezoneMissingError`."""
    cls = TimezoneMissingError if exc.code == TimezoneMissingError.code else NormalisationError
    return cls(
        exc.reason(field, text), partner=partner, message_id=message_id, field=field, code=exc.code
    )


def parse_timestamp(
    text: str, field: str, partner: str, message_id: str | None = None, *, quote: bool = True
) -> datetime:
    """:func:`instant`, failing as the connector's rejection; ``quote=False`` keeps the value
    out of the message (feeds that carry patient data)."""
    interpreted = _INTERPRETED.get()
    before = len(interpreted) if interpreted is not None else 0
    try:
        value = instant(text)
    except BadTimestamp as exc:
        raise rejection(exc, field, partner, message_id, text if quote else None) from exc
    if interpreted is not None and len(interpreted) > before:
        interpreted[before:] = [field]
    return value
