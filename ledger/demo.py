"""`label-ledger demo`: the whole pay-per-label loop against a running instance.

Generated wallets play every part: one buyer, N annotators, one reviewer, one auditor. The
annotators work at once, as a crowd: each item is reserved for one of them at a time and labelled
exactly as often as the buyer pays for (overlap 1 under review, 3 to 5 under consensus); a
rejected label gives its place to another annotator. The items are pictures of pets that the
API itself serves (`ledger.media`), so the web app shows each one. It ends with each wallet's
balances as the API reports them (from the mirror) next to `balanceOf` on chain, and the app's
pages where a person sees what it did.
"""

from __future__ import annotations

import json
import random
import shlex
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table
from web3.contract import Contract

from ledger.apiclient import ApiError, ApiUser
from ledger.chain.client import ChainClient, account_from_key
from ledger.chain.devnode import DEV_KEYS
from ledger.kit.config import STATE_DIR
from ledger.kit.errors import LedgerError
from ledger.kit.units import LABEL_DECIMALS, format_units, short_address
from ledger.media import PET_CLASSES, PET_COUNT, pet_kind, pet_path
from ledger.merkle import verify_proof
from ledger.publication import PAYOUT_LEAF_ENCODING
from ledger.showcase import ITEMS_PER_KIND, SHOWCASE
from ledger.showcase import dataset_body as showcase_body
from ledger.showcase import items as showcase_items
from ledger.uprecord import cli_command

CLASSES = list(PET_CLASSES)
DUSD = 10**6  # dUSD has 6 decimals
LABEL = 10**LABEL_DECIMALS
PRICE = DUSD // 4  # 0.25 dUSD per verified label
REWARD = LABEL  # 1 LABEL per verified label
ANNOTATOR_ACCURACY = (0.95, 0.9, 0.85, 0.8, 0.75)
DEV_CHAIN_IDS = {31337}
#: Gold verdicts are sealed this long in the demo (a real dataset seals them for a day), so that
#: its one epoch can pay them.
DEMO_GOLD_REVEAL_SECONDS = 5
INSTRUCTIONS = """# Which pet is it?

Label the animal that fills most of the picture: **cat**, **dog** or **bird**.
Skip a picture that does not load (reason `broken_media`), or shows no animal (`unclear`).
"""


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
    state_dir: Path | None = None,
    showcase: bool = True,
) -> DemoReport:
    """Drives the whole loop against the API at `api_url`; `state_dir` is the directory of the
    `up` that serves it, when the demo found it there (its audit hint then names it). With
    `showcase`, it then opens a small dataset of every label kind (`ledger.showcase`) for a
    person to label in the web app."""
    console = console or Console()
    rng = random.Random(seed)
    api_url = api_url.rstrip("/")
    http = httpx.Client(base_url=api_url, timeout=60)
    try:
        health = http.get("/v1/health").json()
    except httpx.HTTPError as exc:
        raise DemoFailed(
            f"no label-ledger API at {api_url} ({exc}): start one with ./scripts/up"
        ) from exc

    def picture(number: int) -> str:
        # Root-relative: served by whichever port the instance listens on, after any restart.
        return f"/media/{pet_path(number)}"

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
            "instructions": INSTRUCTIONS,
            "examples": [
                {
                    "data": {"url": picture(_first_pet("cat", after=PET_COUNT // 2))},
                    "label": "cat",
                    "explanation": "an orange cat, ears up: the background does not count",
                }
            ],
            "verification": {"gold_reveal_seconds": DEMO_GOLD_REVEAL_SECONDS},
        },
    )
    dataset_path = f"/v1/datasets/{dataset['id']}"
    terms = dataset["verification"]
    say(
        f"dataset {dataset['id']}: verified by review, overlap {terms['overlap']} (each item is "
        f"paid once), gold items answered by up to {terms['gold_overlap']} annotators; items "
        f"reserved {dataset['leases']['seconds']}s for whoever is served them; instructions "
        "and examples in its terms"
    )
    # The truth is what each picture shows.
    truth = {f"img-{i:04d}": pet_kind(i % PET_COUNT) for i in range(items)}
    # every 20th item is gold, and never more than every other one: a small run keeps plain items
    gold_ids = set(list(truth)[:: max(items // 20, 2)])
    lines = [
        json.dumps(
            {"id": ext, "data": {"url": picture(i)}} | ({"gold": answer} if ext in gold_ids else {})
        )
        for i, (ext, answer) in enumerate(truth.items())
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

    _show_leases(workers, buyer, dataset_path, say=say)
    labelled = _crowd_labels(
        workers, dataset_path, truth, rng=rng, console=console, gold_ids=gold_ids
    )
    say(
        f"{len(workers)} annotators labelled at once: {labelled.labels} labels on "
        f"{labelled.items} items, at most {labelled.most_on_a_plain_item} on a plain item "
        f"(its overlap), gold items answered by up to {labelled.most_on_a_gold_item} "
        "annotators each; no item served to two annotators at a time"
    )
    _refusals(workers, gold_ids, say=say)
    rejected = _review(reviewer, truth)
    relabelled = _crowd_labels(workers, dataset_path, truth, rng=rng, console=console)
    say(
        f"reviewer decided the labels: {rejected} rejected with a reason; each rejection freed "
        f"its item's place, and {relabelled.labels} of those items were labelled again by "
        "another annotator"
    )
    _review(reviewer, truth)

    consensus_truth = _consensus_dataset(
        buyer,
        workers,
        fund,
        token.address,
        reviewer=reviewer.address,
        pictures=[(n, picture(n)) for n in range(items, items + max(items // 4, 4))],
        rng=rng,
        say=say,
        console=console,
    )
    truth |= consensus_truth
    escalated = _review(reviewer, truth)
    say(
        f"reviewer decided the consensus items still split at 5 ({escalated} labels rejected); "
        f"gold verdicts are sealed for {DEMO_GOLD_REVEAL_SECONDS}s after each answer (annotators "
        "see 'pending' until then), then revealed and paid"
    )
    time.sleep(DEMO_GOLD_REVEAL_SECONDS + 1)

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
        audit_hint(cli_command(), state_dir=state_dir, rpc_url=chain.rpc_url, api_url=api_url),
        soft_wrap=True,
    )
    if showcase:
        _open_showcase(buyer, fund, token.address, api_url=api_url, console=console)
    say(
        "see what the demo did in the app:\n"
        f"  {api_url}/datasets   its datasets: items, escrow, progress\n"
        f"  {api_url}/me/labels  labels and their status (as the wallet you sign in with)\n"
        f"  {api_url}/epochs     epoch {epoch_number}: its roots, payouts and proofs",
        soft_wrap=True,
    )
    return report


def _open_showcase(
    buyer: ApiUser, fund: _Funding, token: str, *, api_url: str, console: Console
) -> None:
    """A funded dataset of every label kind, its items real generated media, left open: each
    kind's widget has work in the web app."""
    opened: list[tuple[str, int]] = []
    quiet = _Funding(
        chain=fund.chain, token=fund.token, ledger=fund.ledger, buyer=buyer, say=lambda *_: None
    )
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("opening a dataset of every label kind", total=len(SHOWCASE))
        for kind in SHOWCASE:
            body = showcase_body(kind, payment_token=token, price=PRICE, reward=REWARD)
            dataset = buyer.post("/v1/datasets", json=body)
            path = f"/v1/datasets/{dataset['id']}"
            buyer.post(f"{path}/items", json=showcase_items(kind))
            quiet(path, PRICE * ITEMS_PER_KIND * 2)
            opened.append((kind, dataset["id"]))
            progress.advance(task)
    table = Table(title="open for you to label in the web app, one dataset of every kind")
    table.add_column("kind")
    table.add_column("dataset")
    table.add_column("page", overflow="fold")  # a link cut short is no link
    for kind, dataset_id in opened:
        table.add_row(kind, SHOWCASE[kind].name, f"{api_url}/datasets/{dataset_id}")
    console.print(table)


def audit_hint(command: str, *, state_dir: Path | None, rpc_url: str, api_url: str) -> str:
    """How to check every payout of this run from the chain alone (rich markup). Beside the `up`
    the demo drove, `audit` needs that up's state directory when it is not the default one; with
    no `up` known (the demo was given --api), only the command naming chain and publication."""
    anywhere = (
        f"{command} audit --rpc {shlex.quote(rpc_url)} --deployment FILE "
        f"--epochs {shlex.quote(api_url + '/v1/published')}"
    )
    if state_dir is None:
        where = f"[bold]{escape(anywhere)}[/]"
    else:
        beside = "" if state_dir == STATE_DIR else f" --state-dir {shlex.quote(str(state_dir))}"
        where = (
            f"[bold]{escape(f'{command} audit{beside}')}[/] beside the `up`, or anywhere "
            f"[bold]{escape(anywhere)}[/]"
        )
    return (
        f"check every payout from the chain alone (no database): {where}; annotators download "
        f"their proofs from {api_url}/v1/proofs/<address>"
    )


def _first_pet(kind: str, *, after: int) -> int:
    return next(n for n in range(after, PET_COUNT) if pet_kind(n) == kind)


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
    pictures: list[tuple[int, str]],
    rng: random.Random,
    say: Callable[..., None],
    console: Console,
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
    items = len(pictures)
    truth = {f"c-{i:04d}": pet_kind(n % PET_COUNT) for i, (n, _url) in enumerate(pictures)}
    buyer.post(
        f"{path}/items",
        json=[
            {"id": ext, "data": {"url": url}}
            for ext, (_n, url) in zip(truth, pictures, strict=True)
        ],
    )
    fund(path, PRICE * items * 5 * 2)
    buyer.post(f"{path}/reviewers", json={"address": reviewer})  # for items split at the cap
    _crowd_labels(workers, path, truth, rng=rng, console=console)
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


@dataclass
class _Labelled:
    labels: int
    items: int
    most_on_a_plain_item: int
    most_on_a_gold_item: int


def _crowd_labels(
    workers: list[ApiUser],
    dataset_path: str,
    truth: dict[str, str],
    *,
    rng: random.Random,
    console: Console,
    gold_ids: Collection[str] = (),
) -> _Labelled:
    """Every annotator asks for work and labels what they are served, all at once, until the
    queue has nothing more for anybody; each answers right with their own accuracy."""
    guard = threading.Lock()
    per_item: Counter[str] = Counter()
    seeds = [rng.randrange(2**32) for _ in workers]
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("annotators labelling", total=None)

        def work(index: int) -> None:
            worker, own = workers[index], random.Random(seeds[index])
            accuracy = ANNOTATOR_ACCURACY[index % len(ANNOTATOR_ACCURACY)]
            while True:
                try:
                    item = worker.get(f"{dataset_path}/next-item")
                except ApiError as exc:
                    if exc.code == "queue_empty":
                        return
                    if exc.code == "items_reserved":  # others hold what is left: ask again
                        time.sleep(0.1)
                        continue
                    raise
                right = truth[item["external_id"]]
                wrong = [c for c in CLASSES if c != right]
                value = right if own.random() < accuracy else own.choice(wrong)
                worker.post("/v1/labels", json={"item_id": item["item_id"], "value": value})
                with guard:
                    per_item[item["external_id"]] += 1
                    progress.advance(task)

        with ThreadPoolExecutor(max_workers=len(workers)) as pool:
            for done in [pool.submit(work, i) for i in range(len(workers))]:
                done.result()
    return _Labelled(
        labels=sum(per_item.values()),
        items=len(per_item),
        most_on_a_plain_item=max(
            (n for item, n in per_item.items() if item not in gold_ids), default=0
        ),
        most_on_a_gold_item=max((n for item, n in per_item.items() if item in gold_ids), default=0),
    )


def _show_leases(
    workers: list[ApiUser], buyer: ApiUser, dataset_path: str, *, say: Callable[..., None]
) -> None:
    """What a reservation does: the holder asking again gets the same item, the next annotator
    another one; a skip (with its reason) and a release give items back."""
    first, second = workers[0], workers[1]
    held = first.get(f"{dataset_path}/next-item")
    again = first.get(f"{dataset_path}/next-item")
    other = second.get(f"{dataset_path}/next-item")
    if again["item_id"] != held["item_id"] or other["item_id"] == held["item_id"]:
        raise DemoFailed("a reserved item was served to somebody else")
    say(
        f"leases: {held['external_id']} is reserved for annotator 1 until "
        f"{held['lease_expires_at']} (asking again returns it), annotator 2 is served "
        f"{other['external_id']}"
    )
    first.post(
        f"/v1/items/{held['item_id']}/skip",
        json={"reason": "broken_media", "comment": "the picture does not load"},
    )
    second.post(f"/v1/items/{other['item_id']}/release")
    skips = buyer.get(f"{dataset_path}/skips")
    say(
        f"  annotator 1 skipped {held['external_id']} (the buyer sees: "
        f"{skips[0]['reasons']}, {skips[0]['comments'][0]!r}); annotator 2 released "
        f"{other['external_id']}: both go to other annotators"
    )


def _refusals(workers: list[ApiUser], gold_ids: set[str], *, say: Callable[..., None]) -> None:
    first, second = workers[0], workers[1]
    # an item of the first annotator's that takes one label (gold items take several)
    done = next(
        label
        for label in first.get("/v1/me/labels", params={"limit": 10_000})
        if label["external_id"] not in gold_ids
    )
    refusals = [
        _expect_refusal(
            lambda: first.post("/v1/labels", json={"item_id": done["item_id"], "value": "horse"}),
            "label_outside_schema",
        ),
        _expect_refusal(
            lambda: first.post("/v1/labels", json={"item_id": 10**9, "value": "cat"}),
            "unknown_item",
        ),
        _expect_refusal(
            lambda: first.post("/v1/labels", json={"item_id": done["item_id"], "value": "cat"}),
            "duplicate_label",
        ),
        _expect_refusal(
            lambda: second.post("/v1/labels", json={"item_id": done["item_id"], "value": "cat"}),
            "item_full",
        ),
    ]
    for refusal in refusals:
        say(f"  refused as expected: {refusal.status} {refusal.code}: {refusal.message}")


def _review(reviewer: ApiUser, truth: dict[str, str]) -> int:
    """The reviewer accepts right labels and rejects wrong ones with a reason; how many were
    rejected."""
    rejected = 0
    while queue := reviewer.get("/v1/reviews/queue", params={"limit": 500}):
        for label in queue:
            right = truth[label["external_id"]]
            verdict = (
                {"verdict": "accept"}
                if label["value"] == right
                else {"verdict": "reject", "reason": f"the picture shows a {right}"}
            )
            reviewer.post(f"/v1/labels/{label['id']}/review", json=verdict)
            rejected += verdict["verdict"] == "reject"
    return rejected


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
