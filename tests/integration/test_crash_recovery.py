"""`kill -9` of the worker and of the dev chain at each step of settlement and of funding
(issue 15), with the real `label-ledger worker` as a subprocess, a real Anvil restarted from its
state file, and a real database that survives.

The worker kills itself at a chosen step: `LABEL_LEDGER_CRASH_AT=<point>` in its environment
makes settlement SIGKILL its own process there (ledger.settlement.service `crash_point`: before
signing the proposal, after storing its signed bytes, after broadcasting, after it is mined,
after storing and after broadcasting the acceptance, after recording it). The chain is then
killed too and started again from its state file, which was last written before settlement
began: everything the worker sent is gone from the chain, while the database remembers it. A
new worker on the same database must settle on its own: every verified label paid exactly once,
the chain's root ours, the offline audit passing.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from sqlalchemy import select

from ledger.annotation.models import Label
from ledger.audit.offline import audit
from ledger.auth.models import Role
from ledger.auth.service import grant_role
from ledger.chain.client import ChainClient, account_from_key
from ledger.chain.deploy import deploy_all
from ledger.chain.devnode import DEV_KEYS, Anvil
from ledger.dataset import service as datasets
from ledger.dataset.ingest import ingest_records
from ledger.dataset.models import Item
from ledger.dataset.schemas import DatasetCreate, DatasetStatus, VerificationSpec
from ledger.kit.db import Database, utcnow
from ledger.settlement import repository
from ledger.settlement.publish import publish
from ledger.settlement.service import CRASH_AT
from tests.integration.processes import SCRIPT, Proc, settings_env
from tests.integration.test_settlement import PRICE, REWARD, VAULT, FundedDataset, verify
from tests.support import Chain

pytestmark = pytest.mark.chain

POINTS = [
    "before_sign_propose",
    "after_store_propose",
    "after_broadcast_propose",
    "after_mined_propose",
    "after_store_accept",
    "after_broadcast_accept",
    "after_accept",
]


@dataclass
class Stack:
    """One deployment: a chain saving its state to a file, a database, the worker's settings."""

    tmp: Path
    node: Anvil
    chain: Chain
    db: Database
    env: dict[str, str]
    worker: Proc | None = None
    runs: int = 0

    @property
    def state(self) -> Path:
        return self.tmp / "anvil-state.json"

    def start_worker(self, **extra: str) -> Proc:
        self.runs += 1
        env = {**self.env, **{f"LABEL_LEDGER_{k.upper()}": v for k, v in extra.items()}}
        self.worker = Proc(
            f"worker-{self.runs}",
            ["worker", "--jobs", "mirror,settlement,publication"],
            env,
            self.tmp / f"worker-{self.runs}.log",
        ).start()
        return self.worker

    def restart_chain(self) -> None:
        """kill -9 of the chain, then Anvil again on the same port from its state file."""
        port = self.node.port
        self.node.kill()
        self.node = Anvil(port=port, state_path=self.state, state_interval=0.2).start()


@pytest.fixture(scope="module")
def upgraded_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty database at the schema's head (`label-ledger db upgrade`, as an operator would
    run it), made once and copied for each test."""
    path = tmp_path_factory.mktemp("template") / "ledger.sqlite"
    env = settings_env(
        database_url=f"sqlite:///{path}",
        rpc_url="http://127.0.0.1:1",
        deployment_file=path.parent / "deployment.json",
        publish_dir=path.parent / "published",
    )
    subprocess.run([str(SCRIPT), "db", "upgrade"], env=env, check=True, capture_output=True)
    return path


@pytest.fixture
def stack(tmp_path: Path, upgraded_database: Path) -> Iterator[Stack]:
    node = Anvil(state_path=tmp_path / "anvil-state.json", state_interval=0.2).start()
    client = ChainClient(node.rpc_url)
    operator = account_from_key(DEV_KEYS[0])
    deployment = deploy_all(client, operator, with_dev_token=True, timelock=0)
    deployment_file = tmp_path / "deployment.json"
    deployment.save(deployment_file)
    database_url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    env = settings_env(
        database_url=database_url,
        rpc_url=node.rpc_url,
        deployment_file=deployment_file,
        publish_dir=tmp_path / "published",
        operator_key=DEV_KEYS[0],
        settle_every_seconds="0.3",
        mirror_poll_seconds="0.1",
        mirror_reconcile_seconds="0",
    )
    shutil.copyfile(upgraded_database, tmp_path / "ledger.sqlite")
    chain = Chain(
        client=client, deployment=deployment, operator=operator, buyer=account_from_key(DEV_KEYS[1])
    )
    running = Stack(tmp=tmp_path, node=node, chain=chain, db=Database(database_url), env=env)
    try:
        yield running
    finally:
        if running.worker is not None and running.worker.process.poll() is None:
            running.worker.kill()
        running.node.stop()
        running.db.engine.dispose()


def new_dataset(stack: Stack, items: int) -> tuple[FundedDataset, str]:
    """A dataset of gold items in the database (not funded yet) and its salt."""
    db, chain = stack.db, stack.chain
    with db.unit_of_work() as session:
        grant_role(session, address=chain.buyer.address, role=Role.buyer)
        dataset = datasets.create_dataset(
            session,
            buyer=chain.buyer.address,
            spec=DatasetCreate(
                name="pets",
                label_classes=["cat", "dog"],
                payment_token=chain.dusd.address,
                price_per_label=PRICE,
                reward_per_label=REWARD,
                verification=VerificationSpec(gold_reveal_seconds=0),
            ),
            allowed_tokens=chain.deployment.payment_token_addresses,
            vault=VAULT,
        )
        dataset_id = dataset.id
    ingest_records(
        db,
        VAULT,
        dataset_id=dataset_id,
        records=[{"id": f"img-{n}", "data": {"n": n}, "gold": "cat"} for n in range(items)],
        now=utcnow(),
    )
    with db.unit_of_work() as session:
        dataset = datasets.get_dataset(session, dataset_id)
        ids = {
            item.external_id: item.id
            for item in session.scalars(select(Item).where(Item.dataset_id == dataset_id))
        }
        return FundedDataset(dataset_id, dataset.chain_dataset_id, ids), dataset.salt


def status(stack: Stack, dataset: FundedDataset) -> DatasetStatus:
    with stack.db.unit_of_work() as session:
        return datasets.status_of(session, datasets.get_dataset(session, dataset.id))


def wait_until(what: str, done: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not done():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        time.sleep(0.1)


def settled_all(stack: Stack, label_ids: list[int]) -> bool:
    """Every label is in an accepted epoch, nothing is in flight, and the chain accepted our
    last epoch with our root."""
    with stack.db.unit_of_work() as session:
        epochs = session.scalars(select(Label.epoch).where(Label.id.in_(label_ids))).all()
        last = repository.latest_accepted_epoch(session)
        in_flight = repository.unaccepted_epoch(session)
        if None in epochs or last is None or in_flight is not None:
            return False
        number, root = last.number, last.payout_root
    ledger = stack.chain.ledger.functions
    return (
        int(ledger.acceptedEpoch().call()) == number
        and "0x" + bytes(ledger.payoutRoot().call()).hex() == root
    )


def assert_paid_exactly_once(stack: Stack, label_ids: list[int]) -> None:
    with stack.db.unit_of_work() as session:
        labels = session.scalars(select(Label).where(Label.id.in_(label_ids))).all()
        last = repository.latest_accepted_epoch(session)
        assert last is not None
        leaves = repository.entitlements_at(session, last.number)
    expected: dict[str, int] = {}
    for label in labels:
        expected[label.annotator] = expected.get(label.annotator, 0) + PRICE
    assert {account: pay for (account, _t), (pay, _r) in leaves.items()} == expected
    assert {account: rew for (account, _t), (_p, rew) in leaves.items()} == {
        account: paid // PRICE * REWARD for account, paid in expected.items()
    }
    publish(stack.db, stack.chain.deployment, stack.tmp / "published", wait=30)
    report = audit(stack.chain.client.rpc_url, stack.chain.deployment, stack.tmp / "published")
    assert report.ok, report.to_json()


def annotators(count: int) -> list[str]:
    return [str(Account.create().address) for _ in range(count)]


@pytest.mark.parametrize("point", POINTS)
def test_a_worker_and_the_chain_killed_at_each_step_of_settlement_recover_on_their_own(
    stack: Stack, point: str
) -> None:
    dataset, salt = new_dataset(stack, items=3)
    stack.chain.fund_dataset(bytes.fromhex(salt[2:]), 20 * PRICE)
    stack.node.dump_state(force=True)  # the deposit is saved; nothing after it will be
    stack.node.freeze_state()
    worker = stack.start_worker(**{CRASH_AT.removeprefix("LABEL_LEDGER_").lower(): point})
    wait_until("the worker mirrored the deposit", lambda: status(stack, dataset) == "open")
    alice, bob = annotators(2)
    labels = verify(stack.db, alice, dataset, "img-0", "img-1") + verify(
        stack.db, bob, dataset, "img-2"
    )
    wait_until(f"the worker killed itself at {point}", lambda: worker.process.poll() is not None)
    assert worker.process.returncode == -9, worker.output()
    assert f"{CRASH_AT}={point}" in worker.output()
    stack.restart_chain()  # everything settlement sent is gone from the chain

    healer = stack.start_worker()
    wait_until("every label is paid", lambda: settled_all(stack, labels))
    assert healer.stop() == 0, healer.output()
    assert_paid_exactly_once(stack, labels)


def test_a_deposit_lost_with_the_chain_sends_its_labels_back_to_wait_until_funded_again(
    stack: Stack,
) -> None:
    """The buyer's createAndFund, and the epoch that paid from it, are lost with the chain
    (killed before it saved them); the worker is killed too. On restart the dataset awaits
    funds again, its labels wait unpaid, and are paid once the buyer funds it again."""
    dataset, salt = new_dataset(stack, items=3)
    stack.node.dump_state(force=True)
    stack.node.freeze_state()  # nothing from here on is saved
    worker = stack.start_worker()
    stack.chain.fund_dataset(bytes.fromhex(salt[2:]), 20 * PRICE)
    wait_until("the worker mirrored the deposit", lambda: status(stack, dataset) == "open")
    [carol] = annotators(1)
    labels = verify(stack.db, carol, dataset, "img-0", "img-1", "img-2")
    wait_until("epoch 1 is paid", lambda: settled_all(stack, labels))
    worker.kill()
    stack.restart_chain()

    healer = stack.start_worker()
    wait_until("the dataset awaits funds again", lambda: status(stack, dataset) == "awaiting_funds")

    def waiting() -> bool:
        with stack.db.unit_of_work() as session:
            epochs = session.scalars(select(Label.epoch).where(Label.id.in_(labels))).all()
            return epochs == [None] * len(labels) and repository.last_epoch(session) is None

    wait_until("the lost epoch is discarded and its labels wait", waiting)
    stack.chain.fund_dataset(bytes.fromhex(salt[2:]), 20 * PRICE)
    wait_until("every label is paid", lambda: settled_all(stack, labels))
    assert healer.stop() == 0, healer.output()
    assert_paid_exactly_once(stack, labels)
