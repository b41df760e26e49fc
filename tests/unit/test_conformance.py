"""The conformance kit, run over every registered connector."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.conformance import (
    assert_no_crash,
    assert_rejected,
    assert_valid_sample,
    json_leaves,
    replace_leaf,
    sample_files,
)
from connectors.registry import CONNECTORS, get_connector

pytestmark = pytest.mark.req("REQ-FN-CONNECTORS")

SAMPLES = [(name, path) for name in sorted(CONNECTORS) for path in sample_files(name)]
BAD = [(name, path) for name in sorted(CONNECTORS) for path in sample_files(name, "bad")]
JSON_SAMPLES = [(n, p) for n, p in SAMPLES if p.suffix in {".json", ".jsonld"}]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)


@pytest.mark.parametrize("name", sorted(CONNECTORS))
def test_every_connector_has_samples_and_bad_inputs(name: str) -> None:
    assert sample_files(name), f"connectors/{name}/samples/ is empty"
    assert sample_files(name, "bad"), f"connectors/{name}/bad/ is empty"


@pytest.mark.parametrize(("name", "path"), SAMPLES, ids=[f"{n}/{p.name}" for n, p in SAMPLES])
def test_sample_normalises_and_fits_schema(name, path) -> None:
    events = assert_valid_sample(get_connector(name), path)
    assert events, f"{path.name} produced no event"


@pytest.mark.parametrize(("name", "path"), BAD, ids=[f"{n}/{p.name}" for n, p in BAD])
def test_bad_input_is_rejected_with_a_reason(name, path) -> None:
    assert_rejected(get_connector(name), path)


@pytest.mark.parametrize("name", sorted(CONNECTORS))
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=st.binary(max_size=400))
def test_random_bytes_never_crash(name, payload) -> None:
    assert_no_crash(get_connector(name), payload)


@pytest.mark.parametrize(
    ("name", "path"), JSON_SAMPLES, ids=[f"{n}/{p.name}" for n, p in JSON_SAMPLES]
)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_fuzzed_field_values_never_crash(name, path, data) -> None:
    doc = json.loads(path.read_bytes())
    leaf = data.draw(st.sampled_from(json_leaves(doc)))
    assert_no_crash(
        get_connector(name), replace_leaf(doc, leaf, data.draw(json_values)), path.suffix
    )
