"""Settling an epoch: pay every verified, unpaid label, publish cumulative entitlements on chain.

Two steps, each safe to crash in and to repeat:

1. `build_epoch`, one SQL transaction: assigns payable labels to epoch N, records the new
   cumulative entitlement of every (account, token), the per-dataset debits, the ledger entries
   and the payout tree. Either all of it exists or none.
2. `post_epoch`: asks the chain first. If the chain already holds epoch N with our root, it only
   records that. Otherwise it signs `postEpoch` once, stores the signed bytes, and only then
   broadcasts; after a crash the same bytes are sent again, and a transaction with the same
   nonce cannot be mined twice. Cumulative amounts make a repeated claim pay nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from sqlalchemy.orm import Session
from web3.contract.contract import ContractFunction

from ledger.chain.client import (
    ChainClient,
    ChainTransactionFailed,
    Deployment,
    StaleTransaction,
)
from ledger.dataset.models import Dataset
from ledger.dataset.service import escrow_record
from ledger.kit.db import Database, utcnow
from ledger.kit.errors import ChainStateMismatch, Conflict
from ledger.merkle import StandardMerkleTree
from ledger.settlement import repository
from ledger.settlement.models import (
    Entitlement,
    EntrySide,
    Epoch,
    EpochDebit,
    EpochStatus,
    LedgerEntry,
)

log = logging.getLogger(__name__)

PAYOUT_LEAF_ENCODING = ("address", "address", "uint256")


class MirrorBehind(Conflict):
    code = "mirror_behind"


class EpochInFlight(Conflict):
    code = "epoch_in_flight"


@dataclass(frozen=True)
class _Payable:
    label_ids: list[int]
    earnings: Counter[tuple[str, str]]  # (annotator, token) -> amount
    debits: dict[int, tuple[Dataset, int, int]]  # dataset id -> (dataset, amount, labels)
    movements: Counter[tuple[str, str, str]]  # (from ledger account, annotator, token) -> amount


def _select_payable(session: Session, *, label_token: str) -> _Payable:
    """Takes labels in verification order while each dataset's escrow can still pay them."""
    budget: dict[int, int] = {}
    payable = _Payable([], Counter(), {}, Counter())
    for label, dataset in repository.payable_labels(session):
        if dataset.id not in budget:
            record = escrow_record(session, dataset)
            budget[dataset.id] = record.available if record and not record.closed else 0
        price, reward = label.price or 0, label.reward or 0
        if price > budget[dataset.id]:
            continue  # waits for a top-up; later labels of other datasets still settle
        budget[dataset.id] -= price
        payable.label_ids.append(label.id)
        _, debited, count = payable.debits.get(dataset.id, (dataset, 0, 0))
        payable.debits[dataset.id] = (dataset, debited + price, count + 1)
        if price:
            payable.earnings[(label.annotator, dataset.payment_token)] += price
            payable.movements[
                (f"escrow:{dataset.escrow_id}", label.annotator, dataset.payment_token)
            ] += price
        if reward:
            payable.earnings[(label.annotator, label_token)] += reward
            payable.movements[(f"mint:{label_token}", label.annotator, label_token)] += reward
    return payable


def build_epoch(session: Session, *, deployment: Deployment, now: dt.datetime) -> Epoch | None:
    """Builds the next epoch from every payable label; None when there is nothing to pay."""
    pending = repository.unposted_epoch(session)
    if pending is not None:
        raise EpochInFlight(f"epoch {pending.number} is not on chain yet: post it first")
    if not repository.has_payable_labels(session):
        return None
    last = repository.last_epoch(session)
    number = (last.number if last else 0) + 1
    if last is not None and repository.mirrored_epoch(session) < last.number:
        # Escrow balances are read from the mirror; they must include the last epoch's debits.
        raise MirrorBehind(f"the mirror has not seen epoch {last.number} yet; retry shortly")
    payable = _select_payable(session, label_token=deployment.label_token)
    if not payable.label_ids:
        return None

    cumulative: defaultdict[tuple[str, str], int] = defaultdict(int)
    if last is not None:
        cumulative.update(repository.entitlements_at(session, last.number))
    for key, amount in payable.earnings.items():
        cumulative[key] += amount
    leaves = sorted(cumulative.items())
    tree = StandardMerkleTree.of(
        [[account, token, str(amount)] for (account, token), amount in leaves],
        PAYOUT_LEAF_ENCODING,
    )
    epoch = Epoch(
        number=number,
        status=EpochStatus.built,
        root=tree.root,
        label_count=len(payable.label_ids),
        payout_tree=tree.dumps(),
        created_at=now,
    )
    session.add(epoch)
    session.flush()
    session.add_all(
        Entitlement(epoch=number, account=account, token=token, cumulative=amount)
        for (account, token), amount in leaves
    )
    session.add_all(
        EpochDebit(
            epoch=number,
            dataset_id=dataset_id,
            escrow_id=dataset.escrow_id,
            amount=amount,
            label_count=count,
        )
        for dataset_id, (dataset, amount, count) in payable.debits.items()
        if amount > 0  # the escrow refuses a zero debit; reward-only datasets debit nothing
    )
    for (source, annotator, token), amount in payable.movements.items():
        correlation = f"epoch:{number}:{source}:{annotator}"
        session.add_all(
            [
                LedgerEntry(
                    correlation_id=correlation,
                    epoch=number,
                    ledger_account=source,
                    token=token,
                    side=EntrySide.debit,
                    amount=amount,
                ),
                LedgerEntry(
                    correlation_id=correlation,
                    epoch=number,
                    ledger_account=f"annotator:{annotator}",
                    token=token,
                    side=EntrySide.credit,
                    amount=amount,
                ),
            ]
        )
    repository.assign_labels(session, label_ids=payable.label_ids, epoch=number)
    session.flush()
    log.info("built epoch %s: %s labels, root %s", number, epoch.label_count, epoch.root)
    return epoch


def post_epoch(
    db: Database,
    client: ChainClient,
    deployment: Deployment,
    operator: LocalAccount,
    number: int,
) -> Epoch:
    """Puts epoch `number` on chain exactly once, whatever happened before this call."""
    distributor = client.contract("EpochDistributor", deployment.distributor)
    with db.unit_of_work() as session:
        epoch = session.get(Epoch, number)
        if epoch is None:
            raise ChainStateMismatch(f"epoch {number} does not exist here")
        if epoch.status is EpochStatus.posted:
            return epoch
        debits = repository.debits_of(session, number)
        call = distributor.functions.postEpoch(
            number,
            bytes.fromhex(epoch.root[2:]),
            [bytes.fromhex(d.escrow_id[2:]) for d in debits],
            [d.amount for d in debits],
        )
        raw_tx = bytes.fromhex(epoch.raw_tx) if epoch.raw_tx else None

    on_chain = int(distributor.functions.currentEpoch().call())
    if on_chain >= number:
        return _record_posted(
            db,
            client,
            distributor_root=distributor.functions.epochRoot(number).call(),
            number=number,
        )
    if on_chain != number - 1:
        raise ChainStateMismatch(
            f"the distributor is at epoch {on_chain}, so epoch {number} cannot follow: "
            "is this database paired with another deployment?"
        )
    for _attempt in range(2):
        if raw_tx is None:
            raw_tx = _sign_and_store(db, client, operator, call, number)
        try:
            tx_hash = client.broadcast(raw_tx)
        except StaleTransaction:
            # Our stored transaction can never be mined (its nonce went elsewhere) and the chain
            # does not hold the epoch: signing anew cannot double-post.
            log.warning("epoch %s: stored transaction is stale, signing again", number)
            raw_tx = None
            continue
        try:
            client.wait(tx_hash)
        except ChainTransactionFailed:
            # Mined but reverted (say the escrow was closed meanwhile): its nonce is spent and
            # the chain has no epoch N, so nothing was paid. Free the labels for a fresh build.
            if int(distributor.functions.currentEpoch().call()) < number:
                with db.unit_of_work() as session:
                    repository.discard_epoch(session, number)
            raise
        break
    return _record_posted(
        db, client, distributor_root=distributor.functions.epochRoot(number).call(), number=number
    )


def _sign_and_store(
    db: Database,
    client: ChainClient,
    operator: LocalAccount,
    call: ContractFunction,
    number: int,
) -> bytes:
    try:
        raw_tx = client.sign(call, operator)
    except ChainTransactionFailed:
        # Nothing was sent: drop the epoch so its labels are rebuilt from fresh balances.
        with db.unit_of_work() as session:
            repository.discard_epoch(session, number)
        raise
    # Stored before it is broadcast: after a crash we resend these bytes, never new ones.
    with db.unit_of_work() as session:
        epoch = session.get(Epoch, number)
        assert epoch is not None
        epoch.raw_tx = raw_tx.hex()
        epoch.tx_hash = client.tx_hash_of(raw_tx)
        epoch.status = EpochStatus.sending
    return raw_tx


def _record_posted(
    db: Database, client: ChainClient, *, distributor_root: bytes, number: int
) -> Epoch:
    with db.unit_of_work() as session:
        epoch = session.get(Epoch, number)
        assert epoch is not None
        if "0x" + bytes(distributor_root).hex() != epoch.root:
            raise ChainStateMismatch(
                f"the chain holds root 0x{bytes(distributor_root).hex()} for epoch {number}, "
                f"we built {epoch.root}: stop and investigate before paying anything more"
            )
        if epoch.status is not EpochStatus.posted:
            epoch.status = EpochStatus.posted
            epoch.posted_at = utcnow()
            if epoch.tx_hash:
                receipt = client.w3.eth.get_transaction_receipt(epoch.tx_hash)  # type: ignore[arg-type]
                epoch.posted_block = int(receipt["blockNumber"])
        log.info("epoch %s is on chain with root %s", number, epoch.root)
        return epoch


# The periodic job and the operator endpoint may both call settle() in one process; across
# processes the epoch number's primary key refuses a second epoch N.
_settling = threading.Lock()


def settle(
    db: Database, client: ChainClient, deployment: Deployment, operator: LocalAccount
) -> Epoch | None:
    """One settlement round: finish any epoch in flight, then build and post the next one."""
    with _settling:
        return _settle(db, client, deployment, operator)


def _settle(
    db: Database, client: ChainClient, deployment: Deployment, operator: LocalAccount
) -> Epoch | None:
    with db.unit_of_work() as session:
        pending = repository.unposted_epoch(session)
        pending_number = pending.number if pending else None
    if pending_number is not None:
        post_epoch(db, client, deployment, operator, pending_number)
    with db.unit_of_work() as session:
        built = build_epoch(session, deployment=deployment, now=utcnow())
        number = built.number if built else None
    if number is None:
        return None
    return post_epoch(db, client, deployment, operator, number)


def payout_tree_dump(epoch: Epoch) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(epoch.payout_tree)
    return loaded
