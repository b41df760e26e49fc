"""Body bounds (hub.bodies) and the repeat filter (hub.logthrottle), without any server."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from aiohttp import StreamReader
from aiohttp.base_protocol import BaseProtocol
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from hub.bodies import (
    BodyRefused,
    Bounds,
    check_depth,
    check_json_depth,
    is_json,
    is_xml,
    json_depth,
    read_bounded,
    xml_depth,
)
from hub.logthrottle import THROTTLE, RepeatFilter

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:'),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=20,
)


def true_depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((true_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((true_depth(v) for v in value.values()), default=0)
    return 0


@given(json_values)
def test_json_depth_is_the_nesting_of_the_parsed_value(value: object) -> None:
    # brackets inside strings (escaped quotes too) never count
    assert json_depth(json.dumps(value).encode()) == true_depth(value)


def test_depth_check_refuses_deep_bodies_without_parsing_them() -> None:
    deep = b"[" * 1_000_000 + b"]" * 1_000_000
    with pytest.raises(BodyRefused) as refused:
        check_json_depth(deep, 32)
    assert refused.value.status == 400
    assert refused.value.body()["max_json_depth"] == 32
    check_json_depth(b"[" * 32 + b"]" * 32, 32)  # at the limit: fine


@pytest.mark.parametrize(
    ("media", "expected"),
    [("application/json", True), ("application/ld+json", True), ("text/csv", False), (None, False)],
)
def test_json_media_types(media: str | None, expected: bool) -> None:
    assert is_json(media) is expected


# XML text whose markup inside comments, CDATA, attribute values and processing instructions
# must not count as elements
_TEXTS = st.sampled_from(
    ["x", "<!-- <a><b> -->", "<![CDATA[<a><b>]]>", "<?pi <a>?>", "&lt;a&gt;", ""]
)
xml_trees = st.recursive(
    st.tuples(st.just("leaf"), _TEXTS),
    lambda inner: st.tuples(st.sampled_from(["a", "b:c", "d"]), st.lists(inner, max_size=3)),
    max_leaves=20,
)


def render(tree: tuple[str, object]) -> str:
    name, body = tree
    if name == "leaf":
        return str(body)
    attrs = ' xmlns:b="urn:b" t="1>2" u=\'/>\''  # ">" may stand in an attribute value
    if not body:
        return f"<{name}{attrs}/>"
    return f"<{name}{attrs}>{''.join(render(c) for c in body)}</{name}>"  # type: ignore[arg-type]


def lxml_depth(element: etree._Element) -> int:
    children = [c for c in element if isinstance(c.tag, str)]
    return 1 + max((lxml_depth(c) for c in children), default=0)


@given(xml_trees)
def test_xml_depth_is_the_nesting_lxml_parses(tree: tuple[str, object]) -> None:
    doc = f'<?xml version="1.0"?><root xmlns:b="urn:b">{render(tree)}</root>'.encode()
    assert xml_depth(doc) == lxml_depth(etree.fromstring(doc))


def test_xml_depth_check_refuses_deep_bodies_without_parsing_them() -> None:
    deep = b"<a>" * 1_000_000 + b"</a>" * 1_000_000
    with pytest.raises(BodyRefused) as refused:
        check_depth(deep, "application/xml", 32, 128)
    assert refused.value.status == 400
    assert refused.value.body()["max_xml_depth"] == 128
    check_depth(b"<a>" * 128 + b"</a>" * 128, "application/xml", 32, 128)  # at the limit
    check_depth(deep, "text/csv", 32, 128)  # not XML: not looked at
    with pytest.raises(BodyRefused):
        check_depth(b"[" * 33, "application/json", 32, 128)


@pytest.mark.parametrize(
    ("media", "expected"),
    [("application/xml", True), ("text/xml", True), ("application/epcis+xml", True),
     ("application/json", False), (None, False)],
)  # fmt: skip
def test_xml_media_types(media: str | None, expected: bool) -> None:
    assert is_xml(media) is expected


class _Open(BaseProtocol):
    """A protocol whose connection is open: the client is still (slowly) sending."""

    connected = True  # type: ignore[assignment]


def _stream(chunks: list[bytes], eof: bool) -> StreamReader:
    loop = asyncio.get_running_loop()
    reader = StreamReader(_Open(loop), 2**16, loop=loop)
    for chunk in chunks:
        reader.feed_data(chunk)
    if eof:
        reader.feed_eof()
    return reader


def test_read_bounded_stops_at_the_limit_and_at_the_timeout() -> None:
    bounds = Bounds(max_bytes=10, max_depth=4, timeout_s=0.2)

    async def run() -> tuple[bytes, int, int, int]:
        ok = await read_bounded(_stream([b"12345", b"67890"], eof=True), bounds)
        statuses = []
        for chunks, eof, declared in (([b"x" * 11], True, None), ([b"x"], False, None),
                                      ([], True, 11)):  # fmt: skip
            try:
                await read_bounded(_stream(chunks, eof), bounds, declared)
            except BodyRefused as exc:
                statuses.append(exc.status)
        return ok, *statuses  # type: ignore[return-value]

    assert asyncio.run(run()) == (b"1234567890", 413, 408, 413)


def _record(name: str, msg: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord(name, logging.WARNING, __file__, 1, msg, (), None)
    record.__dict__.update(extra)
    return record


def test_repeats_pass_once_per_interval_with_the_count_held_back() -> None:
    now = [0.0]
    repeat = RepeatFilter(10.0, clock=lambda: now[0])
    passed = []
    for i in range(1000):
        now[0] = i * 0.025  # 40 lines a second for 25 s
        record = _record("aiokafka.conn", f"Unable connect to node {i % 3}: refused")
        if repeat.filter(record):
            passed.append(record.getMessage())
    assert len(passed) == 3  # at 0 s, 10 s, 20 s
    assert passed[0] == "Unable connect to node 0: refused"
    assert "[399 similar lines held back in the last 10s]" in passed[1]
    now[0] = 40.0
    assert repeat.flush() == 199  # the last interval's count is not lost when errors stop


def test_only_noisy_sources_are_throttled() -> None:
    repeat = RepeatFilter(10.0, clock=lambda: 0.0)
    escalations = [_record("v2v.notify", "ESCALATION level=%s") for _ in range(5)]
    assert all(repeat.filter(r) for r in escalations)
    marked = [_record("v2v.runtime", "Redis read model not updated", **THROTTLE) for _ in range(5)]
    assert [repeat.filter(r) for r in marked] == [True, False, False, False, False]
