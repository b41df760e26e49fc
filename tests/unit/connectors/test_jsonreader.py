"""The one JSON path reader (connectors/jsonreader.py) and its dotted view (fields.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from connectors.fhir.reader import Reader as FhirReader
from connectors.fields import Fields
from connectors.jsonreader import JsonReader, parse_json_object
from hub.errors import NormalisationError, TimezoneMissingError

pytestmark = pytest.mark.req("REQ-FN-CONNECTORS")

DOC = {"list": [{"n": float("inf")}, "oops"], "at": "2026-03-01T09:30:00", "code": 13}


def _fails(call: Callable[[], object]) -> NormalisationError:
    with pytest.raises(NormalisationError) as caught:
        call()
    return caught.value


def test_errors_name_the_json_path_and_a_code() -> None:
    r = JsonReader("p", "m-1")
    wrong = _fails(lambda: r.objects(DOC, "list", ""))
    assert (wrong.code, wrong.field, wrong.message_id) == ("MALFORMED", "list[1]", "m-1")
    infinite = _fails(lambda: r.number(DOC["list"][0], "n", "list[0]"))
    assert (infinite.field, "inf" in infinite.reason) == ("list[0].n", True)
    assert _fails(lambda: r.req(DOC, "absent", "")).code == "MISSING_FIELD"
    assert isinstance(_fails(lambda: r.time(DOC, "at", "")), TimezoneMissingError)
    assert _fails(lambda: r.text(DOC, "code", "")).code == "MALFORMED"


def test_a_patient_feed_never_sees_its_values_quoted() -> None:
    r = FhirReader("fhir")
    infinite = _fails(lambda: r.number(DOC["list"][0], "n", "list[0]"))
    assert "inf" not in infinite.reason
    assert "09:30" not in _fails(lambda: r.time(DOC, "at", "")).reason


def test_dotted_names_read_through_the_same_reader() -> None:
    f = Fields({"custody": {"from": "A"}, "code": 13, "t": "2026-03-01T09:30:00Z"}, "courier")
    assert (f.req("custody.from"), f.req("code")) == ("A", "13")
    assert f.req_time("t") == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    missing = _fails(lambda: Fields({}, "courier").req("custody.to"))
    assert (missing.code, missing.field) == ("MISSING_FIELD", "custody.to")
    nested = _fails(lambda: Fields({"custody": "x"}, "courier").req("custody.to"))
    assert (nested.code, nested.field) == ("MALFORMED", "custody.to")


def test_a_byte_order_mark_is_not_content() -> None:
    assert parse_json_object(b'\xef\xbb\xbf{"a": 1}', "p") == {"a": 1}
    assert _fails(lambda: parse_json_object(b"[1]", "p")).code == "NOT_AN_OBJECT"
