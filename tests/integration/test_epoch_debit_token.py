"""An epoch's debits name the token they are in: its index on the ledger's allowlist (as the
manifest does) and its address, so a client shows the amounts in that token without the chain."""

from __future__ import annotations

import httpx
import pytest

from ledger.apiclient import ApiUser
from tests.integration.test_api import Market, http, label, market, user
from tests.support import Chain

pytestmark = pytest.mark.chain
__all__ = ["http", "market"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_each_debit_names_its_token_by_index_and_address(
    market: Market, chain: Chain, http: httpx.Client
) -> None:
    label(market.annotator, market.items["gold-cat"], "cat")  # gold: verified at once
    operator = ApiUser(http, chain.operator).sign_in()
    settled = operator.post("/v1/epochs")["epoch"]
    auditor = user(http, chain, "auditor")

    epoch = auditor.get(f"/v1/epochs/{settled['number']}")
    [debit] = epoch["debits"]
    assert debit["token"] == chain.dusd.address == market.dataset["payment_token"]
    assert debit["token_index"] == chain.dusd_index
    # the ledger lists that address at that index, and the published manifest says the same
    assert chain.ledger.functions.tokenAt(debit["token_index"]).call() == debit["token"]
    manifest = http.get(
        f"/v1/epochs/{epoch['number']}/manifest",
        headers={"Authorization": f"Bearer {auditor.token}"},
    ).json()
    [listed] = manifest["datasets"]
    assert (listed["datasetId"], listed["token"]) == (debit["dataset_id"], debit["token_index"])
    assert (int(listed["debit"]), int(listed["fee"])) == (debit["debit"], debit["fee"])
    # the list of epochs says the same
    assert auditor.get("/v1/epochs")[0]["debits"] == epoch["debits"]
