"""An annotator reads their own disputes in one call (GET /v1/me/disputes): what the labels page
shows beside each disputed label, open or decided, with the decider's reason."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Instance
from tests.integration.test_api import http, label, refused, user
from tests.integration.test_verification import open_dataset
from tests.support import Chain

pytestmark = pytest.mark.chain
__all__ = ["http"]  # the API client fixture, shared with test_api


def test_an_annotator_reads_their_disputes_open_and_decided_and_nobody_elses(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    buyer, dataset, items = open_dataset(instance, http, chain)
    first, second = user(http, chain), user(http, chain)
    for reviewer in (first, second):
        buyer.post(f"/v1/datasets/{dataset['id']}/reviewers", json={"address": reviewer.address})
    worker, other = user(http, chain, "annotator"), user(http, chain, "annotator")
    assert worker.get("/v1/me/disputes") == []
    won, lost = label(worker, items["img-0"], "cat"), label(worker, items["img-1"], "cat")
    for made in (won, lost):
        first.post(f"/v1/labels/{made['id']}/review", json={"verdict": "reject", "reason": "dog"})
    opened = [
        worker.post(f"/v1/labels/{made['id']}/disputes", json={"comment": "a cat"})
        for made in (won, lost)
    ]
    second.post(
        f"/v1/disputes/{opened[0]['id']}/decision", json={"verdict": "uphold", "reason": "ears"}
    )

    mine = worker.get("/v1/me/disputes")

    assert [(d["label_id"], d["status"]) for d in mine] == [
        (lost["id"], "open"),
        (won["id"], "upheld"),
    ]
    assert (mine[1]["decided_by"], mine[1]["decision_reason"]) == (second.address, "ears")
    assert (mine[0]["rejection_reason"], mine[0]["comment"]) == ("dog", "a cat")
    assert other.get("/v1/me/disputes") == []
    refused(403, "missing_role", lambda: first.get("/v1/me/disputes"))
