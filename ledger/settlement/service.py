"""Settling an epoch: pay every verified, unpaid label its dataset's funds cover, on chain.

An epoch goes built -> sending -> proposed -> accepting -> accepted; every step is safe to crash
in and to repeat:

1. `build_epoch`, one SQL transaction: assigns payable labels to epoch N and records the new
   cumulative entitlements of every (account, payment token), the per-dataset debits and fees,
   the ledger entries, the payout tree, the label tree and the manifest whose keccak256 is the
   epoch's content hash. Either all of it exists or none.
2. `post_epoch`: asks the chain first (`epochCommitment(N)`). If the chain already holds our
   proposal it only records that. Otherwise it signs `proposeEpoch` once, stores the signed bytes
   and only then broadcasts; after a crash the same bytes are sent again, and a transaction with
   the same nonce cannot be mined twice. A proposal that reverted is discarded (labels freed).
3. `accept_epoch`: once the ledger's timelock has passed, `acceptEpoch` (same store-then-send
   discipline). Only then are claims paid against the epoch's root. If the guardian revoked the
   proposal meanwhile, the epoch is discarded and its labels are paid by the next one.

Cumulative amounts make a repeated claim pay nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from eth_abi.abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from sqlalchemy.orm import Session
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from ledger.annotation.models import Label, VerificationMethod
from ledger.annotation.service import auto_accept_due
from ledger.annotation.standing import reveal_due
from ledger.chain.client import (
    ChainClient,
    ChainTransactionFailed,
    Deployment,
    StaleTransaction,
)
from ledger.dataset.models import Dataset, Item
from ledger.dataset.service import chain_record, label_kind_of
from ledger.kit.db import Database, utcnow
from ledger.kit.errors import ChainStateMismatch, Conflict
from ledger.publication import (
    DatasetDebit,
    EpochFiles,
    GoldRejection,
    PaidLabel,
    build_epoch_files,
    graded_hash,
    label_hash,
)
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

BPS = 10_000
CLOSE_GRACE_PERIOD = 7 * 24 * 3600  # the ledger's CLOSE_GRACE_PERIOD
ZERO_HASH = b"\x00" * 32


class MirrorBehind(Conflict):
    code = "mirror_behind"


class EpochInFlight(Conflict):
    code = "epoch_in_flight"


class EpochNotAcceptableYet(Conflict):
    code = "epoch_not_acceptable_yet"


def fee_of(debit: int, fee_bps: int) -> int:
    """The ledger's fee on a debit, taken on top of it (rounded down, as on chain)."""
    return debit * fee_bps // BPS


def epoch_commitment(payout_root: str, label_root: str, content_hash: str) -> bytes:
    """The ledger's `epochCommitment`: keccak256(abi.encode(payoutRoot, labelRoot, contentHash))."""
    words = [bytes.fromhex(h[2:]) for h in (payout_root, label_root, content_hash)]
    return keccak(abi_encode(["bytes32", "bytes32", "bytes32"], words))


@dataclass
class _DatasetDebit:
    dataset: Dataset
    token_index: int
    fee_bps: int
    amount: int = 0
    labels: int = 0

    @property
    def fee(self) -> int:
        return fee_of(self.amount, self.fee_bps)


@dataclass
class _Payable:
    label_ids: list[int] = field(default_factory=list)
    # (annotator, token index) -> [payment, reward]
    earnings: defaultdict[tuple[str, int], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )
    debits: dict[int, _DatasetDebit] = field(default_factory=dict)  # by dataset id
    paid: list[PaidLabel] = field(default_factory=list)
    # (from ledger account, annotator, token) -> amount
    movements: Counter[tuple[str, str, str]] = field(default_factory=Counter)


def _select_payable(session: Session, *, deployment: Deployment) -> _Payable:
    """Takes labels in verification order while each dataset's funds still cover them, fee
    included. A closing dataset pays the labels submitted before its close was requested, also
    those its reviewers verify during the grace period: the work was done while it was open."""
    payable = _Payable()
    budget: dict[int, int] = {}
    paid_until: dict[int, dt.datetime | None] = {}
    for label, dataset, item in repository.payable_labels(session):
        if dataset.id not in budget:
            record = chain_record(session, dataset)
            usable = record is not None and record.status in ("open", "closing")
            budget[dataset.id] = record.available if record is not None and usable else 0
            paid_until[dataset.id] = (
                dt.datetime.fromtimestamp(record.close_due_at - CLOSE_GRACE_PERIOD, dt.UTC)
                if record is not None and record.status == "closing" and record.close_due_at
                else None
            )
            if record is not None and usable:
                payable.debits[dataset.id] = _DatasetDebit(
                    dataset, record.token_index, record.fee_bps
                )
        debit = payable.debits.get(dataset.id)
        if debit is None:
            continue  # not on the ledger, or closed
        cutoff = paid_until[dataset.id]
        if cutoff is not None and label.created_at >= cutoff:
            continue  # submitted after the buyer asked to close: the ledger owes it nothing
        price, reward = label.price or 0, label.reward or 0
        new_amount = debit.amount + price
        if new_amount + fee_of(new_amount, debit.fee_bps) > budget[dataset.id]:
            continue  # waits for a top-up; later labels of other datasets still settle
        debit.amount = new_amount
        debit.labels += 1
        payable.label_ids.append(label.id)
        entry = payable.earnings[(label.annotator, debit.token_index)]
        entry[0] += price
        entry[1] += reward
        payable.paid.append(paid_label(label, dataset, item))
        if price:
            payable.movements[
                (f"dataset:{dataset.chain_dataset_id}", label.annotator, dataset.payment_token)
            ] += price
        if reward:
            payable.movements[("issuance:LABEL", label.annotator, deployment.ledger)] += reward
    payable.debits = {k: d for k, d in payable.debits.items() if d.labels}
    return payable


def paid_label(label: Label, dataset: Dataset, item: Item) -> PaidLabel:
    """A verified label as the epoch paying it publishes it: hashes, method, amounts, and what
    the verdict rests on: the reviewer, the consensus count, or for gold the hash of the answer
    and of the label graded against it."""
    item_hash = item.item_hash
    evidence, graded = label.reviewer, None
    if label.method is VerificationMethod.consensus:
        evidence = label.agreement
    elif label.method is VerificationMethod.gold and item.gold_label is not None:
        evidence = graded_hash(dataset.gold_nonce, item_hash, item.gold_label)
        # a box or span matches its gold answer by overlap, not byte for byte: graded as it
        exact = label_kind_of(dataset).exact
        graded = graded_hash(dataset.gold_nonce, item_hash, label.value) if exact else evidence
    return PaidLabel(
        dataset_id=dataset.chain_dataset_id,
        item_id_hash=item_hash,
        annotator=label.annotator,
        label_hash=label_hash(label.salt, label.value),
        method=str(label.method or "review"),
        payment=label.price or 0,
        reward=label.reward or 0,
        evidence=evidence,
        graded=graded,
    )


def gold_rejection(label: Label, dataset: Dataset, item: Item) -> GoldRejection:
    item_hash = item.item_hash
    return GoldRejection(
        dataset_id=dataset.chain_dataset_id,
        item_id_hash=item_hash,
        annotator=label.annotator,
        label_hash=label_hash(label.salt, label.value),
        answer_hash=graded_hash(dataset.gold_nonce, item_hash, item.gold_label or ""),
        graded=graded_hash(dataset.gold_nonce, item_hash, label.value),
    )


def _account_order(key: tuple[str, int]) -> tuple[int, int]:
    return int(key[0], 16), key[1]


def build_epoch(session: Session, *, deployment: Deployment, now: dt.datetime) -> Epoch | None:
    """Builds the next epoch from every payable label; None when there is nothing to pay."""
    pending = repository.unaccepted_epoch(session)
    if pending is not None:
        raise EpochInFlight(f"epoch {pending.number} is not accepted on chain yet: finish it first")
    # gold verdicts past their seal are revealed, and labels nobody decided within their
    # dataset's review window are accepted: both are paid now
    reveal_due(session, now=now)
    auto_accept_due(session, now=now)
    if not repository.has_payable_labels(session):
        return None
    last = repository.last_epoch(session)
    number = (last.number if last else 0) + 1
    if last is not None:
        seen = repository.mirrored_proposal(session, last.number)
        if seen is None or seen.payout_root != last.payout_root or seen.status == "revoked":
            # Dataset balances are read from the mirror; they must include the last debits.
            raise MirrorBehind(f"the mirror has not seen epoch {last.number} yet; retry shortly")
    payable = _select_payable(session, deployment=deployment)
    if not payable.label_ids:
        return None

    cumulative: dict[tuple[str, int], tuple[int, int]] = {}
    if last is not None:
        cumulative.update(repository.entitlements_at(session, last.number))
    for key, (payment, reward) in payable.earnings.items():
        before = cumulative.get(key, (0, 0))
        cumulative[key] = (before[0] + payment, before[1] + reward)
    # Ascending (account, token) and unsorted by hash: consecutive annotators sit in adjacent
    # leaves, so a push batch's multiproof stays a handful of hashes.
    leaves = sorted(cumulative.items(), key=lambda item: _account_order(item[0]))
    debits = sorted(payable.debits.values(), key=lambda d: d.dataset.chain_dataset_id)
    rejected = repository.unpublished_gold_rejections(session)
    files = build_epoch_files(
        chain_id=deployment.chain_id,
        ledger=deployment.ledger,
        number=number,
        previous_payout_root=last.payout_root if last is not None else None,
        payout_leaves=[
            [account, str(index), str(pay), str(rew)] for (account, index), (pay, rew) in leaves
        ],
        paid=payable.paid,
        gold_rejections=[gold_rejection(label, dataset, item) for label, dataset, item in rejected],
        debits=[
            DatasetDebit(
                dataset_id=d.dataset.chain_dataset_id,
                token=d.token_index,
                fee_bps=d.fee_bps,
                debit=d.amount,
                fee=d.fee,
                labels=d.labels,
                terms_hash=d.dataset.salt,
            )
            for d in debits
        ],
    )
    epoch = Epoch(
        number=number,
        status=EpochStatus.built,
        payout_root=files.payout_root,
        label_root=files.label_root,
        content_hash=files.content_hash,
        label_count=len(payable.label_ids),
        payout_tree=files.payout_tree,
        label_tree=files.label_tree,
        manifest=files.manifest,
        verdicts=files.verdicts,
        created_at=now,
    )
    session.add(epoch)
    session.flush()
    session.add_all(
        Entitlement(
            epoch=number,
            account=account,
            token_index=index,
            cumulative_payment=payment,
            cumulative_reward=reward,
        )
        for (account, index), (payment, reward) in leaves
    )
    session.add_all(
        EpochDebit(
            epoch=number,
            dataset_id=d.dataset.id,
            chain_dataset_id=d.dataset.chain_dataset_id,
            amount=d.amount,
            fee=d.fee,
            label_count=d.labels,
        )
        for d in debits
    )
    movements = Counter(payable.movements)
    for d in debits:
        if d.fee:
            movements[
                (f"dataset:{d.dataset.chain_dataset_id}", "fees", d.dataset.payment_token)
            ] += d.fee
    for (source, beneficiary, token), amount in movements.items():
        correlation = f"epoch:{number}:{source}:{beneficiary}"
        book = "fees" if beneficiary == "fees" else f"annotator:{beneficiary}"
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
                    ledger_account=book,
                    token=token,
                    side=EntrySide.credit,
                    amount=amount,
                ),
            ]
        )
    repository.assign_labels(session, label_ids=payable.label_ids, epoch=number)
    repository.mark_published(
        session, label_ids=[label.id for label, _d, _i in rejected], epoch=number
    )
    session.flush()
    log.info("built epoch %s: %s labels, root %s", number, epoch.label_count, epoch.payout_root)
    return epoch


# --- proposing ------------------------------------------------------------------------------


def _ledger(client: ChainClient, deployment: Deployment) -> Contract:
    return client.contract("LabelLedger", deployment.ledger)


def _holds_proposal(ledger: Contract, number: int, commitment: bytes) -> bool:
    return bytes(ledger.functions.epochCommitment(number).call()) == commitment


def _mined_ok(client: ChainClient, tx_hash: str | None) -> TxReceipt | None:
    """The receipt of `tx_hash` if it was mined and succeeded, else None."""
    if tx_hash is None:
        return None
    receipt = client.receipt(tx_hash)
    return receipt if receipt is not None and receipt["status"] == 1 else None


def post_epoch(
    db: Database,
    client: ChainClient,
    deployment: Deployment,
    operator: LocalAccount,
    number: int,
) -> Epoch | None:
    """Proposes epoch `number` on chain exactly once, whatever happened before this call.

    Returns None when the epoch was proposed and then revoked by the guardian: it is discarded
    and its labels wait for the next epoch.
    """
    ledger = _ledger(client, deployment)
    with db.unit_of_work() as session:
        epoch = session.get(Epoch, number)
        if epoch is None:
            raise ChainStateMismatch(f"epoch {number} does not exist here")
        if epoch.status not in (EpochStatus.built, EpochStatus.sending):
            return epoch
        debits = repository.debits_of(session, number)
        commitment = epoch_commitment(epoch.payout_root, epoch.label_root, epoch.content_hash)
        call = ledger.functions.proposeEpoch(
            number,
            bytes.fromhex(epoch.payout_root[2:]),
            bytes.fromhex(epoch.label_root[2:]),
            bytes.fromhex(epoch.content_hash[2:]),
            [int(d.chain_dataset_id, 16) for d in debits],
            [d.amount for d in debits],
        )
        raw_tx = bytes.fromhex(epoch.raw_tx) if epoch.raw_tx else None
        tx_hash = epoch.tx_hash

    if _holds_proposal(ledger, number, commitment):
        return _record_proposed(db, client, deployment, number=number)
    accepted = int(ledger.functions.acceptedEpoch().call())
    if accepted >= number:
        raise ChainStateMismatch(
            f"the ledger accepted an epoch {number} that is not the one we built: "
            "stop and investigate before paying anything more"
        )
    if _mined_ok(client, tx_hash):
        # Our proposal was mined, yet the chain no longer holds it: the guardian revoked it.
        log.warning("epoch %s was proposed and then revoked on chain: discarding it", number)
        with db.unit_of_work() as session:
            repository.discard_epoch(session, number)
        return None
    if accepted != number - 1:
        raise ChainStateMismatch(
            f"the ledger is at epoch {accepted}, so epoch {number} cannot follow: "
            "is this database paired with another deployment?"
        )
    for _attempt in range(2):
        if raw_tx is None:
            raw_tx = _sign_and_store(db, client, operator, call, number)
        try:
            sent = client.broadcast(raw_tx)
        except StaleTransaction:
            # Our stored transaction can never be mined (its nonce went elsewhere) and the chain
            # does not hold the epoch: signing anew cannot double-propose.
            log.warning("epoch %s: stored transaction is stale, signing again", number)
            raw_tx = None
            continue
        try:
            client.wait(sent)
        except ChainTransactionFailed:
            # Mined but reverted (say a dataset was closed meanwhile): its nonce is spent and the
            # chain has no epoch N, so nothing was debited. Free the labels for a fresh build.
            if not _holds_proposal(ledger, number, commitment):
                with db.unit_of_work() as session:
                    repository.discard_epoch(session, number)
            raise
        break
    return _record_proposed(db, client, deployment, number=number)


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


def _record_proposed(
    db: Database, client: ChainClient, deployment: Deployment, *, number: int
) -> Epoch:
    ledger = _ledger(client, deployment)
    pending, _root, proposed_at = ledger.functions.pendingEpoch().call()
    accepted = int(ledger.functions.acceptedEpoch().call()) >= number
    with db.unit_of_work() as session:
        epoch = session.get(Epoch, number)
        assert epoch is not None
        if epoch.status in (EpochStatus.built, EpochStatus.sending):
            epoch.status = EpochStatus.proposed
            epoch.posted_at = utcnow()
            receipt = _mined_ok(client, epoch.tx_hash)
            if receipt is not None:
                epoch.posted_block = int(receipt["blockNumber"])
        if int(pending) == number and int(proposed_at):
            epoch.acceptable_at = int(proposed_at) + deployment.timelock
        if accepted:
            _mark_accepted(epoch)
        log.info("epoch %s is proposed on chain with root %s", number, epoch.payout_root)
        return epoch


def _mark_accepted(epoch: Epoch) -> None:
    if epoch.status is not EpochStatus.accepted:
        epoch.status = EpochStatus.accepted
        epoch.accepted_at = utcnow()


# --- accepting ------------------------------------------------------------------------------


def accept_epoch(
    db: Database,
    client: ChainClient,
    deployment: Deployment,
    operator: LocalAccount,
    number: int,
) -> Epoch | None:
    """Makes proposed epoch `number` claimable with `acceptEpoch`, once its timelock is over.

    Raises `EpochNotAcceptableYet` inside the timelock. Returns None when the guardian revoked the
    proposal: the epoch is then discarded and its labels are free for the next one.
    """
    ledger = _ledger(client, deployment)
    with db.unit_of_work() as session:
        epoch = session.get(Epoch, number)
        if epoch is None:
            raise ChainStateMismatch(f"epoch {number} does not exist here")
        if epoch.status is EpochStatus.accepted:
            return epoch
        if epoch.status not in (EpochStatus.proposed, EpochStatus.accepting):
            raise EpochInFlight(f"epoch {number} is not proposed yet")
        commitment = epoch_commitment(epoch.payout_root, epoch.label_root, epoch.content_hash)
        raw_tx = bytes.fromhex(epoch.accept_raw_tx) if epoch.accept_raw_tx else None
        acceptable_at = epoch.acceptable_at

    for _attempt in range(3):
        state = _chain_state_of(ledger, number, commitment)
        if state == "accepted":
            return _record_accepted(db, number)
        if state == "revoked":
            log.warning("epoch %s was revoked on chain: discarding it, its labels wait", number)
            with db.unit_of_work() as session:
                repository.discard_epoch(session, number)
            return None
        if raw_tx is None:
            try:
                raw_tx = client.sign(ledger.functions.acceptEpoch(), operator)
            except ChainTransactionFailed as exc:
                if "EpochTimelocked" in exc.message:
                    raise EpochNotAcceptableYet(
                        f"epoch {number} is in its timelock: acceptable from unix time "
                        f"{acceptable_at}"
                    ) from exc
                raise
            with db.unit_of_work() as session:
                stored = session.get(Epoch, number)
                assert stored is not None
                stored.accept_raw_tx = raw_tx.hex()
                stored.accept_tx_hash = client.tx_hash_of(raw_tx)
                stored.status = EpochStatus.accepting
        try:
            client.wait(client.broadcast(raw_tx))
        except StaleTransaction:
            raw_tx = None  # accepting twice cannot happen: the second one reverts
            continue
        except ChainTransactionFailed:
            # Reverted: someone accepted (anyone may) or the guardian revoked it first; the
            # chain's state, read again above, decides.
            raw_tx = None
            continue
        return _record_accepted(db, number)
    raise ChainStateMismatch(f"epoch {number} could not be accepted; see the chain at its state")


def _chain_state_of(ledger: Contract, number: int, commitment: bytes) -> str:
    """accepted, pending or revoked: where our proposal of epoch `number` stands on chain."""
    if int(ledger.functions.acceptedEpoch().call()) >= number:
        return "accepted"
    if _holds_proposal(ledger, number, commitment):
        return "pending"
    return "revoked"


def _record_accepted(db: Database, number: int) -> Epoch:
    with db.unit_of_work() as session:
        epoch = session.get(Epoch, number)
        assert epoch is not None
        _mark_accepted(epoch)
        log.info("epoch %s is accepted on chain: claimable", number)
        return epoch


# --- one round ------------------------------------------------------------------------------

# The periodic job and the operator endpoint may both call settle() in one process; across
# processes the epoch number's primary key refuses a second epoch N.
_settling = threading.Lock()


def settle(
    db: Database,
    client: ChainClient,
    deployment: Deployment,
    operator: LocalAccount,
    *,
    clock: Callable[[], dt.datetime] = utcnow,
) -> Epoch | None:
    """One settlement round: finish the epoch in flight (propose it, accept it once due, or drop
    it if revoked), then build, propose and, when the timelock allows, accept the next one.

    Returns the epoch it moved or left on chain (proposed or accepted), or None when there was
    nothing to do. An epoch still inside its timelock is returned as proposed, and nothing new is
    built.
    """
    with _settling:
        return _settle(db, client, deployment, operator, clock)


def _advance(
    db: Database, client: ChainClient, deployment: Deployment, operator: LocalAccount, number: int
) -> Epoch | None:
    proposed = post_epoch(db, client, deployment, operator, number)
    if proposed is None:
        return None
    try:
        return accept_epoch(db, client, deployment, operator, number)
    except EpochNotAcceptableYet:
        with db.unit_of_work() as session:
            return session.get(Epoch, number)


def _settle(
    db: Database,
    client: ChainClient,
    deployment: Deployment,
    operator: LocalAccount,
    clock: Callable[[], dt.datetime],
) -> Epoch | None:
    with db.unit_of_work() as session:
        pending = repository.unaccepted_epoch(session)
        pending_number = pending.number if pending else None
    current = None
    if pending_number is not None:
        current = _advance(db, client, deployment, operator, pending_number)
        if current is not None and current.status is not EpochStatus.accepted:
            return current  # still in its timelock: the next epoch waits for it
    with db.unit_of_work() as session:
        built = build_epoch(session, deployment=deployment, now=clock())
        number = built.number if built else None
    if number is None:
        return current  # the epoch just accepted, if any
    return _advance(db, client, deployment, operator, number)


def epoch_files(epoch: Epoch) -> EpochFiles:
    """The epoch's published files, as built."""
    return EpochFiles(
        number=epoch.number,
        manifest=epoch.manifest,
        payout_tree=epoch.payout_tree,
        label_tree=epoch.label_tree,
        verdicts=epoch.verdicts,
        payout_root=epoch.payout_root,
        label_root=epoch.label_root,
    )


def payout_tree_dump(epoch: Epoch) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(epoch.payout_tree)
    return loaded


def label_tree_dump(epoch: Epoch) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(epoch.label_tree)
    return loaded
