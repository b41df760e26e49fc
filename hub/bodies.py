"""Request bodies read within bounds: size, time and nesting depth (JSON and XML).

Every HTTP surface of the hub that reads a body (the ingress's ``POST /ingest/{partner}``, the
worker's case commands) reads it through :func:`read_bounded` and, when it is JSON or XML,
checks its nesting with :func:`check_depth` before any parser sees it. A body past a bound is
refused with a :class:`BodyRefused` that names the bound; the caller answers it as JSON with
``status``:

=====  =====================================================================================
413    larger than the size limit (declared ``Content-Length`` or bytes actually sent)
408    the client did not finish sending within the body timeout
400    JSON or XML nested deeper than its depth limit (``json.loads`` would recurse, or worse,
       the code that walks the result would; libxml2 refuses XML past 256 levels only once
       the body is on the raw topic, as a dead letter)
=====  =====================================================================================

Nothing here buffers more than the size limit plus one chunk, and the depth checks neither
recurse nor parse: they walk the brackets outside strings (JSON) or the tags outside comments,
CDATA sections and processing instructions (XML), so a 10 MiB body of ``[`` or ``<a>`` costs
one regular-expression pass.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import StreamReader

CHUNK = 64 * 1024
# A JSON string (skipped whole, so brackets inside it do not count) or one bracket.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_JSON_TYPES = ("application/json", "text/json")
# Markup that opens no element (comment, CDATA, processing instruction, declaration), or a
# start, end or empty-element tag: group 1 "/" for an end tag, group 2 "/" for an empty one.
_XML_TOKENS = re.compile(
    rb"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>|<![^>]*>"
    rb"|<(/?)[^\s/>!?](?:\"[^\"]*\"|'[^']*'|[^>\"'])*?(/?)>",
    re.DOTALL,
)
_XML_TYPES = ("application/xml", "text/xml")


class BodyRefused(Exception):
    """A body past one of the bounds; ``status`` is the HTTP answer, ``detail`` its context."""

    def __init__(self, status: int, error: str, **detail: Any) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.detail = detail

    def body(self) -> dict[str, Any]:
        return {"error": self.error, **self.detail}


@dataclass(frozen=True)
class Bounds:
    """The limits one surface applies to a body (``max_xml_depth``: for XML bodies)."""

    max_bytes: int
    max_depth: int
    timeout_s: float
    max_xml_depth: int = 128


async def read_bounded(
    content: StreamReader, bounds: Bounds, declared_length: int | None = None
) -> bytes:
    """The whole body, or BodyRefused as soon as it is known to be too large (413, never
    buffering more than one chunk past the limit) or too slow (408)."""
    if declared_length is not None and declared_length > bounds.max_bytes:
        raise too_large(bounds.max_bytes)

    async def read() -> bytes:
        body = bytearray()
        async for chunk in content.iter_chunked(CHUNK):
            body += chunk
            if len(body) > bounds.max_bytes:
                raise too_large(bounds.max_bytes)
        return bytes(body)

    try:
        return await asyncio.wait_for(read(), bounds.timeout_s)
    except TimeoutError as exc:
        raise BodyRefused(
            408, "body not received in time", body_timeout_s=bounds.timeout_s
        ) from exc


def too_large(limit: int) -> BodyRefused:
    return BodyRefused(413, "body too large", max_body_bytes=limit)


def json_depth(data: bytes, stop_above: int | None = None) -> int:
    """The deepest nesting of arrays and objects in ``data`` (read as JSON text; malformed
    text gets a best-effort figure, the parser refuses it later). Stops counting once the
    depth passes ``stop_above``."""
    depth = deepest = 0
    for token in _TOKENS.finditer(data):
        char = token.group()[:1]
        if char in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    break
        elif char in (b"]", b"}"):
            depth = max(depth - 1, 0)
    return deepest


def check_json_depth(data: bytes, max_depth: int) -> None:
    """BodyRefused (400) when ``data`` nests deeper than ``max_depth``."""
    if json_depth(data, stop_above=max_depth) > max_depth:
        raise BodyRefused(
            400,
            "body nested too deeply",
            reason=f"JSON nesting deeper than {max_depth} levels",
            max_json_depth=max_depth,
        )


def xml_depth(data: bytes, stop_above: int | None = None) -> int:
    """The deepest nesting of elements in ``data`` (read as XML text; malformed text gets a
    best-effort figure, the parser refuses it later). Stops counting once the depth passes
    ``stop_above``."""
    depth = deepest = 0
    for token in _XML_TOKENS.finditer(data):
        text = token.group()
        if text[1:2] in (b"!", b"?"):
            continue
        if token.group(1):
            depth = max(depth - 1, 0)
            continue
        level = depth + 1  # an empty element stands at this level too, without opening one
        if not token.group(2):
            depth = level
        if level > deepest:
            deepest = level
            if stop_above is not None and deepest > stop_above:
                break
    return deepest


def check_depth(data: bytes, media_type: str | None, json_max: int, xml_max: int) -> None:
    """BodyRefused (400) when a JSON body nests deeper than ``json_max`` or an XML body deeper
    than ``xml_max``; other media types are not looked at."""
    if is_json(media_type):
        check_json_depth(data, json_max)
    elif is_xml(media_type) and xml_depth(data, stop_above=xml_max) > xml_max:
        raise BodyRefused(
            400,
            "body nested too deeply",
            reason=f"XML elements nested deeper than {xml_max} levels",
            max_xml_depth=xml_max,
        )


def is_xml(media_type: str | None) -> bool:
    """Whether a bare media type is XML (``application/xml``, ``text/xml``, ``*+xml``)."""
    return media_type is not None and (media_type in _XML_TYPES or media_type.endswith("+xml"))


def is_json(media_type: str | None) -> bool:
    """Whether a bare media type is JSON (``application/json``, ``*+json``)."""
    return media_type is not None and (media_type in _JSON_TYPES or media_type.endswith("+json"))
