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

When the chain forgets (issue 15: a dev chain restarted from a state saved before our last
transactions, an L2 sequencer reorganising before L1 finality, a deeper reorg), `recover_lost`
runs at the start of every round: each epoch we recorded as proposed or accepted that the chain no
longer holds goes back to the step the chain is at (`sending`, or `proposed` when only the
acceptance vanished), keeping its signed bytes, and the round re-broadcasts them: the same
transactions, the same nonces, oldest first. One that can no longer land (its nonce went to
another transaction, or it reverts, say because a dataset's deposit vanished with it) discards its
epoch and every later one, newest first (`repository.discard_from`); their labels are built into a
new epoch, so every verified label is paid exactly once in the end. A rebuilt epoch is checked
against what the chain says each account already claimed (`check_covers_claims`), and the claim
bundle is only served for the root the chain holds (ledger/claim/service.py).

Crash points (tests only): with `LABEL_LEDGER_CRASH_AT=<point>` in its environment, the process
SIGKILLs itself when settlement reaches that point: `before_sign_propose`,
`after_store_propose`, `after_broadcast_propose`, `after_mined_propose`,
`after_store_accept`, `after_broadcast_accept`, `after_accept`
(tests/integration/test_crash_recovery.py).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
from collections.abc import Callable

import rlp
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from sqlalchemy.orm import Session
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
from ledger.kit.errors import ChainStateMismatch, ChainUnavailable, Conflict
from ledger.kit.joblock import try_job_lock
from ledger.mirror.rpc import MirrorRpc, selector, word
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


CRASH_AT = "LABEL_LEDGER_CRASH_AT"


def crash_point(name: str) -> None:
    """Test-only: SIGKILLs this process at `name` when LABEL_LEDGER_CRASH_AT says so, as a
    power cut or the OOM killer would (no cleanup, no flush). Unset, it costs a dict lookup."""
    if os.environ.get(CRASH_AT) == name:
        log.critical("%s=%s: killing this process (pid %s) here", CRASH_AT, name, os.getpid())
        os.kill(os.getpid(), signal.SIGKILL)


def nonce_of(raw_tx: bytes) -> int:
    """The nonce of a signed transaction (legacy, EIP-2930 or EIP-1559)."""
    if raw_tx[0] >= 0xC0:  # legacy: rlp([nonce, gasPrice, ...])
        fields = rlp.decode(raw_tx)
        return int.from_bytes(fields[0], "big")
    fields = rlp.decode(raw_tx[1:])  # typed: type byte, then rlp([chainId, nonce, ...])
    return int.from_bytes(fields[1], "big")


def _truly_stale(client: ChainClient, operator: LocalAccount, raw_tx: bytes) -> bool:
    """Whether the node we read from has itself mined another transaction at `raw_tx`'s nonce
    (so ours can never land). A node that says "nonce too low" while its own count is not past
    the nonce answers from behind another: nothing may be concluded, least of all discarded."""
    used = int(client.w3.eth.get_transaction_count(operator.address, "latest"))
    return used > nonce_of(raw_tx) and client.receipt(client.tx_hash_of(raw_tx)) is None


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
            repository.discard_from(session, number, reason="revoked by the guardian")
        return None
    if accepted != number - 1:
        raise ChainStateMismatch(
            f"the ledger is at epoch {accepted}, so epoch {number} cannot follow: "
            "is this database paired with another deployment?"
        )
    _send_proposal(db, client, operator, call, number, raw_tx, ledger, commitment)
    return _record_proposed(db, client, deployment, number=number)


def _send_proposal(
    db: Database,
    client: ChainClient,
    operator: LocalAccount,
    call: ContractFunction,
    number: int,
    raw_tx: bytes | None,
    ledger: Contract,
    commitment: bytes,
) -> None:
    """Sends the stored proposal (signing and storing one first if there is none) until it is
    mined; a reverted one discards the epoch and every later one."""
    for _attempt in range(2):
        if raw_tx is None:
            crash_point("before_sign_propose")
            raw_tx = _sign_and_store(db, client, operator, call, number)
            crash_point("after_store_propose")
        try:
            client.offer(raw_tx, stale_ok=False)  # an underpriced one is replaced below
            crash_point("after_broadcast_propose")
            # replaced with higher fees while stuck, each version stored before it is sent
            client.send_until_mined(
                raw_tx,
                operator,
                store=lambda replacement: _store_proposal(db, client, number, replacement),
                stuck_after=client.stuck_after,
                timeout=client.stuck_after * 4,
            )
        except StaleTransaction as exc:
            if not _truly_stale(client, operator, raw_tx):
                raise ChainUnavailable(
                    f"epoch {number}: the node refuses our stored proposal as already used, yet "
                    "its own state does not show that nonce used: it answers from behind; "
                    "retrying next round"
                ) from exc
            # Our stored transaction can never be mined (its nonce went elsewhere) and the chain
            # does not hold the epoch: signing anew cannot double-propose.
            log.warning("epoch %s: stored transaction is stale, signing again", number)
            raw_tx = None
            continue
        except ChainTransactionFailed:
            # Mined but reverted (say a dataset was closed meanwhile, or its deposit vanished
            # with a rollback): its nonce is spent and the chain has no epoch N, so nothing was
            # debited. Free the labels (of any later epoch too) for a fresh build.
            if not _holds_proposal(ledger, number, commitment):
                with db.unit_of_work() as session:
                    repository.discard_from(session, number, reason="its proposal reverted")
            raise
        crash_point("after_mined_propose")
        break
    else:
        raise ChainUnavailable(
            f"epoch {number}: the proposal's nonce keeps going to other transactions; "
            "retrying next round"
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
    except ChainTransactionFailed as exc:
        # Nothing was sent: drop the epoch so its labels are rebuilt from fresh balances.
        with db.unit_of_work() as session:
            repository.discard_from(session, number, reason=f"its proposal would revert: {exc}")
        raise
    # Stored before it is broadcast: after a crash we resend these bytes, never new ones.
    _store_proposal(db, client, number, raw_tx)
    return raw_tx


def _store_proposal(db: Database, client: ChainClient, number: int, raw_tx: bytes) -> None:
    """Commits the signed `proposeEpoch` of epoch `number` (the first one, or a replacement
    with higher fees for the same nonce) before it is broadcast."""
    with db.unit_of_work() as session:
        epoch = session.get(Epoch, number)
        assert epoch is not None
        epoch.raw_tx = raw_tx.hex()
        epoch.tx_hash = client.tx_hash_of(raw_tx)
        epoch.status = EpochStatus.sending


def _store_acceptance(db: Database, client: ChainClient, number: int, raw_tx: bytes) -> None:
    """As `_store_proposal`, for the signed `acceptEpoch`."""
    with db.unit_of_work() as session:
        stored = session.get(Epoch, number)
        assert stored is not None
        stored.accept_raw_tx = raw_tx.hex()
        stored.accept_tx_hash = client.tx_hash_of(raw_tx)
        stored.status = EpochStatus.accepting


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
                repository.discard_from(session, number, reason="revoked by the guardian")
            return None
        if raw_tx is not None:
            # Stored bytes (resent after a crash or after the chain lost them): a copy mined
            # inside the timelock would only revert and spend its nonce.
            _wait_for_timelock(client, ledger, deployment, number)
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
            _store_acceptance(db, client, number, raw_tx)
            crash_point("after_store_accept")
        try:
            client.offer(raw_tx, stale_ok=False)  # an underpriced one is replaced below
            crash_point("after_broadcast_accept")
            client.send_until_mined(
                raw_tx,
                operator,
                store=lambda replacement: _store_acceptance(db, client, number, replacement),
                stuck_after=client.stuck_after,
                timeout=client.stuck_after * 4,
            )
        except StaleTransaction:
            raw_tx = None  # accepting twice cannot happen: the second one reverts
            continue
        except ChainTransactionFailed:
            # Reverted: someone accepted (anyone may) or the guardian revoked it first; the
            # chain's state, read again above, decides.
            raw_tx = None
            continue
        accepted = _record_accepted(db, number)
        crash_point("after_accept")
        return accepted
    raise ChainStateMismatch(f"epoch {number} could not be accepted; see the chain at its state")


def _wait_for_timelock(
    client: ChainClient, ledger: Contract, deployment: Deployment, number: int
) -> None:
    """Raises `EpochNotAcceptableYet` while the chain's pending epoch is inside its timelock."""
    _pending, _root, proposed_at = ledger.functions.pendingEpoch().call()
    if not int(proposed_at):
        return
    acceptable_at = int(proposed_at) + deployment.timelock
    now = int(client.w3.eth.get_block("latest")["timestamp"])
    if now < acceptable_at:
        raise EpochNotAcceptableYet(
            f"epoch {number} is in its timelock: acceptable from unix time {acceptable_at}"
        )


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
    recover_lost(db, client, deployment)
    current = None
    # Every epoch in flight, oldest first: after the chain lost several, their stored
    # transactions go out again in the order (and with the nonces) they were signed in.
    while True:
        with db.unit_of_work() as session:
            pending = repository.unaccepted_epoch(session)
            pending_number = pending.number if pending else None
        if pending_number is None:
            break
        current = _advance(db, client, deployment, operator, pending_number)
        if current is not None and current.status is not EpochStatus.accepted:
            return current  # still in its timelock: the next epoch waits for it
    with db.unit_of_work() as session:
        built = build_epoch(session, deployment=deployment, now=clock())
        number = built.number if built else None
        if built is not None:
            # inside the build's transaction: a root that would under-pay is never stored
            check_covers_claims(session, client, deployment, built.number)
    if number is None:
        return current  # the epoch just accepted, if any
    return _advance(db, client, deployment, operator, number)


# --- when the chain forgets -------------------------------------------------------------------

_ON_CHAIN = (EpochStatus.proposed, EpochStatus.accepting, EpochStatus.accepted)


def recover_lost(db: Database, client: ChainClient, deployment: Deployment) -> list[int]:
    """Puts every epoch we recorded as on chain, but that the chain no longer holds, back to the
    step the chain is at; returns their numbers. Run at the start of every round.

    - accepted (or accepting) here, only pending on chain: back to `accepting` (its signed
      `acceptEpoch` is resent) or `proposed` (one is signed);
    - proposed or accepted here, no commitment on chain: back to `sending` with its signed
      `proposeEpoch` (resent as it is: same bytes, same nonce), or to `built` if it has none.

    Nothing is discarded here: whether a resent transaction can still land is for the round to
    find out (`post_epoch`: a stale nonce or a revert discards the epoch and all later ones).
    Until an epoch is accepted on chain again its claims are not served (`claim_bundle`).
    """
    ledger = _ledger(client, deployment)
    accepted_on_chain = int(ledger.functions.acceptedEpoch().call())
    with db.unit_of_work() as session:
        ahead = [
            (e.number, e.status, epoch_commitment(e.payout_root, e.label_root, e.content_hash))
            for e in repository.epochs_from(session, accepted_on_chain + 1)
            if e.status in _ON_CHAIN
        ]
    if not ahead:
        return []
    moved: list[int] = []
    for number, status, commitment in ahead:
        holds = _holds_proposal(ledger, number, commitment)
        with db.unit_of_work() as session:
            epoch = session.get(Epoch, number)
            if epoch is None or epoch.status is not status:
                continue  # another round moved it meanwhile
            if holds:
                if status is not EpochStatus.accepted:
                    continue  # pending on chain, as we have it
                epoch.status = (
                    EpochStatus.accepting if epoch.accept_raw_tx else EpochStatus.proposed
                )
                epoch.accepted_at = None
                what = "its acceptance"
            else:
                epoch.status = EpochStatus.sending if epoch.raw_tx else EpochStatus.built
                epoch.posted_at = None
                epoch.posted_block = None
                epoch.acceptable_at = None
                epoch.accepted_at = None
                what = "its proposal"
            log.warning(
                "the chain (accepted epoch %s) no longer holds %s of epoch %s, which we "
                "recorded as %s: it goes back to %s and its signed transactions are sent again",
                accepted_on_chain,
                what,
                number,
                status,
                epoch.status,
            )
            moved.append(number)
    return moved


_CLAIMED = selector("claimed(address,uint16)")


def check_covers_claims(
    session: Session, client: ChainClient, deployment: Deployment, number: int
) -> None:
    """Raises `ChainStateMismatch` when any cumulative entitlement of epoch `number` is below
    what the chain says its account already claimed: such a root would under-pay (the ledger
    pays nothing for a leaf below the claimed amount, and the difference would be lost)."""
    rows = repository.entitlements_at(session, number)
    if not rows:
        return
    keys = sorted(rows)
    rpc = MirrorRpc(client.rpc_url)
    try:
        head = rpc.head()
        answers = rpc.eth_calls(
            [
                (deployment.ledger, _CLAIMED + word(account) + word(token))
                for account, token in keys
            ],
            head,
        )
    finally:
        rpc.close()
    short = []
    for (account, token), raw in zip(keys, answers, strict=True):
        paid, rewarded = abi_decode(["uint256", "uint256"], raw)
        payment, reward = rows[(account, token)]
        if payment < int(paid) or reward < int(rewarded):
            short.append(
                f"{account} (token {token}): entitled to {payment}/{reward}, already claimed "
                f"{int(paid)}/{int(rewarded)}"
            )
    if short:
        raise ChainStateMismatch(
            f"epoch {number} as built would give {len(short)} account(s) less than the chain "
            f"says they already claimed ({'; '.join(short[:3])}): nothing was stored. The "
            "database is behind the chain (restored from an older backup?); stop and compare it "
            "with the chain before settling again"
        )


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
