"""The Merkle tree hash of RFC 6962 section 2.1 (and RFC 9162 section 2.1.1), over the canonical
digest.

RFC 6962 hashes ``0x00 || leaf`` and ``0x01 || left || right`` with SHA-256; the hub hashes the
same tree shape with :func:`hub.canonical.digest` (THE canonical hash) of ``["leaf", ...]`` and
``["node", left, right]``: the two prefixes keep a leaf from passing for an inner node (the
second-preimage defence the RFC's prefixes give). A tree of n leaves splits at the largest power
of two smaller than n.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hub.canonical import digest

EMPTY_ROOT = digest(["empty"])


def leaf_hash(chain: str, seq: int, head: str) -> str:
    """The leaf of one chain's head: its id, last sequence number and last record hash."""
    return digest(["leaf", chain, seq, head])


def root(leaves: Sequence[str]) -> str:
    """The Merkle tree hash of ``leaves`` (already leaf hashes), in their order."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    return digest(["node", root(leaves[:split]), root(leaves[split:])])


def heads_root(heads: Mapping[str, tuple[int, str]]) -> str:
    """The root over chain heads (chain id -> (seq, hash)), leaves in chain-id order."""
    return root([leaf_hash(c, seq, h) for c, (seq, h) in sorted(heads.items())])


def inclusion_proof(leaves: Sequence[str], index: int) -> list[str]:
    """The audit path of leaf ``index`` (RFC 6962 section 2.1.1), bottom up."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} of {len(leaves)}")
    if len(leaves) == 1:
        return []
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    if index < split:
        return [*inclusion_proof(leaves[:split], index), root(leaves[split:])]
    return [*inclusion_proof(leaves[split:], index - split), root(leaves[:split])]


def verify_inclusion(leaf: str, index: int, size: int, path: Sequence[str], expected: str) -> bool:
    """Whether ``path`` proves ``leaf`` is leaf ``index`` of a tree of ``size`` with root
    ``expected`` (RFC 9162 section 2.1.3.2)."""
    if not 0 <= index < size:
        return False
    fn, sn, node = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            node = digest(["node", sibling, node])
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            node = digest(["node", node, sibling])
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and node == expected
