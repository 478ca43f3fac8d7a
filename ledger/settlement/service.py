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
from collections.abc import Callable

from eth_abi.abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from ledger.chain.client import (
    ChainClient,
    ChainTransactionFailed,
    Deployment,
    StaleTransaction,
)
from ledger.kit.db import Database, utcnow
from ledger.kit.errors import ChainStateMismatch, Conflict
from ledger.kit.joblock import try_job_lock
from ledger.publication import (
    EpochFiles,
)
from ledger.settlement import repository
from ledger.settlement.build import EpochInFlight, build_epoch
from ledger.settlement.models import (
    Epoch,
    EpochStatus,
)

log = logging.getLogger(__name__)


class EpochNotAcceptableYet(Conflict):
    code = "epoch_not_acceptable_yet"


def epoch_commitment(payout_root: str, label_root: str, content_hash: str) -> bytes:
    """The ledger's `epochCommitment`: keccak256(abi.encode(payoutRoot, labelRoot, contentHash))."""
    words = [bytes.fromhex(h[2:]) for h in (payout_root, label_root, content_hash)]
    return keccak(abi_encode(["bytes32", "bytes32", "bytes32"], words))


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

# The job lock every settlement takes (ledger/kit/joblock.py): the periodic job of any worker
# and the operator endpoint of any API process, on one database, settle one at a time, so no
# round can propose, or discard, an epoch another round is moving.
_settling = "settlement"


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
    with try_job_lock(db, _settling) as held:
        if not held:
            raise EpochInFlight(
                "another settlement is running (another request or worker is moving the "
                "epoch): retry shortly"
            )
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
