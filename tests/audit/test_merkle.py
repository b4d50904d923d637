"""govern.audit.merkle against RFC 6962's test vectors (as Certificate Transparency and transparency-dev
publish them), and every proof of small trees verified, and refused once altered."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govern.audit.merkle import (
    EMPTY_ROOT,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

ENTRIES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")]
LEAVES = [leaf_hash(entry) for entry in ENTRIES]
ROOTS = [bytes.fromhex(h) for h in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
H = bytes.fromhex
INCLUSION = [
    (0, 1, []),
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]


@pytest.mark.parametrize("size", range(9))
def test_roots_are_rfc_6962s(size: int) -> None:
    assert root(LEAVES[:size]) == ROOTS[size]
    assert root([]) == EMPTY_ROOT


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_are_rfc_6962s_and_verify(index: int, size: int, path: list[str]) -> None:
    expected = [H(h) for h in path]
    assert inclusion_proof(index, LEAVES[:size]) == expected
    verify_inclusion(LEAVES[index], index, size, expected, ROOTS[size])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_proofs_are_rfc_6962s_and_verify(old: int, new: int, proof: list[str]) -> None:
    expected = [H(h) for h in proof]
    assert consistency_proof(old, LEAVES[:new]) == expected
    verify_consistency(old, new, expected, ROOTS[old], ROOTS[new])


def _flipped(value: bytes) -> bytes:
    return bytes([value[0] ^ 1]) + value[1:]


@given(st.integers(1, 70).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_every_inclusion_proof_verifies_and_an_altered_one_does_not(case: tuple[int, int]) -> None:
    size, index = case
    leaves = [leaf_hash(i.to_bytes(2, "big")) for i in range(size)]
    path, top = inclusion_proof(index, leaves), root(leaves)
    verify_inclusion(leaves[index], index, size, path, top)
    with pytest.raises(ProofError):
        verify_inclusion(_flipped(leaves[index]), index, size, path, top)
    with pytest.raises(ProofError):
        verify_inclusion(leaves[index], index, size, [*path, top], top)
    if path:
        with pytest.raises(ProofError):
            verify_inclusion(leaves[index], index, size, path[:-1], top)
    for position in range(len(path)):
        altered = path[:position] + [_flipped(path[position])] + path[position + 1:]
        with pytest.raises(ProofError):
            verify_inclusion(leaves[index], index, size, altered, top)


@given(st.integers(1, 70).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))))
def test_every_consistency_proof_verifies_and_an_altered_one_does_not(case: tuple[int, int]) -> None:
    old, new = case
    leaves = [leaf_hash(i.to_bytes(2, "big")) for i in range(new)]
    proof = consistency_proof(old, leaves)
    verify_consistency(old, new, proof, root(leaves[:old]), root(leaves))
    with pytest.raises(ProofError):
        verify_consistency(old, new, proof, _flipped(root(leaves[:old])), root(leaves))
    for position in range(len(proof)):
        altered = proof[:position] + [_flipped(proof[position])] + proof[position + 1:]
        with pytest.raises(ProofError):
            verify_consistency(old, new, altered, root(leaves[:old]), root(leaves))
    if old < new:
        rewritten = leaves[:old - 1] + [leaf_hash(b"rewritten")] + leaves[old:]
        with pytest.raises(ProofError):
            verify_consistency(old, new, proof, root(leaves[:old]), root(rewritten))


def test_proofs_about_leaves_the_tree_lacks_are_refused() -> None:
    with pytest.raises(ProofError):
        inclusion_proof(8, LEAVES)
    with pytest.raises(ProofError):
        consistency_proof(9, LEAVES)
    with pytest.raises(ProofError):
        verify_inclusion(LEAVES[0], 3, 3, [], ROOTS[3])
