"""The publication's documents and hashes (ledger/publication.py), byte for byte."""

from __future__ import annotations

import json

from eth_abi.packed import encode_packed
from eth_utils.crypto import keccak

from ledger.merkle import StandardMerkleTree
from ledger.publication import (
    LABEL_LEAF_ENCODING,
    METHOD_CODES,
    GoldRejection,
    PaidLabel,
    build_epoch_files,
    gold_document,
    graded_hash,
    instructions_hash,
    item_id_hash,
    keccak_hex,
    label_hash,
    terms_document,
)

KEY = "0x" + "ab" * 32
OTHER_KEY = "0x" + "cd" * 32
ANNOTATOR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
DATASET = "0x" + "01" * 32


def test_salted_hashes_are_solidity_encode_packed() -> None:
    key = bytes.fromhex(KEY[2:])
    assert (
        item_id_hash(KEY, "img-0")
        == "0x" + keccak(encode_packed(["bytes32", "string"], [key, "img-0"])).hex()
    )
    assert label_hash(KEY, "chat noir") == "0x" + keccak(key + b"chat noir").hex()
    item = item_id_hash(KEY, "img-0")
    assert (
        graded_hash(KEY, item, "cat")
        == "0x"
        + keccak(
            encode_packed(["bytes32", "bytes32", "string"], [key, bytes.fromhex(item[2:]), "cat"])
        ).hex()
    )
    # no class can be found by hashing it alone, and a key changes every hash
    assert label_hash(KEY, "cat") != keccak_hex("cat")
    assert label_hash(KEY, "cat") != label_hash(OTHER_KEY, "cat")
    assert graded_hash(KEY, item, "cat") != graded_hash(KEY, item_id_hash(KEY, "img-1"), "cat")


def test_gold_document_is_canonical_and_its_hash_commits_to_every_answer() -> None:
    a, b = item_id_hash(KEY, "a"), item_id_hash(KEY, "b")
    document = gold_document(KEY, [(b, "dog"), (a, "cat")])
    assert document == gold_document(KEY, [(a, "cat"), (b, "dog")])  # order does not matter
    parsed = json.loads(document)
    assert parsed["key"] == KEY
    assert parsed["answers"] == sorted(
        [[a, graded_hash(KEY, a, "cat")], [b, graded_hash(KEY, b, "dog")]]
    )
    assert " " not in document
    changed = gold_document(KEY, [(a, "cat"), (b, "cat")])
    assert keccak_hex(changed) != keccak_hex(document)


def test_terms_hash_to_the_salt_and_change_with_any_term() -> None:
    terms = {
        "buyer": ANNOTATOR,
        "payment_token": ANNOTATOR,
        "price_per_label": 250_000,
        "reward_per_label": 10**6,
        "label_schema": {"type": "classes", "classes": ["cat", "dog"]},
        "verification": {"method": "review", "overlap": 1},
        "instructions_hash": instructions_hash("Label the animal.", []),
        "gold_commitment": KEY,
        "nonce": OTHER_KEY,
    }
    document = terms_document(**terms)  # type: ignore[arg-type]
    parsed = json.loads(document)
    assert parsed["pricePerLabel"] == "250000"
    assert parsed["labelSchemaHash"] == keccak_hex('{"classes":["cat","dog"],"type":"classes"}')
    assert parsed["instructionsHash"] == keccak_hex(
        '{"examples":[],"markdown":"Label the animal."}'
    )
    assert parsed["verification"]["overlap"] == 1
    for name, value in (
        ("price_per_label", 250_001),
        ("gold_commitment", None),
        ("verification", {"method": "review", "overlap": 2}),
        ("instructions_hash", instructions_hash("Label the animal!", [])),
    ):
        assert terms_document(**(terms | {name: value})) != document  # type: ignore[arg-type]


def test_epoch_files_commit_to_each_other() -> None:
    item = item_id_hash(KEY, "img-0")
    paid = [
        PaidLabel(DATASET, item, ANNOTATOR, label_hash(KEY, "cat"), "gold", 5, 7, "0x" + "11" * 32)
    ]
    rejected = [
        GoldRejection(
            DATASET, item, ANNOTATOR, "0x" + "22" * 32, "0x" + "33" * 32, "0x" + "44" * 32
        )
    ]
    files = build_epoch_files(
        chain_id=31337,
        ledger=ANNOTATOR,
        number=2,
        previous_payout_root="0x" + "55" * 32,
        payout_leaves=[[ANNOTATOR, "1", "5", "7"]],
        paid=paid,
        gold_rejections=rejected,
        debits=[],
    )
    manifest = json.loads(files.manifest)
    assert files.content_hash == keccak_hex(files.manifest)
    assert manifest["previousPayoutRoot"] == "0x" + "55" * 32
    assert manifest["files"] == {
        "payout-tree.json": keccak_hex(files.payout_tree),
        "label-tree.json": keccak_hex(files.label_tree),
        "verdicts.json": keccak_hex(files.verdicts),
    }
    labels = StandardMerkleTree.loads(files.label_tree)
    assert labels.root == files.label_root == manifest["labelRoot"]
    assert list(labels.leaf_encoding) == list(LABEL_LEAF_ENCODING)
    [(_, leaf)] = list(labels.entries())
    assert leaf[4] == str(METHOD_CODES["gold"])
    verdicts = json.loads(files.verdicts)
    assert verdicts["goldRejected"] == [[DATASET, item, ANNOTATOR] + ["0x" + c * 64 for c in "234"]]
    assert (manifest["labelCount"], manifest["goldRejectedCount"]) == (1, 1)
