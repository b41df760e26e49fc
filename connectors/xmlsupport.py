"""Safe XML parsing for the XML dialects (SAP IDoc, ISA-95 B2MML) and namespace-agnostic lookups.

Partner XML is untrusted. :func:`parse_xml` accepts UTF-8 XML only and rejects, before and after
parsing, any document type declaration: a DOCTYPE is where XXE (external entities), billion laughs
(entity expansion) and external DTD fetches live, and no partner dialect the hub reads needs one.
The lxml parser is configured so that even a DOCTYPE that slipped past the byte scan is never
acted upon: entities are not resolved, nothing is loaded from the network or a DTD, and libxml2's
limits for huge documents stay on.

Lookups go by *local name*, so ``<b2mml:ID>``, ``<ID xmlns="http://www.mesa.org/xml/B2MML">``
and a bare ``<ID>`` are the same element; a dialect checks its namespace once, at the root.
Every failure is a :class:`~hub.errors.NormalisationError` naming the element path.
"""

from __future__ import annotations

import functools
import threading
from datetime import datetime

from lxml import etree

from connectors.timestamps import parse_timestamp
from hub.errors import InvalidIdentifierError, NormalisationError
from hub.events.identifiers import DEFAULT_COI_PATTERN, parse_din, validate_coi

Element = etree._Element

_local = threading.local()
_FORBIDDEN_MARKUP = (b"<!DOCTYPE", b"<!ENTITY")


def _parser() -> etree.XMLParser:
    # A parser instance must not be shared between threads; one per thread is reused.
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            huge_tree=False,
            remove_blank_text=True,
            load_dtd=False,
            dtd_validation=False,
        )
        _local.parser = parser
    return parser


def parse_xml(payload: bytes, partner: str) -> Element:
    """Parse untrusted XML into its root element, or raise a rejection.

    Codes: ``NOT_XML`` (does not start with markup), ``NOT_UTF8``, ``DOCTYPE_FORBIDDEN``
    (DTD / entity declarations), ``MALFORMED`` (not well-formed).
    """
    body = payload.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not body.startswith(b"<"):
        raise NormalisationError(
            "payload is not XML (it does not start with '<')", partner=partner, code="NOT_XML"
        )
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NormalisationError(
            f"payload is not UTF-8 (byte {exc.start})", partner=partner, code="NOT_UTF8"
        ) from exc
    if b"\x00" in body:
        raise NormalisationError(
            "payload contains NUL bytes (XML 1.0 forbids them; UTF-16 is not accepted)",
            partner=partner,
            code="MALFORMED",
        )
    for markup in _FORBIDDEN_MARKUP:
        if markup in body:
            raise _doctype_error(partner, markup.decode())
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as exc:
        raise NormalisationError(
            f"payload is not well-formed XML: {exc.msg}", partner=partner, code="MALFORMED"
        ) from exc
    except ValueError as exc:  # e.g. an encoding declaration lxml cannot honour
        raise NormalisationError(
            f"payload cannot be parsed as XML: {exc}", partner=partner, code="MALFORMED"
        ) from exc
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.public_id:
        raise _doctype_error(partner, "<!DOCTYPE")
    return root


def _doctype_error(partner: str, markup: str) -> NormalisationError:
    return NormalisationError(
        f"document contains {markup}: DTDs and entity declarations are refused "
        "(XXE / entity expansion protection)",
        partner=partner,
        code="DOCTYPE_FORBIDDEN",
    )


# --- namespace-agnostic navigation ---------------------------------------------------------------


def local_name(el: Element) -> str:
    """``{ns}Name`` or ``Name`` -> ``Name``."""
    tag = el.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def namespace(el: Element) -> str | None:
    tag = el.tag
    if isinstance(tag, str) and tag.startswith("{"):
        return tag[1:].partition("}")[0]
    return None


def children(el: Element, name: str) -> list[Element]:
    """Direct child elements with local name ``name`` (comments and PIs are skipped)."""
    # lxml's "{*}" wildcard matches any namespace and none, in C.
    return el.findall("{*}" + name)


def child(el: Element, name: str) -> Element | None:
    return el.find("{*}" + name)


def find(el: Element, path: str) -> Element | None:
    """First element along ``A/B/C`` (local names, direct children at each step)."""
    return el.find(_any_namespace(path))


@functools.lru_cache(maxsize=512)
def _any_namespace(path: str) -> str:
    return "/".join("{*}" + part for part in path.split("/"))


def descendants(el: Element, name: str) -> list[Element]:
    """Elements below ``el`` (not ``el`` itself) with local name ``name``, in document order."""
    return [d for d in el.iter("{*}" + name) if d is not el]


def text_of(el: Element | None) -> str | None:
    """The element's own text, stripped; None when absent or blank."""
    if el is None or el.text is None:
        return None
    text = el.text.strip()
    return text or None


def path_of(el: Element) -> str:
    """``Root/Child/Leaf`` (local names) for error messages and rejection ``field`` values."""
    parts = [local_name(el)]
    parent = el.getparent()
    while parent is not None:
        parts.append(local_name(parent))
        parent = parent.getparent()
    return "/".join(reversed(parts))


class XmlFields:
    """Typed reads from an XML tree; every failure names the element path and the message."""

    def __init__(self, partner: str, message_id: str | None = None) -> None:
        self.partner = partner
        self.message_id = message_id

    def error(self, reason: str, field: str | None, code: str = "MALFORMED") -> NormalisationError:
        return NormalisationError(
            reason, partner=self.partner, message_id=self.message_id, field=field, code=code
        )

    def missing(self, el: Element, path: str) -> NormalisationError:
        field = f"{path_of(el)}/{path}"
        return self.error(f"required element '{field}' is missing or empty", field, "MISSING_FIELD")

    def element(self, el: Element, path: str) -> Element:
        found = find(el, path)
        if found is None:
            raise self.missing(el, path)
        return found

    def text(self, el: Element, path: str) -> str | None:
        return text_of(find(el, path))

    def req(self, el: Element, path: str) -> str:
        value = text_of(find(el, path))
        if value is None:
            raise self.missing(el, path)
        return value

    def time(self, el: Element, path: str, *, required: bool = False) -> datetime | None:
        """An ``xs:dateTime`` with an explicit offset -> UTC; no offset is TIMEZONE_MISSING."""
        value = self.req(el, path) if required else self.text(el, path)
        if value is None:
            return None
        return parse_timestamp(value, f"{path_of(el)}/{path}", self.partner, self.message_id)

    def coi(self, raw: str, field: str, pattern: str = DEFAULT_COI_PATTERN) -> str:
        """A COI validated for format and Mod 37-2 check, without its ``&/`` prefix."""
        try:
            return validate_coi(raw, pattern)
        except InvalidIdentifierError as exc:
            raise InvalidIdentifierError(
                exc.reason, partner=self.partner, message_id=self.message_id, field=field
            ) from exc

    def din(self, raw: str, field: str) -> str:
        """An ISBT 128 DIN normalised to ``=`` + 13 characters + 2 flag characters."""
        try:
            din = parse_din(raw)
        except InvalidIdentifierError as exc:
            raise InvalidIdentifierError(
                exc.reason, partner=self.partner, message_id=self.message_id, field=field
            ) from exc
        return f"={din.core}{din.flags or '00'}"
