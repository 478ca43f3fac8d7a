"""A crowd at once, through the real API on a real chain: overlap committed in the terms, leases
(with a controlled clock), skips and releases, private workforces, sealed gold verdicts,
versioned instructions. The races themselves are in test_concurrency.py."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from ledger.annotation.models import Assignment, Label
from ledger.annotation.standing import reveal_due
from ledger.apiclient import ApiUser
from ledger.dataset.models import Item
from ledger.jobs import upkeep
from ledger.kit.db import utcnow
from ledger.publication import instructions_hash, keccak_hex
from tests.conftest import Instance
from tests.integration.test_api import (
    FUNDS,
    create_dataset,
    fund,
    http,
    item_ids,
    label,
    refused,
    rows,
    upload,
    user,
)
from tests.support import Chain

pytestmark = pytest.mark.chain
__all__ = ["http"]  # the API client fixture, shared with test_api

PLAIN = [{"id": f"img-{n}", "data": {"n": n}} for n in range(6)]


class Clock:
    """The time the API runs on (settlement included), moved by the test; it starts now."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock(instance: Instance) -> Clock:
    controlled = Clock(utcnow().replace(microsecond=0))
    instance.runtime.clock = controlled
    return controlled


@dataclass
class Open:
    buyer: ApiUser
    dataset: dict[str, Any]
    items: dict[str, int]

    @property
    def path(self) -> str:
        return f"/v1/datasets/{self.dataset['id']}"


def open_dataset(
    instance: Instance,
    http: httpx.Client,
    chain: Chain,
    records: list[dict[str, Any]] = PLAIN,
    **changes: Any,
) -> Open:
    buyer = user(http, chain, "buyer")
    dataset = create_dataset(buyer, chain, **changes)
    upload(buyer, dataset["id"], records)
    fund(chain, buyer, dataset, amount=FUNDS)
    dataset = buyer.get(f"/v1/datasets/{dataset['id']}")
    return Open(buyer, dataset, item_ids(instance, dataset["id"]))


def counters_match_labels(instance: Instance) -> None:
    """Every item's places_taken equals the labels holding one of its places."""
    with instance.runtime.db.unit_of_work() as session:
        held = dict(
            session.execute(
                select(Label.item_id, func.count())
                .where(Label.holds_place.is_(True))
                .group_by(Label.item_id)
            ).all()
        )
        for item in session.scalars(select(Item)):
            assert item.places_taken == held.get(item.id, 0), item.external_id
            assert item.places_taken <= item.places


# --- overlap ---------------------------------------------------------------------------------


def test_overlap_is_committed_in_the_terms_and_no_item_takes_more_labels(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    shop = open_dataset(instance, http, chain, verification={"overlap": 2})
    terms = json.loads(
        http.get(f"/v1/published/datasets/{shop.dataset['chain']['dataset_id']}/terms.json").text
    )
    assert terms["verification"]["overlap"] == 2
    assert terms["format"] == "label-ledger-terms-v2"
    first, second, third = (user(http, chain, "annotator") for _ in range(3))
    item = shop.items["img-0"]
    label(first, item, "cat")
    label(second, item, "dog")
    before = rows(instance, Label)
    error = refused(409, "item_full", lambda: label(third, item, "cat"))
    assert "has all the labels its dataset pays for (2)" in error.message
    assert rows(instance, Label) == before
    counters_match_labels(instance)
    # the default under review is one label an item
    single = open_dataset(instance, http, chain)
    assert single.dataset["verification"]["overlap"] == 1
    label(first, single.items["img-0"], "cat")
    refused(409, "item_full", lambda: label(second, single.items["img-0"], "cat"))
    # under consensus, k and the cap say it; an overlap is refused there
    buyer = shop.buyer
    consensus = {"method": "consensus", "overlap": 2}
    refused(422, "invalid_input", lambda: create_dataset(buyer, chain, verification=consensus))


def test_a_rejected_label_frees_its_place_for_another_annotator(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    shop = open_dataset(instance, http, chain)
    reviewer = user(http, chain)
    shop.buyer.post(f"{shop.path}/reviewers", json={"address": reviewer.address})
    first, second = user(http, chain, "annotator"), user(http, chain, "annotator")
    served = first.get(f"{shop.path}/next-item")
    made = label(first, served["item_id"], "dog")
    refused(409, "item_full", lambda: label(second, served["item_id"], "cat"))
    reviewer.post(f"/v1/labels/{made['id']}/review", json={"verdict": "reject", "reason": "cat"})
    counters_match_labels(instance)
    # the item is the first in the queue again, for anybody but the first annotator
    assert second.get(f"{shop.path}/next-item")["item_id"] == served["item_id"]
    assert label(second, served["item_id"], "cat")["status"] == "pending"
    assert first.get(f"{shop.path}/next-item")["item_id"] != served["item_id"]
    counters_match_labels(instance)


# --- leases, skips, releases -----------------------------------------------------------------


def test_a_lease_reserves_the_item_until_it_expires_then_it_goes_to_another(
    instance: Instance, http: httpx.Client, chain: Chain, clock: Clock
) -> None:
    shop = open_dataset(instance, http, chain, lease_seconds=120)
    first, second, third = (user(http, chain, "annotator") for _ in range(3))
    path = f"{shop.path}/next-item"
    start = clock.now
    held = first.get(path)
    assert held["external_id"] == "img-0"
    assert held["lease_seconds"] == 120
    assert dt.datetime.fromisoformat(held["lease_expires_at"]) == start + dt.timedelta(seconds=120)
    clock.advance(60)
    assert first.get(path) == held  # asking again: the same item, the same expiry
    other = second.get(path)
    assert other["external_id"] == "img-1"
    before = rows(instance, Label)
    error = refused(409, "item_reserved", lambda: label(second, held["item_id"], "cat"))
    assert "reserved for another annotator" in error.message
    assert rows(instance, Label) == before

    clock.advance(61)  # the first annotator's lease ran out, the second's has a minute left
    assert second.get(path) == other
    taken_over = third.get(path)
    assert taken_over["external_id"] == "img-0"  # abandoned: served to the next who asks
    refused(409, "item_reserved", lambda: label(first, held["item_id"], "cat"))  # too late
    assert first.get(path)["external_id"] == "img-2"  # never img-0 again: served once each
    assert label(third, taken_over["item_id"], "cat")["status"] == "pending"
    counters_match_labels(instance)


def test_one_lease_per_annotator_and_dataset_and_upkeep_ends_expired_ones(
    instance: Instance, http: httpx.Client, chain: Chain, clock: Clock
) -> None:
    shop = open_dataset(instance, http, chain, lease_seconds=30)
    worker = user(http, chain, "annotator")
    held = worker.get(f"{shop.path}/next-item")
    with instance.runtime.db.unit_of_work() as session:
        leased = session.scalars(select(Item).where(Item.leased_to == worker.address)).all()
        assert [i.id for i in leased] == [held["item_id"]]
    clock.advance(31)
    assert upkeep(instance.runtime) == (1, 0)
    with instance.runtime.db.unit_of_work() as session:
        assert session.scalar(select(func.count()).where(Item.leased_to.is_not(None))) == 0


def test_skip_with_a_reason_reaches_the_buyer_and_sets_an_item_aside_at_the_limit(
    instance: Instance, http: httpx.Client, chain: Chain, clock: Clock
) -> None:
    shop = open_dataset(instance, http, chain, skip_limit=2)
    workers = [user(http, chain, "annotator") for _ in range(3)]
    path = f"{shop.path}/next-item"
    held = workers[0].get(path)
    refused(409, "no_lease", lambda: workers[1].post(f"/v1/items/{held['item_id']}/skip", json={}))
    refused(
        422,
        "invalid_input",
        lambda: workers[0].post(f"/v1/items/{held['item_id']}/skip", json={"reason": "bored"}),
    )
    workers[0].post(
        f"/v1/items/{held['item_id']}/skip",
        json={"reason": "broken_media", "comment": "404 on the image"},
    )
    refused(409, "no_lease", lambda: workers[0].post(f"/v1/items/{held['item_id']}/skip", json={}))
    assert workers[0].get(path)["item_id"] != held["item_id"]  # never served to them again
    assert workers[1].get(path)["item_id"] == held["item_id"]
    workers[1].post(f"/v1/items/{held['item_id']}/skip", json={"reason": "unclear"})
    # skipped by two: set aside, served to nobody
    assert workers[2].get(path)["item_id"] != held["item_id"]
    skips = shop.buyer.get(f"{shop.path}/skips")
    assert skips == [
        {
            "item_id": held["item_id"],
            "external_id": held["external_id"],
            "skips": 2,
            "reasons": {"broken_media": 1, "unclear": 1},
            "comments": ["404 on the image"],
            "set_aside": True,
        }
    ]
    refused(403, "missing_role", lambda: workers[0].get(f"{shop.path}/skips"))
    # the buyer fixes it and puts it back: served to whoever has not been served it
    shop.buyer.post(f"{shop.path}/items/{held['item_id']}/requeue")
    fresh = user(http, chain, "annotator")
    assert fresh.get(path)["item_id"] == held["item_id"]
    refused(404, "unknown_item", lambda: shop.buyer.post(f"{shop.path}/items/999999/requeue"))


def test_release_gives_the_item_to_another_annotator(
    instance: Instance, http: httpx.Client, chain: Chain, clock: Clock
) -> None:
    shop = open_dataset(instance, http, chain)
    first, second = user(http, chain, "annotator"), user(http, chain, "annotator")
    held = first.get(f"{shop.path}/next-item")
    first.post(f"/v1/items/{held['item_id']}/release")
    refused(409, "no_lease", lambda: first.post(f"/v1/items/{held['item_id']}/release"))
    assert second.get(f"{shop.path}/next-item")["item_id"] == held["item_id"]
    with instance.runtime.db.unit_of_work() as session:
        outcomes = {
            (a.annotator, a.outcome)
            for a in session.scalars(
                select(Assignment).where(Assignment.item_id == held["item_id"])
            )
        }
    assert outcomes == {(first.address, "released"), (second.address, "leased")}


# --- private workforces ----------------------------------------------------------------------


def test_a_private_dataset_does_not_exist_for_anyone_outside_its_workforce(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    member, outsider, later = (user(http, chain, "annotator") for _ in range(3))
    shop = open_dataset(instance, http, chain, private=True, workforce=[member.address.lower()])
    other_buyer = user(http, chain, "buyer")
    dataset_id, path = shop.dataset["id"], shop.path
    item = shop.items["img-0"]
    assert shop.dataset["private"] is True
    held = member.get(f"{path}/next-item")

    never_used = 10**6
    not_found: list[tuple[str, Callable[[], object], str]] = [
        ("get", lambda: outsider.get(path), "dataset_not_found"),
        ("next-item", lambda: outsider.get(f"{path}/next-item"), "dataset_not_found"),
        (
            "standing",
            lambda: outsider.get(f"/v1/me/datasets/{dataset_id}/standing"),
            "dataset_not_found",
        ),
        ("instructions", lambda: outsider.get(f"{path}/instructions"), "dataset_not_found"),
        ("agreement", lambda: outsider.get(f"{path}/agreement"), "dataset_not_found"),
        ("label", lambda: label(outsider, item, "cat"), "unknown_item"),
        ("skip", lambda: outsider.post(f"/v1/items/{item}/skip", json={}), "unknown_item"),
        ("release", lambda: outsider.post(f"/v1/items/{item}/release"), "unknown_item"),
        ("close", lambda: other_buyer.get(f"{path}/close"), "dataset_not_found"),
        ("upload", lambda: upload(other_buyer, dataset_id, PLAIN), "dataset_not_found"),
        ("gold", lambda: other_buyer.post(f"{path}/gold", json=[]), "dataset_not_found"),
        ("labels", lambda: other_buyer.get(f"{path}/labels"), "dataset_not_found"),
        ("skips", lambda: other_buyer.get(f"{path}/skips"), "dataset_not_found"),
        ("workforce", lambda: other_buyer.get(f"{path}/workforce"), "dataset_not_found"),
        (
            "reviewers",
            lambda: other_buyer.post(f"{path}/reviewers", json={"address": outsider.address}),
            "dataset_not_found",
        ),
        (
            "instructions",
            lambda: other_buyer.put(f"{path}/instructions", json={"instructions": "x"}),
            "dataset_not_found",
        ),
    ]
    for name, call, code in not_found:
        error = refused(404, code, call)
        unknown = "no dataset" if code == "dataset_not_found" else "no item"
        assert error.message.startswith(unknown), name
    # the same answer as for an id nobody ever used
    gone = refused(404, "dataset_not_found", lambda: outsider.get(f"/v1/datasets/{never_used}"))
    assert gone.message == f"no dataset {never_used}"
    assert dataset_id not in {d["id"] for d in outsider.get("/v1/datasets")}
    assert dataset_id in {d["id"] for d in member.get("/v1/datasets")}
    assert dataset_id in {d["id"] for d in shop.buyer.get("/v1/datasets")}

    # admitted while it runs: sees it and works; dismissed: it is gone again, lease and all
    shop.buyer.post(f"{path}/workforce", json={"addresses": [later.address]})
    assert later.get(f"{path}/next-item")["item_id"] != held["item_id"]
    assert shop.buyer.get(f"{path}/workforce")["members"] == sorted([member.address, later.address])
    made = label(member, held["item_id"], "cat")
    shop.buyer.delete(f"{path}/workforce/{member.address}")
    refused(404, "dataset_not_found", lambda: member.get(f"{path}/next-item"))
    refused(404, "unknown_item", lambda: label(member, shop.items["img-5"], "cat"))
    assert member.get(f"/v1/labels/{made['id']}/history")["status"] == "pending"  # still theirs
    refused(
        404,
        "workforce_member_not_found",
        lambda: shop.buyer.delete(f"{path}/workforce/{member.address}"),
    )
    public = open_dataset(instance, http, chain)
    refused(
        409,
        "dataset_not_private",
        lambda: public.buyer.post(f"{public.path}/workforce", json={"addresses": [later.address]}),
    )
    refused(
        422,
        "invalid_input",
        lambda: create_dataset(public.buyer, chain, workforce=[later.address]),
    )


def test_a_reviewer_of_a_private_dataset_sees_it_but_does_not_label_it(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    shop = open_dataset(instance, http, chain, private=True)
    reviewer = user(http, chain, "annotator")
    shop.buyer.post(f"{shop.path}/reviewers", json={"address": reviewer.address})
    assert reviewer.get(shop.path)["id"] == shop.dataset["id"]
    refused(403, "not_in_workforce", lambda: reviewer.get(f"{shop.path}/next-item"))


# --- gold that stays secret ------------------------------------------------------------------

GOLD = [
    {"id": "plain-0", "data": 0},
    {"id": "gold-cat", "data": 1, "gold": "cat"},
    {"id": "gold-dog", "data": 2, "gold": "dog"},
]


def test_a_gold_verdict_is_sealed_until_its_delay_then_shown_counted_and_paid(
    instance: Instance, http: httpx.Client, chain: Chain, clock: Clock
) -> None:
    shop = open_dataset(instance, http, chain, GOLD)
    delay = shop.dataset["verification"]["gold_reveal_seconds"]
    assert delay == 24 * 3600
    worker = user(http, chain, "annotator")
    wrong = label(worker, shop.items["gold-cat"], "dog")
    right = label(worker, shop.items["gold-dog"], "dog")
    plain = label(worker, shop.items["plain-0"], "cat")
    for made in (wrong, right, plain):
        assert (made["status"], made["method"], made["reason"], made["price"]) == (
            "pending",
            None,
            None,
            None,
        )
    mine = worker.get("/v1/me/labels")
    assert {m["status"] for m in mine} == {"pending"}
    assert [m["id"] for m in worker.get("/v1/me/labels", params={"status": "pending"})] == [
        wrong["id"],
        right["id"],
        plain["id"],
    ]
    assert worker.get("/v1/me/labels", params={"status": "rejected"}) == []
    standing = f"/v1/me/datasets/{shop.dataset['id']}/standing"
    assert (worker.get(standing)["gold_answered"], worker.get(standing)["decided"]) == (0, 0)
    sealed_history = worker.get(f"/v1/labels/{wrong['id']}/history")
    assert [e["kind"] for e in sealed_history["events"]] == ["submitted"]
    assert sealed_history["status"] == "pending"
    assert shop.buyer.get(f"/v1/labels/{wrong['id']}/history")["status"] == "rejected"
    refused(
        409,
        "label_not_rejected",
        lambda: worker.post(f"/v1/labels/{wrong['id']}/disputes", json={"comment": "?"}),
    )
    earnings = worker.get("/v1/me/earnings")
    assert (earnings["pending"], earnings["verified"], earnings["rejected"]) == (3, 0, 0)
    # the buyer knows the answers anyway, and sees the verdicts
    delivered = shop.buyer.get(f"{shop.path}/labels")
    assert [(d["id"], d["method"]) for d in delivered] == [(right["id"], "gold")]
    operator = ApiUser(http, chain.operator).sign_in()
    assert operator.post("/v1/epochs")["epoch"] is None  # nothing payable while sealed

    clock.advance(delay - 1)
    assert upkeep(instance.runtime) == (0, 0)
    clock.advance(1)
    # the upkeep job and a settlement revealing at the same moment count each verdict once
    start = threading.Barrier(2)

    def reveal() -> int:
        start.wait()
        with instance.runtime.db.unit_of_work() as session:
            return reveal_due(session, now=clock.now)

    with ThreadPoolExecutor(max_workers=2) as pool:
        assert sum(pool.map(lambda _: reveal(), range(2))) == 2
    shown = {m["id"]: m for m in worker.get("/v1/me/labels")}
    assert (shown[wrong["id"]]["status"], shown[wrong["id"]]["method"]) == ("rejected", "gold")
    assert shown[right["id"]]["price"] == shop.dataset["price_per_label"]
    counted = worker.get(standing)
    assert (counted["gold_answered"], counted["gold_correct"], counted["decided"]) == (2, 1, 2)
    assert [e["kind"] for e in worker.get(f"/v1/labels/{wrong['id']}/history")["events"]] == [
        "submitted",
        "rejected (gold)",
    ]
    settled = operator.post("/v1/epochs")["epoch"]
    assert settled["label_count"] == 1


def test_a_gold_item_is_never_served_twice_to_the_same_annotator(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    shop = open_dataset(instance, http, chain, GOLD, verification={"gold_rate_bps": 10_000})
    worker = user(http, chain, "annotator")
    path = f"{shop.path}/next-item"
    served = []
    for _ in range(3):
        item = worker.get(path)
        served.append(item["external_id"])
        worker.post(f"/v1/items/{item['item_id']}/release")
    assert served[:2] == ["gold-cat", "gold-dog"]
    assert served[2] == "plain-0"
    refused(404, "queue_empty", lambda: worker.get(path))


def test_a_warm_up_shows_its_outcome_in_aggregate_once_complete(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    warm = {"qualification_gold_items": 2, "qualification_min_accuracy": 0.5}
    shop = open_dataset(instance, http, chain, GOLD, verification=warm)
    worker = user(http, chain, "annotator")
    standing = f"/v1/me/datasets/{shop.dataset['id']}/standing"
    first = label(worker, worker.get(f"{shop.path}/next-item")["item_id"], "bird")
    assert first["status"] == "pending"
    progress = worker.get(standing)
    assert (progress["qualification"], progress["qualification_answered"]) == ("pending", 1)
    assert progress["qualification_correct"] is None  # nothing per answer before the end
    second = worker.get(f"{shop.path}/next-item")
    label(worker, second["item_id"], "cat" if second["external_id"] == "gold-cat" else "dog")
    done = worker.get(standing)
    assert (done["qualification"], done["qualification_correct"]) == ("passed", 1)
    assert done["gold_answered"] == 0  # the verdicts themselves are still sealed


# --- instructions ----------------------------------------------------------------------------


def test_instructions_are_in_the_terms_and_versioned_once_the_dataset_is_funded(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    buyer = user(http, chain, "buyer")
    examples = [{"data": {"url": "x.jpg"}, "label": "cat", "explanation": "ears"}]
    dataset = create_dataset(
        buyer, chain, instructions="# Pets\nLabel the animal.", examples=examples
    )
    path = f"/v1/datasets/{dataset['id']}"
    first = buyer.get(f"{path}/instructions")
    expected = [examples[0]]
    assert (first["version"], first["committed"], first["examples"]) == (1, True, expected)
    assert first["hash"] == instructions_hash("# Pets\nLabel the animal.", expected)
    salt = dataset["chain"]["salt"]
    # before funding, a change rewrites version 1 and the terms with it
    changed = buyer.put(f"{path}/instructions", json={"instructions": "# Pets, v1 fixed"})
    assert changed["version"] == 1
    now = buyer.get(path)
    assert now["chain"]["salt"] != salt
    upload(buyer, dataset["id"], PLAIN)
    fund(chain, buyer, now)
    terms = http.get(f"/v1/published/datasets/{now['chain']['dataset_id']}/terms.json").text
    assert keccak_hex(terms) == now["chain"]["salt"]
    assert json.loads(terms)["instructionsHash"] == changed["hash"]

    worker = user(http, chain, "annotator")
    before = label(worker, worker.get(f"{path}/next-item")["item_id"], "cat")
    assert before["instructions_version"] == 1
    second = buyer.put(f"{path}/instructions", json={"instructions": "# Pets\nBirds count too."})
    assert (second["version"], second["committed"]) == (2, False)
    assert buyer.get(path)["chain"]["salt"] == now["chain"]["salt"]  # fixed on chain
    served = worker.get(f"{path}/next-item")
    assert served["instructions_version"] == 2
    assert label(worker, served["item_id"], "bird")["instructions_version"] == 2
    assert worker.get(f"{path}/instructions", params={"version": 1})["hash"] == changed["hash"]
    refused(404, "not_found", lambda: worker.get(f"{path}/instructions", params={"version": 3}))
    refused(403, "missing_role", lambda: worker.put(f"{path}/instructions", json={}))
    other = user(http, chain, "buyer")
    refused(403, "not_dataset_buyer", lambda: other.put(f"{path}/instructions", json={}))
    refused(
        422,
        "label_outside_schema",
        lambda: buyer.put(
            f"{path}/instructions", json={"examples": [{"data": 1, "label": "horse"}]}
        ),
    )


# --- submit and next -------------------------------------------------------------------------


def test_submit_and_next_labels_and_reserves_the_next_item_in_one_round_trip(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    shop = open_dataset(instance, http, chain, PLAIN[:3])
    worker, other = user(http, chain, "annotator"), user(http, chain, "annotator")
    first = worker.get(f"{shop.path}/next-item")
    done = worker.post("/v1/labels/and-next", json={"item_id": first["item_id"], "value": "cat"})
    assert (done["label"]["item_id"], done["label"]["status"]) == (first["item_id"], "pending")
    assert done["next"]["external_id"] == "img-1"
    assert done["next_refusal"] is None
    assert worker.get(f"{shop.path}/next-item") == done["next"]  # it is reserved for them
    refused(409, "item_reserved", lambda: label(other, done["next"]["item_id"], "dog"))
    # labelling a free item directly keeps the item they hold: it comes back as the next one
    direct = worker.post(
        "/v1/labels/and-next", json={"item_id": shop.items["img-2"], "value": "dog"}
    )
    assert direct["next"] == done["next"]
    last = worker.post(
        "/v1/labels/and-next", json={"item_id": done["next"]["item_id"], "value": "bird"}
    )
    assert last["next"] is None
    assert last["next_refusal"]["code"] == "queue_empty"
    assert [m["external_id"] for m in worker.get("/v1/me/labels")] == ["img-0", "img-2", "img-1"]
    counters_match_labels(instance)
    before = rows(instance, Label)
    refused(
        409,
        "duplicate_label",
        lambda: worker.post(
            "/v1/labels/and-next", json={"item_id": first["item_id"], "value": "cat"}
        ),
    )
    assert rows(instance, Label) == before
