"""How the audit reads the labels an item may be paid from its terms, and counts them
(ledger/audit/offline/checks/overlap.py), on documents built as the service builds them."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.audit.offline import (
    DEFAULT_METHOD,
    DEFAULT_PLACES,
    EpochFiles,
    LabelLeaf,
    Terms,
    Verdicts,
    _overlap_rows,
    _paid_places,
    _verdict_problem,
)
from ledger.dataset.schemas import Method, VerificationSpec
from ledger.publication import METHOD_CODES, keccak_hex, terms_document

BUYER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
REVIEWER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
DATASET = 7
ITEM, OTHER_ITEM = keccak_hex("item"), keccak_hex("other item")


def terms(verification: Any) -> Terms:
    return Terms.parse(
        terms_document(
            buyer=BUYER,
            payment_token=TOKEN,
            price_per_label=1,
            reward_per_label=1,
            label_schema={"classes": ["cat", "dog"]},
            verification=verification,
            instructions_hash=keccak_hex("instructions"),
            gold_commitment=None,
            nonce=keccak_hex("nonce"),
        ).encode()
    )


def leaf(item: str, method: str, annotator: int) -> LabelLeaf:
    label = keccak_hex(f"{item} {annotator}")
    return (DATASET, item, f"0x{annotator:040x}", label, METHOD_CODES[method], 1, 1)


def epoch(number: int, *leaves: LabelLeaf, rejected: tuple[str, ...] = ()) -> EpochFiles:
    paid = {
        (d, i, a, lh): [("gold" if m == METHOD_CODES["gold"] else "review", None, None)]
        for d, i, a, lh, m, _, _ in leaves
    }
    gold_rejections = [((DATASET, i, "0x" + "ee" * 20, keccak_hex(i)), "", "") for i in rejected]
    return EpochFiles(
        number, labels=list(leaves), verdicts=Verdicts(paid, gold_rejections, len(paid))
    )


def test_the_defaults_are_the_services() -> None:
    spec = VerificationSpec()
    assert str(spec.method) == DEFAULT_METHOD
    assert {name: getattr(spec, name) for name in DEFAULT_PLACES} == DEFAULT_PLACES


def test_terms_read_the_overlap_the_service_commits_to() -> None:
    review = terms(VerificationSpec(overlap=3, gold_overlap=4).model_dump(mode="json"))
    assert review.allowance(gold=False) == (3, "overlap, under review")
    assert review.allowance(gold=True) == (4, "gold_overlap, for a gold item")
    consensus = terms(
        VerificationSpec(method=Method.consensus, consensus_k=2, consensus_max_k=6).model_dump(
            mode="json"
        )
    )
    assert (consensus.method, consensus.consensus_k) == ("consensus", 2)
    assert consensus.allowance(gold=False) == (6, "consensus_max_k, under consensus")
    assert consensus.allowance(gold=True) == (10, "gold_overlap, for a gold item")


def test_terms_leaving_the_counts_out_mean_the_defaults() -> None:
    left_out = terms({"method": "consensus"})
    assert (left_out.consensus_k, left_out.consensus_max_k, left_out.gold_overlap) == (3, 5, 10)
    assert terms({}).allowance(gold=False) == (1, "overlap, under review")


@pytest.mark.parametrize(
    ("verification", "problem"),
    [
        ("review", "verification 'review' is not an object"),
        ({"method": "gold"}, "verification method 'gold' is neither review nor consensus"),
        ({"overlap": 0}, "verification overlap 0 is not a positive integer"),
        ({"gold_overlap": "10"}, "verification gold_overlap '10' is not a positive integer"),
        ({"consensus_max_k": True}, "verification consensus_max_k True is not a positive integer"),
    ],
)
def test_terms_that_do_not_say_how_many_labels_an_item_takes_do_not_parse(
    verification: object, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        terms(verification)


def test_an_item_is_gold_by_any_gold_verdict_and_appeals_take_no_place() -> None:
    paid, gold = _paid_places(
        [
            epoch(1, leaf(ITEM, "review", 1), leaf(ITEM, "appeal", 2), rejected=(ITEM,)),
            epoch(2, leaf(ITEM, "auto", 3), leaf(OTHER_ITEM, "gold", 1)),
        ]
    )
    assert paid == {(DATASET, ITEM): [1, 2], (DATASET, OTHER_ITEM): [2]}
    assert gold == {(DATASET, ITEM), (DATASET, OTHER_ITEM)}


def test_a_consensus_item_is_paid_up_to_its_cap() -> None:
    consensus = terms({"method": "consensus", "consensus_k": 3, "consensus_max_k": 4})
    at_cap = {(DATASET, ITEM): [1, 1, 2, 2]}
    assert _overlap_rows(at_cap, set(), {DATASET: consensus}) == []
    assert _overlap_rows(at_cap, set(), {}) == []  # no usable terms: `terms` reports it
    [row] = _overlap_rows({(DATASET, ITEM): [1, 1, 2, 2, 3]}, set(), {DATASET: consensus})
    assert row == {
        "dataset": "0x" + f"{DATASET:064x}",
        "item": ITEM,
        "paid": "5",
        "allowed": "4",
        "epochs": "1, 2, 3",
        "problem": "5 labels paid on this item (appeals aside), its terms allow 4 "
        "(consensus_max_k, under consensus)",
    }


def test_an_appeal_names_who_upheld_it() -> None:
    code = METHOD_CODES["appeal"]
    assert _verdict_problem(code, [("appeal", REVIEWER, None)], seen=False) is None
    assert _verdict_problem(code, [("appeal", None, None)], seen=False) == (
        "appeal verdict without a decider address (evidence None)"
    )
