"""Every registered label kind runs the whole loop through the real API on a real chain: a
buyer creates, fills (a gold answer uploaded as the kind's JSON) and funds a dataset of that
kind; a label that is not one is refused with nothing stored; three annotators label an item
and consensus verifies the two who agree (a reviewer, for a kind only reviewers can judge); gold
is graded by the kind; the operator settles; a claim pays on chain; the offline audit passes;
and the buyer's download gives each label as its kind's JSON, which reads back as the same
label.

A kind added to the registry without an example here fails `test_every_kind_has_an_example`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from ledger.annotation.models import Label
from ledger.apiclient import ApiUser
from ledger.audit.offline import audit
from ledger.kinds import KINDS, kind_named
from tests.conftest import Instance
from tests.integration.test_api import (
    PRICE,
    create_dataset,
    fund,
    http,
    item_ids,
    label,
    refused,
    send_call,
    stored_label,
    upload,
    user,
)
from tests.support import Chain

pytestmark = pytest.mark.chain
__all__ = ["http"]


@dataclass(frozen=True)
class Example:
    """A dataset of the kind and three answers to one item: `right` (also the gold answer),
    `near` (agrees with it at `threshold`), `wrong` (does not); `refused` is not a label."""

    right: Any
    near: Any
    wrong: Any
    refused: str
    classes: list[str] = field(default_factory=list)
    threshold: float = 0.5
    data: Any = field(default_factory=lambda: {"text": "Ada Lovelace wrote in London."})


PETS = ["cat", "dog", "bird"]
PET_ITEM = {"image": "/media/pets/0.png"}
LLM_ITEM = {"prompt": "Name a prime.", "answers": {"A": "7", "B": "8", "C": "9"}}

EXAMPLES: dict[str, Example] = {
    "classes": Example("cat", "cat", "dog", "horse", classes=PETS),
    "boxes": Example([0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 60, 60], "[10, 0, 0, 10]"),
    "spans": Example([0, 12], [0, 11], [20, 26], "[5, 2]"),
    "objects": Example(
        [{"class": "cat", "box": [0, 0, 10, 10]}, {"class": "dog", "box": [20, 20, 40, 40]}],
        [{"box": [21, 20, 40, 40], "class": "dog"}, {"class": "cat", "box": [0, 0, 9.5, 10.0]}],
        [{"class": "dog", "box": [0, 0, 10, 10]}],
        '[{"class": "horse", "box": [0, 0, 1, 1]}]',
        classes=PETS,
    ),
    "preference": Example("A", "A", "B", "C", data=LLM_ITEM),
    "ranking": Example(
        ["A", "B", "C"],
        ["A", "C", "B"],
        ["C", "B", "A"],
        '["A", "A", "B"]',
        classes=["A", "B", "C"],
        threshold=0.6,
        data=LLM_ITEM,
    ),
    "ratings": Example(
        {"helpful": 5, "honest": 4},
        {"honest": 4, "helpful": 4},
        {"helpful": 1, "honest": 1},
        '{"helpful": 6, "honest": 4}',
        classes=["helpful", "honest"],
        threshold=0.8,
        data=LLM_ITEM,
    ),
    "written": Example("Seven is prime.", "7 is a prime.", "Eight.", "   ", data=LLM_ITEM),
    "multilabel": Example(
        ["cat", "dog"], ["dog", "cat", "bird"], ["bird"], '["cat", "cat"]', classes=PETS
    ),
    "entities": Example(
        [{"class": "PER", "span": [0, 12]}, {"class": "LOC", "span": [22, 28]}],
        [{"span": [0, 12], "class": "PER"}],
        [{"class": "LOC", "span": [0, 12]}],
        '[{"class": "PER", "span": [5, 5]}]',
        classes=["PER", "ORG", "LOC"],
    ),
    "polygons": Example(
        [{"class": "cat", "points": [[0, 0], [10, 0], [10, 10], [0, 10]]}],
        [{"class": "cat", "points": [[1, 0], [11, 0], [11, 10], [1, 10], [1, 0]]}],
        [{"class": "dog", "points": [[0, 0], [10, 0], [10, 10], [0, 10]]}],
        '[{"class": "cat", "points": [[0, 0], [10, 10], [10, 0], [0, 10]]}]',  # edges cross
        classes=PETS,
        data=PET_ITEM,
    ),
    "keypoints": Example(
        {"nose": [10, 10], "tail": [50, 40]},
        {"tail": [50, 41], "nose": [11, 10]},
        {"nose": [50, 40], "tail": [10, 10]},
        '{"nose": [10, 10]}',  # the tail is neither placed nor null
        classes=["nose", "tail"],
        data=PET_ITEM,
    ),
    "masks": Example(
        {"size": [4, 4], "counts": [0, 8, 8]},
        {"size": [4, 4], "counts": [1, 7, 0, 0, 8]},
        {"size": [4, 4], "counts": [8, 8]},
        '{"size": [4, 4], "counts": [1, 2]}',  # runs sum to 3, not 16
        data=PET_ITEM,
    ),
    "segments": Example(
        [{"class": "speech", "start": 0, "end": 2}],
        [{"class": "speech", "start": 0.2, "end": 2.0}],
        [{"class": "music", "start": 0, "end": 2}],
        '[{"class": "speech", "start": 3, "end": 2}]',
        classes=["speech", "music"],
        data={"audio": "/media/audio/0.wav"},
    ),
    "tracks": Example(
        [{"class": "car", "frames": {"0": [0, 0, 10, 10], "1": [1, 0, 11, 10]}}],
        [{"class": "car", "frames": {"1": [1, 0, 11, 10.5], "0": [0, 0, 10, 10]}}],
        [{"class": "person", "frames": {"0": [0, 0, 10, 10], "1": [1, 0, 11, 10]}}],
        '[{"class": "car", "frames": {"05": [0, 0, 1, 1]}}]',  # a frame number with a 0 ahead
        classes=["car", "person"],
        data={"video": "/media/videos/0.webm"},
    ),
    "cuboids": Example(
        [{"class": "car", "center": [0, 0, 1], "size": [4, 2, 1.5], "yaw": 0}],
        [{"yaw": 0.0, "size": [4, 2, 1.5], "center": [0.2, 0, 1], "class": "car"}],
        [{"class": "pedestrian", "center": [0, 0, 1], "size": [4, 2, 1.5], "yaw": 0}],
        '[{"class": "car", "center": [0, 0, 1], "size": [4, 0, 1.5], "yaw": 0}]',
        classes=["car", "pedestrian"],
        data={"cloud": "/media/clouds/0.bin"},
    ),
    "texts": Example("London", "london.", "Paris", "   "),
    "transcripts": Example(
        "Ada Lovelace wrote in London.",
        "ada lovelace wrote london",
        "Charles Babbage built engines",
        "   ",
        data={"audio": "/media/audio/0.wav"},
    ),
}


def text_of(value: Any) -> str:
    """A label as a client might write it: JSON with spaces and its keys in reverse order (the
    kind stores one canonical spelling), a text as it is."""
    if isinstance(value, str):
        return value

    def reverse(doc: Any) -> Any:
        if isinstance(doc, dict):
            return {k: reverse(doc[k]) for k in sorted(doc, reverse=True)}
        if isinstance(doc, list):
            return [reverse(v) for v in doc]
        return doc

    return json.dumps(reverse(value), indent=1)


def test_every_kind_has_an_example() -> None:
    assert sorted(EXAMPLES) == sorted(KINDS)


def labels_stored(instance: Instance, dataset_id: int) -> int:
    with instance.runtime.db.unit_of_work() as session:
        return int(session.scalar(select(func.count()).where(Label.dataset_id == dataset_id)) or 0)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_a_dataset_of_each_kind_runs_the_loop(
    name: str, instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    kind, example = kind_named(name), EXAMPLES[name]
    buyer = user(http, chain, "buyer")
    if kind.reviewed_only:
        verification: dict[str, Any] = {"method": "review", "overlap": 3}
    else:
        verification = {
            "method": "consensus",
            "consensus_k": 3,
            "consensus_max_k": 3,
            "agreement_threshold": example.threshold,
            "gold_reveal_seconds": 0,
        }
    dataset = create_dataset(
        buyer,
        chain,
        name=f"{name} work",
        label_type=name,
        label_classes=example.classes,
        verification=verification,
    )
    assert dataset["label_type"] == name
    records: list[dict[str, Any]] = [{"id": "item", "data": example.data}]
    if not kind.reviewed_only:
        # a structured kind's gold answer uploaded as its JSON value, as labels are downloaded
        records.append({"id": "gold", "data": example.data, "gold": example.right})
    upload(buyer, dataset["id"], records)
    reviewer = user(http, chain)
    if kind.reviewed_only:
        buyer.post(f"/v1/datasets/{dataset['id']}/reviewers", json={"address": reviewer.address})
    fund(chain, buyer, dataset)
    items = item_ids(instance, dataset["id"])
    workers = [user(http, chain, "annotator") for _ in range(3)]

    refused(422, "label_outside_schema", lambda: label(workers[0], items["item"], example.refused))
    assert labels_stored(instance, dataset["id"]) == 0

    answers = (example.right, example.near, example.wrong)
    made = [label(w, items["item"], text_of(a)) for w, a in zip(workers, answers, strict=True)]
    # stored and hashed in one spelling, whatever the client's spaces and key order
    assert [m["value"] for m in made] == [kind.normalize(text_of(a)) for a in answers]
    if kind.reviewed_only:
        verdicts = ({"verdict": "accept"}, {"verdict": "reject", "reason": "does not answer"})
        for made_label, verdict in zip(made[:2], verdicts, strict=True):
            reviewer.post(f"/v1/labels/{made_label['id']}/review", json=verdict)
        expected = ["verified", "rejected", "pending"]
        paid = 1
    else:
        expected = ["verified", "verified", "rejected"]
        close = label(workers[0], items["gold"], text_of(example.near))
        far = label(workers[1], items["gold"], text_of(example.wrong))
        assert (close["status"], close["method"]) == ("verified", "gold")
        assert (far["status"], far["method"]) == ("rejected", "gold")
        paid = 3
    assert [stored_label(instance, m["id"]).status for m in made] == expected

    operator = ApiUser(http, chain.operator).sign_in()
    assert operator.post("/v1/epochs")["epoch"]["label_count"] == paid
    bundle = workers[0].get("/v1/me/claim")
    before = chain.dusd.functions.balanceOf(workers[0].address).call()
    send_call(chain, chain.operator, bundle)  # anyone may claim for anyone
    earned = PRICE * (1 if kind.reviewed_only else 2)
    assert chain.dusd.functions.balanceOf(workers[0].address).call() - before == earned
    report = audit(chain.client.rpc_url, chain.deployment, instance.runtime.settings.publish_dir)
    assert report.ok, report.to_json()

    delivered = buyer.get(f"/v1/datasets/{dataset['id']}/labels")
    assert {d["id"] for d in delivered} >= {made[0]["id"]}
    for each in delivered:
        assert kind.from_delivered(each["answer"]) == each["value"]
    first = next(d for d in delivered if d["id"] == made[0]["id"])
    assert kind.from_delivered(example.right) == first["value"]
