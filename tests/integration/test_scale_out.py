"""Scale-out on PostgreSQL: two `label-ledger serve` processes and two `label-ledger worker`s
(real subprocesses of the real command) on one fresh database and one Anvil, while a crowd
labels, reviewers decide, operators press "settle" a hundred times across both API processes,
and annotators claim on chain.

What must hold afterwards: no 5xx anywhere; every 409 carries a documented code (a settlement
refused while another runs says `epoch_in_flight`); every verified label is paid by exactly one
accepted epoch; the offline audit (`label-ledger audit`) passes from the chain and the
publication alone; and every annotator's entitlement, claimed total and token balance on chain
agree with the database.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from ledger.annotation.models import Label, LabelStatus
from ledger.apiclient import ApiError, ApiUser
from ledger.chain.devnode import DEV_KEYS, free_port
from ledger.kit.db import Database
from ledger.settlement.models import Entitlement, Epoch, EpochStatus
from tests.conftest import PG_URL
from tests.integration.processes import SCRIPT, Proc, settings_env, wait_for_api
from tests.integration.test_api import CLASSES, create_dataset, upload, wallet
from tests.support import Chain

pytestmark = pytest.mark.chain

ANNOTATORS = 30
SETTLE_CALLS = 100
LOAD_SECONDS = 25
ITEMS = 2000
REVIEWERS = 4
#: A person reads an item before labelling it; without it the crowd outruns the reviewers
#: on this machine and the drain after the load reviews thousands of labels one at a time.
THINK_SECONDS = 0.8
FUNDS = 10**13

#: The codes a refusal may carry under this load, each documented with its endpoint.
EXPECTED_REFUSALS = {
    (404, "queue_empty"),  # next-item: nothing left for this annotator
    (409, "items_reserved"),  # next-item: the rest is leased to others right now
    (409, "epoch_in_flight"),  # POST /v1/epochs: another settlement is running
    (409, "mirror_behind"),  # POST /v1/epochs: the mirror has not seen the last epoch yet
    (404, "nothing_to_claim"),  # GET /v1/me/claim: no accepted epoch pays this account yet
    (409, "epoch_not_on_chain"),  # GET /v1/me/claim: the chain does not hold that root (yet)
}


class Traffic:
    """Every response any client of the test got, by (status, error code)."""

    def __init__(self) -> None:
        self.seen: Counter[tuple[int, str | None]] = Counter()
        self.failures: list[str] = []
        self.guard = threading.Lock()

    def record(self, response: httpx.Response) -> None:
        response.read()
        code = None
        if response.status_code >= 400:
            try:
                code = response.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = "<no error code>"
        with self.guard:
            self.seen[(response.status_code, code)] += 1
            if response.status_code >= 500:
                request = response.request
                self.failures.append(
                    f"{request.method} {request.url} -> {response.status_code} {response.text}"
                )

    def client(self, url: str) -> httpx.Client:
        return httpx.Client(base_url=url, timeout=120, event_hooks={"response": [self.record]})


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """A database of its own (not a schema): advisory locks and connections as in production."""
    if os.environ.get("LABEL_LEDGER_TEST_PG") == "0":
        pytest.skip("PostgreSQL tests skipped: LABEL_LEDGER_TEST_PG=0")
    name = f"helperc_scale_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def send_claim(chain: Chain, account: LocalAccount, bundle: dict[str, Any]) -> bool:
    """Sends the API's ready claim transaction from the annotator's own wallet; True if mined
    and successful."""
    w3 = chain.client.w3
    tx = {
        "to": bundle["to"],
        "data": bundle["data"],
        "from": account.address,
        "nonce": w3.eth.get_transaction_count(account.address),
        "gas": 3_000_000,
        "gasPrice": w3.eth.gas_price,
        "chainId": chain.deployment.chain_id,
    }
    signed = account.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(signed.raw_transaction), timeout=60
    )
    return int(receipt["status"]) == 1


def test_two_apis_and_two_workers_on_one_database_pay_every_label_once(
    chain: Chain, fresh_database: str, tmp_path: Path
) -> None:
    database_url = fresh_database
    began = time.monotonic()

    def phase(name: str) -> None:
        print(f"[{time.monotonic() - began:6.1f}s] {name}")

    deployment_file = tmp_path / "deployment.json"
    chain.deployment.save(deployment_file)
    publish_dir = tmp_path / "published"
    common = {
        "database_url": database_url,
        "rpc_url": chain.client.rpc_url,
        "deployment_file": deployment_file,
        "publish_dir": publish_dir,
        "operator_key": DEV_KEYS[0],
        "mirror_poll_seconds": "0.2",
        "settle_every_seconds": "3",
        "upkeep_seconds": "2",
        "mirror_reconcile_seconds": "10",
    }
    # the schema first, once, as an operator does before starting the processes
    upgraded = subprocess.run(
        [str(SCRIPT), "db", "upgrade"],
        env=settings_env(**common),  # type: ignore[arg-type]
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    phase("schema upgraded")
    db = Database(database_url)
    ports = [free_port(), free_port()]
    apis = [
        Proc(
            f"serve-{n}",
            ["serve", "--port", str(port)],
            settings_env(port=port, **common),  # type: ignore[arg-type]
            tmp_path / f"serve-{n}.log",
        ).start()
        for n, port in enumerate(ports)
    ]
    workers = [
        Proc(
            f"worker-{n}",
            ["worker"],
            settings_env(**common),  # type: ignore[arg-type]
            tmp_path / f"worker-{n}.log",
        ).start()
        for n in range(2)
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    traffic = Traffic()
    clients: list[httpx.Client] = []

    def client(index: int) -> httpx.Client:
        made = traffic.client(urls[index % 2])
        clients.append(made)
        return made

    try:
        for api, url in zip(apis, urls, strict=True):
            wait_for_api(url, api)
        for worker in workers:
            worker.wait_for("each runs in one worker at a time")

        phase("processes up")
        # --- a funded dataset under review, a reviewer, a crowd -------------------------------
        buyer = ApiUser(client(0), wallet(chain)).sign_in("buyer")
        dataset = create_dataset(buyer, chain)
        path = f"/v1/datasets/{dataset['id']}"
        upload(buyer, dataset["id"], [{"id": f"s-{n:05d}", "data": {"n": n}} for n in range(ITEMS)])
        _fund(chain, buyer, path, FUNDS)
        reviewers = [ApiUser(client(n), wallet(chain)).sign_in() for n in range(REVIEWERS)]
        for reviewer in reviewers:
            buyer.post(f"{path}/reviewers", json={"address": reviewer.address})
        annotators = [
            ApiUser(client(n), wallet(chain)).sign_in("annotator") for n in range(ANNOTATORS)
        ]
        operators = [ApiUser(client(n), chain.operator).sign_in() for n in range(2)]

        phase("dataset funded, crowd signed in")
        stop = threading.Event()
        settle_answers: Counter[tuple[int, str]] = Counter()
        claims = Counter[str]()
        guard = threading.Lock()

        def label_until_stopped(index: int) -> int:
            own = random.Random(index)  # noqa: S311 (reproducible test choices)
            annotator = annotators[index]
            made = 0
            while not stop.is_set():
                try:
                    item = annotator.get(f"{path}/next-item")
                    annotator.post(
                        "/v1/labels",
                        json={"item_id": item["item_id"], "value": own.choice(CLASSES)},
                    )
                    made += 1
                    stop.wait(own.uniform(0, 2 * THINK_SECONDS))
                except ApiError as exc:
                    if exc.code == "queue_empty":
                        return made
                    if (exc.status, exc.code) not in EXPECTED_REFUSALS:
                        raise
                    time.sleep(0.05)
            return made

        def review(index: int, *, until: threading.Event | None = None) -> int:
            """Reviewer `index` decides the labels whose id is `index` modulo REVIEWERS (one in
            ten rejected) until `until` is set, or until none is left."""
            reviewer = reviewers[index]
            decided = 0
            while until is None or not until.is_set():
                queue = reviewer.get("/v1/reviews/queue", params={"limit": 400})
                mine = [p for p in queue if p["id"] % REVIEWERS == index]
                for pending in mine:
                    verdict = "accept" if pending["id"] % 10 else "reject"
                    reviewer.post(
                        f"/v1/labels/{pending['id']}/review",
                        json={"verdict": verdict, "reason": "scale-out test"},
                    )
                    decided += 1
                if not mine:
                    if until is None:
                        return decided
                    until.wait(0.3)
            return decided

        def settle_now(call: int) -> None:
            time.sleep(call * LOAD_SECONDS / SETTLE_CALLS * 0.9)
            operator = operators[call % 2]  # half on each API process
            try:
                operator.post("/v1/epochs")
                answer = (200, "ok")
            except ApiError as exc:
                answer = (exc.status, exc.code)
            with guard:
                settle_answers[answer] += 1

        def claim_until_stopped() -> None:
            own = random.Random(99)  # noqa: S311
            while not stop.wait(1.0):
                annotator = own.choice(annotators)
                bundle = _claim_bundle(annotator)
                if bundle is None:
                    continue
                # a proof for an epoch accepted just now is new: one made before it may fail
                outcome = "mined" if send_claim(chain, annotator.wallet, bundle) else "reverted"
                with guard:
                    claims[outcome] += 1

        with ThreadPoolExecutor(max_workers=ANNOTATORS + SETTLE_CALLS + REVIEWERS + 1) as pool:
            labelling = [pool.submit(label_until_stopped, i) for i in range(ANNOTATORS)]
            reviewing = [pool.submit(review, i, until=stop) for i in range(REVIEWERS)]
            settling = [pool.submit(settle_now, i) for i in range(SETTLE_CALLS)]
            claiming = pool.submit(claim_until_stopped)
            time.sleep(LOAD_SECONDS)
            stop.set()
            labelled = sum(done.result() for done in labelling)
            reviewed = sum(done.result() for done in reviewing)
            for call in settling:
                call.result()
            claiming.result()

        print(
            f"labelled {labelled}, reviewed {reviewed}, settle answers {dict(settle_answers)}, "
            f"claims {claims}"
        )
        assert labelled > ANNOTATORS * 5, f"the crowd labelled only {labelled} items"
        assert sum(settle_answers.values()) == SETTLE_CALLS
        assert settle_answers[(200, "ok")] >= 1, settle_answers
        assert set(settle_answers) <= {
            (200, "ok"),
            (409, "epoch_in_flight"),
            (409, "mirror_behind"),
        }
        assert claims["mined"] >= 1, claims

        # --- drain: decide what is left, settle until nothing is payable ----------------------
        phase("load done")
        with ThreadPoolExecutor(max_workers=REVIEWERS) as pool:
            for done in [pool.submit(review, i) for i in range(REVIEWERS)]:
                done.result()
        phase("reviewed")
        _settle_until_drained(operators[1], db)

        phase("drained")
        # --- every verified label is paid by exactly one accepted epoch ------------------------
        epochs, verified = _paid_exactly_once(db, labelled)
        phase("checked epochs")
        # --- claims: everyone claims the last epoch; the chain agrees with the database --------
        for annotator in annotators:
            bundle = _claim_bundle(annotator)
            if bundle is not None:
                assert send_claim(chain, annotator.wallet, bundle), annotator.address
        _claims_match_the_chain(chain, db, annotators)

        phase("claims checked")
        # --- the offline audit, from the chain and the publication alone -----------------------
        _wait_published(publish_dir, epochs)
        audited = subprocess.run(
            [
                str(SCRIPT),
                "audit",
                "--rpc",
                chain.client.rpc_url,
                "--deployment",
                str(deployment_file),
                "--epochs",
                str(publish_dir),
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={k: v for k, v in os.environ.items() if not k.startswith("LABEL_LEDGER_")},
        )
        assert audited.returncode == 0, audited.stdout + audited.stderr

        print(f"{epochs} epochs paid {verified} labels; responses {dict(traffic.seen)}")
        # --- no 5xx anywhere, every refusal a documented one ------------------------------------
        assert not traffic.failures, "\n".join(traffic.failures[:10])
        refusals = {key for key in traffic.seen if key[0] >= 400}
        assert refusals <= EXPECTED_REFUSALS, traffic.seen
        for proc in [*apis, *workers]:
            assert proc.process.poll() is None, proc.output()
            assert "Traceback" not in proc.output(), proc.output()
    finally:
        for made in clients:
            made.close()
        with ThreadPoolExecutor(max_workers=4) as pool:
            codes = {proc.name: pool.submit(proc.stop) for proc in [*apis, *workers]}
            stopped = {name: code.result() for name, code in codes.items()}
        db.engine.dispose()
    assert stopped == {proc.name: 0 for proc in [*apis, *workers]}


def _paid_exactly_once(db: Database, labelled: int) -> tuple[int, int]:
    """Every verified label is in exactly one accepted epoch, and the epochs follow one another;
    (epochs, verified labels)."""
    with db.unit_of_work() as session:
        count = session.scalar
        verified = count(select(func.count()).where(Label.status == LabelStatus.verified))
        rejected = count(select(func.count()).where(Label.status == LabelStatus.rejected))
        unpaid = count(
            select(func.count()).where(Label.status == LabelStatus.verified, Label.epoch.is_(None))
        )
        epochs = session.scalars(select(Epoch).order_by(Epoch.number)).all()
        # a paid label: (dataset, item hash, annotator, label hash) in an epoch's label tree
        paid = [
            tuple(leaf["value"][:4]) for e in epochs for leaf in json.loads(e.label_tree)["values"]
        ]
    assert unpaid == 0
    assert verified is not None
    assert verified + (rejected or 0) == labelled  # every label decided, none lost
    assert [e.number for e in epochs] == list(range(1, len(epochs) + 1))
    assert {e.status for e in epochs} == {EpochStatus.accepted}
    assert sum(e.label_count for e in epochs) == verified
    assert len(paid) == verified
    assert len(set(paid)) == verified  # no label in two epochs
    assert len(epochs) >= 2, "the load settled a single epoch: nothing raced"
    return len(epochs), verified


def _claims_match_the_chain(chain: Chain, db: Database, annotators: list[ApiUser]) -> None:
    """Each annotator's latest entitlement is what the chain says they claimed, and their token
    balance (they started with none)."""
    token_index = chain.dusd_index
    with db.unit_of_work() as session:
        latest = dict(
            session.execute(
                select(Entitlement.account, func.max(Entitlement.epoch))
                .where(Entitlement.token_index == token_index)
                .group_by(Entitlement.account)
            ).all()
        )
        assert {a.address for a in annotators} >= set(latest)
        owed = {}
        for address, epoch in latest.items():
            row = session.get(Entitlement, (epoch, address, token_index))
            assert row is not None
            owed[address] = (row.cumulative_payment, row.cumulative_reward)
    assert owed, "nobody was paid"
    for annotator in annotators:
        expected = owed.get(annotator.address, (0, 0))
        payment, reward = chain.ledger.functions.claimed(annotator.address, token_index).call()
        assert (int(payment), int(reward)) == expected, annotator.address
        assert chain.dusd.functions.balanceOf(annotator.address).call() == expected[0]


def _claim_bundle(annotator: ApiUser) -> dict[str, Any] | None:
    """The annotator's ready claim, or None when no accepted epoch pays them anything yet."""
    try:
        bundle: dict[str, Any] = annotator.get("/v1/me/claim")
    except ApiError as exc:
        if (exc.status, exc.code) in EXPECTED_REFUSALS:
            return None
        raise
    return bundle if bundle["entitlements"] else None


def _fund(chain: Chain, buyer: ApiUser, path: str, amount: int) -> None:
    dusd, ledger, on_chain = chain.dusd, chain.ledger, buyer.get(path)["chain"]
    chain.send(dusd.functions.mint(buyer.address, amount), buyer.wallet)
    chain.send(dusd.functions.approve(ledger.address, amount), buyer.wallet)
    chain.send(
        ledger.functions.createAndFund(
            bytes.fromhex(on_chain["salt"][2:]), on_chain["token_index"], amount
        ),
        buyer.wallet,
    )
    deadline = time.monotonic() + 30
    while buyer.get(path)["status"] != "open":
        assert time.monotonic() < deadline, "the workers' mirror never saw the deposit"
        time.sleep(0.1)


def _settle_until_drained(operator: ApiUser, db: Database, timeout: float = 90) -> None:
    """POST /v1/epochs until nothing is payable and no epoch waits (the workers settle too)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = operator.post("/v1/epochs")
        except ApiError as exc:
            if exc.code not in ("epoch_in_flight", "mirror_behind"):
                raise
            answer = None
        with db.unit_of_work() as session:
            unpaid = session.scalar(
                select(func.count()).where(
                    Label.status == LabelStatus.verified, Label.epoch.is_(None)
                )
            )
            waiting = session.scalar(
                select(func.count()).where(Epoch.status != EpochStatus.accepted)
            )
        if answer is not None and answer["epoch"] is None and not unpaid and not waiting:
            return
        assert time.monotonic() < deadline, f"settlement did not drain: {unpaid} unpaid"
        time.sleep(0.5)


def _wait_published(directory: Path, epochs: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        index = directory / "index.json"
        if index.exists() and len(json.loads(index.read_text())["epochs"]) == epochs:
            return
        assert time.monotonic() < deadline, "the workers never published every epoch"
        time.sleep(0.2)
