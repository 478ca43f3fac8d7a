"""Settlement against a real Anvil, the real contracts and a real database: crash safety, refusals
and cumulative epochs.

Labels are made through the services (verified on gold items) and the mirror is synced by hand,
so each test decides exactly what the service has seen of the chain.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from sqlalchemy import func, select
from web3.logs import DISCARD
from web3.types import TxReceipt

from ledger.annotation import service as annotation
from ledger.annotation.models import Label, LabelStatus
from ledger.annotation.schemas import LabelCreate
from ledger.auth.models import Role
from ledger.auth.service import grant_role
from ledger.chain.client import ChainTransactionFailed
from ledger.claim.service import claim_bundle
from ledger.dataset import service as datasets
from ledger.dataset.models import Item
from ledger.dataset.schemas import DatasetCreate, ItemIn
from ledger.kit.db import Database, utcnow
from ledger.mirror.service import Mirror
from ledger.settlement import repository
from ledger.settlement import service as settlement
from ledger.settlement.models import Entitlement, Epoch, EpochDebit, EpochStatus, LedgerEntry
from ledger.settlement.service import MirrorBehind, build_epoch, post_epoch, settle
from tests.support import Chain

pytestmark = pytest.mark.chain

PRICE = 250_000  # 0.25 dUSD
REWARD = 10**18  # 1 LABEL
CLASSES = ["cat", "dog"]


@dataclass
class FundedDataset:
    id: int
    escrow_id: str
    items: dict[str, int]  # external id -> item id; every item is gold "cat"


# --- helpers ---


def sync(db: Database, chain: Chain) -> None:
    Mirror(db, chain.client, chain.deployment).sync_once()


def funded_dataset(
    db: Database, chain: Chain, *, items: int, fund: int, price: int = PRICE
) -> FundedDataset:
    """The buyer (DEV key 1) creates a dataset of gold items and funds its escrow on chain."""
    buyer = chain.buyer.address
    with db.unit_of_work() as session:
        grant_role(session, address=buyer, role=Role.buyer)
        dataset = datasets.create_dataset(
            session,
            buyer=buyer,
            spec=DatasetCreate(
                name="pets",
                label_classes=CLASSES,
                payment_token=chain.dusd.address,
                price_per_label=price,
                reward_per_label=REWARD,
            ),
            allowed_tokens=chain.deployment.payment_tokens,
        )
        datasets.upload_items(
            session,
            dataset=dataset,
            items=[ItemIn(id=f"img-{n}", data={"n": n}, gold="cat") for n in range(items)],
        )
        dataset_id, salt, escrow_id = dataset.id, dataset.escrow_salt, dataset.escrow_id
        ids = {
            item.external_id: item.id
            for item in session.scalars(select(Item).where(Item.dataset_id == dataset_id))
        }
    assert chain.fund_dataset(bytes.fromhex(salt[2:]), fund) == escrow_id
    sync(db, chain)
    return FundedDataset(id=dataset_id, escrow_id=escrow_id, items=ids)


def annotator() -> str:
    return str(Account.create().address)


def verify(db: Database, who: str, dataset: FundedDataset, *external_ids: str) -> list[int]:
    """`who` labels the items right; gold grading verifies each label at once."""
    label_ids = []
    with db.unit_of_work() as session:
        grant_role(session, address=who, role=Role.annotator)
        for external_id in external_ids:
            label = annotation.submit_label(
                session,
                annotator=who,
                spec=LabelCreate(item_id=dataset.items[external_id], value="cat"),
                now=utcnow(),
            )
            assert label.status is LabelStatus.verified
            label_ids.append(label.id)
    return label_ids


def count(db: Database, model: type[Any]) -> int:
    with db.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def label_epochs(db: Database, label_ids: list[int]) -> list[int | None]:
    with db.unit_of_work() as session:
        return [session.get(Label, i).epoch for i in label_ids]  # type: ignore[union-attr]


def entitlements(db: Database, epoch: int) -> dict[tuple[str, str], int]:
    with db.unit_of_work() as session:
        return repository.entitlements_at(session, epoch)


def nonce_of(chain: Chain, account: LocalAccount) -> int:
    return int(chain.client.w3.eth.get_transaction_count(account.address))


def current_epoch(chain: Chain) -> int:
    return int(chain.distributor.functions.currentEpoch().call())


def root_on_chain(chain: Chain, epoch: int) -> str:
    return "0x" + bytes(chain.distributor.functions.epochRoot(epoch).call()).hex()


def available_on_chain(chain: Chain, escrow_id: str) -> int:
    record = chain.escrow.functions.dataset(HexBytes(escrow_id)).call()
    return int(record[3])


def sign_and_store(db: Database, chain: Chain, number: int) -> bytes:
    """What post_epoch does up to the broadcast: the signed postEpoch stored, nothing sent."""
    with db.unit_of_work() as session:
        epoch = session.get(Epoch, number)
        assert epoch is not None
        debits = repository.debits_of(session, number)
        call = chain.distributor.functions.postEpoch(
            number,
            HexBytes(epoch.root),
            [HexBytes(d.escrow_id) for d in debits],
            [d.amount for d in debits],
        )
    return settlement._sign_and_store(db, chain.client, chain.operator, call, number)


def build(db: Database, chain: Chain) -> Epoch:
    with db.unit_of_work() as session:
        epoch = build_epoch(session, deployment=chain.deployment, now=utcnow())
    assert epoch is not None
    return epoch


def send_claim(chain: Chain, db: Database, account: str) -> TxReceipt:
    """Sends the account's claim bundle, as any wallet may (here the operator pays the gas)."""
    with db.unit_of_work() as session:
        bundle = claim_bundle(
            session, account=account, deployment=chain.deployment, client=chain.client
        )
    return send_raw(chain, chain.operator, to=bundle.to, data=bundle.data)


def send_raw(chain: Chain, sender: LocalAccount, *, to: str, data: str) -> TxReceipt:
    w3 = chain.client.w3
    tx: dict[str, Any] = {
        "from": sender.address,
        "to": to,
        "data": data,
        "nonce": w3.eth.get_transaction_count(sender.address, "pending"),
        "chainId": chain.client.chain_id,
    }
    tx["gas"] = w3.eth.estimate_gas(tx)  # type: ignore[arg-type]
    tx["maxFeePerGas"] = int(w3.eth.get_block("latest")["baseFeePerGas"]) * 2 + 10**9
    tx["maxPriorityFeePerGas"] = 10**9
    raw = bytes(sender.sign_transaction(tx).raw_transaction)
    return chain.client.wait(chain.client.broadcast(raw))


def claimed_amounts(chain: Chain, receipt: TxReceipt) -> dict[str, int]:
    events = chain.distributor.events.Claimed().process_receipt(receipt, errors=DISCARD)
    return {event["args"]["token"]: int(event["args"]["amount"]) for event in events}


# --- tests ---


def test_settle_with_nothing_payable_returns_none(chain: Chain, db: Database) -> None:
    sync(db, chain)
    nonce = nonce_of(chain, chain.operator)

    assert settle(db, chain.client, chain.deployment, chain.operator) is None
    assert current_epoch(chain) == 0
    assert nonce_of(chain, chain.operator) == nonce
    assert count(db, Epoch) == 0


def test_settle_twice_with_nothing_new_posts_once(chain: Chain, db: Database) -> None:
    dataset = funded_dataset(db, chain, items=3, fund=10 * PRICE)
    labels = verify(db, annotator(), dataset, "img-0", "img-1")

    first = settle(db, chain.client, chain.deployment, chain.operator)
    assert first is not None
    assert (first.number, first.status, first.label_count) == (1, EpochStatus.posted, 2)
    sync(db, chain)
    nonce = nonce_of(chain, chain.operator)

    assert settle(db, chain.client, chain.deployment, chain.operator) is None
    assert current_epoch(chain) == 1
    assert root_on_chain(chain, 1) == first.root
    assert nonce_of(chain, chain.operator) == nonce
    assert count(db, Epoch) == 1
    assert label_epochs(db, labels) == [1, 1]
    assert available_on_chain(chain, dataset.escrow_id) == 8 * PRICE


def test_post_epoch_after_crash_before_broadcast_posts_exactly_once(
    chain: Chain, db: Database
) -> None:
    dataset = funded_dataset(db, chain, items=3, fund=10 * PRICE)
    verify(db, annotator(), dataset, "img-0", "img-1", "img-2")
    built = build(db, chain)
    nonce = nonce_of(chain, chain.operator)

    raw_tx = sign_and_store(db, chain, built.number)  # ...and the process dies here
    with db.unit_of_work() as session:
        stored = session.get(Epoch, built.number)
        assert stored is not None
        assert stored.status is EpochStatus.sending
        assert stored.raw_tx == raw_tx.hex()
        tx_hash = stored.tx_hash
    assert tx_hash is not None
    assert chain.rpc("eth_getTransactionByHash", tx_hash) is None  # never broadcast
    assert current_epoch(chain) == 0

    posted = post_epoch(db, chain.client, chain.deployment, chain.operator, built.number)

    assert posted.status is EpochStatus.posted
    assert posted.tx_hash == tx_hash  # the stored bytes went out, not a new transaction
    assert posted.posted_block is not None
    assert current_epoch(chain) == 1
    assert root_on_chain(chain, 1) == built.root
    assert nonce_of(chain, chain.operator) == nonce + 1
    assert available_on_chain(chain, dataset.escrow_id) == 7 * PRICE
    # and once more changes nothing
    again = post_epoch(db, chain.client, chain.deployment, chain.operator, built.number)
    assert (again.status, again.tx_hash) == (EpochStatus.posted, tx_hash)
    assert nonce_of(chain, chain.operator) == nonce + 1


def test_post_epoch_after_crash_after_broadcast_only_records(chain: Chain, db: Database) -> None:
    dataset = funded_dataset(db, chain, items=2, fund=10 * PRICE)
    verify(db, annotator(), dataset, "img-0", "img-1")
    built = build(db, chain)
    nonce = nonce_of(chain, chain.operator)
    raw_tx = sign_and_store(db, chain, built.number)
    receipt = chain.client.wait(chain.client.broadcast(raw_tx))  # ...and the process dies here
    assert current_epoch(chain) == 1
    with db.unit_of_work() as session:
        assert session.get(Epoch, built.number).status is EpochStatus.sending  # type: ignore[union-attr]

    posted = post_epoch(db, chain.client, chain.deployment, chain.operator, built.number)

    assert posted.status is EpochStatus.posted
    assert posted.posted_block == int(receipt["blockNumber"])
    assert posted.tx_hash == "0x" + bytes(receipt["transactionHash"]).hex()
    assert nonce_of(chain, chain.operator) == nonce + 1  # nothing new was sent
    assert current_epoch(chain) == 1
    assert root_on_chain(chain, 1) == built.root
    assert available_on_chain(chain, dataset.escrow_id) == 8 * PRICE


def test_post_epoch_after_crash_with_transaction_still_pending_waits_for_it(
    chain: Chain, db: Database
) -> None:
    dataset = funded_dataset(db, chain, items=1, fund=10 * PRICE)
    verify(db, annotator(), dataset, "img-0")
    built = build(db, chain)
    nonce = nonce_of(chain, chain.operator)
    raw_tx = sign_and_store(db, chain, built.number)
    # as on a chain with block times: the broadcast is in the pool, not yet in a block
    chain.rpc("evm_setAutomine", False)
    miner = threading.Timer(1.0, chain.rpc, args=("evm_mine",))
    try:
        chain.client.broadcast(raw_tx)  # ...and the process dies here
        miner.start()
        posted = post_epoch(db, chain.client, chain.deployment, chain.operator, built.number)
    finally:
        miner.cancel()
        chain.rpc("evm_setAutomine", True)
        chain.rpc("evm_mine")  # never leave our transaction in the pool for the next test

    assert posted.status is EpochStatus.posted
    assert posted.tx_hash == chain.client.tx_hash_of(raw_tx)
    assert nonce_of(chain, chain.operator) == nonce + 1
    assert current_epoch(chain) == 1
    assert root_on_chain(chain, 1) == built.root


def test_post_epoch_after_stale_stored_transaction_signs_again_and_posts_once(
    chain: Chain, db: Database
) -> None:
    dataset = funded_dataset(db, chain, items=1, fund=10 * PRICE)
    verify(db, annotator(), dataset, "img-0")
    built = build(db, chain)
    raw_tx = sign_and_store(db, chain, built.number)
    # the operator key spends the stored transaction's nonce elsewhere before it went out
    chain.send(chain.dusd.functions.approve(chain.deployment.escrow, 1), chain.operator)
    nonce = nonce_of(chain, chain.operator)

    posted = post_epoch(db, chain.client, chain.deployment, chain.operator, built.number)

    assert posted.status is EpochStatus.posted
    assert posted.tx_hash != chain.client.tx_hash_of(raw_tx)
    assert nonce_of(chain, chain.operator) == nonce + 1
    assert current_epoch(chain) == 1
    assert root_on_chain(chain, 1) == built.root


def test_settle_refuses_debit_over_what_the_escrow_holds(chain: Chain, db: Database) -> None:
    closed = funded_dataset(db, chain, items=2, fund=10 * PRICE)
    still_open = funded_dataset(db, chain, items=2, fund=10 * PRICE)
    worker = annotator()
    unpaid = verify(db, worker, closed, "img-0", "img-1")
    payable = verify(db, worker, still_open, "img-0")
    # the buyer closes on chain (refunding everything) before the mirror sees it
    chain.send(chain.escrow.functions.close(HexBytes(closed.escrow_id)), chain.buyer)
    head, nonce = chain.head(), nonce_of(chain, chain.operator)

    with pytest.raises(ChainTransactionFailed) as caught:
        settle(db, chain.client, chain.deployment, chain.operator)

    assert caught.value.status_code == 422
    assert caught.value.code == "chain_transaction_failed"
    assert f"EscrowInsufficientFunds({closed.escrow_id}, 0, {2 * PRICE})" in caught.value.message
    # the epoch is gone and its labels are free for a later round
    for model in (Epoch, Entitlement, EpochDebit, LedgerEntry):
        assert count(db, model) == 0, model.__tablename__
    assert label_epochs(db, unpaid + payable) == [None, None, None]
    # nothing happened on chain
    assert chain.head() == head
    assert nonce_of(chain, chain.operator) == nonce
    assert current_epoch(chain) == 0
    assert available_on_chain(chain, still_open.escrow_id) == 10 * PRICE

    # once the mirror has seen the close, a retry pays what the open escrow can cover
    sync(db, chain)
    retried = settle(db, chain.client, chain.deployment, chain.operator)
    assert retried is not None
    assert (retried.number, retried.label_count) == (1, 1)
    assert label_epochs(db, unpaid + payable) == [None, None, 1]
    assert available_on_chain(chain, still_open.escrow_id) == 9 * PRICE
    assert entitlements(db, 1) == {
        (worker, chain.dusd.address): PRICE,
        (worker, chain.label.address): REWARD,
    }


def test_settle_after_post_epoch_reverted_on_chain_discards_the_epoch(
    chain: Chain, db: Database
) -> None:
    closed = funded_dataset(db, chain, items=1, fund=10 * PRICE)
    still_open = funded_dataset(db, chain, items=1, fund=10 * PRICE)
    worker = annotator()
    unpaid = verify(db, worker, closed, "img-0")
    payable = verify(db, worker, still_open, "img-0")
    built = build(db, chain)
    raw_tx = sign_and_store(db, chain, built.number)  # simulated fine: the escrow held enough
    # the buyer's close is mined before our postEpoch, which then reverts and spends its nonce
    chain.send(chain.escrow.functions.close(HexBytes(closed.escrow_id)), chain.buyer)
    with pytest.raises(ChainTransactionFailed, match="reverted on chain"):
        chain.client.wait(chain.client.broadcast(raw_tx))
    assert current_epoch(chain) == 0

    with pytest.raises(ChainTransactionFailed) as caught:
        settle(db, chain.client, chain.deployment, chain.operator)

    assert (caught.value.status_code, caught.value.code) == (422, "chain_transaction_failed")
    # the stored transaction can never post epoch 1: the epoch must not stay in flight forever
    for model in (Epoch, Entitlement, EpochDebit, LedgerEntry):
        assert count(db, model) == 0, model.__tablename__
    assert label_epochs(db, unpaid + payable) == [None, None]

    sync(db, chain)
    retried = settle(db, chain.client, chain.deployment, chain.operator)
    assert retried is not None
    assert (retried.number, retried.label_count) == (1, 1)
    assert label_epochs(db, unpaid + payable) == [None, 1]
    assert current_epoch(chain) == 1


def test_second_epoch_is_cumulative_and_its_claim_pays_only_the_difference(
    chain: Chain, db: Database
) -> None:
    dataset = funded_dataset(db, chain, items=6, fund=10 * PRICE)
    dusd, label = chain.dusd.address, chain.label.address
    first, second, third = annotator(), annotator(), annotator()
    verify(db, first, dataset, "img-0", "img-1")
    verify(db, second, dataset, "img-2")
    one = settle(db, chain.client, chain.deployment, chain.operator)
    assert one is not None
    assert one.number == 1
    epoch_one = entitlements(db, 1)
    assert epoch_one == {
        (first, dusd): 2 * PRICE,
        (first, label): 2 * REWARD,
        (second, dusd): PRICE,
        (second, label): REWARD,
    }
    sync(db, chain)
    assert claimed_amounts(chain, send_claim(chain, db, first)) == {
        dusd: 2 * PRICE,
        label: 2 * REWARD,
    }
    # a proof of epoch 1, kept for later
    with db.unit_of_work() as session:
        stale_bundle = claim_bundle(
            session, account=second, deployment=chain.deployment, client=chain.client
        )

    verify(db, first, dataset, "img-3")
    verify(db, third, dataset, "img-4")
    two = settle(db, chain.client, chain.deployment, chain.operator)
    assert two is not None
    assert (two.number, two.label_count) == (2, 2)

    assert entitlements(db, 2) == {
        (first, dusd): 3 * PRICE,
        (first, label): 3 * REWARD,
        (second, dusd): PRICE,
        (second, label): REWARD,
        (third, dusd): PRICE,
        (third, label): REWARD,
    }
    assert current_epoch(chain) == 2
    assert root_on_chain(chain, 2) == two.root
    with db.unit_of_work() as session:
        debits = repository.debits_of(session, 2)
        assert [(d.escrow_id, d.amount, d.label_count) for d in debits] == [
            (dataset.escrow_id, 2 * PRICE, 2)
        ]

    receipt = send_claim(chain, db, first)
    assert claimed_amounts(chain, receipt) == {dusd: PRICE, label: REWARD}  # only the new label
    assert chain.dusd.functions.balanceOf(first).call() == 3 * PRICE
    assert chain.label.functions.balanceOf(first).call() == 3 * REWARD
    assert claimed_amounts(chain, send_claim(chain, db, first)) == {}  # again: nothing more
    assert claimed_amounts(chain, send_claim(chain, db, second)) == {dusd: PRICE, label: REWARD}
    # the epoch-1 proof no longer matches the root the chain holds
    stale_claim = chain.distributor.functions.claim(
        second,
        [
            (e.token, e.cumulative, [HexBytes(p) for p in e.proof])
            for e in stale_bundle.entitlements
        ],
    )
    with pytest.raises(ChainTransactionFailed, match=r"DistributorInvalidProof\("):
        chain.client.sign(stale_claim, chain.operator)
    assert available_on_chain(chain, dataset.escrow_id) == 5 * PRICE


def test_build_epoch_before_the_mirror_saw_the_last_refuses_mirror_behind(
    chain: Chain, db: Database
) -> None:
    dataset = funded_dataset(db, chain, items=3, fund=10 * PRICE)
    worker = annotator()
    verify(db, worker, dataset, "img-0")
    one = settle(db, chain.client, chain.deployment, chain.operator)
    assert one is not None
    later = verify(db, worker, dataset, "img-1")  # the mirror has not seen epoch 1
    nonce = nonce_of(chain, chain.operator)

    with pytest.raises(MirrorBehind) as caught:
        settle(db, chain.client, chain.deployment, chain.operator)

    assert caught.value.status_code == 409
    assert caught.value.code == "mirror_behind"
    assert count(db, Epoch) == 1
    assert set(entitlements(db, 1).values()) == {PRICE, REWARD}
    assert count(db, Entitlement) == 2
    assert label_epochs(db, later) == [None]
    assert nonce_of(chain, chain.operator) == nonce
    assert current_epoch(chain) == 1

    sync(db, chain)
    two = settle(db, chain.client, chain.deployment, chain.operator)
    assert two is not None
    assert two.number == 2
    assert label_epochs(db, later) == [2]


def test_assign_labels_refuses_a_label_another_epoch_took_and_stores_nothing(
    chain: Chain, db: Database
) -> None:
    dataset = funded_dataset(db, chain, items=2, fund=10 * PRICE)
    label_ids = verify(db, annotator(), dataset, "img-0", "img-1")
    built = build(db, chain)  # epoch 1 took both labels

    def build_epoch_two_over_the_same_labels() -> None:
        with db.unit_of_work() as session:
            session.add(
                Epoch(number=2, root=built.root, label_count=2, payout_tree=built.payout_tree)
            )
            session.flush()
            repository.assign_labels(session, label_ids=label_ids, epoch=2)

    with pytest.raises(repository.LabelsTakenMeanwhile):
        build_epoch_two_over_the_same_labels()
    with db.unit_of_work() as session:
        assert session.get(Epoch, 2) is None
        assert {session.get(Label, i).epoch for i in label_ids} == {1}  # type: ignore[union-attr]
