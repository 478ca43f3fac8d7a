"""Bad input gets a clear 4xx in the error envelope, and nothing is stored: integers too large
for any row in a path or a query string, deeply nested JSON, NUL characters (which PostgreSQL's
text types cannot hold), look-alike class names. Run on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from ledger.annotation.models import Assignment, Label, LabelEvent
from ledger.apiclient import ApiUser
from ledger.dataset.models import Dataset, DatasetInstructions, Item
from tests.conftest import Instance
from tests.integration.test_api import (
    create_dataset,
    error_of,
    fund,
    http,
    item_ids,
    label,
    refused,
    upload,
    upload_jsonl,
    user,
)
from tests.support import Chain

pytestmark = pytest.mark.chain
__all__ = ["http"]

HUGE = 2**64
STORED = (Dataset, Item, Label, LabelEvent, Assignment, DatasetInstructions)


def counts(instance: Instance) -> dict[str, int]:
    with instance.runtime.db.unit_of_work() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in STORED
        }


def everyone(http: httpx.Client, chain: Chain) -> ApiUser:
    """An account with every self-service role, appointed reviewer of nothing."""
    return user(http, chain, "buyer", "annotator", "auditor")


def operations(http: httpx.Client) -> list[tuple[str, str, dict[str, Any]]]:
    document = http.get("/openapi.json").json()
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def assert_refused(response: httpx.Response, where: str) -> None:
    assert 400 <= response.status_code < 500, f"{where}: {response.status_code} {response.text}"
    body = response.json()
    # validation failures also list their fields (api/errors.py)
    assert set(body["error"]) - {"fields"} == {"code", "message"}, where


def test_every_integer_in_a_path_or_query_string_beyond_any_row_id_is_a_4xx(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    caller = everyone(http, chain)
    headers = {"Authorization": f"Bearer {caller.token}"}
    before = counts(instance)
    checked = 0
    for method, path, operation in operations(http):
        params = operation.get("parameters", [])
        ints = [p for p in params if p.get("schema", {}).get("type") == "integer"]
        ints += [
            p
            for p in params
            if any(s.get("type") == "integer" for s in p.get("schema", {}).get("anyOf", []))
        ]
        for chosen in ints:
            url = path
            for param in params:
                if param["in"] != "path":
                    continue
                value = HUGE if param is chosen else 1
                if param["schema"].get("type") == "string":
                    value = caller.address if "address" in param["name"] else "index.json"
                url = url.replace("{" + param["name"] + "}", str(value))
            query = {chosen["name"]: str(HUGE)} if chosen["in"] == "query" else {}
            body = {} if method in ("POST", "PUT") else None
            response = http.request(method, url, params=query, json=body, headers=headers)
            assert_refused(response, f"{method} {path} {chosen['name']}={HUGE}")
            checked += 1
    assert checked >= 20
    assert counts(instance) == before


DEEP = "[" * 100_000 + "]" * 100_000


def test_deeply_nested_json_is_refused_in_every_body_and_every_upload(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    caller = everyone(http, chain)
    dataset = create_dataset(caller, chain)
    headers = {"Authorization": f"Bearer {caller.token}", "Content-Type": "application/json"}
    before = counts(instance)
    for method, path, operation in operations(http):
        if method not in ("POST", "PUT") or "requestBody" not in operation:
            continue
        url = re.sub(r"\{[a-z_]+\}", str(dataset["id"]), path)
        response = http.request(method, url, content=DEEP, headers=headers)
        assert_refused(response, f"{method} {path}")
    items = f"/v1/datasets/{dataset['id']}/items"
    nested: Any = "leaf"
    for _ in range(40):
        nested = {"a": [nested]}
    for body, content_type in (
        (DEEP, "application/x-ndjson"),
        (f'[{{"id": "a", "data": {DEEP}}}]', "application/json"),
        ('{"id": "a", "data": ' + DEEP + "}", "application/x-ndjson"),
    ):
        error_of(
            http.post(items, content=body, headers=headers | {"Content-Type": content_type}),
            400,
            "bad_request",
        )
    for upload_ in (
        lambda: upload(caller, dataset["id"], [{"id": "a", "data": nested}]),
        lambda: upload_jsonl(caller, dataset["id"], json.dumps({"id": "a", "data": nested})),
    ):
        refused(422, "invalid_input", upload_)
    examples = {"examples": [{"data": nested, "label": "cat"}]}
    refused(422, "invalid_input", lambda: caller.put(f"{items[:-6]}/instructions", json=examples))
    assert counts(instance) == before


def test_nul_characters_are_refused_everywhere_text_is_stored(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    buyer = user(http, chain, "buyer")
    dataset = create_dataset(buyer, chain)
    path = f"/v1/datasets/{dataset['id']}"
    upload(buyer, dataset["id"], [{"id": "img-0", "data": 1}, {"id": "img-1", "data": 2}])
    fund(chain, buyer, dataset)
    items = item_ids(instance, dataset["id"])
    worker = user(http, chain, "annotator")
    held = worker.get(f"{path}/next-item")
    before = counts(instance)
    nul = "cat\x00"
    attempts = [
        lambda: create_dataset(buyer, chain, name=nul),
        lambda: create_dataset(buyer, chain, label_classes=["cat", nul]),
        lambda: label(worker, items["img-0"], nul),
        lambda: upload(buyer, dataset["id"], [{"id": "a\x00", "data": 1}]),
        lambda: upload(buyer, dataset["id"], [{"id": "a", "data": {"k": "v\x00"}}]),
        lambda: upload(buyer, dataset["id"], [{"id": "a", "data": {"k\x00": 1}}]),
        lambda: upload_jsonl(buyer, dataset["id"], '{"id": "a\\u0000", "data": 1}'),
        lambda: buyer.post(f"{path}/gold", json=[{"item_id": "img-0", "label": nul}]),
        lambda: buyer.put(f"{path}/instructions", json={"instructions": nul}),
        lambda: worker.post(f"/v1/items/{held['item_id']}/skip", json={"comment": nul}),
        lambda: buyer.post(f"{path}/reviewers", json={"address": nul}),
        lambda: buyer.post(f"{path}/workforce", json={"addresses": [nul]}),
    ]
    for number, attempt in enumerate(attempts):
        error = refused(422, "invalid_input", attempt)
        assert "NUL" in error.message, (number, error.message)
    assert counts(instance) == before
    # the served item is still reserved for the worker: nothing was changed
    assert worker.get(f"{path}/next-item") == held
    error_of(http.get("/v1/published/index.json%00"), 404, "published_file_not_found")


def test_class_names_that_look_the_same_are_one_class(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    buyer = user(http, chain, "buyer")
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    error = refused(
        422,
        "invalid_input",
        lambda: create_dataset(buyer, chain, label_classes=[composed, decomposed]),
    )
    assert "NFC" in error.message
    dataset = create_dataset(buyer, chain, label_classes=[decomposed, "tea"])
    assert dataset["label_classes"] == [composed, "tea"]
    upload(buyer, dataset["id"], [{"id": "cup", "data": 1}])
    fund(chain, buyer, dataset)
    made = label(
        user(http, chain, "annotator"), item_ids(instance, dataset["id"])["cup"], decomposed
    )
    assert made["value"] == composed
