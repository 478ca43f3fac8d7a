"""ledger.merkle against its specification, @openzeppelin/merkle-tree (run through Node).

Every JS call goes through tests/js/merkle_oracle.mjs, batched into two concurrent `node` runs
per session, so the file stays fast.  Node and the npm packages are part of the development
setup: when they are missing these tests fail (not skip), because without them nothing checks
JS compatibility.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import encode as abi_encode
from eth_hash.auto import keccak
from eth_utils.address import is_checksum_address, to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.merkle import (
    InvalidDumpError,
    MerkleTreeError,
    StandardMerkleTree,
    verify_multiproof,
    verify_proof,
)

REPO = Path(__file__).resolve().parents[2]
ORACLE = REPO / "tests" / "js" / "merkle_oracle.mjs"
JS_PACKAGE = REPO / "node_modules" / "@openzeppelin" / "merkle-tree" / "package.json"
SETUP_HINT = (
    "the Merkle tests compare against @openzeppelin/merkle-tree: install Node.js 18+ and run "
    "`npm ci` in the repository root"
)

PAYOUT = ["address", "address", "uint256"]
# The LabelLedger's payout leaf: (account, token index, cumulative payment, cumulative reward).
LEDGER_PAYOUT = ["address", "uint16", "uint256", "uint256"]
LABEL = [
    "bytes32",  # dataset id
    "bytes32",  # item id
    "address",  # annotator
    "bytes32",  # label hash
    "uint8",  # label class
    "uint256",  # reward
    "uint256",  # accepted at
    "string",  # note
    "bool",  # accepted
    "uint64",  # epoch
]
# Strings whose JSON escaping or ABI padding is easy to get wrong.
TRICKY_STRINGS = [
    "",
    "cat",
    "x" * 32,
    "y" * 33,
    "猫 🐈 naïve",
    'quote " backslash \\ slash / </script>',
    "controls \x00\x01\b\t\n\x0b\f\r\x1b\x1f del \x7f",
    "separators \u2028 \u2029 bom \ufeff",
    "long " + "é" * 100,
]
SIZES = [1, 2, 3, 7, 100, 1000]

SETTINGS = settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# ----------------------------------------------------------------------------------------------
# Deterministic test data
# ----------------------------------------------------------------------------------------------


def _digest(*parts: object) -> bytes:
    return keccak(repr(parts).encode())


def _address(tag: str, i: int) -> str:
    return to_checksum_address(_digest("address", tag, i)[:20])


def _hex32(tag: str, i: int) -> str:
    return "0x" + _digest("bytes32", tag, i).hex()


def _amount(i: int) -> int:
    if i % 7 == 0:
        return 0
    if i % 7 == 1:
        return 2**256 - 1
    return int.from_bytes(_digest("amount", i), "big") >> (i % 256)


def _payout(i: int) -> tuple[list[object], list[object]]:
    """(JSON form given to JS, Python input) of one payout leaf."""
    payer, payee, amount = _address("payer", i % 3), _address("payee", i), _amount(i)
    js: list[object] = [payer, payee, str(amount)]
    py: list[object] = [payer, payee, amount if i % 2 else str(amount)]
    return js, py


def _ledger_payout(i: int) -> tuple[list[object], list[object]]:
    js: list[object] = [_address("annotator", i), str(i % 3 + 1), str(_amount(i)), str(i * 10**6)]
    py: list[object] = [js[0], i % 3 + 1, _amount(i), str(i * 10**6)]
    return js, py


def _label(i: int) -> tuple[list[object], list[object]]:
    item = _digest("item", i)
    js: list[object] = [
        _hex32("dataset", i % 3),
        "0x" + item.hex(),
        _address("annotator", i % 17),
        _hex32("label", i),
        str(i % 256),
        str(_amount(i)),
        str(1_700_000_000 + i),
        TRICKY_STRINGS[i % len(TRICKY_STRINGS)],
        i % 3 != 0,
        str(2**64 - 1 - i),
    ]
    py = list(js)
    py[1] = item if i % 4 == 1 else js[1]  # bytes are stored as lowercase hex
    py[4] = i % 256  # ints are stored as decimal strings
    py[5] = _amount(i) if i % 2 else js[5]
    py[9] = 2**64 - 1 - i if i % 5 == 0 else js[9]
    return js, py


@dataclass(frozen=True, eq=False)  # identity hash: cache tree() per case
class Case:
    name: str
    encoding: list[str]
    js_values: list[list[object]]
    py_values: list[list[object]]
    sort_leaves: bool = True

    @property
    def proof_indices(self) -> list[int]:
        # Every proof of small trees, a spread of them for big ones (JS proofs cost ~1 ms each).
        count = len(self.js_values)
        return list(range(count)) if count <= 100 else [*range(0, count, 17), count - 1]

    @cache  # noqa: B019 - a handful of module-level cases, kept for the whole session
    def tree(self) -> StandardMerkleTree:
        return StandardMerkleTree.of(self.py_values, self.encoding, sort_leaves=self.sort_leaves)


def _case(
    name: str,
    encoding: list[str],
    make: Callable[[int], tuple[list[object], list[object]]],
    indices: list[int],
    *,
    sort_leaves: bool = True,
) -> Case:
    pairs = [make(i) for i in indices]
    return Case(name, encoding, [js for js, _ in pairs], [py for _, py in pairs], sort_leaves)


CASES = [
    *(_case(f"payout-{n}", PAYOUT, _payout, list(range(n))) for n in SIZES),
    *(_case(f"label-{n}", LABEL, _label, list(range(n))) for n in SIZES),
    _case("payout-7-unsorted", PAYOUT, _payout, list(range(7)), sort_leaves=False),
    _case("label-9-unsorted", LABEL, _label, list(range(9)), sort_leaves=False),
    _case(
        "ledger-payout-37-unsorted",
        LEDGER_PAYOUT,
        _ledger_payout,
        list(range(37)),
        sort_leaves=False,
    ),
    _case("ledger-payout-37", LEDGER_PAYOUT, _ledger_payout, list(range(37))),
    # Equal leaves: the stable sort and the "last value wins" lookup must match JS.
    _case("payout-duplicates", PAYOUT, _payout, [0, 1, 2, 1, 3, 1, 2]),
]
CASE_IDS = [case.name for case in CASES]
SMALL = next(case for case in CASES if case.name == "payout-7")
MEDIUM = next(case for case in CASES if case.name == "payout-100")


def _flip_hex(text: str) -> str:
    return text[:-1] + ("0" if text[-1] != "0" else "1")


def _dump_copy(case: Case) -> dict[str, Any]:
    """A fresh, freely mutable copy of a case's dump."""
    copied: dict[str, Any] = json.loads(case.tree().dumps())
    return copied


def _tampered(case: Case, kind: str) -> dict[str, Any]:
    """A copy of a case's dump broken in one way that the JS library also rejects."""
    bad = _dump_copy(case)
    values, tree = bad["values"], bad["tree"]
    if kind == "value-amount":
        values[0]["value"][2] = str(int(values[0]["value"][2]) + 1)
    elif kind == "value-address":
        values[0]["value"][1] = _address("intruder", 0)
    elif kind == "leaf-node":
        tree[values[0]["treeIndex"]] = _flip_hex(tree[values[0]["treeIndex"]])
    elif kind == "internal-node":
        tree[1] = _flip_hex(tree[1])
    elif kind == "root":
        tree[0] = _flip_hex(tree[0])
    elif kind == "format":
        bad["format"] = "standard-v2"
    elif kind == "swapped-tree-index":
        values[0]["treeIndex"], values[1]["treeIndex"] = (
            values[1]["treeIndex"],
            values[0]["treeIndex"],
        )
    else:
        raise AssertionError(kind)
    return bad


TAMPER_KINDS = [
    "value-amount",
    "value-address",
    "leaf-node",
    "internal-node",
    "root",
    "format",
    "swapped-tree-index",
]


def _wrong_proofs(case: Case) -> list[dict[str, object]]:
    """(value, proof) pairs that must not verify, for both implementations."""
    tree = case.tree()
    value = case.js_values[5]
    proof = tree.get_proof(5)
    other = tree.get_proof(6)
    bumped = [*value[:2], str(int(str(value[2])) + 1)]
    return [
        {"value": value, "proof": other},
        {"value": bumped, "proof": proof},
        {"value": value, "proof": [_flip_hex(proof[0]), *proof[1:]]},
        {"value": value, "proof": proof[:-1]},
        {"value": value, "proof": [*proof, proof[0]]},
        {"value": value, "proof": []},
        {"value": [value[1], value[0], value[2]], "proof": proof},
    ]


# ----------------------------------------------------------------------------------------------
# The JS oracle (two concurrent node runs for the whole module, cached)
# ----------------------------------------------------------------------------------------------


def _run_oracle(*batches: list[dict[str, object]]) -> list[list[dict[str, Any]]]:
    """Answer each batch of requests in its own `node` run, concurrently."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"`node` is not on PATH; {SETUP_HINT}")
    if not JS_PACKAGE.is_file():
        pytest.fail(f"{JS_PACKAGE.relative_to(REPO)} is missing; {SETUP_HINT}")

    def run(requests: list[dict[str, object]]) -> subprocess.CompletedProcess[bytes]:
        request = json.dumps({"op": "batch", "requests": requests}, ensure_ascii=False)
        return subprocess.run(
            [node, str(ORACLE)],
            input=request.encode("utf-8"),
            capture_output=True,
            cwd=REPO,
            timeout=120,
            check=False,
        )

    with ThreadPoolExecutor(max_workers=len(batches)) as pool:
        completed = list(pool.map(run, batches))
    answers: list[list[dict[str, Any]]] = []
    for process in completed:
        if process.returncode != 0:
            pytest.fail(f"merkle_oracle.mjs failed:\n{process.stderr.decode(errors='replace')}")
        answers.append(json.loads(process.stdout.decode("utf-8"))["results"])
    return answers


@dataclass(frozen=True)
class JsAnswers:
    builds: dict[str, dict[str, Any]]
    verifies: dict[str, dict[str, Any]]
    tampered: dict[str, dict[str, Any]]
    wrong_proofs: dict[str, Any]


@cache
def _js() -> JsAnswers:
    builds = [
        {
            "op": "build",
            "encoding": case.encoding,
            "values": case.js_values,
            "sortLeaves": case.sort_leaves,
            "proofIndices": case.proof_indices,
            "multiproofs": MULTIPROOFS if case.name.startswith("ledger-payout") else [],
        }
        for case in CASES
    ]
    verifies: list[dict[str, object]] = []
    for case in CASES:
        tree = case.tree()
        proofs = [
            {"value": value, "proof": tree.get_proof(i)} for i, value in enumerate(case.js_values)
        ]
        verifies.append({"op": "verify", "dump": tree.dump(), "proofs": proofs})
    for kind in TAMPER_KINDS:
        verifies.append({"op": "verify", "dump": _tampered(SMALL, kind), "proofs": []})
    verifies.append({"op": "verify", "dump": MEDIUM.tree().dump(), "proofs": _wrong_proofs(MEDIUM)})
    built, verified = _run_oracle(builds, verifies)
    answers = iter(verified)
    return JsAnswers(
        builds={case.name: answer for case, answer in zip(CASES, built, strict=True)},
        verifies={case.name: next(answers) for case in CASES},
        tampered={kind: next(answers) for kind in TAMPER_KINDS},
        wrong_proofs=next(answers),
    )


# ----------------------------------------------------------------------------------------------
# Byte-identical with JS
# ----------------------------------------------------------------------------------------------


MULTIPROOFS = [[0], [36], [3, 4, 5, 6, 7, 8], list(range(10, 21)), [30, 2, 17], list(range(37))]


@pytest.mark.parametrize("name", ["ledger-payout-37-unsorted", "ledger-payout-37"])
def test_multiproofs_are_identical_to_js_and_verify(name: str) -> None:
    case = next(c for c in CASES if c.name == name)
    js = _js().builds[name]["multiproofs"]
    tree = case.tree()
    for indices, expected in zip(MULTIPROOFS, js, strict=True):
        ours = tree.get_multiproof(indices)
        assert [list(leaf) for leaf in ours.leaves] == expected["leaves"], indices
        assert ours.proof == expected["proof"], indices
        assert ours.proof_flags == expected["proofFlags"], indices
        assert verify_multiproof(tree.root, LEDGER_PAYOUT, ours)
    # consecutive leaves of an unsorted tree need few proof hashes
    if name.endswith("unsorted"):
        assert len(tree.get_multiproof(list(range(10, 21))).proof) <= 6
    proved = tree.get_multiproof([3, 4, 5])
    richer = (*proved.leaves[1][:3], str(int(proved.leaves[1][3]) + 1))
    wrong = proved._replace(leaves=[proved.leaves[0], richer, proved.leaves[2]])
    assert not verify_multiproof(tree.root, LEDGER_PAYOUT, wrong)
    with pytest.raises(MerkleTreeError):
        tree.get_multiproof([1, 1])


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_dump_root_and_proofs_are_identical_to_js(case: Case) -> None:
    js = _js().builds[case.name]
    tree = case.tree()
    assert tree.root == js["root"]
    assert tree.dumps() == js["dump"]
    indices = case.proof_indices
    assert [tree.get_proof(i) for i in indices] == js["proofs"]
    assert [tree.get_proof(case.py_values[i]) for i in indices] == js["valueProofs"]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_js_loads_our_dump_and_accepts_every_proof(case: Case) -> None:
    js = _js().verifies[case.name]
    tree = case.tree()
    assert "error" not in js, js.get("error")
    assert js["root"] == tree.root
    assert js["results"] == [True] * len(tree)
    assert js["dump"] == tree.dumps()  # JS keeps values exactly as we wrote them


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_load_accepts_js_dump(case: Case) -> None:
    js_dump = _js().builds[case.name]["dump"]
    for tree in (StandardMerkleTree.loads(js_dump), StandardMerkleTree.load(json.loads(js_dump))):
        assert tree.root == case.tree().root
        assert tree.dumps() == js_dump
        assert [value for _, value in tree.entries()] == [tuple(v) for v in case.js_values]
        assert all(tree.verify(i, tree.get_proof(i)) for i in range(len(tree)))


def test_single_leaf_tree_matches_js() -> None:
    case = CASES[0]
    assert case.name == "payout-1"
    tree = case.tree()
    js = _js().builds[case.name]
    leaf = "0x" + tree.leaf_hash(case.py_values[0]).hex()
    # The root is the leaf hash itself and the proof is empty, on both sides.
    assert tree.root == leaf == js["root"]
    assert tree.get_proof(0) == [] == js["proofs"][0]
    assert tree.dump()["tree"] == [leaf]
    assert tree.dump()["values"] == [{"value": case.js_values[0], "treeIndex": 0}]
    assert tree.verify(0, [])
    assert verify_proof(tree.root, PAYOUT, case.js_values[0], [])
    assert _js().verifies[case.name]["results"] == [True]


def test_tree_layout() -> None:
    tree = CASES[3].tree()  # 7 leaves
    dump = tree.dump()
    nodes = [bytes.fromhex(node[2:]) for node in dump["tree"]]
    assert len(nodes) == 13
    # Leaves fill the end of the array in reverse sorted order ...
    assert nodes[6:] == sorted(nodes[6:], reverse=True)
    # ... and each internal node hashes its children, smaller first.
    for i in range(6):
        pair = sorted([nodes[2 * i + 1], nodes[2 * i + 2]])
        assert nodes[i] == keccak(pair[0] + pair[1])
    assert sorted(entry["treeIndex"] for entry in dump["values"]) == list(range(6, 13))


# ----------------------------------------------------------------------------------------------
# Rejecting bad dumps and bad proofs
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TAMPER_KINDS)
def test_tampered_dump_is_rejected_by_us_and_by_js(kind: str) -> None:
    bad = _tampered(SMALL, kind)
    with pytest.raises(InvalidDumpError):
        StandardMerkleTree.load(bad)
    with pytest.raises(InvalidDumpError):
        StandardMerkleTree.loads(json.dumps(bad))
    assert "error" in _js().tampered[kind]


def _broken(mutate: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    dump = _dump_copy(SMALL)
    mutate(dump)
    return dump


# Dumps the JS library would (partly) accept but that are not what we ever write.
STRICT_REJECTIONS: dict[str, Callable[[dict[str, Any]], object]] = {
    "missing-leafEncoding": lambda d: d.pop("leafEncoding"),
    "extra-key": lambda d: d.update(comment="hi"),
    "unsupported-encoding": lambda d: d.update(leafEncoding=["address", "address", "uint"]),
    "tree-index-internal": lambda d: d["values"][0].update(treeIndex=0),
    "tree-index-out-of-range": lambda d: d["values"][0].update(treeIndex=13),
    "tree-index-string": lambda d: d["values"][0].update(treeIndex="12"),
    "tree-index-bool": lambda d: d["values"][0].update(treeIndex=True),
    "duplicate-tree-index": lambda d: d["values"][1].update(d["values"][0]),
    "entry-extra-key": lambda d: d["values"][0].update(note="x"),
    "uppercase-node": lambda d: d["tree"].__setitem__(3, "0x" + d["tree"][3][2:].upper()),
    "short-tree": lambda d: d["tree"].pop(),
    "no-values": lambda d: d.update(values=[], tree=[]),
    "value-arity": lambda d: d["values"][0]["value"].pop(),
    "non-canonical-amount": lambda d: d["values"][2]["value"].__setitem__(
        2, "0" + d["values"][2]["value"][2]
    ),
    "tree-not-list": lambda d: d.update(tree="0x00"),
}


@pytest.mark.parametrize("kind", list(STRICT_REJECTIONS))
def test_malformed_dump_is_rejected(kind: str) -> None:
    with pytest.raises(InvalidDumpError):
        StandardMerkleTree.load(_broken(STRICT_REJECTIONS[kind]))


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        SMALL.tree().dumps().replace('"treeIndex":12', '"treeIndex":12.0'),
        SMALL.tree().dumps().replace('"treeIndex":12', '"treeIndex":NaN'),
    ],
)
def test_loads_rejects_bad_text(text: str) -> None:
    with pytest.raises(InvalidDumpError):
        StandardMerkleTree.loads(text)


def test_invalid_dump_error_is_a_value_error() -> None:
    assert issubclass(InvalidDumpError, MerkleTreeError)
    assert issubclass(MerkleTreeError, ValueError)


def test_wrong_proofs_and_values_are_rejected_by_us_and_by_js() -> None:
    tree = MEDIUM.tree()
    attempts = _wrong_proofs(MEDIUM)
    for attempt in attempts:
        value, proof = attempt["value"], attempt["proof"]
        assert isinstance(value, list)
        assert isinstance(proof, list)
        assert not verify_proof(tree.root, PAYOUT, value, proof), attempt
        assert not tree.verify(value, proof), attempt
    js = _js().wrong_proofs
    assert js["results"] == [False] * len(attempts)
    # And the right proof against the wrong root.
    good = tree.get_proof(5)
    assert verify_proof(tree.root, PAYOUT, MEDIUM.js_values[5], good)
    assert not verify_proof(CASES[5].tree().root, PAYOUT, MEDIUM.js_values[5], good)


def test_verify_proof_accepts_any_hex_case_and_bytes() -> None:
    tree = MEDIUM.tree()
    proof = tree.get_proof(3)
    value = MEDIUM.js_values[3]
    assert verify_proof(tree.root.upper().replace("0X", "0x"), PAYOUT, value, proof)
    assert verify_proof(
        bytes.fromhex(tree.root[2:]), PAYOUT, value, [bytes.fromhex(p[2:]) for p in proof]
    )


@pytest.mark.parametrize(
    ("value", "proof"),
    [
        (None, "0x" + "00" * 32),  # a bare string is not a list of nodes
        (None, ["0x" + "00" * 31]),
        (None, ["00" * 32]),
        (None, ["0x" + "zz" * 32]),
        (None, [None]),
        ("wrong-arity", []),
        ("bad-address", []),
    ],
)
def test_verify_proof_raises_on_malformed_input(value: str | None, proof: object) -> None:
    tree = MEDIUM.tree()
    leaf = list(MEDIUM.js_values[0])
    if value == "wrong-arity":
        leaf = leaf[:2]
    elif value == "bad-address":
        leaf[0] = "0x1234"
    with pytest.raises(MerkleTreeError):
        verify_proof(tree.root, PAYOUT, leaf, proof)  # type: ignore[arg-type]
    with pytest.raises(MerkleTreeError):
        tree.verify(leaf, proof)  # type: ignore[arg-type]


def test_get_proof_errors() -> None:
    tree = SMALL.tree()
    for index in (-1, 7):
        with pytest.raises(MerkleTreeError, match="out of bounds"):
            tree.get_proof(index)
    with pytest.raises(MerkleTreeError, match="not in tree"):
        tree.get_proof(MEDIUM.js_values[50])
    with pytest.raises(MerkleTreeError):
        tree.get_proof(True)  # a bool is neither an index nor a value


# ----------------------------------------------------------------------------------------------
# Values: what is accepted, and the JSON form stored
# ----------------------------------------------------------------------------------------------


def test_values_are_stored_in_their_json_form() -> None:
    addr = _address("payee", 1)
    item = _digest("item", 1)
    tree = StandardMerkleTree.of(
        [
            [addr, item, 255, 2**256 - 1, -5, True, "s"],
            [addr.lower(), "0x" + item.hex().upper(), "7", "0", "-128", False, ""],
        ],
        ["address", "bytes32", "uint8", "uint256", "int8", "bool", "string"],
    )
    assert [value for _, value in tree.entries()] == [
        (addr, "0x" + item.hex(), "255", str(2**256 - 1), "-5", True, "s"),
        # Strings are kept exactly as given, as the JS library keeps them.
        (addr.lower(), "0x" + item.hex().upper(), "7", "0", "-128", False, ""),
    ]
    assert len(tree) == 2
    assert tree.leaf_encoding == (
        "address",
        "bytes32",
        "uint8",
        "uint256",
        "int8",
        "bool",
        "string",
    )
    assert "StandardMerkleTree(root=0x" in repr(tree)
    # The same leaf, whichever accepted spelling is used.
    assert tree.leaf_hash([addr, item, 255, 2**256 - 1, -5, True, "s"]) == tree.leaf_hash(
        [addr.lower(), "0x" + item.hex(), "255", str(2**256 - 1), "-5", True, "s"]
    )


BAD_FIELDS: list[tuple[str, object]] = [
    ("uint256", "007"),
    ("uint256", "0x10"),
    ("uint256", " 1"),
    ("uint256", "1_000"),
    ("uint256", "+1"),
    ("uint256", ""),
    ("uint256", "١٢"),
    ("uint256", "1" * 5000),
    ("uint256", -1),
    ("uint256", 2**256),
    ("uint256", True),
    ("uint256", None),
    ("uint8", 256),
    ("uint8", "256"),
    ("uint64", 2**64),
    ("int8", 128),
    ("int8", -129),
    ("int8", "-0"),
    ("address", "0x" + "ab" * 19),
    ("address", "ab" * 20),
    ("address", "0X" + "ab" * 20),
    ("address", "0x" + "zz" * 20),
    ("address", bytes(20)),
    ("address", "0x52908400098527886E0F7030069857D2E4169EE7"[:-1] + "e"),  # bad checksum
    ("bytes32", "0x" + "00" * 31),
    ("bytes32", "0x" + "00" * 33),
    ("bytes32", "0x" + "0" * 63),
    ("bytes32", "0X" + "00" * 32),
    ("bytes32", "0x" + "00 " * 21 + "0"),
    ("bytes32", bytes(31)),
    ("bytes4", "0x" + "00" * 32),
    ("bytes", "0x0"),
    ("bool", 1),
    ("bool", "true"),
    ("string", b"bytes"),
    ("string", "lone \ud800 surrogate"),
]


@pytest.mark.parametrize(("type_name", "raw"), BAD_FIELDS, ids=lambda x: repr(x)[:30])
def test_bad_field_values_are_rejected(type_name: str, raw: object) -> None:
    with pytest.raises(MerkleTreeError):
        StandardMerkleTree.of([[raw]], [type_name])


@pytest.mark.parametrize(
    "encoding",
    [[], ["uint"], ["int"], ["uint7"], ["uint264"], ["uint08"], ["bytes0"], ["bytes33"],
     ["address[]"], ["(address,uint256)"], ["Address"], "address", [1]],
)  # fmt: skip
def test_unsupported_leaf_encodings_are_rejected(encoding: object) -> None:
    with pytest.raises(MerkleTreeError):
        StandardMerkleTree.of([["x"]], encoding)  # type: ignore[arg-type]


def test_bad_value_lists_are_rejected() -> None:
    value = MEDIUM.js_values[0]
    for values in ([], [value[:2]], [[*value, "1"]], ["abc"], [{"a": 1}], "abc"):
        with pytest.raises(MerkleTreeError):
            StandardMerkleTree.of(values, PAYOUT)  # type: ignore[arg-type]


def test_entries_keep_input_order() -> None:
    tree = CASES[4].tree()
    assert [i for i, _ in tree.entries()] == list(range(100))
    assert [list(v) for _, v in tree.entries()] == CASES[4].js_values


# ----------------------------------------------------------------------------------------------
# Properties
# ----------------------------------------------------------------------------------------------

_addresses = st.binary(min_size=20, max_size=20).map(to_checksum_address)
_payout_values = st.lists(
    st.tuples(_addresses, _addresses, st.integers(min_value=0, max_value=2**256 - 1)),
    min_size=1,
    max_size=40,
)


@SETTINGS
@given(values=_payout_values, sort_leaves=st.booleans())
def test_every_proof_verifies_for_random_trees(
    values: list[tuple[str, str, int]], sort_leaves: bool
) -> None:
    tree = StandardMerkleTree.of(values, PAYOUT, sort_leaves=sort_leaves)
    for i, value in enumerate(values):
        proof = tree.get_proof(i)
        assert len(proof) <= len(values).bit_length()
        assert tree.verify(i, proof)
        assert tree.verify(value, proof)
        assert verify_proof(tree.root, PAYOUT, value, proof)
        assert tree.get_proof(value) == tree.get_proof(
            max(j for j, v in enumerate(values) if v == value)
        )
    reloaded = StandardMerkleTree.loads(tree.dumps())
    assert reloaded.dumps() == tree.dumps()
    assert list(reloaded.entries()) == list(tree.entries())


def _field_strategy(type_name: str) -> st.SearchStrategy[tuple[object, object]]:
    """(our input, eth_abi input) for one field of ``type_name``."""
    if type_name == "address":
        return st.binary(min_size=20, max_size=20).flatmap(
            lambda raw: st.sampled_from(
                ["0x" + raw.hex(), to_checksum_address(raw), "0x" + raw.hex().upper()]
            ).map(lambda text: (text, to_checksum_address(raw)))
        )
    if type_name == "bool":
        return st.booleans().map(lambda b: (b, b))
    if type_name == "string":
        return st.text(max_size=80).map(lambda s: (s, s))
    if type_name == "bytes":
        return st.binary(max_size=80).flatmap(
            lambda raw: st.sampled_from([raw, "0x" + raw.hex()]).map(lambda ours: (ours, raw))
        )
    if type_name.startswith("bytes"):
        size = int(type_name[5:])
        return st.binary(min_size=size, max_size=size).flatmap(
            lambda raw: st.sampled_from([raw, "0x" + raw.hex()]).map(lambda ours: (ours, raw))
        )
    bits = int(type_name.removeprefix("u").removeprefix("int"))
    low, high = (
        (0, 2**bits - 1) if type_name[0] == "u" else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    )
    return st.integers(min_value=low, max_value=high).flatmap(
        lambda n: st.sampled_from([n, str(n)]).map(lambda ours: (ours, n))
    )


_TYPE_NAMES = [
    "address",
    "bool",
    "string",
    "bytes",
    "bytes1",
    "bytes4",
    "bytes20",
    "bytes31",
    "bytes32",
    "uint8",
    "uint64",
    "uint160",
    "uint256",
    "int8",
    "int64",
    "int256",
]


@st.composite
def _leaf(draw: st.DrawFn) -> tuple[list[str], list[object], list[object]]:
    types = draw(st.lists(st.sampled_from(_TYPE_NAMES), min_size=1, max_size=8))
    fields = [draw(_field_strategy(t)) for t in types]
    return types, [ours for ours, _ in fields], [theirs for _, theirs in fields]


@settings(SETTINGS, max_examples=300)
@given(leaf=_leaf())
def test_leaf_encoding_equals_eth_abi_encode(
    leaf: tuple[list[str], list[object], list[object]],
) -> None:
    types, ours, theirs = leaf
    expected = keccak(keccak(abi_encode(types, theirs)))
    tree = StandardMerkleTree.of([ours], types)
    assert tree.leaf_hash(ours) == expected
    assert tree.root == "0x" + expected.hex()


@SETTINGS
@given(raw=st.binary(min_size=20, max_size=20), flips=st.lists(st.integers(0, 39), max_size=6))
def test_address_checksum_rule(raw: bytes, flips: list[int]) -> None:
    chars = list(to_checksum_address(raw)[2:])
    for i in flips:
        chars[i] = chars[i].swapcase()
    address = "0x" + "".join(chars)
    try:
        StandardMerkleTree.of([[address]], ["address"])
    except MerkleTreeError:
        accepted = False
    else:
        accepted = True
    body = address[2:]
    single_case = body == body.lower() or body == body.upper()
    assert accepted == (single_case or is_checksum_address(address))
