"""Settlement against a real Anvil, the real LabelLedger and a real database: crash safety,
refusals, the timelock, revocation, fees, closing and cumulative epochs.

Labels are made through the services (verified on gold items) and the mirror is synced by hand,
so each test decides exactly what the service has seen of the chain.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from sqlalchemy import func, select
from sqlalchemy.orm import Session, undefer
from web3.logs import DISCARD
from web3.types import TxReceipt

from ledger.annotation import service as annotation
from ledger.annotation.models import Label, LabelPayment, LabelStatus
from ledger.annotation.schemas import LabelCreate, ReviewCreate, Verdict
from ledger.auth.models import Role
from ledger.auth.service import grant_role
from ledger.chain.client import ChainClient, ChainTransactionFailed, decode_transaction
from ledger.claim.service import (
    NothingToClaim,
    claim_bundle,
    claim_many_args,
    push_batch,
    push_payouts,
)
from ledger.dataset import service as datasets
from ledger.dataset.ingest import ingest_records
from ledger.dataset.models import Dataset, Item
from ledger.dataset.schemas import DatasetCreate, VerificationSpec
from ledger.kit.db import Database, utcnow
from ledger.merkle import StandardMerkleTree, verify_multiproof
from ledger.mirror import repository as mirror_repository
from ledger.mirror.service import Mirror
from ledger.publication import (
    LABEL_LEAF_ENCODING,
    METHOD_CODES,
    PAYOUT_LEAF_ENCODING,
    graded_hash,
    item_id_hash,
    keccak_hex,
    label_hash,
)
from ledger.settlement import build as build_module
from ledger.settlement import repository
from ledger.settlement import service as settlement
from ledger.settlement.build import MirrorBehind, build_epoch
from ledger.settlement.models import Entitlement, Epoch, EpochDebit, EpochStatus, LedgerEntry
from ledger.settlement.service import EpochNotAcceptableYet, accept_epoch, post_epoch, settle
from ledger.storage import LocalBlobStore, MasterKey, MediaVault
from tests.support import Chain

pytestmark = pytest.mark.chain

PRICE = 250_000  # 0.25 dUSD
REWARD = 10**6  # 1 LABEL (6 decimals)
CLASSES = ["cat", "dog"]
DAY = 24 * 3600
#: Item data is sealed under a dataset key this vault wraps (no media: its store stays empty).
VAULT = MediaVault(LocalBlobStore(Path(tempfile.mkdtemp())), MasterKey.generate())


@dataclass
class FundedDataset:
    id: int
    chain_id: str  # the ledger's dataset id, 0x + 64 hex
    items: dict[str, int]  # external id -> item id; every item is gold "cat"


# --- helpers ---


def sync(db: Database, chain: Chain) -> None:
    Mirror(db, chain.client, chain.deployment).sync_once()


def funded_dataset(
    db: Database,
    chain: Chain,
    *,
    items: int,
    fund: int,
    price: int = PRICE,
    buyer: LocalAccount | None = None,
) -> FundedDataset:
    """The buyer (DEV key 1 by default) creates a dataset of gold items and funds it on chain."""
    buyer = buyer or chain.buyer
    with db.unit_of_work() as session:
        grant_role(session, address=buyer.address, role=Role.buyer)
        dataset = datasets.create_dataset(
            session,
            buyer=buyer.address,
            spec=DatasetCreate(
                name="pets",
                label_classes=CLASSES,
                payment_token=chain.dusd.address,
                price_per_label=price,
                reward_per_label=REWARD,
                # these tests settle gold-graded labels as soon as they are made
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
        salt, chain_id = dataset.salt, dataset.chain_dataset_id
        ids = {
            item.external_id: item.id
            for item in session.scalars(select(Item).where(Item.dataset_id == dataset_id))
        }
    assert chain.fund_dataset(bytes.fromhex(salt[2:]), fund, buyer=buyer) == chain_id
    sync(db, chain)
    return FundedDataset(id=dataset_id, chain_id=chain_id, items=ids)


def annotator() -> str:
    return str(Account.create().address)


def verify(
    db: Database,
    who: str,
    dataset: FundedDataset,
    *external_ids: str,
    now: dt.datetime | None = None,
) -> list[int]:
    """`who` labels the items right; gold grading verifies each label at once."""
    label_ids = []
    with db.unit_of_work() as session:
        grant_role(session, address=who, role=Role.annotator)
        for external_id in external_ids:
            label = annotation.submit_label(
                session,
                annotator=who,
                spec=LabelCreate(item_id=dataset.items[external_id], value="cat"),
                now=now or utcnow(),
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


def entitlements(db: Database, epoch: int) -> dict[tuple[str, int], tuple[int, int]]:
    with db.unit_of_work() as session:
        return repository.entitlements_at(session, epoch)


def nonce_of(chain: Chain, account: LocalAccount) -> int:
    return int(chain.client.w3.eth.get_transaction_count(account.address))


def accepted_epoch(chain: Chain) -> int:
    return int(chain.ledger.functions.acceptedEpoch().call())


def pending_on_chain(chain: Chain) -> tuple[int, str, int]:
    number, root, proposed_at = chain.ledger.functions.pendingEpoch().call()
    return int(number), "0x" + bytes(root).hex(), int(proposed_at)


def root_on_chain(chain: Chain) -> str:
    return "0x" + bytes(chain.ledger.functions.payoutRoot().call()).hex()


def available_on_chain(chain: Chain, dataset_id: str) -> int:
    return int(chain.dataset(dataset_id)[5])


def proposal_of(db: Database, chain: Chain, number: int) -> Any:
    """The proposeEpoch call for epoch `number` as built in the database."""
    with db.unit_of_work() as session:
        epoch = session.get(Epoch, number)
        assert epoch is not None
        debits = repository.debits_of(session, number)
        return chain.ledger.functions.proposeEpoch(
            number,
            HexBytes(epoch.payout_root),
            HexBytes(epoch.label_root),
            HexBytes(epoch.content_hash),
            [int(d.chain_dataset_id, 16) for d in debits],
            [d.amount for d in debits],
        )


def sign_and_store(db: Database, chain: Chain, number: int) -> bytes:
    """What post_epoch does up to the broadcast: the signed proposeEpoch stored, nothing sent."""
    call = proposal_of(db, chain, number)
    return settlement._sign_and_store(db, chain.client, chain.operator, call, number)


def build(db: Database, chain: Chain) -> Epoch:
    with db.unit_of_work() as session:
        epoch = build_epoch(session, deployment=chain.deployment, now=utcnow())
    assert epoch is not None
    return epoch


def settled(db: Database, chain: Chain) -> Epoch:
    epoch = settle(db, chain.client, chain.deployment, chain.operator)
    assert epoch is not None
    return stored(db, epoch.number)


def stored(db: Database, number: int) -> Epoch:
    """Epoch `number` as the database holds it, its trees and manifest loaded (the model defers
    them: settlement itself never reads them back)."""
    with db.unit_of_work() as session:
        epoch = session.get(
            Epoch,
            number,
            options=[
                undefer(Epoch.payout_tree),
                undefer(Epoch.label_tree),
                undefer(Epoch.manifest),
                undefer(Epoch.verdicts),
            ],
        )
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


def claimed_amounts(chain: Chain, receipt: TxReceipt) -> dict[tuple[str, int], tuple[int, int]]:
    events = chain.ledger.events.Claimed().process_receipt(receipt, errors=DISCARD)
    return {
        (e["args"]["account"], int(e["args"]["token"])): (
            int(e["args"]["payment"]),
            int(e["args"]["reward"]),
        )
        for e in events
    }


def close_on_chain(chain: Chain, dataset: FundedDataset) -> None:
    """The buyer requests the close, waits out the grace period and finalizes it (refund)."""
    chain.send(chain.ledger.functions.requestClose(int(dataset.chain_id, 16)), chain.buyer)
    chain.warp_to(chain.now() + 7 * DAY + 1)
    chain.send(chain.ledger.functions.finalizeClose(int(dataset.chain_id, 16)), chain.buyer)


# --- tests ---


def test_settle_with_nothing_payable_returns_none(chain: Chain, db: Database) -> None:
    sync(db, chain)
    nonce = nonce_of(chain, chain.operator)

    assert settle(db, chain.client, chain.deployment, chain.operator) is None
    assert accepted_epoch(chain) == 0
    assert nonce_of(chain, chain.operator) == nonce
    assert count(db, Epoch) == 0


def test_settle_with_timelock_zero_proposes_and_accepts_and_settles_once(
    chain: Chain, db: Database
) -> None:
    dataset = funded_dataset(db, chain, items=3, fund=10 * PRICE)
    labels = verify(db, annotator(), dataset, "img-0", "img-1")

    first = settled(db, chain)
    assert (first.number, first.status, first.label_count) == (1, EpochStatus.accepted, 2)
    assert first.accept_tx_hash is not None
    sync(db, chain)
    nonce = nonce_of(chain, chain.operator)

    assert settle(db, chain.client, chain.deployment, chain.operator) is None
    assert accepted_epoch(chain) == 1
    assert root_on_chain(chain) == first.payout_root
    assert nonce_of(chain, chain.operator) == nonce
    assert count(db, Epoch) == 1
    assert label_epochs(db, labels) == [1, 1]
    assert available_on_chain(chain, dataset.chain_id) == 8 * PRICE
    with db.unit_of_work() as session:
        proposal = mirror_repository.get_chain_epoch(session, 1)
        assert proposal is not None
        assert (proposal.status, proposal.payout_root) == ("accepted", first.payout_root)


def test_epoch_publishes_label_tree_and_manifest_whose_hash_is_on_chain(
    chain: Chain, db: Database
) -> None:
    dataset = funded_dataset(db, chain, items=3, fund=10 * PRICE)
    worker = annotator()
    verify(db, worker, dataset, "img-0", "img-2")

    epoch = settled(db, chain)

    commitment = chain.ledger.functions.epochCommitment(1).call()
    assert bytes(commitment) == settlement.epoch_commitment(
        epoch.payout_root, epoch.label_root, epoch.content_hash
    )
    assert epoch.content_hash == "0x" + keccak(epoch.manifest.encode()).hex()
    manifest = json.loads(epoch.manifest)
    assert manifest["payoutRoot"] == epoch.payout_root
    assert manifest["labelRoot"] == epoch.label_root
    with db.unit_of_work() as session:
        stored = session.get(Dataset, dataset.id)
        assert stored is not None
        salt, item_key, gold_key = stored.salt, stored.item_key, stored.gold_nonce
        salts = {
            label.item_id: label.salt
            for label in session.scalars(select(Label).where(Label.annotator == worker))
        }
    assert manifest["datasets"] == [
        {
            "datasetId": dataset.chain_id,
            "token": chain.dusd_index,
            "debit": str(2 * PRICE),
            "feeBps": 0,
            "fee": "0",
            "labels": 2,
            "termsHash": salt,
        }
    ]
    assert manifest["files"]["verdicts.json"] == keccak_hex(epoch.verdicts)
    # items and labels by salted hashes only: no item id, no guessable class hash
    items = {n: item_id_hash(item_key, f"img-{n}") for n in (0, 2)}
    assert items[0] != keccak_hex("img-0")
    hashes = {n: label_hash(salts[dataset.items[f"img-{n}"]], "cat") for n in (0, 2)}
    assert keccak_hex("cat") not in epoch.verdicts + epoch.label_tree
    verdicts = json.loads(epoch.verdicts)
    answers = {n: graded_hash(gold_key, items[n], "cat") for n in (0, 2)}
    assert verdicts["paid"] == sorted(
        [dataset.chain_id, items[n], worker, hashes[n], "gold", answers[n], answers[n]]
        for n in (0, 2)
    )
    labels = StandardMerkleTree.loads(epoch.label_tree)
    assert labels.root == epoch.label_root
    assert list(labels.leaf_encoding) == list(LABEL_LEAF_ENCODING)
    expected = {
        (
            str(int(dataset.chain_id, 16)),
            items[n],
            worker,
            hashes[n],
            str(METHOD_CODES["gold"]),
            str(PRICE),
            str(REWARD),
        )
        for n in (0, 2)
    }
    assert {tuple(value) for _, value in labels.entries()} == expected


def test_post_epoch_after_crash_before_broadcast_proposes_exactly_once(
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
    assert pending_on_chain(chain)[2] == 0

    posted = post_epoch(db, chain.client, chain.deployment, chain.operator, built.number)

    assert posted is not None
    assert posted.status is EpochStatus.proposed
    assert posted.tx_hash == tx_hash  # the stored bytes went out, not a new transaction
    assert posted.posted_block is not None
    assert posted.acceptable_at == pending_on_chain(chain)[2]  # timelock 0
    assert pending_on_chain(chain)[:2] == (1, built.payout_root)
    assert nonce_of(chain, chain.operator) == nonce + 1
    assert available_on_chain(chain, dataset.chain_id) == 7 * PRICE
    # and once more changes nothing
    again = post_epoch(db, chain.client, chain.deployment, chain.operator, built.number)
    assert again is not None
    assert (again.status, again.tx_hash) == (EpochStatus.proposed, tx_hash)
    assert nonce_of(chain, chain.operator) == nonce + 1


def test_post_epoch_after_crash_after_broadcast_only_records(chain: Chain, db: Database) -> None:
    dataset = funded_dataset(db, chain, items=2, fund=10 * PRICE)
    verify(db, annotator(), dataset, "img-0", "img-1")
    built = build(db, chain)
    nonce = nonce_of(chain, chain.operator)
    raw_tx = sign_and_store(db, chain, built.number)
    receipt = chain.client.wait(chain.client.broadcast(raw_tx))  # ...and the process dies here
    with db.unit_of_work() as session:
        assert session.get(Epoch, built.number).status is EpochStatus.sending  # type: ignore[union-attr]

    posted = post_epoch(db, chain.client, chain.deployment, chain.operator, built.number)

    assert posted is not None
    assert posted.status is EpochStatus.proposed
    assert posted.posted_block == int(receipt["blockNumber"])
    assert posted.tx_hash == "0x" + bytes(receipt["transactionHash"]).hex()
    assert nonce_of(chain, chain.operator) == nonce + 1  # nothing new was sent
    assert pending_on_chain(chain)[:2] == (1, built.payout_root)
    assert available_on_chain(chain, dataset.chain_id) == 8 * PRICE


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

    assert posted is not None
    assert posted.status is EpochStatus.proposed
    assert posted.tx_hash == chain.client.tx_hash_of(raw_tx)
    assert nonce_of(chain, chain.operator) == nonce + 1
    assert pending_on_chain(chain)[:2] == (1, built.payout_root)


def test_post_epoch_after_stale_stored_transaction_signs_again_and_proposes_once(
    chain: Chain, db: Database
) -> None:
    dataset = funded_dataset(db, chain, items=1, fund=10 * PRICE)
    verify(db, annotator(), dataset, "img-0")
    built = build(db, chain)
    raw_tx = sign_and_store(db, chain, built.number)
    # the operator key spends the stored transaction's nonce elsewhere before it went out
    chain.send(chain.dusd.functions.approve(chain.deployment.ledger, 1), chain.operator)
    nonce = nonce_of(chain, chain.operator)

    posted = post_epoch(db, chain.client, chain.deployment, chain.operator, built.number)

    assert posted is not None
    assert posted.status is EpochStatus.proposed
    assert posted.tx_hash != chain.client.tx_hash_of(raw_tx)
    assert nonce_of(chain, chain.operator) == nonce + 1
    assert pending_on_chain(chain)[:2] == (1, built.payout_root)


def test_accept_epoch_after_crash_before_broadcast_sends_the_stored_bytes(
    chain: Chain, db: Database
) -> None:
    dataset = funded_dataset(db, chain, items=1, fund=10 * PRICE)
    verify(db, annotator(), dataset, "img-0")
    built = build(db, chain)
    post_epoch(db, chain.client, chain.deployment, chain.operator, built.number)
    raw_tx = chain.client.sign(chain.ledger.functions.acceptEpoch(), chain.operator)
    with db.unit_of_work() as session:  # stored as accept_epoch stores it; then the crash
        epoch = session.get(Epoch, built.number)
        assert epoch is not None
        epoch.accept_raw_tx = raw_tx.hex()
        epoch.accept_tx_hash = chain.client.tx_hash_of(raw_tx)
        epoch.status = EpochStatus.accepting
    nonce = nonce_of(chain, chain.operator)

    accepted = accept_epoch(db, chain.client, chain.deployment, chain.operator, built.number)

    assert accepted is not None
    assert accepted.status is EpochStatus.accepted
    assert accepted.accept_tx_hash == chain.client.tx_hash_of(raw_tx)
    assert nonce_of(chain, chain.operator) == nonce + 1
    assert (accepted_epoch(chain), root_on_chain(chain)) == (1, built.payout_root)
    # already accepted: nothing more is sent
    accept_epoch(db, chain.client, chain.deployment, chain.operator, built.number)
    assert nonce_of(chain, chain.operator) == nonce + 1


def test_accept_after_the_timelock_makes_the_epoch_claimable(
    redeploy: Callable[..., Chain], db: Database
) -> None:
    chain = redeploy(timelock=DAY)
    dataset = funded_dataset(db, chain, items=2, fund=10 * PRICE)
    worker = annotator()
    verify(db, worker, dataset, "img-0")

    proposed = settled(db, chain)

    assert proposed.status is EpochStatus.proposed
    _, _, proposed_at = pending_on_chain(chain)
    assert proposed.acceptable_at == proposed_at + DAY
    assert accepted_epoch(chain) == 0
    assert root_on_chain(chain) == "0x" + "00" * 32
    # inside the timelock: no claim bundle, and accepting is refused with a 409
    with db.unit_of_work() as session, pytest.raises(NothingToClaim) as nothing:
        claim_bundle(session, account=worker, deployment=chain.deployment, client=chain.client)
    assert "becomes claimable once accepted" in nothing.value.message
    with pytest.raises(EpochNotAcceptableYet) as early:
        accept_epoch(db, chain.client, chain.deployment, chain.operator, 1)
    assert (early.value.status_code, early.value.code) == (409, "epoch_not_acceptable_yet")
    # a settle round inside the timelock leaves it pending and builds nothing new
    sync(db, chain)
    later = verify(db, worker, dataset, "img-1")
    again = settled(db, chain)
    assert (again.number, again.status) == (1, EpochStatus.proposed)
    assert label_epochs(db, later) == [None]
    # a claim against the pending root is refused by the ledger itself
    tree = StandardMerkleTree.loads(proposed.payout_tree)
    leaf = [worker, chain.dusd_index, PRICE, REWARD]
    premature = chain.ledger.functions.claim(
        *leaf,
        [
            HexBytes(p)
            for p in tree.get_proof([worker, str(chain.dusd_index), str(PRICE), str(REWARD)])
        ],
    )
    with pytest.raises(ChainTransactionFailed, match=r"ClaimInvalidProof\("):
        chain.client.sign(premature, chain.operator)

    chain.warp_to(proposed.acceptable_at or 0)
    accepted = settled(db, chain)  # accepts epoch 1, then builds and proposes epoch 2

    assert accepted_epoch(chain) == 1
    assert accepted.number == 2
    assert accepted.status is EpochStatus.proposed
    with db.unit_of_work() as session:
        assert session.get(Epoch, 1).status is EpochStatus.accepted  # type: ignore[union-attr]
    assert claimed_amounts(chain, send_claim(chain, db, worker)) == {
        (worker, chain.dusd_index): (PRICE, REWARD)
    }
    assert chain.dusd.functions.balanceOf(worker).call() == PRICE
    assert chain.ledger.functions.balanceOf(worker).call() == REWARD


def test_revoked_epoch_frees_its_labels_for_the_next_epoch(
    redeploy: Callable[..., Chain], db: Database
) -> None:
    chain = redeploy(timelock=DAY)
    dataset = funded_dataset(db, chain, items=3, fund=10 * PRICE)
    worker = annotator()
    labels = verify(db, worker, dataset, "img-0", "img-1")
    revoked = settled(db, chain)
    assert revoked.status is EpochStatus.proposed
    assert available_on_chain(chain, dataset.chain_id) == 8 * PRICE
    with db.unit_of_work() as session:
        debits = repository.debits_of(session, 1)
        ids, amounts = [int(d.chain_dataset_id, 16) for d in debits], [d.amount for d in debits]
    # the guardian (the deployer) revokes it inside the window
    chain.send(chain.ledger.functions.revokeEpoch(ids, amounts), chain.operator)
    assert available_on_chain(chain, dataset.chain_id) == 10 * PRICE
    sync(db, chain)
    with db.unit_of_work() as session:
        seen = mirror_repository.get_chain_epoch(session, 1)
        assert seen is not None
        assert seen.status == "revoked"
        record = mirror_repository.get_chain_dataset(session, dataset.chain_id)
        assert record is not None
        assert (record.available, record.debited) == (10 * PRICE, 0)

    more = verify(db, worker, dataset, "img-2")
    replacement = settled(db, chain)

    # epoch 1 again, now paying the freed labels and the new one
    assert (replacement.number, replacement.label_count) == (1, 3)
    assert replacement.payout_root != revoked.payout_root
    assert label_epochs(db, labels + more) == [1, 1, 1]
    assert pending_on_chain(chain)[:2] == (1, replacement.payout_root)
    assert entitlements(db, 1) == {(worker, chain.dusd_index): (3 * PRICE, 3 * REWARD)}
    assert available_on_chain(chain, dataset.chain_id) == 7 * PRICE
    assert count(db, Epoch) == 1


def test_revocation_seen_while_the_proposal_was_in_flight_discards_it(
    redeploy: Callable[..., Chain], db: Database
) -> None:
    chain = redeploy(timelock=DAY)
    dataset = funded_dataset(db, chain, items=1, fund=10 * PRICE)
    labels = verify(db, annotator(), dataset, "img-0")
    built = build(db, chain)
    raw_tx = sign_and_store(db, chain, built.number)
    chain.client.wait(chain.client.broadcast(raw_tx))  # ...and the process dies here
    with db.unit_of_work() as session:
        debits = repository.debits_of(session, 1)
        ids, amounts = [int(d.chain_dataset_id, 16) for d in debits], [d.amount for d in debits]
    chain.send(chain.ledger.functions.revokeEpoch(ids, amounts), chain.operator)
    nonce = nonce_of(chain, chain.operator)

    assert post_epoch(db, chain.client, chain.deployment, chain.operator, 1) is None

    assert count(db, Epoch) == 0
    assert label_epochs(db, labels) == [None]
    assert nonce_of(chain, chain.operator) == nonce  # never proposed again from stale bytes


def test_settle_refuses_debit_on_a_dataset_closed_meanwhile(chain: Chain, db: Database) -> None:
    closed = funded_dataset(db, chain, items=2, fund=10 * PRICE)
    still_open = funded_dataset(db, chain, items=2, fund=10 * PRICE)
    worker = annotator()
    unpaid = verify(db, worker, closed, "img-0", "img-1")
    payable = verify(db, worker, still_open, "img-0")
    # the buyer closes on chain (refunding everything) before the mirror sees it
    close_on_chain(chain, closed)
    head, nonce = chain.head(), nonce_of(chain, chain.operator)

    with pytest.raises(ChainTransactionFailed) as caught:
        settle(db, chain.client, chain.deployment, chain.operator)

    assert caught.value.status_code == 422
    assert caught.value.code == "chain_transaction_failed"
    assert f"DatasetIsClosed({int(closed.chain_id, 16)})" in caught.value.message
    # the epoch is gone and its labels are free for a later round
    for model in (Epoch, Entitlement, EpochDebit, LedgerEntry):
        assert count(db, model) == 0, model.__tablename__
    assert label_epochs(db, unpaid + payable) == [None, None, None]
    # nothing happened on chain
    assert chain.head() == head
    assert nonce_of(chain, chain.operator) == nonce
    assert accepted_epoch(chain) == 0
    assert available_on_chain(chain, still_open.chain_id) == 10 * PRICE

    # once the mirror has seen the close, a retry pays what the open dataset can cover
    sync(db, chain)
    retried = settled(db, chain)
    assert (retried.number, retried.label_count) == (1, 1)
    assert label_epochs(db, unpaid + payable) == [None, None, 1]
    assert available_on_chain(chain, still_open.chain_id) == 9 * PRICE
    assert entitlements(db, 1) == {(worker, chain.dusd_index): (PRICE, REWARD)}


def test_settle_after_proposal_reverted_on_chain_discards_the_epoch(
    chain: Chain, db: Database
) -> None:
    closed = funded_dataset(db, chain, items=1, fund=10 * PRICE)
    still_open = funded_dataset(db, chain, items=1, fund=10 * PRICE)
    worker = annotator()
    unpaid = verify(db, worker, closed, "img-0")
    payable = verify(db, worker, still_open, "img-0")
    built = build(db, chain)
    raw_tx = sign_and_store(db, chain, built.number)  # simulated fine: the dataset was open
    # the buyer's close is mined before our proposal, which then reverts and spends its nonce
    close_on_chain(chain, closed)
    with pytest.raises(ChainTransactionFailed, match="reverted on chain"):
        chain.client.wait(chain.client.broadcast(raw_tx))
    assert pending_on_chain(chain)[2] == 0

    with pytest.raises(ChainTransactionFailed) as caught:
        settle(db, chain.client, chain.deployment, chain.operator)

    assert (caught.value.status_code, caught.value.code) == (422, "chain_transaction_failed")
    # the stored transaction can never propose epoch 1: the epoch must not stay in flight
    for model in (Epoch, Entitlement, EpochDebit, LedgerEntry):
        assert count(db, model) == 0, model.__tablename__
    assert label_epochs(db, unpaid + payable) == [None, None]

    sync(db, chain)
    retried = settled(db, chain)
    assert (retried.number, retried.label_count) == (1, 1)
    assert label_epochs(db, unpaid + payable) == [None, 1]
    assert accepted_epoch(chain) == 1


def test_fee_is_taken_on_top_and_a_shortfall_including_the_fee_waits(
    redeploy: Callable[..., Chain], db: Database
) -> None:
    chain = redeploy(fee_bps=1000)  # 10 %
    # 3 labels of PRICE need 3 * PRICE + 10 % = 3.3 * PRICE; fund only 3 * PRICE
    dataset = funded_dataset(db, chain, items=3, fund=3 * PRICE)
    worker = annotator()
    labels = verify(db, worker, dataset, "img-0", "img-1", "img-2")

    epoch = settled(db, chain)

    # two labels (2 * PRICE + 0.2 * PRICE = 2.2 * PRICE) fit; the third would need 3.3
    assert epoch.label_count == 2
    assert label_epochs(db, labels) == [1, 1, None]
    with db.unit_of_work() as session:
        [debit] = repository.debits_of(session, 1)
        assert (debit.amount, debit.fee) == (2 * PRICE, 2 * PRICE // 10)
    assert available_on_chain(chain, dataset.chain_id) == 3 * PRICE - 2 * PRICE - 2 * PRICE // 10
    owed, fees = chain.ledger.functions.tokenState(chain.dusd_index).call()
    assert (owed, fees) == (2 * PRICE, 2 * PRICE // 10)
    sync(db, chain)
    with db.unit_of_work() as session:
        record = mirror_repository.get_chain_dataset(session, dataset.chain_id)
        assert record is not None
        assert (record.fee_bps, record.debited, record.fees) == (1000, 2 * PRICE, 2 * PRICE // 10)
        assert record.available == available_on_chain(chain, dataset.chain_id)
    # the annotator is paid the price, not less: the fee came on top
    assert claimed_amounts(chain, send_claim(chain, db, worker)) == {
        (worker, chain.dusd_index): (2 * PRICE, 2 * REWARD)
    }
    # a top-up covering the third label and its fee lets it settle
    chain.send(chain.dusd.functions.mint(chain.buyer.address, PRICE), chain.buyer)
    chain.send(chain.dusd.functions.approve(chain.deployment.ledger, PRICE), chain.buyer)
    chain.send(chain.ledger.functions.fund(int(dataset.chain_id, 16), PRICE), chain.buyer)
    sync(db, chain)
    assert settled(db, chain).label_count == 1
    assert label_epochs(db, labels) == [1, 1, 2]


def test_closing_dataset_still_pays_labels_verified_before_the_close(
    chain: Chain, db: Database
) -> None:
    dataset = funded_dataset(db, chain, items=3, fund=10 * PRICE)
    worker = annotator()
    before = verify(db, worker, dataset, "img-0", "img-1")
    close_at = int(utcnow().timestamp()) + 30
    chain.rpc("evm_setNextBlockTimestamp", close_at)
    chain.send(chain.ledger.functions.requestClose(int(dataset.chain_id, 16)), chain.buyer)
    # verified after the close was requested (the service had not seen it yet)
    after = verify(
        db, worker, dataset, "img-2", now=dt.datetime.fromtimestamp(close_at + 5, dt.UTC)
    )
    sync(db, chain)
    with db.unit_of_work() as session:
        record = mirror_repository.get_chain_dataset(session, dataset.chain_id)
        assert record is not None
        assert (record.status, record.close_due_at) == ("closing", close_at + 7 * DAY)

    epoch = settled(db, chain)

    assert epoch.label_count == 2
    assert label_epochs(db, before + after) == [1, 1, None]
    assert available_on_chain(chain, dataset.chain_id) == 8 * PRICE
    # the grace period over, finalizeClose refunds the rest; the late label is never paid
    chain.warp_to(close_at + 7 * DAY)
    buyer_before = chain.dusd.functions.balanceOf(chain.buyer.address).call()
    chain.send(chain.ledger.functions.finalizeClose(int(dataset.chain_id, 16)), chain.buyer)
    assert chain.dusd.functions.balanceOf(chain.buyer.address).call() == buyer_before + 8 * PRICE
    sync(db, chain)
    assert settle(db, chain.client, chain.deployment, chain.operator) is None
    assert claimed_amounts(chain, send_claim(chain, db, worker)) == {
        (worker, chain.dusd_index): (2 * PRICE, 2 * REWARD)
    }


def test_closing_dataset_pays_a_label_submitted_before_the_close_and_reviewed_in_the_grace(
    chain: Chain, db: Database
) -> None:
    dataset = funded_dataset(db, chain, items=1, fund=10 * PRICE)
    worker, reviewer = annotator(), annotator()
    close_at = int(utcnow().timestamp()) + 30
    ingest_records(
        db, VAULT, dataset_id=dataset.id, records=[{"id": "doc-0", "data": {}}], now=utcnow()
    )
    with db.unit_of_work() as session:
        record = datasets.get_dataset(session, dataset.id)
        datasets.appoint_reviewer(session, dataset=record, address=reviewer)
        grant_role(session, address=worker, role=Role.annotator)
        item_id = session.scalars(select(Item.id).where(Item.external_id == "doc-0")).one()
        pending = annotation.submit_label(
            session, annotator=worker, spec=LabelCreate(item_id=item_id, value="dog"), now=utcnow()
        )
        assert pending.status is LabelStatus.pending
        label_id = pending.id
    chain.rpc("evm_setNextBlockTimestamp", close_at)
    chain.send(chain.ledger.functions.requestClose(int(dataset.chain_id, 16)), chain.buyer)
    sync(db, chain)
    # the reviewer accepts it during the grace period: submitted while open, so it is paid
    with db.unit_of_work() as session:
        annotation.review_label(
            session,
            reviewer=reviewer,
            label_id=label_id,
            spec=ReviewCreate(verdict=Verdict.accept),
            now=dt.datetime.fromtimestamp(close_at + 60, dt.UTC),
        )
    epoch = settled(db, chain)
    assert (epoch.label_count, label_epochs(db, [label_id])) == (1, [1])
    assert entitlements(db, 1) == {(worker, chain.dusd_index): (PRICE, REWARD)}


def test_second_epoch_is_cumulative_and_its_claim_pays_only_the_difference(
    chain: Chain, db: Database
) -> None:
    dataset = funded_dataset(db, chain, items=6, fund=10 * PRICE)
    dusd = chain.dusd_index
    first, second, third = annotator(), annotator(), annotator()
    verify(db, first, dataset, "img-0", "img-1")
    verify(db, second, dataset, "img-2")
    one = settled(db, chain)
    assert one.number == 1
    assert entitlements(db, 1) == {
        (first, dusd): (2 * PRICE, 2 * REWARD),
        (second, dusd): (PRICE, REWARD),
    }
    sync(db, chain)
    assert claimed_amounts(chain, send_claim(chain, db, first)) == {
        (first, dusd): (2 * PRICE, 2 * REWARD)
    }
    # a proof of epoch 1, kept for later
    with db.unit_of_work() as session:
        stale_bundle = claim_bundle(
            session, account=second, deployment=chain.deployment, client=chain.client
        )

    verify(db, first, dataset, "img-3")
    verify(db, third, dataset, "img-4")
    two = settled(db, chain)
    assert (two.number, two.label_count) == (2, 2)

    assert entitlements(db, 2) == {
        (first, dusd): (3 * PRICE, 3 * REWARD),
        (second, dusd): (PRICE, REWARD),
        (third, dusd): (PRICE, REWARD),
    }
    assert accepted_epoch(chain) == 2
    assert root_on_chain(chain) == two.payout_root
    with db.unit_of_work() as session:
        debits = repository.debits_of(session, 2)
        assert [(d.chain_dataset_id, d.amount, d.label_count) for d in debits] == [
            (dataset.chain_id, 2 * PRICE, 2)
        ]

    receipt = send_claim(chain, db, first)
    assert claimed_amounts(chain, receipt) == {(first, dusd): (PRICE, REWARD)}  # the new label
    assert chain.dusd.functions.balanceOf(first).call() == 3 * PRICE
    assert chain.ledger.functions.balanceOf(first).call() == 3 * REWARD
    assert claimed_amounts(chain, send_claim(chain, db, first)) == {}  # again: nothing more
    assert claimed_amounts(chain, send_claim(chain, db, second)) == {
        (second, dusd): (PRICE, REWARD)
    }
    # the epoch-1 proof no longer matches the root the chain holds
    [stale] = stale_bundle.entitlements
    stale_claim = chain.ledger.functions.claim(
        second,
        stale.token_index,
        stale.cumulative_payment,
        stale.cumulative_reward,
        [HexBytes(p) for p in stale.proof],
    )
    with pytest.raises(ChainTransactionFailed, match=r"ClaimInvalidProof\("):
        chain.client.sign(stale_claim, chain.operator)
    assert available_on_chain(chain, dataset.chain_id) == 5 * PRICE


def test_payout_leaves_are_in_account_order_and_a_push_batch_verifies_on_chain(
    chain: Chain, db: Database
) -> None:
    dataset = funded_dataset(db, chain, items=12, fund=20 * PRICE)
    workers = [annotator() for _ in range(12)]
    for n, worker in enumerate(workers):
        verify(db, worker, dataset, f"img-{n}")
    epoch = settled(db, chain)
    tree = StandardMerkleTree.loads(epoch.payout_tree)
    accounts = [str(value[0]) for _, value in tree.entries()]
    assert accounts == sorted(workers, key=lambda a: int(a, 16))

    with db.unit_of_work() as session:
        batch = push_batch(session, start=3, count=6)
    assert [str(v[0]) for v in batch.leaves] == accounts[3:9]
    assert verify_multiproof(epoch.payout_root, PAYOUT_LEAF_ENCODING, batch.multiproof)
    # six consecutive leaves of twelve: a handful of hashes, not six proofs
    assert len(batch.multiproof.proof) <= 4
    receipt = chain.send(
        chain.ledger.functions.claimMany(*claim_many_args(batch.multiproof)), chain.operator
    )

    paid = claimed_amounts(chain, receipt)
    assert paid == {(a, chain.dusd_index): (PRICE, REWARD) for a in accounts[3:9]}
    for account in accounts[3:9]:
        assert chain.dusd.functions.balanceOf(account).call() == PRICE
    # a pull claim afterwards pays nothing more
    assert claimed_amounts(chain, send_claim(chain, db, accounts[4])) == {}


def test_push_payouts_pays_every_unclaimed_leaf_once_in_batches(chain: Chain, db: Database) -> None:
    dataset = funded_dataset(db, chain, items=5, fund=20 * PRICE)
    workers = [annotator() for _ in range(5)]
    for n, worker in enumerate(workers):
        verify(db, worker, dataset, f"img-{n}")
    settled(db, chain)
    sync(db, chain)
    # one annotator pulls first: the push leaves them out
    send_claim(chain, db, workers[0])
    sync(db, chain)
    progress: list[tuple[int, int]] = []
    nonce = nonce_of(chain, chain.operator)

    sent = push_payouts(
        db,
        chain.client,
        chain.deployment,
        chain.operator,
        batch_size=3,
        on_batch=lambda done, total: progress.append((done, total)),
    )

    assert (sent, progress) == (4, [(3, 4), (4, 4)])
    assert nonce_of(chain, chain.operator) == nonce + 2  # two claimMany transactions
    for worker in workers:
        assert chain.dusd.functions.balanceOf(worker).call() == PRICE
        assert chain.ledger.functions.balanceOf(worker).call() == REWARD
    # once the mirror has seen the payments there is nothing left to push
    sync(db, chain)
    assert push_payouts(db, chain.client, chain.deployment, chain.operator) == 0
    assert nonce_of(chain, chain.operator) == nonce + 2


def test_build_epoch_before_the_mirror_saw_the_last_refuses_mirror_behind(
    chain: Chain, db: Database
) -> None:
    dataset = funded_dataset(db, chain, items=3, fund=10 * PRICE)
    worker = annotator()
    verify(db, worker, dataset, "img-0")
    settled(db, chain)
    later = verify(db, worker, dataset, "img-1")  # the mirror has not seen epoch 1
    nonce = nonce_of(chain, chain.operator)

    with pytest.raises(MirrorBehind) as caught:
        settle(db, chain.client, chain.deployment, chain.operator)

    assert caught.value.status_code == 409
    assert caught.value.code == "mirror_behind"
    assert count(db, Epoch) == 1
    assert entitlements(db, 1) == {(worker, chain.dusd_index): (PRICE, REWARD)}
    assert label_epochs(db, later) == [None]
    assert nonce_of(chain, chain.operator) == nonce
    assert accepted_epoch(chain) == 1

    sync(db, chain)
    two = settled(db, chain)
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
                Epoch(
                    number=2,
                    payout_root=built.payout_root,
                    label_root=built.label_root,
                    content_hash=built.content_hash,
                    label_count=2,
                    payout_tree=built.payout_tree,
                    label_tree=built.label_tree,
                    manifest=built.manifest,
                    verdicts=built.verdicts,
                )
            )
            session.flush()
            repository.assign_labels(session, label_ids=label_ids, epoch=2)

    with pytest.raises(repository.LabelsTakenMeanwhile):
        build_epoch_two_over_the_same_labels()
    with db.unit_of_work() as session:
        assert session.get(Epoch, 2) is None
        assert {session.get(Label, i).epoch for i in label_ids} == {1}  # type: ignore[union-attr]


def writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "epoch-writes"]


def assert_nothing_stored(db: Database) -> None:
    assert count(db, Epoch) == 0
    assert count(db, LabelPayment) == 0
    assert count(db, Entitlement) == 0
    assert count(db, EpochDebit) == 0
    assert count(db, LedgerEntry) == 0


def test_a_label_taken_while_the_epoch_is_written_refuses_the_build_and_stores_nothing(
    chain: Chain, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The epoch's rows are written while its trees are built (in a thread on PostgreSQL): a
    label another epoch took between the selection and those writes makes `build_epoch` raise
    LabelsTakenMeanwhile in its caller, with the thread ended and nothing stored; the next build
    pays every label once."""
    dataset = funded_dataset(db, chain, items=3, fund=10 * PRICE)
    label_ids = verify(db, annotator(), dataset, "img-0", "img-1", "img-2")
    select_payable = build_module._select_payable

    def selected_then_taken(session: Session, **kwargs: Any) -> Any:
        payable = select_payable(session, **kwargs)
        taken = LabelPayment(label_id=payable.label_ids[1], epoch=99)  # by "another epoch"
        session.add(taken)
        session.flush()
        return payable

    monkeypatch.setattr(build_module, "_select_payable", selected_then_taken)
    with pytest.raises(repository.LabelsTakenMeanwhile):
        build(db, chain)
    assert writer_threads() == []
    assert_nothing_stored(db)

    monkeypatch.undo()
    epoch = build(db, chain)
    assert epoch.label_count == 3
    assert label_epochs(db, label_ids) == [1, 1, 1]
    assert count(db, LabelPayment) == 3


def test_a_failure_while_the_trees_are_built_waits_for_the_writes_and_stores_nothing(
    chain: Chain, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build fails after the rows were queued for writing: the caller sees its error only
    once the writes have ended (the transaction then rolls back on a connection nobody uses),
    and nothing is stored."""
    dataset = funded_dataset(db, chain, items=2, fund=10 * PRICE)
    label_ids = verify(db, annotator(), dataset, "img-0", "img-1")

    def files_fail(**_kwargs: Any) -> Any:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(build_module, "build_epoch_files_from_leaves", files_fail)
    with pytest.raises(RuntimeError, match="the disk is full"):
        build(db, chain)
    assert writer_threads() == []
    assert_nothing_stored(db)

    monkeypatch.undo()
    assert build(db, chain).label_count == 2
    assert label_epochs(db, label_ids) == [1, 1]


def test_a_stuck_proposal_is_replaced_with_higher_fees_stored_first_and_proposed_once(
    chain: Chain, db: Database
) -> None:
    """The base fee jumps after the proposal is signed: it sits in the pool unmined. After
    `stuck_after` seconds settlement replaces it (same nonce, fees +12.5%, capped), stores each
    version before it is broadcast, and the epoch is proposed exactly once, by the stored bytes."""
    dataset = funded_dataset(db, chain, items=2, fund=10 * PRICE)
    verify(db, annotator(), dataset, "img-0", "img-1")
    built = build(db, chain)
    nonce = nonce_of(chain, chain.operator)
    raw_tx = sign_and_store(db, chain, built.number)
    offered = int(decode_transaction(raw_tx)["maxFeePerGas"])
    client = ChainClient(chain.client.rpc_url, max_fee_per_gas_gwei=10_000, stuck_after=1.0)
    chain.rpc("evm_setAutomine", False)
    try:
        client.broadcast(raw_tx)
        chain.rpc("anvil_setNextBlockBaseFeePerGas", hex(offered * 3))
        chain.rpc("evm_mine")
        assert client.receipt(client.tx_hash_of(raw_tx)) is None  # stuck
        chain.rpc("evm_setIntervalMining", 1)

        posted = post_epoch(db, client, chain.deployment, chain.operator, built.number)
    finally:
        chain.rpc("evm_setIntervalMining", 0)
        chain.rpc("evm_setAutomine", True)

    assert posted is not None
    assert posted.status is EpochStatus.proposed
    assert posted.tx_hash != client.tx_hash_of(raw_tx)  # a replacement was mined...
    assert posted.raw_tx is not None
    mined = bytes(chain.client.w3.eth.get_raw_transaction(posted.tx_hash))
    assert mined.hex() == posted.raw_tx  # ...the very bytes stored before it was sent
    replacement = decode_transaction(mined)
    assert replacement["nonce"] == nonce
    assert int(replacement["maxFeePerGas"]) >= offered * 9 // 8
    assert chain.client.receipt(client.tx_hash_of(raw_tx)) is None  # the first one never was
    assert nonce_of(chain, chain.operator) == nonce + 1
    assert pending_on_chain(chain)[:2] == (built.number, built.payout_root)
    assert available_on_chain(chain, dataset.chain_id) == 8 * PRICE  # debited once
