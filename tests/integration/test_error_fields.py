"""A request that fails validation names its offending fields in the error envelope, as a list a
form can show beside its inputs; `code` and `message` stay what they were."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Instance
from tests.integration.test_api import dataset_body, http, user
from tests.support import Chain

pytestmark = pytest.mark.chain
__all__ = ["http"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_bad_dataset_lists_each_offending_field(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    buyer = user(http, chain, "buyer")
    body = dataset_body(chain, price_per_label="a lot", verification={"overlap": 0})
    del body["name"]
    response = http.post(
        "/v1/datasets", json=body, headers={"Authorization": f"Bearer {buyer.token}"}
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    by_field = {field["loc"]: field["message"] for field in error["fields"]}
    assert set(by_field) == {"name", "price_per_label", "verification.overlap"}, error
    assert "integer" in by_field["price_per_label"]
    assert "greater than or equal to 1" in by_field["verification.overlap"]
    assert by_field["name"] == "Field required"
    # the message says the same in words, field by field, as before
    assert error["message"] == "; ".join(f"{loc}: {text}" for loc, text in by_field.items())

    # where the fault is in the query or the path, its loc says so
    listed = http.get(
        "/v1/datasets/1/skips",
        params={"limit": "many"},
        headers={"Authorization": f"Bearer {buyer.token}"},
    )
    assert listed.status_code == 422, listed.text
    assert [f["loc"] for f in listed.json()["error"]["fields"]] == ["query.limit"]

    # other errors carry no field list
    unsigned = http.get("/v1/datasets/1/skips")
    assert unsigned.status_code == 401
    assert set(unsigned.json()["error"]) == {"code", "message"}


def test_the_openapi_document_describes_the_field_list(
    instance: Instance, http: httpx.Client
) -> None:
    schemas = http.get("/openapi.json").json()["components"]["schemas"]
    assert set(schemas["ErrorBody"]["required"]) == {"code", "message"}
    assert "fields" in schemas["ErrorBody"]["properties"]
    assert set(schemas["FieldError"]["required"]) == {"loc", "message"}
