from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from hub.canonical import canonical_json, digest


class Note(BaseModel):
    at: datetime
    who: str


def test_key_order_and_spacing_do_not_change_the_digest() -> None:
    assert canonical_json({"b": 1, "a": [1, "é"]}) == '{"a":[1,"é"],"b":1}'.encode()
    assert digest({"b": 1, "a": 2}) == digest({"a": 2, "b": 1})


def test_a_model_hashes_as_its_json_form() -> None:
    note = Note(at=datetime(2026, 1, 2, 3, 4, tzinfo=UTC), who="qp-anna")
    assert canonical_json(note) == b'{"at":"2026-01-02T03:04:00Z","who":"qp-anna"}'
    assert digest(note) != digest(note.model_copy(update={"who": "qp-bob"}))


def test_nan_is_refused() -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        canonical_json({"x": float("nan")})
