"""Annotators racing over small datasets, over real HTTP against the real API, on SQLite and
PostgreSQL: every item ends with exactly the labels its terms pay for, every counter equals a
COUNT(*), no item is reserved twice, and the epoch that settles the work pays exactly those labels
(the audit passes from the chain and the publication alone)."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from ledger.annotation.models import Assignment, DatasetAnnotator, Label, LabelStatus
from ledger.apiclient import ApiError, ApiUser
from ledger.audit.offline import audit
from ledger.dataset.models import Item
from tests.conftest import Instance
from tests.integration.test_api import (
    CLASSES,
    create_dataset,
    fund,
    http,
    item_ids,
    upload,
    user,
    wallet,
)
from tests.support import Chain

pytestmark = pytest.mark.chain
__all__ = ["http"]

ANNOTATORS = 10


def crowd(instance: Instance, chain: Chain, size: int) -> list[ApiUser]:
    """Annotators, each with their own HTTP connection, as separate people have."""
    return [
        ApiUser(httpx.Client(base_url=instance.url, timeout=60), wallet(chain)).sign_in("annotator")
        for _ in range(size)
    ]


def work_until_done(
    annotators: list[ApiUser],
    path: str,
    choose: Callable[[random.Random], str],
    seed: int,
    *,
    and_next: bool = False,
) -> Counter[str]:
    """Every annotator at once: next-item, then label it, until the queue has nothing more for
    them (`queue_empty`; `items_reserved` means others hold what is left: ask again). Some
    release an item now and then, to be served something else. With `and_next` they label with
    POST /v1/labels/and-next, which serves the next item in the same call. Returns the codes of
    the refusals met (none is expected)."""
    refusals: Counter[str] = Counter()
    guard = threading.Lock()
    start = threading.Barrier(len(annotators))

    def work(index: int) -> None:
        own = random.Random(seed + index)  # noqa: S311 (reproducible test choices)
        annotator = annotators[index]
        start.wait()
        while True:
            try:
                item = annotator.get(f"{path}/next-item")
                if own.random() < 0.1:
                    annotator.post(f"/v1/items/{item['item_id']}/release")
                    continue
                annotator.post(
                    "/v1/labels", json={"item_id": item["item_id"], "value": choose(own)}
                )
            except ApiError as exc:
                if exc.code == "queue_empty":
                    return
                if exc.code == "items_reserved":
                    time.sleep(0.02)
                    continue
                with guard:
                    refusals[exc.code] += 1
                return

    with ThreadPoolExecutor(max_workers=len(annotators)) as pool:
        for done in [pool.submit(work, i) for i in range(len(annotators))]:
            done.result()
    return refusals


def invariants(instance: Instance, dataset_id: int) -> dict[int, int]:
    """The database's own account of the race; returns labels per item."""
    with instance.runtime.db.unit_of_work() as session:
        items = session.scalars(select(Item).where(Item.dataset_id == dataset_id)).all()
        per_item = dict(
            session.execute(
                select(Label.item_id, func.count())
                .where(Label.dataset_id == dataset_id)
                .group_by(Label.item_id)
            ).all()
        )
        holding = dict(
            session.execute(
                select(Label.item_id, func.count())
                .where(Label.dataset_id == dataset_id, Label.holds_place.is_(True))
                .group_by(Label.item_id)
            ).all()
        )
        for item in items:
            assert item.places_taken == holding.get(item.id, 0), item.external_id
            assert item.places_taken <= item.places, item.external_id
            assert item.leased_to is None, f"{item.external_id} is still reserved"
        # a label is always made by someone the item was served to, or who took it free
        labelled = session.scalar(
            select(func.count()).where(
                Assignment.dataset_id == dataset_id, Assignment.outcome == "labelled"
            )
        )
        assert labelled == sum(per_item.values())
        return {item.id: per_item.get(item.id, 0) for item in items}


def standings_match_labels(instance: Instance, dataset_id: int) -> None:
    """Each annotator's counters equal a COUNT(*) over their labels: decided, accepted, and
    compared with a consensus and agreeing with it."""
    with instance.runtime.db.unit_of_work() as session:
        labels = session.scalars(select(Label).where(Label.dataset_id == dataset_id)).all()
        for annotator in {label.annotator for label in labels}:
            own = [label for label in labels if label.annotator == annotator]
            counted = session.get(DatasetAnnotator, (dataset_id, annotator))
            decided = [label for label in own if label.status is not LabelStatus.pending]
            consensus = [label for label in decided if label.method == "consensus"]
            expected = (
                len(decided),
                sum(label.status is LabelStatus.verified for label in decided),
                len(consensus),
                sum(label.status is LabelStatus.verified for label in consensus),
            )
            found = (0, 0, 0, 0)
            if counted is not None:
                found = (counted.decided, counted.accepted, counted.compared, counted.agreed)
            assert found == expected, annotator


def settle_and_audit(instance: Instance, http: httpx.Client, chain: Chain, expected: int) -> None:
    operator = ApiUser(http, chain.operator).sign_in()
    epoch = operator.post("/v1/epochs")["epoch"]
    assert epoch["label_count"] == expected
    report = audit(chain.client.rpc_url, chain.deployment, instance.runtime.settings.publish_dir)
    assert report.ok, report.to_json()


def accept_all(reviewer: ApiUser) -> int:
    decided = 0
    while queue := reviewer.get("/v1/reviews/queue", params={"limit": 1000}):
        for label in queue:
            reviewer.post(f"/v1/labels/{label['id']}/review", json={"verdict": "accept"})
            decided += 1
    return decided


def open_dataset(
    instance: Instance, http: httpx.Client, chain: Chain, items: int, **changes: Any
) -> tuple[ApiUser, dict[str, Any], ApiUser]:
    buyer = user(http, chain, "buyer")
    dataset = create_dataset(buyer, chain, **changes)
    upload(buyer, dataset["id"], [{"id": f"i-{n:03d}", "data": {"n": n}} for n in range(items)])
    fund(chain, buyer, dataset, amount=10**12)
    reviewer = user(http, chain)
    buyer.post(f"/v1/datasets/{dataset['id']}/reviewers", json={"address": reviewer.address})
    return buyer, dataset, reviewer


@pytest.mark.parametrize("and_next", [False, True], ids=["two calls", "submit and next"])
def test_a_crowd_under_review_labels_every_item_exactly_its_overlap(
    instance: Instance, http: httpx.Client, chain: Chain, and_next: bool
) -> None:
    items, overlap = 24, 2
    _buyer, dataset, reviewer = open_dataset(
        instance, http, chain, items, verification={"overlap": overlap}
    )
    annotators = crowd(instance, chain, ANNOTATORS)
    path = f"/v1/datasets/{dataset['id']}"

    refusals = work_until_done(
        annotators, path, lambda r: r.choice(CLASSES), seed=1, and_next=and_next
    )

    assert refusals == Counter()
    assert set(invariants(instance, dataset["id"]).values()) == {overlap}
    assert accept_all(reviewer) == items * overlap
    standings_match_labels(instance, dataset["id"])
    settle_and_audit(instance, http, chain, items * overlap)


def test_a_crowd_under_consensus_stays_within_k_and_the_cap(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    items = 20
    spec = {"method": "consensus", "consensus_k": 3, "consensus_max_k": 4}
    _buyer, dataset, reviewer = open_dataset(instance, http, chain, items, verification=spec)
    annotators = crowd(instance, chain, ANNOTATORS)
    path = f"/v1/datasets/{dataset['id']}"

    refusals = work_until_done(annotators, path, lambda r: r.choice(CLASSES), seed=2)

    assert refusals == Counter()
    per_item = invariants(instance, dataset["id"])
    assert set(per_item.values()) <= {3, 4}
    with instance.runtime.db.unit_of_work() as session:
        for item in session.scalars(select(Item).where(Item.dataset_id == dataset["id"])):
            labels = session.scalars(select(Label).where(Label.item_id == item.id)).all()
            assert len(labels) == item.places  # every place filled, none beyond
            decided = [label for label in labels if label.status is not LabelStatus.pending]
            # settled by a majority (all decided), or split at the cap (all wait for review)
            assert len(decided) in (0, len(labels))
            assert len(decided) == len(labels) or item.places == 4
    standings_match_labels(instance, dataset["id"])
    accept_all(reviewer)
    standings_match_labels(instance, dataset["id"])
    with instance.runtime.db.unit_of_work() as session:
        verified = session.scalar(
            select(func.count()).where(
                Label.dataset_id == dataset["id"], Label.status == LabelStatus.verified
            )
        )
    assert verified is not None
    settle_and_audit(instance, http, chain, verified)


def test_many_annotators_labelling_one_free_item_at_once_make_one_label(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    _buyer, dataset, _reviewer = open_dataset(instance, http, chain, 1)
    item = item_ids(instance, dataset["id"])["i-000"]
    annotators = crowd(instance, chain, 16)
    start = threading.Barrier(len(annotators))
    outcomes: list[str] = []
    guard = threading.Lock()

    def try_label(annotator: ApiUser) -> None:
        start.wait()
        try:
            annotator.post("/v1/labels", json={"item_id": item, "value": "cat"})
            outcome = "created"
        except ApiError as exc:
            outcome = exc.code
        with guard:
            outcomes.append(outcome)

    with ThreadPoolExecutor(max_workers=len(annotators)) as pool:
        list(pool.map(try_label, annotators))

    assert Counter(outcomes) == {"created": 1, "item_full": 15}
    assert invariants(instance, dataset["id"]) == {item: 1}


def test_one_annotator_asking_many_times_at_once_holds_one_lease(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    _buyer, dataset, _reviewer = open_dataset(instance, http, chain, 8)
    (annotator,) = crowd(instance, chain, 1)
    tabs = [
        ApiUser(httpx.Client(base_url=instance.url, timeout=60), annotator.wallet) for _ in range(8)
    ]
    for tab in tabs:
        tab.token = annotator.token
    start = threading.Barrier(len(tabs))

    def ask(tab: ApiUser) -> int:
        start.wait()
        served: int = tab.get(f"/v1/datasets/{dataset['id']}/next-item")["item_id"]
        return served

    with ThreadPoolExecutor(max_workers=len(tabs)) as pool:
        served = set(pool.map(ask, tabs))

    assert len(served) == 1
    with instance.runtime.db.unit_of_work() as session:
        leased = session.scalars(select(Item.id).where(Item.leased_to == annotator.address)).all()
        assert leased == list(served)
        assert session.scalar(select(func.count()).select_from(Assignment)) == 1


def test_one_annotator_labelling_one_item_from_many_tabs_at_once_makes_one_label(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    # Places to spare (overlap 3): only the unique index on (item, annotator) stands between
    # the tabs and three labels by one person, and a refused tab gives back the place it took.
    _buyer, dataset, _reviewer = open_dataset(instance, http, chain, 1, verification={"overlap": 3})
    item = item_ids(instance, dataset["id"])["i-000"]
    (annotator,) = crowd(instance, chain, 1)
    tabs = [
        ApiUser(httpx.Client(base_url=instance.url, timeout=60), annotator.wallet) for _ in range(8)
    ]
    for tab in tabs:
        tab.token = annotator.token
    start = threading.Barrier(len(tabs))

    def try_label(tab: ApiUser) -> str:
        start.wait()
        try:
            tab.post("/v1/labels", json={"item_id": item, "value": "cat"})
        except ApiError as exc:
            return exc.code
        return "created"

    with ThreadPoolExecutor(max_workers=len(tabs)) as pool:
        outcomes = Counter(pool.map(try_label, tabs))

    assert outcomes == {"created": 1, "duplicate_label": 7}
    assert invariants(instance, dataset["id"]) == {item: 1}
