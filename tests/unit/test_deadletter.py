from __future__ import annotations

import pytest

from connectors.base import Rejection
from hub.deadletter import deadletter_headers, header_dict

pytestmark = pytest.mark.req("REQ-INV-01", "REQ-ALCOA-ORIGINAL")


def test_deadletter_headers_keep_originals_and_say_why() -> None:
    rejection = Rejection(
        code="TIMEZONE_MISSING", reason="no offset", partner="courier", message_id="M1", field="t"
    )
    headers = deadletter_headers(
        rejection, topic="v2v.raw.courier", partition=2, offset=41, original=[("trace", b"x")]
    )
    assert headers[0] == ("trace", b"x")
    assert header_dict(headers) == {
        "trace": "x",
        "__connect.errors.topic": "v2v.raw.courier",
        "__connect.errors.partition": "2",
        "__connect.errors.offset": "41",
        "__connect.errors.stage": "normalise",
        "__connect.errors.exception.class.name": "TIMEZONE_MISSING",
        "__connect.errors.exception.message": "no offset",
        "v2v.errors.code": "TIMEZONE_MISSING",
        "v2v.errors.partner": "courier",
        "v2v.errors.message_id": "M1",
        "v2v.errors.field": "t",
    }


def test_unknown_coordinates_are_left_out_not_faked() -> None:
    rejection = Rejection(code="NOT_JSON", reason="bad", partner="courier")
    names = {k for k, _ in deadletter_headers(rejection, topic=None, partition=None, offset=None)}
    assert "__connect.errors.offset" not in names
    assert "v2v.errors.field" not in names
