"""Verification methods chosen per dataset (consensus, review, auto-accept after the review
window) and disputes, through the real API on a real chain; the audit still passes on what they
pay."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest

from ledger.annotation import service as annotation
from ledger.annotation.models import Label
from ledger.apiclient import ApiUser
from ledger.audit.offline import audit
from ledger.dispute import service as disputes
from ledger.dispute.schemas import DisputeCreate
from ledger.kit.db import utcnow
from tests.conftest import Instance
from tests.integration.test_api import (
    ITEMS,
    create_dataset,
    fund,
    http,
    item_ids,
    label,
    refused,
    upload,
    user,
)
from tests.support import Chain

pytestmark = pytest.mark.chain
__all__ = ["http"]  # the API client fixture, shared with test_api

CONSENSUS = {"method": "consensus", "consensus_k": 3, "consensus_max_k": 4}


def open_dataset(
    instance: Instance, http: httpx.Client, chain: Chain, **verification: Any
) -> tuple[ApiUser, dict[str, Any], dict[str, int]]:
    buyer = user(http, chain, "buyer")
    dataset = create_dataset(buyer, chain, verification=verification)
    upload(buyer, dataset["id"], [item for item in ITEMS if "gold" not in item])
    fund(chain, buyer, dataset)
    return buyer, buyer.get(f"/v1/datasets/{dataset['id']}"), item_ids(instance, dataset["id"])


def reviewed_dataset(
    instance: Instance, http: httpx.Client, chain: Chain
) -> tuple[ApiUser, dict[str, Any], dict[str, int], ApiUser]:
    """An open review dataset of plain items with one appointed reviewer."""
    buyer, dataset, items = open_dataset(instance, http, chain)
    reviewer = user(http, chain)
    buyer.post(f"/v1/datasets/{dataset['id']}/reviewers", json={"address": reviewer.address})
    return buyer, dataset, items, reviewer


def stored(instance: Instance, label_id: int) -> Label:
    with instance.runtime.db.unit_of_work() as session:
        found = session.get(Label, label_id)
        assert found is not None
        session.expunge(found)
        return found


def test_the_verification_method_is_part_of_the_committed_terms(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    _buyer, dataset, _items = open_dataset(instance, http, chain, **CONSENSUS)
    assert dataset["verification"]["method"] == "consensus"
    assert dataset["verification"]["consensus_k"] == 3
    terms = http.get(f"/v1/published/datasets/{dataset['chain']['dataset_id']}/terms.json")
    assert json.loads(terms.text)["verification"] == dataset["verification"]
    buyer = user(http, chain, "buyer")
    for bad in ({"consensus_k": 5, "consensus_max_k": 4}, {"method": "vote"}, {"k": 3}):
        refused(422, "invalid_input", lambda b=bad: create_dataset(buyer, chain, verification=b))


def test_consensus_verifies_the_majority_asks_more_on_disagreement_then_a_reviewer(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    buyer, dataset, items = open_dataset(instance, http, chain, **CONSENSUS)
    reviewer = user(http, chain)
    buyer.post(f"/v1/datasets/{dataset['id']}/reviewers", json={"address": reviewer.address})
    workers = [user(http, chain, "annotator") for _ in range(5)]

    agreed = [
        label(w, items["img-0"], v) for w, v in zip(workers, ["cat", "cat", "dog"], strict=False)
    ]
    split = [
        label(w, items["img-1"], v) for w, v in zip(workers, ["cat", "dog", "bird"], strict=False)
    ]

    verdicts = [stored(instance, created["id"]) for created in agreed]
    assert [(v.status, v.method, v.agreement) for v in verdicts] == [
        ("verified", "consensus", "2/3"),
        ("verified", "consensus", "2/3"),
        ("rejected", "consensus", "2/3"),
    ]
    assert verdicts[2].reason == "disagrees with the consensus label 'cat' (2/3 annotators)"
    assert {stored(instance, c["id"]).status for c in split} == {"pending"}
    # img-0 is done; img-1 asks a fourth annotator (the cap), and nobody reviews it meanwhile
    assert reviewer.get("/v1/reviews/queue") == []
    path = f"/v1/datasets/{dataset['id']}/next-item"
    fourth = workers[3].get(path)
    assert fourth["external_id"] in {"img-1", "img-2", "img-3", "img-4"}
    label(workers[3], items["img-1"], "dog")  # 2 of 4: still no majority, and at the cap
    assert {stored(instance, c["id"]).status for c in split} == {"pending"}
    queue = reviewer.get("/v1/reviews/queue")
    assert sorted(q["external_id"] for q in queue) == ["img-1"] * 4
    # a reviewer judges each label against its item, as the annotators were served it
    assert [q["item_data"] for q in queue] == [{"url": "https://example.org/1.jpg"}] * 4
    # a fifth annotator is not offered either item: both have all the labels they want
    served = {workers[4].get(path)["external_id"] for _ in range(2)}
    assert not served & {"img-0", "img-1"}

    # the agreement report, for the buyer and the reviewers, by each aggregator
    report_path = f"/v1/datasets/{dataset['id']}/agreement"
    for aggregator in ("majority", "wawa", "dawid_skene"):
        report = buyer.get(report_path, params={"aggregator": aggregator})
        assert (report["items"], report["labels"], report["aggregator"]) == (2, 7, aggregator)
        assert report["classes"] == dataset["label_classes"]
        assert sum(map(sum, report["confusion"])) == 7
        assert report["krippendorff_alpha"] is not None
        assert {a["annotator"] for a in report["annotators"]} == {w.address for w in workers[:4]}
    assert reviewer.get(report_path)["aggregator"] == "dawid_skene"
    refused(403, "not_dataset_buyer", lambda: workers[4].get(report_path))
    refused(422, "invalid_input", lambda: buyer.get(report_path, params={"aggregator": "x"}))


def test_an_undecided_label_is_accepted_after_the_review_window_and_paid(
    instance: Instance, http: httpx.Client, chain: Chain, tmp_path: Any
) -> None:
    _buyer, _dataset, items = open_dataset(instance, http, chain, review_window_seconds=3600)
    worker = user(http, chain, "annotator")
    created = label(worker, items["img-0"], "cat")
    db = instance.runtime.db
    with db.unit_of_work() as session:
        assert annotation.auto_accept_due(session, now=utcnow()) == 0  # inside the window
        later = utcnow() + dt.timedelta(hours=1, seconds=1)
        assert annotation.auto_accept_due(session, now=later) == 1
    accepted = stored(instance, created["id"])
    assert (accepted.status, accepted.method) == ("verified", "auto")

    operator = ApiUser(http, chain.operator).sign_in()
    settled = operator.post("/v1/epochs")
    assert settled["epoch"]["label_count"] == 1
    history = worker.get(f"/v1/labels/{created['id']}/history")
    assert [e["kind"] for e in history["events"]] == ["submitted", "verified (auto)"]
    assert history["epoch"] == 1
    deployment = tmp_path / "deployment.json"
    chain.deployment.save(deployment)
    report = audit(chain.client.rpc_url, chain.deployment, instance.runtime.settings.publish_dir)
    assert report.ok, report.to_json()
    verdicts = json.loads(http.get("/v1/published/epochs/1/verdicts.json").text)
    assert [row[4] for row in verdicts["paid"]] == ["auto"]


def test_a_dispute_is_decided_by_another_reviewer_and_an_upheld_one_is_paid_next_epoch(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    buyer, dataset, items = open_dataset(instance, http, chain)
    first, second = user(http, chain), user(http, chain)
    for reviewer in (first, second):
        buyer.post(f"/v1/datasets/{dataset['id']}/reviewers", json={"address": reviewer.address})
    worker, other = user(http, chain, "annotator"), user(http, chain, "annotator")
    created = label(worker, items["img-0"], "cat")
    first.post(
        f"/v1/labels/{created['id']}/review", json={"verdict": "reject", "reason": "it is a dog"}
    )
    disputes_path = f"/v1/labels/{created['id']}/disputes"

    refused(403, "not_your_label", lambda: other.post(disputes_path, json={"comment": "no"}))
    opened = worker.post(disputes_path, json={"comment": "look at the ears: a cat"})
    assert (opened["status"], opened["rejected_by"]) == ("open", first.address)
    assert opened["rejection_reason"] == "it is a dog"
    refused(409, "already_disputed", lambda: worker.post(disputes_path, json={"comment": "x"}))
    # neither the reviewer who rejected nor the annotator decides it; the other reviewer does
    assert first.get("/v1/disputes/queue") == []
    (to_decide,) = second.get("/v1/disputes/queue")
    assert to_decide["id"] == opened["id"]
    # the decider sees what was disputed: the label's value and the item it labels
    assert (to_decide["value"], to_decide["external_id"]) == ("cat", "img-0")
    assert to_decide["item_data"] == {"url": "https://example.org/0.jpg"}
    decision = f"/v1/disputes/{opened['id']}/decision"
    body = {"verdict": "uphold", "reason": "the ears say cat"}
    refused(403, "not_a_dispute_decider", lambda: first.post(decision, json=body))
    refused(403, "not_a_dispute_decider", lambda: worker.post(decision, json=body))
    refused(422, "invalid_input", lambda: second.post(decision, json={"verdict": "uphold"}))

    upheld = second.post(decision, json=body)

    assert (upheld["status"], upheld["decided_by"]) == ("upheld", second.address)
    refused(409, "dispute_already_decided", lambda: second.post(decision, json=body))
    paid = stored(instance, created["id"])
    assert (paid.status, paid.method, paid.reviewer) == ("verified", "appeal", second.address)
    assert paid.holds_place  # nobody had labelled img-0 since: it took its place back
    operator = ApiUser(http, chain.operator).sign_in()
    assert operator.post("/v1/epochs")["epoch"]["label_count"] == 1
    record = worker.get(f"/v1/buyers/{buyer.address}/record")
    assert record == buyer.get(f"/v1/datasets/{dataset['id']}")["buyer_record"]
    assert (record["labels_decided"], record["rejection_rate"]) == (1, 0.0)
    assert (record["disputes_upheld"], record["disputes_open"], record["disputes_denied"]) == (
        1,
        0,
        0,
    )
    assert record["median_review_seconds"] is not None
    history = worker.get(f"/v1/labels/{created['id']}/history")
    assert [e["kind"] for e in history["events"]] == [
        "submitted",
        "rejected (review)",
        "disputed",
        "dispute upheld",
        "verified (appeal)",
    ]
    assert history["epoch"] == 1
    refused(403, "not_your_label", lambda: other.get(f"/v1/labels/{created['id']}/history"))


def test_disputes_close_after_the_window_and_only_rejections_are_disputed(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    _buyer, _dataset, items, reviewer = reviewed_dataset(instance, http, chain)
    worker = user(http, chain, "annotator")
    pending = label(worker, items["img-0"], "cat")
    refused(
        409,
        "label_not_rejected",
        lambda: worker.post(f"/v1/labels/{pending['id']}/disputes", json={"comment": "why"}),
    )
    rejected = label(worker, items["img-1"], "cat")
    reviewer.post(
        f"/v1/labels/{rejected['id']}/review", json={"verdict": "reject", "reason": "blurry"}
    )
    with (
        instance.runtime.db.unit_of_work() as session,
        pytest.raises(disputes.DisputeWindowClosed),
    ):
        disputes.open_dispute(
            session,
            annotator=worker.address,
            label_id=rejected["id"],
            spec=DisputeCreate(comment="late"),
            now=utcnow() + dt.timedelta(days=7, seconds=1),
        )


def test_reputation_scales_rewards_by_tier_and_cuts_off_a_bad_annotator(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    """Twenty gold items, answer 'cat'. An honest annotator's score rises with each right
    answer, (3n + 10) / (3n + 20) after n: from the eighth label (0.756 >= 0.75) they are
    'trusted' and earn 1.25x the reward; the terms commit the multipliers, so the audit accepts
    it. An adversary always answering 'dog' is cut off once there is enough evidence (40
    weighted trials: 14 gold answers) and is refused further items."""
    buyer = user(http, chain, "buyer")
    verification = {"reward_tiers": True, "gold_reveal_seconds": 0, "gold_overlap": 2}
    dataset = create_dataset(buyer, chain, verification=verification)
    gold = [{"id": f"g-{n:02d}", "data": {"n": n}, "gold": "cat"} for n in range(20)]
    upload(buyer, dataset["id"], gold)
    fund(chain, buyer, dataset)
    dataset = buyer.get(f"/v1/datasets/{dataset['id']}")
    assert dataset["verification"]["reward_multipliers_bps"] == [5000, 10000, 12500, 15000]
    items = item_ids(instance, dataset["id"])
    honest, adversary = user(http, chain, "annotator"), user(http, chain, "annotator")
    rewards = [label(honest, items[f"g-{n:02d}"], "cat")["reward"] for n in range(20)]
    reward = dataset["reward_per_label"]
    assert rewards == [reward] * 7 + [reward * 12_500 // 10_000] * 13

    path = f"/v1/datasets/{dataset['id']}/next-item"
    for n in range(14):
        assert adversary.get(path)["external_id"]
        label(adversary, items[f"g-{n:02d}"], "dog")
    refusal = refused(403, "below_reputation_cutoff", lambda: adversary.get(path))
    assert "is 0.16, below its cutoff 0.4" in refusal.message  # (0 + 10) / (3 * 14 + 20)
    refused(404, "queue_empty", lambda: honest.get(path))  # labelled all twenty, still welcome
    # each annotator sees their own score and every count behind it
    mine = f"/v1/me/datasets/{dataset['id']}/standing"
    good = honest.get(mine)
    assert (good["gold_answered"], good["gold_correct"], good["decided"]) == (20, 20, 20)
    assert good["score"] == pytest.approx(70 / 80)  # (2 * 20 + 20 + 10) / (2 * 20 + 20 + 20)
    assert (good["tier"], good["reward_multiplier_bps"]) == ("trusted", 12_500)
    bad = adversary.get(mine)
    assert (bad["score"], bad["receives_items"]) == (pytest.approx(10 / 62), False)
    assert (bad["tier"], bad["qualification"]) == ("probation", "none")

    operator = ApiUser(http, chain.operator).sign_in()
    assert operator.post("/v1/epochs")["epoch"]["label_count"] == 20
    report = audit(chain.client.rpc_url, chain.deployment, instance.runtime.settings.publish_dir)
    assert report.ok, report.to_json()


@pytest.mark.parametrize(("rate", "first"), [(10_000, "gold"), (0, "img")])
def test_the_gold_rate_decides_how_often_a_hidden_gold_item_is_served(
    instance: Instance, http: httpx.Client, chain: Chain, rate: int, first: str
) -> None:
    """At 100% every item served is gold while gold items remain, at 0% none is while others
    remain; either way the served item looks like any other (no answer, no flag)."""
    buyer = user(http, chain, "buyer")
    dataset = create_dataset(buyer, chain, verification={"gold_rate_bps": rate})
    upload(buyer, dataset["id"], ITEMS)  # five plain items, two gold ones
    fund(chain, buyer, dataset)
    items = item_ids(instance, dataset["id"])
    worker = user(http, chain, "annotator")
    path = f"/v1/datasets/{dataset['id']}/next-item"
    served = []
    for _ in range(len(items)):
        item = worker.get(path)
        assert set(item) == {
            "dataset_id",
            "item_id",
            "external_id",
            "data",
            "label_type",
            "label_classes",
            "lease_expires_at",
            "lease_seconds",
            "instructions_version",
        }
        served.append(item["external_id"])
        label(worker, item["item_id"], "cat")
    golds = ["gold-cat", "gold-dog"]
    assert (served[:2] == golds) is (first == "gold")
    assert (served[-2:] == golds) is (first == "img")


def test_a_qualification_warm_up_serves_only_gold_pays_nothing_and_gates_paid_work(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    """Two warm-up gold items at 100%: a worker answering both right goes on to paid work (the
    warm-up labels verified but unpaid); one answering wrong is refused further items."""
    buyer = user(http, chain, "buyer")
    spec = {
        "qualification_gold_items": 2,
        "qualification_min_accuracy": 1.0,
        "gold_reveal_seconds": 0,  # sealed warm-up verdicts: test_crowd.py
    }
    dataset = create_dataset(buyer, chain, verification=spec)
    gold = [{"id": f"g-{n}", "data": {"n": n}, "gold": "cat"} for n in range(3)]
    upload(buyer, dataset["id"], [*gold, {"id": "plain", "data": 1}])
    fund(chain, buyer, dataset)
    items = item_ids(instance, dataset["id"])
    path = f"/v1/datasets/{dataset['id']}/next-item"
    good, bad = user(http, chain, "annotator"), user(http, chain, "annotator")

    refused(403, "qualification_required", lambda: label(good, items["plain"], "cat"))
    warm = []
    for _ in range(2):
        served = good.get(path)
        assert served["external_id"].startswith("g-")  # only gold during the warm-up
        warm.append(label(good, served["item_id"], "cat"))
    assert [(w["status"], w["warmup"], w["price"], w["reward"]) for w in warm] == [
        ("verified", True, 0, 0)
    ] * 2
    paid = label(good, items["plain"], "cat")  # qualified: paid work now
    assert (paid["warmup"], paid["status"]) == (False, "pending")

    for answer in ("dog", "cat"):
        label(bad, bad.get(path)["item_id"], answer)
    refusal = refused(403, "qualification_failed", lambda: bad.get(path))
    assert "1 of your 2 warm-up answers" in refusal.message
    refused(403, "qualification_failed", lambda: label(bad, items["plain"], "cat"))
    standing = f"/v1/me/datasets/{dataset['id']}/standing"
    assert good.get(standing)["qualification"] == "passed"
    assert bad.get(standing)["qualification"] == "failed"

    operator = ApiUser(http, chain.operator).sign_in()
    assert operator.post("/v1/epochs")["epoch"] is None  # nothing payable: the warm-up is unpaid


def test_boxes_agree_by_overlap_under_consensus_and_on_gold_and_the_audit_passes(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    buyer = user(http, chain, "buyer")
    consensus = CONSENSUS | {"agreement_threshold": 0.5, "gold_reveal_seconds": 0}
    dataset = create_dataset(
        buyer, chain, label_type="boxes", label_classes=[], verification=consensus
    )
    assert dataset["label_type"] == "boxes"
    boxes = [{"id": "photo", "data": 1}, {"id": "gold-box", "data": 2, "gold": "[0, 0, 10, 10]"}]
    upload(buyer, dataset["id"], boxes)
    fund(chain, buyer, dataset)
    items = item_ids(instance, dataset["id"])
    workers = [user(http, chain, "annotator") for _ in range(3)]
    for bad in ("[10, 0, 0, 10]", "cat", "[0, 0, 1]", "[true, 0, 1, 1]"):
        refused(422, "label_outside_schema", lambda b=bad: label(workers[0], items["photo"], b))
    given = ["[0, 0, 10, 10]", "[1, 1, 10, 10]", "[50, 50, 60, 60]"]  # IoU 0.81, then 0
    made = [label(w, items["photo"], box) for w, box in zip(workers, given, strict=True)]
    assert [stored(instance, m["id"]).status for m in made] == ["verified", "verified", "rejected"]
    # stored, hashed and quoted in one spelling, whatever spaces the client wrote
    assert [m["value"] for m in made] == ["[0,0,10,10]", "[1,1,10,10]", "[50,50,60,60]"]
    assert stored(instance, made[2]["id"]).reason == (
        "disagrees with the consensus label '[0,0,10,10]' (2/3 annotators)"
    )
    close = label(workers[0], items["gold-box"], "[0, 0, 9, 10]")  # IoU 0.9 with the gold box
    far = label(workers[1], items["gold-box"], "[5, 5, 20, 20]")  # IoU 25/300
    assert (close["status"], close["method"]) == ("verified", "gold")
    assert (far["status"], far["method"]) == ("rejected", "gold")
    refused(
        422,
        "agreement_needs_classes",
        lambda: buyer.get(f"/v1/datasets/{dataset['id']}/agreement"),
    )

    operator = ApiUser(http, chain.operator).sign_in()
    assert operator.post("/v1/epochs")["epoch"]["label_count"] == 3
    report = audit(chain.client.rpc_url, chain.deployment, instance.runtime.settings.publish_dir)
    assert report.ok, report.to_json()

    spans = {"label_type": "spans", "label_classes": []}
    created = create_dataset(buyer, chain, **spans)
    assert created["label_type"] == "spans"
    refused(422, "invalid_input", lambda: create_dataset(buyer, chain, label_type="spans"))


def test_a_reviewer_may_correct_and_accept_and_the_buyer_gets_the_correction(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    buyer, dataset, items, reviewer = reviewed_dataset(instance, http, chain)
    worker = user(http, chain, "annotator")
    created = label(worker, items["img-0"], "cat")
    review = f"/v1/labels/{created['id']}/review"
    for body, code in (
        ({"verdict": "correct"}, "correction_mismatch"),
        ({"verdict": "accept", "corrected_value": "dog"}, "correction_mismatch"),
        ({"verdict": "correct", "corrected_value": "cat"}, "correction_mismatch"),
        ({"verdict": "correct", "corrected_value": "horse"}, "label_outside_schema"),
    ):
        refused(422, code, lambda b=body: reviewer.post(review, json=b))
    assert stored(instance, created["id"]).status == "pending"

    corrected = reviewer.post(
        review, json={"verdict": "correct", "corrected_value": "dog", "reason": "ears"}
    )

    assert (corrected["status"], corrected["value"], corrected["corrected_value"]) == (
        "verified",
        "cat",
        "dog",
    )
    assert corrected["reason"] == "accepted with a correction to 'dog': ears"
    assert corrected["price"] == dataset["price_per_label"]  # the annotator is paid
    [delivered] = buyer.get(f"/v1/datasets/{dataset['id']}/labels")
    assert delivered["corrected_value"] == "dog"


@pytest.mark.parametrize("aggregator", ["wawa", "dawid_skene"])
def test_consensus_by_a_skill_weighted_aggregator(
    instance: Instance, http: httpx.Client, chain: Chain, aggregator: str
) -> None:
    """Wawa and Dawid-Skene estimate every annotator's skill from all their work on the dataset
    and decide each item from that (their accuracy against majority vote is measured on simulated
    crowds in tests/unit/test_aggregation.py); here they verify the agreeing annotators."""
    spec = CONSENSUS | {"consensus_aggregator": aggregator}
    _buyer, dataset, items = open_dataset(instance, http, chain, **spec)
    assert dataset["verification"]["consensus_aggregator"] == aggregator
    workers = [user(http, chain, "annotator") for _ in range(3)]
    for name in ("img-0", "img-1", "img-2"):
        made = [
            label(w, items[name], v) for w, v in zip(workers, ["cat", "cat", "dog"], strict=True)
        ]
        verdicts = [stored(instance, m["id"]) for m in made]
        assert [(v.status, v.method) for v in verdicts] == [
            ("verified", "consensus"),
            ("verified", "consensus"),
            ("rejected", "consensus"),
        ]
        assert verdicts[2].reason == "disagrees with the consensus label 'cat' (2/3 annotators)"
