"""A buyer's view of the work on their dataset: the progress counts and the reviewers they
appointed, through the real API on a real chain, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

from ledger.apiclient import ApiUser
from tests.conftest import Instance
from tests.integration.test_api import (
    Market,
    create_dataset,
    http,
    label,
    market,
    refused,
    user,
)
from tests.support import Chain

pytestmark = pytest.mark.chain
__all__ = ["http", "market"]  # fixtures shared with test_api


def test_progress_counts_each_verdict_and_the_epoch_that_paid(
    market: Market, http: httpx.Client, chain: Chain
) -> None:
    path = f"{market.path}/progress"
    empty = market.buyer.get(path)
    assert empty == {
        "dataset_id": market.dataset["id"],
        "items": 7,
        "gold_items": 2,
        "items_labelled": 0,
        "items_set_aside": 0,
        "labels": 0,
        "pending": 0,
        "verified": 0,
        "rejected": 0,
        "paid": 0,
        "unpaid": 0,
        "warmup_labels": 0,
        "epochs": 0,
        "latest_epoch": None,
    }

    other = user(http, chain, "annotator")
    label(market.annotator, market.items["gold-cat"], "cat")  # verified on gold
    label(other, market.items["gold-cat"], "dog")  # rejected on gold, same item
    accepted = label(market.annotator, market.items["img-0"], "dog")
    label(market.annotator, market.items["img-1"], "bird")  # left pending
    market.reviewer.post(f"/v1/labels/{accepted['id']}/review", json={"verdict": "accept"})

    counts = market.buyer.get(path)
    assert (counts["items_labelled"], counts["labels"]) == (3, 4)
    assert (counts["pending"], counts["verified"], counts["rejected"]) == (1, 2, 1)
    assert (counts["paid"], counts["unpaid"], counts["epochs"]) == (0, 2, 0)

    operator = ApiUser(http, chain.operator).sign_in()
    settled_epoch = operator.post("/v1/epochs")["epoch"]
    assert settled_epoch is not None
    epoch = settled_epoch["number"]

    settled = market.buyer.get(path)
    assert (settled["paid"], settled["unpaid"], settled["verified"]) == (2, 0, 2)
    assert (settled["epochs"], settled["latest_epoch"]) == (1, epoch)
    # the counts agree with the delivered labels the buyer can page through
    delivered = market.buyer.get(f"{market.path}/labels")
    assert len(delivered) == settled["verified"]
    assert all(d["epoch"] == epoch for d in delivered)


def test_progress_and_reviewers_are_for_the_dataset_buyer_only(
    market: Market, http: httpx.Client, chain: Chain
) -> None:
    for route in ("progress", "reviewers"):
        path = f"{market.path}/{route}"
        refused(403, "not_dataset_buyer", lambda p=path: user(http, chain, "buyer").get(p))
        # the annotators and the reviewer may not read them either
        refused(403, "missing_role", lambda p=path: market.annotator.get(p))
        refused(403, "missing_role", lambda p=path: market.reviewer.get(p))
    refused(404, "dataset_not_found", lambda: market.buyer.get("/v1/datasets/999999/progress"))


def test_private_dataset_progress_is_not_found_for_others(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    buyer = user(http, chain, "buyer")
    dataset = create_dataset(buyer, chain, private=True)
    path = f"/v1/datasets/{dataset['id']}/progress"
    refused(404, "dataset_not_found", lambda: user(http, chain, "buyer").get(path))
    assert buyer.get(path)["items"] == 0


def test_reviewers_lists_whom_the_buyer_appointed(
    market: Market, http: httpx.Client, chain: Chain
) -> None:
    path = f"{market.path}/reviewers"
    first = market.buyer.get(path)
    assert [r["address"] for r in first] == [market.reviewer.address]
    assert first[0]["appointed_at"]

    second = user(http, chain)
    market.buyer.post(path, json={"address": second.address.lower()})
    market.buyer.post(path, json={"address": second.address})  # twice is once
    listed = [r["address"] for r in market.buyer.get(path)]
    assert listed == [market.reviewer.address, second.address]
