"""`label-ledger demo`: the whole pay-per-label loop against a running instance.

Generated wallets play every part: one buyer, N annotators, one reviewer, one auditor. It ends
with each wallet's balances as the API reports them (from the mirror) next to `balanceOf` on chain.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from web3.contract import Contract

from ledger.apiclient import ApiError, ApiUser
from ledger.chain.client import ChainClient, account_from_key
from ledger.chain.devnode import DEV_KEYS
from ledger.kit.errors import LedgerError
from ledger.kit.units import LABEL_DECIMALS, format_units, short_address
from ledger.merkle import verify_proof
from ledger.publication import PAYOUT_LEAF_ENCODING

CLASSES = ["cat", "dog", "bird"]
DUSD = 10**6  # dUSD has 6 decimals
LABEL = 10**LABEL_DECIMALS
PRICE = DUSD // 4  # 0.25 dUSD per verified label
REWARD = LABEL  # 1 LABEL per verified label
ANNOTATOR_ACCURACY = (0.95, 0.9, 0.85, 0.8, 0.75)
DEV_CHAIN_IDS = {31337}


class DemoFailed(LedgerError):
    code = "demo_failed"


@dataclass
class BalanceRow:
    who: str
    address: str
    token: str
    api: int
    chain: int

    @property
    def agrees(self) -> bool:
        return self.api == self.chain


@dataclass
class DemoReport:
    epoch: int
    labels_paid: int
    rows: list[BalanceRow]

    @property
    def balances_agree(self) -> bool:
        return all(row.agrees for row in self.rows)


def _wait(what: str, check: Callable[[], bool], *, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise DemoFailed(f"timed out after {timeout}s waiting for {what}: is the mirror running?")


def _expect_refusal(action: Callable[[], Any], code: str) -> ApiError:
    try:
        action()
    except ApiError as exc:
        if exc.code != code:
            raise DemoFailed(f"expected refusal {code}, got {exc.code}: {exc.message}") from exc
        return exc
    raise DemoFailed(f"expected the API to refuse with {code}, but it accepted")


def run_demo(
    *,
    api_url: str,
    rpc_url: str | None,
    operator_key: str | None,
    items: int = 200,
    annotators: int = 5,
    console: Console | None = None,
    seed: int = 7,
) -> DemoReport:
    console = console or Console()
    rng = random.Random(seed)
    http = httpx.Client(base_url=api_url, timeout=60)
    try:
        health = http.get("/v1/health").json()
    except httpx.HTTPError as exc:
        raise DemoFailed(
            f"no label-ledger API at {api_url} ({exc}): start one with `label-ledger up`"
        ) from exc
    contracts = health["contracts"]
    rpc_url = rpc_url or health["rpc_url"]
    if rpc_url is None:
        raise DemoFailed("the API does not say which chain RPC to use: pass --rpc URL")
    chain = ChainClient(rpc_url)
    if chain.chain_id != health["chain_id"]:
        raise DemoFailed(f"the API runs on chain {health['chain_id']}, {chain.rpc_url} is not it")
    if chain.chain_id not in DEV_CHAIN_IDS:
        raise DemoFailed("the demo mints test tokens and sets balances: run it on a dev chain")
    token = chain.contract("DevStablecoin", contracts["payment_token_0"])
    ledger = chain.contract("LabelLedger", contracts["ledger"])  # also the LABEL token

    def wallet() -> LocalAccount:
        account = cast(LocalAccount, Account.create())
        chain.w3.provider.make_request(
            "anvil_setBalance",  # type: ignore[arg-type]
            [account.address, hex(10**20)],
        )
        return account

    say = console.print
    say(f"[bold]label-ledger demo[/] against {api_url}, chain {chain.chain_id}")
    buyer = ApiUser(http, wallet()).sign_in("buyer")
    workers = [ApiUser(http, wallet()).sign_in("annotator") for _ in range(annotators)]
    reviewer = ApiUser(http, wallet()).sign_in()
    auditor = ApiUser(http, wallet()).sign_in("auditor")
    say(f"signed in with EIP-4361: buyer {buyer.address}, {annotators} annotators, a reviewer")

    dataset = buyer.post(
        "/v1/datasets",
        json={
            "name": "Pets, three classes",
            "label_classes": CLASSES,
            "payment_token": token.address,
            "price_per_label": PRICE,
            "reward_per_label": REWARD,
        },
    )
    dataset_path = f"/v1/datasets/{dataset['id']}"
    truth = {f"img-{i:04d}": rng.choice(CLASSES) for i in range(items)}
    gold_ids = set(list(truth)[:: max(items // 20, 1)])
    lines = [
        json.dumps(
            {"id": ext, "data": {"url": f"https://example.org/{ext}.jpg"}}
            | ({"gold": answer} if ext in gold_ids else {})
        )
        for ext, answer in truth.items()
    ]
    created = buyer.post(
        f"{dataset_path}/items",
        content="\n".join(lines),
        headers={"Content-Type": "application/x-ndjson"},
    )
    say(
        f"uploaded {created['created']} items as JSONL ({created['gold']} gold, their answers "
        "committed in the dataset's terms)"
    )
    fund = _Funding(chain=chain, token=token, ledger=ledger, buyer=buyer, say=say)
    fund(dataset_path, PRICE * items * 2)  # room for the fee on top of every debit
    buyer.post(f"{dataset_path}/reviewers", json={"address": reviewer.address})

    _label_items(workers, dataset_path, truth, items=items, rng=rng, say=say, console=console)

    consensus_truth = _consensus_dataset(
        buyer,
        workers,
        fund,
        token.address,
        reviewer=reviewer.address,
        items=max(items // 4, 4),
        rng=rng,
        say=say,
    )
    truth |= consensus_truth

    reviewed = 0
    while queue := reviewer.get("/v1/reviews/queue", params={"limit": 500}):
        for label in queue:
            right = truth[label["external_id"]]
            verdict = (
                {"verdict": "accept"}
                if label["value"] == right
                else {"verdict": "reject", "reason": f"the picture shows a {right}"}
            )
            reviewer.post(f"/v1/labels/{label['id']}/review", json=verdict)
            reviewed += 1
    say(f"reviewer decided {reviewed} labels; gold items were graded automatically")

    key = operator_key or DEV_KEYS[0]
    operator = ApiUser(http, account_from_key(key)).sign_in()
    epoch_number, epoch = _settle(operator, auditor, chain, say=say)
    fees = sum(d["fee"] for d in epoch["debits"])
    say(
        f"epoch {epoch_number} accepted on chain: {epoch['label_count']} labels paid, "
        f"payout root {epoch['payout_root']}, fee {format_units(fees, 6, symbol='dUSD')}"
    )

    last_block = 0
    for worker in workers:
        bundle = worker.get("/v1/me/claim")
        receipt = chain.wait(
            chain.broadcast(_sign_raw(chain, worker.wallet, bundle["to"], bundle["data"]))
        )
        # Sending the same claim again must pay nothing more.
        again = chain.wait(
            chain.broadcast(_sign_raw(chain, worker.wallet, bundle["to"], bundle["data"]))
        )
        last_block = max(last_block, int(receipt["blockNumber"]), int(again["blockNumber"]))
    say("every annotator claimed on chain (and claimed twice: the second paid nothing)")

    _audit(auditor, workers[0], chain, contracts["ledger"], epoch_number, say=say)

    _wait(
        "the mirror to reach the last claim",
        lambda: (buyer.get(f"/v1/balances/{buyer.address}")["mirrored_block"] or 0) >= last_block,
    )
    rows: list[BalanceRow] = []
    people = (
        [("buyer", buyer.address)]
        + [(f"annotator {i + 1}", w.address) for i, w in enumerate(workers)]
        + [("ledger", ledger.address)]
    )
    for who, address in people:
        mirrored = {
            b["token"]: b["balance"] for b in buyer.get(f"/v1/balances/{address}")["balances"]
        }
        for symbol, contract in (("dUSD", token), ("LABEL", ledger)):
            rows.append(
                BalanceRow(
                    who=who,
                    address=address,
                    token=symbol,
                    api=mirrored[contract.address],
                    chain=int(contract.functions.balanceOf(address).call()),
                )
            )
    table = Table(title=f"balances after epoch {epoch_number}: API (mirror) vs chain balanceOf")
    for column in ("who", "address", "token", "API", "chain", ""):
        table.add_column(column, justify="right" if column in ("API", "chain") else "left")
    decimals = {"dUSD": 6, "LABEL": LABEL_DECIMALS}
    for row in rows:
        table.add_row(
            row.who,
            short_address(row.address),
            row.token,
            format_units(row.api, decimals[row.token]),
            format_units(row.chain, decimals[row.token]),
            "[green]equal[/]" if row.agrees else "[red]DIFFERENT[/]",
        )
    console.print(table)
    report = DemoReport(epoch=epoch_number, labels_paid=epoch["label_count"], rows=rows)
    say(
        "[green]every balance the API shows equals the chain[/]"
        if report.balances_agree
        else "[red]the API and the chain disagree[/]"
    )
    say(
        "check every payout from the chain alone (no database): [bold]label-ledger audit "
        f"--epochs {api_url}/v1/published[/] (add --rpc and --deployment away from `up`'s "
        "directory); annotators download their proofs from /v1/proofs/<address>"
    )
    return report


def _settle(
    operator: ApiUser, auditor: ApiUser, chain: ChainClient, *, say: Callable[..., None]
) -> tuple[int, dict[str, Any]]:
    """Settles through the API; inside the ledger's timelock, on a dev chain, moves time past it
    and settles again, which accepts the epoch."""
    settled = operator.post("/v1/epochs")
    epoch_number = (
        settled["epoch"]["number"]
        if settled["epoch"]
        else max(e["number"] for e in auditor.get("/v1/epochs"))
    )
    epoch = auditor.get(f"/v1/epochs/{epoch_number}")
    if not epoch["claimable"]:
        # Inside the ledger's timelock: on a dev chain, move time past it and settle again,
        # which accepts the epoch.
        say(f"epoch {epoch_number} proposed; acceptable from unix time {epoch['acceptable_at']}")
        rpc = chain.w3.provider.make_request
        rpc("evm_setNextBlockTimestamp", [int(epoch["acceptable_at"]) + 1])  # type: ignore[arg-type]
        rpc("evm_mine", [])  # type: ignore[arg-type]
        operator.post("/v1/epochs")
        epoch = auditor.get(f"/v1/epochs/{epoch_number}")
        if not epoch["claimable"]:
            raise DemoFailed(f"epoch {epoch_number} is still not accepted: {epoch['status']}")
    return epoch_number, epoch


@dataclass
class _Funding:
    """Creates and funds a dataset on the ledger as its buyer's wallet would."""

    chain: ChainClient
    token: Contract
    ledger: Contract
    buyer: ApiUser
    say: Callable[..., None]

    def __call__(self, dataset_path: str, budget: int) -> None:
        buyer = self.buyer
        # The salt commits to the dataset's terms, gold answers included: read it after upload.
        on_chain = buyer.get(dataset_path)["chain"]
        shown = format_units(budget, 6, symbol="dUSD")
        self.say(f"creating and funding {dataset_path} on the ledger with {shown}")
        self.chain.transact(self.token.functions.mint(buyer.address, budget), buyer.wallet)
        self.chain.transact(self.token.functions.approve(self.ledger.address, budget), buyer.wallet)
        create = self.ledger.functions.createAndFund(
            HexBytes(on_chain["salt"]), on_chain["token_index"], budget
        )
        self.chain.transact(create, buyer.wallet)
        _wait("the mirror to see the deposit", lambda: buyer.get(dataset_path)["status"] == "open")
        on_chain = buyer.get(dataset_path)["chain"]
        self.say(
            "the service saw the deposit on chain: "
            f"{format_units(on_chain['available'], 6, symbol='dUSD')}, fee "
            f"{on_chain['fee_bps']} bps on top of each debit"
        )


def _consensus_dataset(
    buyer: ApiUser,
    workers: list[ApiUser],
    fund: _Funding,
    token: str,
    *,
    reviewer: str,
    items: int,
    rng: random.Random,
    say: Callable[..., None],
) -> dict[str, str]:
    """A second dataset verified by consensus: every item goes to three annotators (up to five
    while they disagree) and those agreeing with the majority are verified. Returns its truth."""
    dataset = buyer.post(
        "/v1/datasets",
        json={
            "name": "Pets by consensus",
            "label_classes": CLASSES,
            "payment_token": token,
            "price_per_label": PRICE,
            "reward_per_label": REWARD,
            "verification": {"method": "consensus", "consensus_k": 3, "consensus_max_k": 5},
        },
    )
    path = f"/v1/datasets/{dataset['id']}"
    truth = {f"c-{i:04d}": rng.choice(CLASSES) for i in range(items)}
    buyer.post(f"{path}/items", json=[{"id": i, "data": {"n": n}} for n, i in enumerate(truth)])
    fund(path, PRICE * items * 5 * 2)
    buyer.post(f"{path}/reviewers", json={"address": reviewer})  # for items split at the cap
    busy = True
    while busy:
        busy = False
        for index, worker in enumerate(workers):
            try:
                item = worker.get(f"{path}/next-item")
            except ApiError as exc:
                if exc.code == "queue_empty":
                    continue
                raise
            busy = True
            right = truth[item["external_id"]]
            accuracy = ANNOTATOR_ACCURACY[index % len(ANNOTATOR_ACCURACY)]
            wrong = [c for c in CLASSES if c != right]
            value = right if rng.random() < accuracy else rng.choice(wrong)
            worker.post("/v1/labels", json={"item_id": item["item_id"], "value": value})
    counts = {
        status: len(buyer.get(f"{path}/labels", params={"status": status, "limit": 10_000}))
        for status in ("verified", "rejected", "pending")
    }
    say(
        f"consensus dataset {dataset['id']}: {items} items, 3 annotators each (up to 5 while they "
        f"disagree): {counts['verified']} labels verified with the majority, "
        f"{counts['rejected']} rejected with the majority's label as the reason, "
        f"{counts['pending']} on items still split at 5 wait for a reviewer"
    )
    return truth


def _label_items(
    workers: list[ApiUser],
    dataset_path: str,
    truth: dict[str, str],
    *,
    items: int,
    rng: random.Random,
    say: Callable[..., None],
    console: Console,
) -> None:
    """Annotators of known accuracy label ~1.5 times every item; then three refused attempts."""
    annotators = len(workers)
    per_worker = (items * 3) // (2 * annotators)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("annotators labelling", total=per_worker * annotators)
        for index, worker in enumerate(workers):
            accuracy = ANNOTATOR_ACCURACY[index % len(ANNOTATOR_ACCURACY)]
            for _ in range(per_worker):
                item = worker.get(f"{dataset_path}/next-item")
                right = truth[item["external_id"]]
                wrong = [c for c in CLASSES if c != right]
                value = right if rng.random() < accuracy else rng.choice(wrong)
                worker.post("/v1/labels", json={"item_id": item["item_id"], "value": value})
                progress.advance(task)
    first = workers[0]
    item = first.get(f"{dataset_path}/next-item")
    refusals = [
        _expect_refusal(
            lambda: first.post("/v1/labels", json={"item_id": item["item_id"], "value": "horse"}),
            "label_outside_schema",
        ),
        _expect_refusal(
            lambda: first.post("/v1/labels", json={"item_id": 10**9, "value": "cat"}),
            "unknown_item",
        ),
    ]
    done = first.get("/v1/me/labels", params={"limit": 1})[0]
    refusals.append(
        _expect_refusal(
            lambda: first.post("/v1/labels", json={"item_id": done["item_id"], "value": "cat"}),
            "duplicate_label",
        )
    )
    for refusal in refusals:
        say(f"  refused as expected: {refusal.status} {refusal.code}: {refusal.message}")


def _audit(
    auditor: ApiUser,
    annotator: ApiUser,
    chain: ChainClient,
    ledger_address: str,
    epoch_number: int,
    *,
    say: Callable[..., None],
) -> None:
    """Checks an annotator's proofs against the root the chain holds, locally and via the API."""
    tree = auditor.get(f"/v1/epochs/{epoch_number}/payout-tree")
    ledger = chain.contract("LabelLedger", ledger_address)
    root_on_chain = "0x" + bytes(ledger.functions.payoutRoot().call()).hex()
    own = annotator.get("/v1/me/claim")
    checked = 0
    for entitlement in own["entitlements"]:
        value = [
            annotator.address,
            str(entitlement["token_index"]),
            str(entitlement["cumulative_payment"]),
            str(entitlement["cumulative_reward"]),
        ]
        if not verify_proof(root_on_chain, PAYOUT_LEAF_ENCODING, value, entitlement["proof"]):
            raise DemoFailed(f"proof for {value} does not verify against the chain's root")
        verdict = auditor.post(
            "/v1/audit/proofs",
            json={
                "epoch": epoch_number,
                "account": annotator.address,
                "token": entitlement["token"],
                "cumulative_payment": entitlement["cumulative_payment"],
                "cumulative_reward": entitlement["cumulative_reward"],
                "proof": entitlement["proof"],
            },
        )
        if not verdict["valid"]:
            raise DemoFailed(f"auditor endpoint rejected a valid proof: {verdict['reason']}")
        checked += 1
    say(
        f"auditor: payout tree has {len(tree['values'])} leaves; {checked} proofs verified "
        "against the chain's root"
    )


def _sign_raw(chain: ChainClient, wallet: LocalAccount, to: str, data: str) -> bytes:
    tx: dict[str, Any] = {
        "from": wallet.address,
        "to": to,
        "data": data,
        "nonce": chain.w3.eth.get_transaction_count(wallet.address, "pending"),
        "chainId": chain.chain_id,
    }
    tx["gas"] = chain.w3.eth.estimate_gas(tx)  # type: ignore[arg-type]
    block = chain.w3.eth.get_block("latest")
    tx["maxFeePerGas"] = int(block["baseFeePerGas"]) * 2 + 10**9
    tx["maxPriorityFeePerGas"] = 10**9
    return bytes(wallet.sign_transaction(tx).raw_transaction)
