"""The Merkle tree hash (RFC 6962 section 2.1 shape) and its inclusion proofs."""

from __future__ import annotations

import pytest

from hub.audit.merkle import (
    EMPTY_ROOT,
    heads_root,
    inclusion_proof,
    leaf_hash,
    root,
    verify_inclusion,
)
from hub.canonical import digest

pytestmark = pytest.mark.req("REQ-P11-AUDIT-CHAIN")


def leaves(n: int) -> list[str]:
    return [leaf_hash(f"C{i}", i + 1, f"h{i}") for i in range(n)]


def node(a: str, b: str) -> str:
    return digest(["node", a, b])


def test_small_trees_split_at_the_largest_power_of_two() -> None:
    a, b, c, d, e = leaves(5)
    assert root([]) == EMPTY_ROOT
    assert root([a]) == a
    assert root([a, b]) == node(a, b)
    assert root([a, b, c]) == node(node(a, b), c)
    assert root([a, b, c, d, e]) == node(node(node(a, b), node(c, d)), e)


def test_the_root_changes_with_any_head_and_ignores_mapping_order() -> None:
    heads = {"B": (2, "hb"), "A": (1, "ha"), "C": (5, "hc")}
    base = heads_root(heads)
    assert heads_root(dict(reversed(list(heads.items())))) == base
    assert heads_root({**heads, "B": (3, "hb")}) != base
    assert heads_root({**heads, "B": (2, "hx")}) != base
    assert heads_root({k: v for k, v in heads.items() if k != "C"}) != base
    assert leaf_hash("A", 1, "h") != root([digest(["leaf", "A"]), digest(["leaf", 1, "h"])])


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17])
def test_every_leaf_has_an_inclusion_proof_and_a_wrong_one_fails(size: int) -> None:
    tree = leaves(size)
    top = root(tree)
    for i, leaf in enumerate(tree):
        path = inclusion_proof(tree, i)
        assert verify_inclusion(leaf, i, size, path, top)
        assert not verify_inclusion(leaf_hash("X", 1, "x"), i, size, path, top)
        if size > 1:
            assert not verify_inclusion(leaf, (i + 1) % size, size, path, top)
