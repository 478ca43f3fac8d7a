"""What an epoch publishes, through the real API and a real chain: the directory and the same
files over HTTP, hashes only (no item data, no label content), proof bundles that the public
`@openzeppelin/merkle-tree` library accepts, a claim from a bundle with the service out of the
loop, and the gold answers revealed once the dataset closes, matching its commitment on chain.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_utils.crypto import keccak

from ledger.apiclient import ApiUser
from ledger.dataset.models import Dataset
from ledger.merkle import verify_proof
from ledger.publication import (
    LABEL_LEAF_ENCODING,
    METHOD_CODES,
    PAYOUT_LEAF_ENCODING,
    graded_hash,
    item_id_hash,
    keccak_hex,
    label_hash,
)
from tests.conftest import Instance
from tests.integration.test_api import (
    ITEMS,
    PRICE,
    REVEALED_AT_ONCE,
    REWARD,
    create_dataset,
    fund,
    http,
    item_ids,
    label,
    upload,
    user,
    wait_until,
    wallet,
)
from tests.support import Chain

pytestmark = pytest.mark.chain
__all__ = ["http"]  # the API client fixture, shared with test_api

REPO = Path(__file__).resolve().parents[2]
ORACLE = REPO / "tests" / "js" / "merkle_oracle.mjs"
CLOSE_GRACE_PERIOD = 7 * 24 * 3600


def settled_epoch(
    instance: Instance, http: httpx.Client, chain: Chain
) -> tuple[dict[str, Any], ApiUser, ApiUser, ApiUser]:
    """A dataset with gold and reviewed items, labelled by two annotators (one gold answer
    wrong) and settled in epoch 1. Returns (dataset, buyer, worker, other worker)."""
    buyer = user(http, chain, "buyer")
    dataset = create_dataset(buyer, chain, verification=REVEALED_AT_ONCE)
    upload(buyer, dataset["id"], ITEMS)
    reviewer = user(http, chain)
    buyer.post(f"/v1/datasets/{dataset['id']}/reviewers", json={"address": reviewer.address})
    fund(chain, buyer, dataset)
    items = item_ids(instance, dataset["id"])
    worker, other = user(http, chain, "annotator"), user(http, chain, "annotator")
    label(worker, items["gold-cat"], "cat")  # verified on gold
    label(other, items["gold-cat"], "dog")  # rejected on gold
    for name in ("img-0", "img-1"):
        created = label(worker, items[name], "cat")
        reviewer.post(f"/v1/labels/{created['id']}/review", json={"verdict": "accept"})
    operator = ApiUser(http, chain.operator).sign_in()
    settled = operator.post("/v1/epochs")
    assert settled["epoch"]["status"] == "accepted", settled
    return buyer.get(f"/v1/datasets/{dataset['id']}"), buyer, worker, other


def published_files(directory: Path) -> dict[str, str]:
    return {
        str(path.relative_to(directory)): path.read_text()
        for path in sorted(directory.rglob("*.json"))
    }


def js_verify(dump: dict[str, Any], proofs: list[dict[str, Any]]) -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None, "node is not on PATH: run ./scripts/setup"
    request = json.dumps({"op": "verify", "dump": dump, "proofs": proofs})
    done = subprocess.run(
        [node, str(ORACLE)],
        input=request.encode(),
        capture_output=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_epoch_publication_is_served_and_written_and_holds_only_hashes(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    dataset, buyer, _worker, other = settled_epoch(instance, http, chain)
    directory = instance.runtime.settings.publish_dir
    files = published_files(directory)
    dataset_id = dataset["chain"]["dataset_id"]

    assert set(files) == {
        "index.json",
        "epochs/1/manifest.json",
        "epochs/1/payout-tree.json",
        "epochs/1/label-tree.json",
        "epochs/1/verdicts.json",
        f"datasets/{dataset_id}/terms.json",  # gold.json only once the dataset is closed
    }
    # the directory and the API serve the same bytes, without signing in
    for name, text in files.items():
        served = http.get(f"/v1/published/{name}")
        assert served.status_code == 200, name
        assert served.text == text, name
    missing = http.get("/v1/published/epochs/2/manifest.json")
    assert (missing.status_code, missing.json()["error"]["code"]) == (
        404,
        "published_file_not_found",
    )

    manifest = files["epochs/1/manifest.json"]
    epoch = chain.ledger.functions.epochCommitment(1).call()
    assert bytes(epoch) != bytes(32)
    assert json.loads(manifest)["files"]["verdicts.json"] == keccak_hex(
        files["epochs/1/verdicts.json"]
    )
    terms = files[f"datasets/{dataset_id}/terms.json"]
    assert keccak_hex(terms) == dataset["chain"]["salt"]
    assert json.loads(terms)["pricePerLabel"] == str(PRICE)

    # hashes only, none that can be reversed by trying: no item data, ids or label values, and
    # neither the plain hash of an item id nor of a class
    everything = "\n".join(files.values())
    guessable = [keccak_hex(text) for text in ("cat", "dog", "img-0", "gold-cat", "gold-dog")]
    for secret in ("example.org", "img-0", "gold-cat", '"cat"', '"dog"', *guessable):
        assert secret not in everything, secret
    # the buyer finds each delivered label's leaf and checks it against the label itself
    leaves = {
        tuple(entry["value"]) for entry in json.loads(files["epochs/1/label-tree.json"])["values"]
    }
    delivered = buyer.get(f"/v1/datasets/{dataset['id']}/labels")
    assert len(delivered) == len(leaves) == 3
    for row in delivered:
        assert row["label_hash"] == label_hash(row["salt"], row["value"])
        method = str(METHOD_CODES[row["method"]])
        leaf = (str(int(dataset_id, 16)), row["item_hash"], row["annotator"], row["label_hash"])
        assert (*leaf, method, str(row["price"]), str(row["reward"])) in leaves
    verdicts = json.loads(files["epochs/1/verdicts.json"])
    assert [r[2] for r in verdicts["goldRejected"]] == [other.address]
    assert sorted(p[4] for p in verdicts["paid"]) == ["gold", "review", "review"]
    assert {p[5] for p in verdicts["paid"] if p[4] == "review"} != {None}


def test_proof_bundle_is_public_and_the_js_library_verifies_every_proof(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    _dataset, _buyer, worker, _other = settled_epoch(instance, http, chain)
    response = http.get(f"/v1/proofs/{worker.address}")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    bundle = response.json()
    assert (bundle["epoch"], bundle["account"]) == (1, worker.address)
    assert len(bundle["labels"]) == 3
    assert {entry["method"] for entry in bundle["labels"]} == {"gold", "review"}
    refusal = http.get("/v1/proofs/not-an-address")
    assert refusal.status_code == 422

    directory = instance.runtime.settings.publish_dir / "epochs" / "1"
    payout_dump = json.loads((directory / "payout-tree.json").read_text())
    label_dump = json.loads((directory / "label-tree.json").read_text())
    payout_proofs = [
        {
            "value": [
                bundle["account"],
                str(e["token_index"]),
                str(e["cumulative_payment"]),
                str(e["cumulative_reward"]),
            ],
            "proof": e["proof"],
        }
        for e in bundle["entitlements"]
    ]
    label_proofs = [{"value": e["leaf"], "proof": e["proof"]} for e in bundle["labels"]]
    for value in payout_proofs:
        assert verify_proof(bundle["root"], PAYOUT_LEAF_ENCODING, value["value"], value["proof"])
    for value in label_proofs:
        assert verify_proof(
            bundle["label_root"], LABEL_LEAF_ENCODING, value["value"], value["proof"]
        )

    # the public library, from the files as published: load + verify accept every proof
    js_payout = js_verify(payout_dump, payout_proofs)
    js_label = js_verify(label_dump, label_proofs)
    assert js_payout["root"] == bundle["root"]
    assert js_label["root"] == bundle["label_root"]
    assert js_payout["results"] == [True] * len(payout_proofs)
    assert js_label["results"] == [True] * len(label_proofs)
    # and the JS library's own dump of what it loaded is our file, byte for byte
    assert js_payout["dump"] == (directory / "payout-tree.json").read_text()
    assert js_label["dump"] == (directory / "label-tree.json").read_text()


def test_anyone_claims_from_a_downloaded_bundle_with_only_an_rpc_url(
    instance: Instance, http: httpx.Client, chain: Chain, tmp_path: Path
) -> None:
    dataset, buyer, worker, _other = settled_epoch(instance, http, chain)
    bundle_file = tmp_path / "bundle.json"
    bundle_file.write_text(http.get(f"/v1/proofs/{worker.address}").text)
    # a stranger pays the gas; the money goes to the annotator
    stranger = wallet(chain)
    script = [sys.executable, str(REPO / "scripts" / "claim_from_bundle.py"), str(bundle_file)]
    command = [*script, "--rpc", chain.client.rpc_url, "--key", "0x" + bytes(stranger.key).hex()]

    sent = chain.client.w3.eth.get_transaction_count

    first = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    assert first.returncode == 0, first.stdout + first.stderr
    assert f"paid 0.75 dUSD and 3 LABEL to {worker.address}" in first.stdout
    expected = [3 * PRICE, 3 * REWARD]
    assert chain.ledger.functions.claimed(worker.address, chain.dusd_index).call() == expected
    assert chain.dusd.functions.balanceOf(worker.address).call() == 3 * PRICE
    assert chain.ledger.functions.balanceOf(worker.address).call() == 3 * REWARD
    assert chain.ledger.functions.balanceOf(stranger.address).call() == 0
    assert sent(stranger.address) == 1

    # run again: it sees that everything is claimed, says so and sends nothing (no gas spent)
    again = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing left to claim" in again.stdout
    assert "paid" not in again.stdout
    assert sent(stranger.address) == 1
    assert chain.dusd.functions.balanceOf(worker.address).call() == 3 * PRICE  # paid once

    # a later epoch pays one more label: the new bundle's claim sends only what it adds
    reviewer = user(http, chain)
    buyer.post(f"/v1/datasets/{dataset['id']}/reviewers", json={"address": reviewer.address})
    more = label(worker, item_ids(instance, dataset["id"])["img-2"], "cat")
    reviewer.post(f"/v1/labels/{more['id']}/review", json={"verdict": "accept"})
    settled = ApiUser(http, chain.operator).sign_in().post("/v1/epochs")
    assert (settled["epoch"]["number"], settled["epoch"]["status"]) == (2, "accepted"), settled
    bundle_file.write_text(http.get(f"/v1/proofs/{worker.address}").text)
    partial = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert partial.returncode == 0, partial.stdout + partial.stderr
    assert "paid 0.25 dUSD and 1 LABEL" in partial.stdout
    assert "has now claimed 1 dUSD and 4 LABEL" in partial.stdout
    assert sent(stranger.address) == 2
    assert chain.dusd.functions.balanceOf(worker.address).call() == 4 * PRICE

    wrong_chain = json.loads(bundle_file.read_text()) | {"root": "0x" + "11" * 32}
    bundle_file.write_text(json.dumps(wrong_chain))
    stale = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert stale.returncode == 2
    assert "download the bundle of the epoch the ledger accepted last" in stale.stdout


def test_gold_answers_are_revealed_at_close_and_match_the_commitment(
    instance: Instance, http: httpx.Client, chain: Chain
) -> None:
    dataset, buyer, _worker, _other = settled_epoch(instance, http, chain)
    chain_id = int(dataset["chain"]["dataset_id"], 16)
    gold_path = f"/v1/published/datasets/{dataset['chain']['dataset_id']}/gold.json"
    assert http.get(gold_path).status_code == 404  # secret while annotators still work

    chain.send(chain.ledger.functions.requestClose(chain_id), buyer.wallet)
    chain.warp_to(chain.now() + CLOSE_GRACE_PERIOD + 1)
    chain.send(chain.ledger.functions.finalizeClose(chain_id), buyer.wallet)
    path = f"/v1/datasets/{dataset['id']}"
    wait_until("the mirror to see the close", lambda: buyer.get(path)["status"] == "closed")

    revealed = http.get(gold_path)
    assert revealed.status_code == 200
    terms = json.loads(http.get(gold_path.replace("gold.json", "terms.json")).text)
    assert "0x" + keccak(revealed.content).hex() == terms["goldCommitment"]
    reveal = json.loads(revealed.text)
    answers = dict(map(tuple, reveal["answers"]))
    with instance.runtime.db.unit_of_work() as session:
        stored = session.get(Dataset, dataset["id"])
        assert stored is not None
        items = {name: item_id_hash(stored.item_key, name) for name in ("gold-cat", "gold-dog")}
    assert answers == {
        items["gold-cat"]: graded_hash(reveal["key"], items["gold-cat"], "cat"),
        items["gold-dog"]: graded_hash(reveal["key"], items["gold-dog"], "dog"),
    }
    verdicts = json.loads(http.get("/v1/published/epochs/1/verdicts.json").text)
    [rejection] = verdicts["goldRejected"]
    # the rejected annotator answered "dog" on the cat: with the key revealed, anyone sees that
    # their graded hash is not the committed answer, and they can check it is their own answer
    assert rejection[1] == items["gold-cat"]
    assert answers[rejection[1]] == rejection[4] != rejection[5]
    assert rejection[5] == graded_hash(reveal["key"], items["gold-cat"], "dog")
