"""One SAP IDoc (XML): its control record, the ``Z1V2VHUB`` extension and an event factory.

IDoc XML (transaction WE60 / port type XML file) has the basic type as root element (``LOIPRO01``,
``BATMAS03``, ``DELVRY07``, ...), one or more ``IDOC`` elements, each opening with the control
record ``EDI_DC40`` (``DOCNUM`` = IDoc number, ``IDOCTYP``, ``MESTYP``, ``SNDPRN``, ``CREDAT`` /
``CRETIM``) followed by the data segments.

SAP dates carry no offset and standard IDoc segments carry no time zone (``E1EDT13`` is the
exception, with ``TZONE_BEG`` / ``TZONE_END``), so every IDoc sent to the hub carries the custom
segment ``Z1V2VHUB`` under its header segment (see README.md for all its fields), at least with
``TZONE`` and ``COI``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from connectors.base import Envelope
from connectors.sap.timezones import LocalTimes
from connectors.xmlsupport import Element, XmlFields, child, descendants, path_of, text_of
from hub.errors import NormalisationError
from hub.events.models import (
    Actor,
    Event,
)

EXTENSION_SEGMENT = "Z1V2VHUB"


def alpha_out(value: str) -> str:
    """SAP ALPHA output conversion: numeric keys lose their leading zeros (``000001000123``
    -> ``1000123``), as SAP displays them and as other partners quote them."""
    return (value.lstrip("0") or "0") if value.isdigit() else value


@dataclass(frozen=True)
class Control:
    """The fields of ``EDI_DC40`` the hub uses."""

    docnum: str
    idoctyp: str
    mestyp: str
    sender: str | None
    credat: str | None
    cretim: str | None


def read_control(idoc: Element, partner: str) -> Control:
    f = XmlFields(partner)
    record = child(idoc, "EDI_DC40")
    if record is None:
        raise NormalisationError(
            "IDoc has no control record EDI_DC40",
            partner=partner,
            field=f"{path_of(idoc)}/EDI_DC40",
            code="MISSING_SEGMENT",
        )
    docnum = f.req(record, "DOCNUM")
    f.message_id = docnum
    return Control(
        docnum=docnum,
        idoctyp=f.req(record, "IDOCTYP").upper(),
        mestyp=f.req(record, "MESTYP").upper(),
        sender=f.text(record, "SNDPRN"),
        credat=f.text(record, "CREDAT"),
        cretim=f.text(record, "CRETIM"),
    )


class IdocContext:
    """What a message mapper needs for one IDoc; one instance per ``IDOC`` element."""

    def __init__(
        self,
        *,
        envelope: Envelope,
        idoc: Element,
        control: Control,
        coi_pattern: str,
        coi_fields: tuple[str, ...] = (),
    ) -> None:
        """``envelope`` is the IDoc's: its message id is the IDoc number (``DOCNUM``)."""
        partner = envelope.source.partner
        self.partner = partner
        self.envelope = envelope
        self.idoc = idoc
        self.control = control
        self.coi_pattern = coi_pattern
        self.coi_fields = coi_fields
        self.f = XmlFields(partner, control.docnum)
        self.times = LocalTimes(partner, control.docnum)
        found = descendants(idoc, EXTENSION_SEGMENT)
        self.ext: Element | None = found[0] if found else None
        tz = self.ext_text("TZONE")
        self.zone: tzinfo | None = (
            self.times.zone(tz, f"{EXTENSION_SEGMENT}/TZONE") if tz is not None else None
        )

    def error(self, reason: str, field: str | None, code: str) -> NormalisationError:
        return self.f.error(reason, field, code)

    def segment(self, parent: Element, name: str) -> Element:
        """A required segment; its absence is MISSING_SEGMENT."""
        found = child(parent, name)
        if found is None:
            raise self.error(
                f"{self.control.mestyp} IDoc {self.control.docnum} lacks required segment {name}",
                f"{path_of(parent)}/{name}",
                "MISSING_SEGMENT",
            )
        return found

    def ext_text(self, name: str) -> str | None:
        return text_of(child(self.ext, name)) if self.ext is not None else None

    def ext_coi(self) -> str | None:
        """The COI: from ``Z1V2VHUB/COI``, else from the customer fields the partner's registry
        entry names (``fields.coi``: ``SEGMENT/FIELD``, e.g. ``E1AFKOL/ZZCOI``, the usual SAP
        practice of a ``ZZ*`` field appended to a standard segment)."""
        raw = self.ext_text("COI")
        if raw is not None:
            return self.f.coi(raw, f"{EXTENSION_SEGMENT}/COI", self.coi_pattern)
        for where in self.coi_fields:
            segment, _, name = where.partition("/")
            found = descendants(self.idoc, segment)
            value = text_of(child(found[0], name)) if found and name else None
            if value is not None:
                return self.f.coi(value, where, self.coi_pattern)
        return None

    def require_coi(self, coi: str | None, where: str) -> str:
        if coi is None:
            raise self.error(
                f"{self.control.mestyp} IDoc {self.control.docnum} carries no COI ({where})",
                where,
                "MISSING_FIELD",
            )
        return coi

    def local(
        self,
        seg: Element,
        date_field: str,
        time_field: str | None,
        *,
        zone: tzinfo | None = None,
        required: bool = False,
    ) -> datetime | None:
        """A segment's SAP date (+ time) in ``zone`` or the IDoc's ``Z1V2VHUB/TZONE``."""
        date_text = text_of(child(seg, date_field))
        time_text = text_of(child(seg, time_field)) if time_field else None
        return self.times.combine(
            date_text,
            time_text,
            zone or self.zone,
            f"{path_of(seg)}/{date_field}",
            required=required,
        )

    def created_at(self) -> datetime:
        """When SAP created the IDoc (``CREDAT`` / ``CRETIM``, local to ``TZONE``)."""
        when = self.times.combine(
            self.control.credat,
            self.control.cretim,
            self.zone,
            "EDI_DC40/CREDAT",
            required=True,
        )
        assert when is not None
        return when

    def actor(self, role: str, organisation: str | None = None) -> Actor:
        """The SAP user (``Z1V2VHUB/USNAM``) when sent, else the sending logical system."""
        user = self.ext_text("USNAM")
        if user is not None:
            return Actor(id=user, role=role, organisation=organisation)
        return Actor(id=self.control.sender or "sap", role="system", organisation=organisation)


Mapper = Callable[[IdocContext], list[Event]]
