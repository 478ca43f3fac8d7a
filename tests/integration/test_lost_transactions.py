"""The chain forgets what we saw mined (issue 15): a dev chain restarted from an older state, an
L2 sequencer reorganising before L1 finality, a provider answering from a node that is behind.

Each test loses part of the chain on a real Anvil (`anvil_rollback(depth)` removes the last
blocks; `evm_snapshot` before and `evm_revert` after a transaction drops it from the chain and the
pool alike), then lets the real mirror and settlement run, and checks the same outcome: settlement
heals itself (re-sending the very transactions it stored, or discarding and rebuilding what can
no longer land), every verified label is paid exactly once, the offline audit passes, and a claim
bundle is only ever served for the root the chain holds.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from sqlalchemy import select

from ledger.annotation.models import Label, LabelStatus
from ledger.audit.offline import audit
from ledger.chain.client import ChainClient, ChainTransactionFailed
from ledger.chain.devnode import find_anvil, free_port
from ledger.claim.service import EpochNotOnChain, claim_bundle, push_payouts
from ledger.dataset import service as datasets
from ledger.dataset.schemas import DatasetStatus
from ledger.kit.db import Database, utcnow
from ledger.kit.errors import ChainStateMismatch, ChainUnavailable
from ledger.mirror.service import Mirror
from ledger.settlement import repository
from ledger.settlement.build import build_epoch
from ledger.settlement.models import Epoch, EpochStatus
from ledger.settlement.publish import publish
from ledger.settlement.service import accept_epoch, check_covers_claims, post_epoch, settle
from tests.conftest import running_instance
from tests.integration.test_settlement import (
    PRICE,
    REWARD,
    FundedDataset,
    accepted_epoch,
    annotator,
    build,
    funded_dataset,
    root_on_chain,
    send_claim,
    sync,
    verify,
)
from tests.mirror_support import assert_mirror_matches_chain, mirror_cursor
from tests.rpcproxy import RpcProxy
from tests.support import Chain

pytestmark = pytest.mark.chain


# --- what must hold in the end ---------------------------------------------------------------


def settle_until_quiet(db: Database, chain: Chain, *, client: ChainClient | None = None) -> None:
    """Rounds of mirror sync + settlement until a round has nothing left to do, as the
    background jobs would; a round may fail while it heals (it says why) and the next goes on."""
    for _ in range(8):
        sync(db, chain)
        try:
            epoch = settle(db, client or chain.client, chain.deployment, chain.operator)
        except ChainTransactionFailed:
            continue  # a resent proposal reverted: its epoch is discarded, the next round rebuilds
        sync(db, chain)
        with db.unit_of_work() as session:
            unpaid = repository.has_payable_labels(session)
            in_flight = repository.unaccepted_epoch(session)
        if epoch is None or (not unpaid and in_flight is None):
            return
    raise AssertionError("settlement did not come to rest within 8 rounds")


def assert_paid_exactly_once(db: Database, chain: Chain, label_ids: list[int], tmp: Path) -> None:
    """Every label is in an epoch the chain accepted, the chain's last root is ours, its
    cumulative entitlements are exactly the labels' prices, and the offline audit passes."""
    with db.unit_of_work() as session:
        labels = session.scalars(select(Label).where(Label.id.in_(label_ids))).all()
        assert {label.status for label in labels} == {LabelStatus.verified}
        last = repository.latest_accepted_epoch(session)
        assert last is not None
        assert all(label.epoch is not None and label.epoch <= last.number for label in labels)
        expected: dict[str, int] = {}
        for label in labels:
            expected[label.annotator] = expected.get(label.annotator, 0) + PRICE
        leaves = repository.entitlements_at(session, last.number)
        paid = {account: payment for (account, _token), (payment, _r) in leaves.items()}
        rewards = {account: reward for (account, _token), (_p, reward) in leaves.items()}
        number, root = last.number, last.payout_root
    assert paid == expected
    assert rewards == {account: amount // PRICE * REWARD for account, amount in expected.items()}
    assert accepted_epoch(chain) == number
    assert root_on_chain(chain) == root
    publish(db, chain.deployment, tmp / "published")
    report = audit(chain.client.rpc_url, chain.deployment, tmp / "published")
    assert report.ok, report.to_json()


def bundle_root(db: Database, chain: Chain, account: str) -> str:
    with db.unit_of_work() as session:
        bundle = claim_bundle(
            session, account=account, deployment=chain.deployment, client=chain.client
        )
    return bundle.root


def epoch_row(db: Database, number: int) -> Epoch:
    with db.unit_of_work() as session:
        epoch = session.get(Epoch, number)
        assert epoch is not None
        session.expunge(epoch)
        return epoch


def dataset_status(db: Database, dataset: FundedDataset) -> DatasetStatus:
    with db.unit_of_work() as session:
        return datasets.status_of(session, datasets.get_dataset(session, dataset.id))


def head(chain: Chain) -> int:
    return int(chain.client.w3.eth.block_number)


# --- the tests ---------------------------------------------------------------------------------


def test_an_accepted_epoch_the_chain_lost_is_sent_again_byte_for_byte(
    chain: Chain, db: Database, database_url: str, tmp_path: Path
) -> None:
    """The dev chain restarted from a state saved before epoch 2: the database says accepted 2,
    the chain says 1. No bundle for epoch 2 is served while the chain lacks it; the next round
    re-broadcasts the stored proposal and acceptance (same hashes, same nonces) and goes on."""
    dataset = funded_dataset(db, chain, items=6, fund=20 * PRICE)
    alice, bob = annotator(), annotator()
    labels = verify(db, alice, dataset, "img-0", "img-1")
    settle_until_quiet(db, chain)
    assert accepted_epoch(chain) == 1
    before = head(chain)
    labels += verify(db, bob, dataset, "img-2") + verify(db, alice, dataset, "img-3")
    settle_until_quiet(db, chain)
    assert accepted_epoch(chain) == 2
    two = epoch_row(db, 2)
    assert bundle_root(db, chain, bob) == two.payout_root

    chain.rpc("anvil_rollback", head(chain) - before)  # the proposal's and acceptance's blocks
    assert accepted_epoch(chain) == 1
    with pytest.raises(EpochNotOnChain, match="epoch 2 is not the epoch the chain pays"):
        bundle_root(db, chain, bob)  # a claim against it would revert
    pusher_nonce = chain.client.w3.eth.get_transaction_count(chain.operator.address)
    with pytest.raises(EpochNotOnChain):  # nor is a push sent: it would revert on the pusher's gas
        push_payouts(db, chain.client, chain.deployment, chain.operator)
    assert chain.client.w3.eth.get_transaction_count(chain.operator.address) == pusher_nonce
    with running_instance(chain, database_url, tmp_path / "api") as api:
        refused = httpx.get(f"{api.url}/v1/proofs/{bob}", timeout=30)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "epoch_not_on_chain"
    assert "re-sending" in refused.json()["error"]["message"]

    settle_until_quiet(db, chain)
    again = epoch_row(db, 2)
    assert again.status is EpochStatus.accepted
    assert (again.payout_root, again.tx_hash, again.accept_tx_hash) == (
        two.payout_root,
        two.tx_hash,
        two.accept_tx_hash,
    )
    receipt = chain.client.receipt(str(two.tx_hash))
    assert receipt is not None
    assert receipt["status"] == 1
    assert bundle_root(db, chain, bob) == two.payout_root
    with running_instance(chain, database_url, tmp_path / "api") as api:
        served = httpx.get(f"{api.url}/v1/proofs/{bob}", timeout=30)
    assert served.status_code == 200
    assert (served.json()["epoch"], served.json()["root"]) == (2, two.payout_root)
    assert push_payouts(db, chain.client, chain.deployment, chain.operator) > 0  # healed: pays
    assert_paid_exactly_once(db, chain, labels, tmp_path)


def test_a_dropped_acceptance_is_resent_with_its_stored_bytes(
    chain: Chain, db: Database, tmp_path: Path
) -> None:
    """The acceptance was mined and then dropped (a sequencer reorg before L1 finality): the
    chain holds epoch 1 as pending only. The stored acceptEpoch goes out again."""
    dataset = funded_dataset(db, chain, items=4, fund=20 * PRICE)
    worker = annotator()
    labels = verify(db, worker, dataset, "img-0", "img-1")
    build(db, chain)
    post_epoch(db, chain.client, chain.deployment, chain.operator, 1)
    snapshot = chain.rpc("evm_snapshot")
    accepted = accept_epoch(db, chain.client, chain.deployment, chain.operator, 1)
    assert accepted is not None
    assert accepted.status is EpochStatus.accepted
    assert accepted_epoch(chain) == 1
    chain.rpc("evm_revert", snapshot)  # gone from the chain and from the pool
    assert accepted_epoch(chain) == 0
    assert chain.client.receipt(str(accepted.accept_tx_hash)) is None
    with pytest.raises(EpochNotOnChain):
        bundle_root(db, chain, worker)

    settle_until_quiet(db, chain)
    again = epoch_row(db, 1)
    assert again.status is EpochStatus.accepted
    assert again.accept_tx_hash == accepted.accept_tx_hash
    assert chain.client.receipt(str(again.accept_tx_hash)) is not None
    assert bundle_root(db, chain, worker) == again.payout_root
    assert_paid_exactly_once(db, chain, labels, tmp_path)


def test_a_vanished_deposit_sends_its_dataset_back_to_awaiting_funds_and_its_labels_wait(
    chain: Chain, db: Database, tmp_path: Path
) -> None:
    """The buyer's createAndFund and epoch 2, which paid from it, are lost together. The mirror
    undoes the deposit (the dataset awaits funds again), the resent proposal reverts and epoch 2
    is discarded; its labels wait, unpaid, and are paid once the buyer funds again."""
    first = funded_dataset(db, chain, items=4, fund=20 * PRICE)
    alice, bob = annotator(), annotator()
    labels = verify(db, alice, first, "img-0")
    settle_until_quiet(db, chain)
    assert accepted_epoch(chain) == 1

    snapshot = chain.rpc("evm_snapshot")
    second = funded_dataset(db, chain, items=4, fund=20 * PRICE)
    assert dataset_status(db, second) is DatasetStatus.open
    lost = verify(db, bob, second, "img-0", "img-1") + verify(db, alice, first, "img-1")
    settle_until_quiet(db, chain)
    assert accepted_epoch(chain) == 2
    lost_two = epoch_row(db, 2)
    publish(db, chain.deployment, tmp_path / "published")  # its files: rewritten once rebuilt
    chain.rpc("evm_revert", snapshot)  # the deposit and epoch 2 with it
    assert accepted_epoch(chain) == 1

    sync(db, chain)
    assert dataset_status(db, second) is DatasetStatus.awaiting_funds
    settle_until_quiet(db, chain)
    with db.unit_of_work() as session:
        waiting = session.scalars(select(Label).where(Label.id.in_(lost))).all()
        # alice's label on the funded dataset is paid by the rebuilt epoch 2; bob's wait
        assert {label.id: label.epoch for label in waiting} == {
            lost[0]: None,
            lost[1]: None,
            lost[2]: 2,
        }
    assert epoch_row(db, 2).payout_root != lost_two.payout_root
    assert accepted_epoch(chain) == 2

    # the buyer funds again (same salt, so the same dataset id): bob's labels are paid
    with db.unit_of_work() as session:
        salt = datasets.get_dataset(session, second.id).salt
    chain.fund_dataset(bytes.fromhex(salt[2:]), 20 * PRICE)
    sync(db, chain)
    assert dataset_status(db, second) is DatasetStatus.open
    settle_until_quiet(db, chain)
    assert accepted_epoch(chain) == 3
    assert_paid_exactly_once(db, chain, labels + lost, tmp_path)


def test_two_lost_epochs_are_resent_in_nonce_order(
    fresh_chain: Chain, db: Database, tmp_path: Path
) -> None:
    """A rollback takes epochs 2 and 3 (four transactions of the operator, consecutive nonces):
    they go out again oldest first, each with its own stored bytes."""
    chain = fresh_chain  # it drops blocks: a node of its own (see the fixture)
    dataset = funded_dataset(db, chain, items=6, fund=20 * PRICE)
    worker = annotator()
    labels = verify(db, worker, dataset, "img-0")
    settle_until_quiet(db, chain)
    before = head(chain)
    labels += verify(db, worker, dataset, "img-1")
    settle_until_quiet(db, chain)
    labels += verify(db, worker, dataset, "img-2")
    settle_until_quiet(db, chain)
    assert accepted_epoch(chain) == 3
    stored = {n: epoch_row(db, n) for n in (2, 3)}
    chain.rpc("anvil_rollback", head(chain) - before)
    assert accepted_epoch(chain) == 1

    settle_until_quiet(db, chain)
    for number, epoch in stored.items():
        again = epoch_row(db, number)
        assert (again.status, again.tx_hash, again.accept_tx_hash) == (
            EpochStatus.accepted,
            epoch.tx_hash,
            epoch.accept_tx_hash,
        )
    assert_paid_exactly_once(db, chain, labels, tmp_path)


# --- a provider answering from behind ----------------------------------------------------------


class BehindProxy(RpcProxy):
    """Answers every read from `behind` (a fork of the chain at an older block) while
    transactions go to the real chain, as a load balancer with one lagging node would;
    `catch_up()` sends the reads to the real chain again."""

    def __init__(self, upstream_url: str, behind_url: str) -> None:
        super().__init__(upstream_url)
        self.real_url = upstream_url
        self.upstream_url = behind_url

    def catch_up(self) -> None:
        self.upstream_url = self.real_url

    def handle(self, body: Any) -> tuple[int, dict[str, str], Any]:
        calls = body if isinstance(body, list) else [body]
        if any(call.get("method") == "eth_sendRawTransaction" for call in calls):
            answer = requests.post(self.real_url, json=body, timeout=60).json()
            return 200, {}, answer
        return super().handle(body)


@pytest.fixture
def fork_at() -> Iterator[Any]:
    started: list[subprocess.Popen[bytes]] = []

    def start(chain: Chain, block: int) -> str:
        port = free_port()
        process = subprocess.Popen(
            [
                find_anvil(),
                "--port",
                str(port),
                "--fork-url",
                chain.client.rpc_url,
                "--fork-block-number",
                str(block),
                "--chain-id",
                str(chain.deployment.chain_id),
                "--no-mining",
                "--silent",
            ]
        )
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.post(
                    url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=5
                )
                return url
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the fork did not start"
                time.sleep(0.1)

    yield start
    for process in started:
        process.kill()
        process.wait()


def test_a_provider_answering_from_behind_makes_settlement_wait_not_discard(
    chain: Chain, db: Database, tmp_path: Path, fork_at: Any
) -> None:
    """Reads come from a node that has not seen epoch 2 yet while the real chain accepted it.
    Settlement re-sends (harmless: the real chain already has those nonces) but concludes
    nothing from the lagging node: no epoch is discarded and no new proposal signed, and the
    bundle is for the root the node shows (epoch 1's); once reads catch up it records epoch 2."""
    dataset = funded_dataset(db, chain, items=4, fund=20 * PRICE)
    worker = annotator()
    labels = verify(db, worker, dataset, "img-0")
    settle_until_quiet(db, chain)
    behind_at = head(chain)
    labels += verify(db, worker, dataset, "img-1")
    settle_until_quiet(db, chain)
    assert accepted_epoch(chain) == 2
    two = epoch_row(db, 2)
    operator_nonce = chain.client.w3.eth.get_transaction_count(chain.operator.address)

    with BehindProxy(chain.client.rpc_url, fork_at(chain, behind_at)) as proxy:
        lagging = ChainClient(proxy.url)
        with pytest.raises(ChainUnavailable, match="answers from behind"):
            settle(db, lagging, chain.deployment, chain.operator)
        with db.unit_of_work() as session:
            # only what the node we read shows: epoch 1's root (epoch 2 waits to be seen again)
            bundle = claim_bundle(
                session, account=worker, deployment=chain.deployment, client=lagging
            )
        shown = lagging.contract("LabelLedger", chain.deployment.ledger).functions.payoutRoot()
        assert (bundle.epoch, bundle.root) == (1, "0x" + bytes(shown.call()).hex())
        assert chain.client.w3.eth.get_transaction_count(chain.operator.address) == (operator_nonce)
        with db.unit_of_work() as session:
            kept = session.get(Epoch, 2)
            assert kept is not None
            assert (kept.tx_hash, kept.payout_root) == (two.tx_hash, two.payout_root)
        proxy.catch_up()
        settle(db, lagging, chain.deployment, chain.operator)

    again = epoch_row(db, 2)
    assert (again.status, again.tx_hash, again.payout_root) == (
        EpochStatus.accepted,
        two.tx_hash,
        two.payout_root,
    )
    assert chain.client.w3.eth.get_transaction_count(chain.operator.address) == operator_nonce
    assert bundle_root(db, chain, worker) == two.payout_root
    assert_paid_exactly_once(db, chain, labels, tmp_path)


# --- the mirror --------------------------------------------------------------------------------


def test_the_mirror_undoes_a_rollback_below_its_cursor_deeper_than_its_confirmations(
    fresh_chain: Chain, db: Database
) -> None:
    """A mirror waiting 2 confirmations applied a deposit; the chain then loses 5 blocks, its head
    falls below the mirror's cursor (a node restarted from an older state). The mirror undoes
    the lost deposit (the dataset awaits funds again, visibly) and also what the chain still
    holds but no longer 2 blocks deep, matches the chain at its cursor, and applies each deposit
    again once it is confirmed again."""
    chain = fresh_chain  # it drops blocks: a node of its own (see the fixture)
    mirror = Mirror(db, chain.client, chain.deployment, confirmations=2)
    first = funded_dataset(db, chain, items=2, fund=4 * PRICE)
    before = head(chain)
    second = funded_dataset(db, chain, items=2, fund=4 * PRICE)  # mint, approve, createAndFund
    for _ in range(2):
        chain.rpc("evm_mine")
    mirror.sync_once()
    assert dataset_status(db, second) is DatasetStatus.open
    cursor = mirror_cursor(db, chain)
    assert cursor is not None
    assert cursor[0] == head(chain) - 2

    chain.rpc("anvil_rollback", head(chain) - before)
    assert head(chain) < cursor[0]
    mirror.sync_once()
    assert dataset_status(db, second) is DatasetStatus.awaiting_funds
    # the first deposit is the head block now: not 2 deep any more, so not applied until it is
    assert dataset_status(db, first) is DatasetStatus.awaiting_funds
    after = assert_mirror_matches_chain(db, chain)
    assert after[0] == head(chain) - 2
    for _ in range(2):
        chain.rpc("evm_mine")
    mirror.sync_once()
    assert dataset_status(db, first) is DatasetStatus.open
    assert dataset_status(db, second) is DatasetStatus.awaiting_funds

    with db.unit_of_work() as session:
        salt = datasets.get_dataset(session, second.id).salt
    chain.fund_dataset(bytes.fromhex(salt[2:]), 4 * PRICE)
    for _ in range(2):
        chain.rpc("evm_mine")
    mirror.sync_once()
    assert dataset_status(db, second) is DatasetStatus.open
    assert_mirror_matches_chain(db, chain)


def test_a_rebuilt_root_below_what_the_chain_says_was_claimed_is_refused(
    chain: Chain, db: Database
) -> None:
    """The worker claimed 2 labels' worth against epoch 1; the database then forgets epoch 1
    (restored from an older backup, one label no longer verified). Building epoch 1 again would
    give the worker less than the chain says they claimed: settlement stops with
    ChainStateMismatch and stores nothing, rather than publish a root that under-pays."""
    dataset = funded_dataset(db, chain, items=4, fund=20 * PRICE)
    worker = annotator()
    labels = verify(db, worker, dataset, "img-0", "img-1")
    settle_until_quiet(db, chain)
    send_claim(chain, db, worker)
    assert chain.ledger.functions.claimed(worker, chain.dusd_index).call() == [
        2 * PRICE,
        2 * REWARD,
    ]
    # the database as an older backup would have it: no epoch 1, the second label undecided
    with db.unit_of_work() as session:
        repository.discard_from(session, 1, reason="test: the database forgot epoch 1")
        label = session.get(Label, labels[1])
        assert label is not None
        label.status = LabelStatus.pending
    sync(db, chain)

    def build_and_check() -> None:
        with db.unit_of_work() as session:
            built = build_epoch(session, deployment=chain.deployment, now=utcnow())
            assert built is not None
            assert built.label_count == 1
            check_covers_claims(session, chain.client, chain.deployment, built.number)

    with pytest.raises(ChainStateMismatch, match="less than the chain says they already claimed"):
        build_and_check()
    with pytest.raises(ChainStateMismatch, match="less than the chain says"):
        settle(db, chain.client, chain.deployment, chain.operator)
    with db.unit_of_work() as session:
        assert repository.last_epoch(session) is None  # nothing stored
        assert session.get(Label, labels[0]).epoch is None  # type: ignore[union-attr]


def test_a_bundle_follows_the_root_the_chain_holds_while_settlement_records_it(
    chain: Chain, db: Database
) -> None:
    """Anyone may accept a proposed epoch: the chain accepted epoch 2 a moment before the
    database records it. The bundle is for epoch 2, the root the chain pays against, never for
    epoch 1's, whose claims would now revert."""
    dataset = funded_dataset(db, chain, items=4, fund=20 * PRICE)
    worker = annotator()
    verify(db, worker, dataset, "img-0")
    settle_until_quiet(db, chain)
    verify(db, worker, dataset, "img-1")
    sync(db, chain)
    two = build(db, chain)
    post_epoch(db, chain.client, chain.deployment, chain.operator, two.number)
    chain.send(chain.ledger.functions.acceptEpoch(), chain.buyer)  # not the operator
    assert epoch_row(db, 2).status is EpochStatus.proposed
    with db.unit_of_work() as session:
        bundle = claim_bundle(
            session, account=worker, deployment=chain.deployment, client=chain.client
        )
    assert (bundle.epoch, bundle.root) == (2, two.payout_root)
    [entitlement] = bundle.entitlements
    assert entitlement.cumulative_payment == 2 * PRICE
