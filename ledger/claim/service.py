"""Proofs for claims against the epoch the ledger has accepted, and push batches of them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from sqlalchemy import select
from sqlalchemy.orm import Session
from web3.exceptions import Web3Exception

from ledger.chain.client import ChainClient, Deployment
from ledger.claim.schemas import ClaimBundle, EntitlementProof, LabelProof, PendingEpoch
from ledger.kit.db import Database
from ledger.kit.errors import ChainUnavailable, Conflict, NotFound
from ledger.merkle import LeafValue, MultiProof, StandardMerkleTree
from ledger.mirror import repository as mirror
from ledger.settlement import repository as settlement_repository
from ledger.settlement.build import paid_label
from ledger.settlement.models import Epoch, EpochStatus


class NothingToClaim(NotFound):
    code = "nothing_to_claim"


@lru_cache(maxsize=8)
def _tree(number: int, root: str, dump: str) -> StandardMerkleTree:
    # Loading validates every node; an epoch's tree never changes once built, so keep a few.
    tree = StandardMerkleTree.loads(dump)
    assert tree.root == root, f"stored tree of epoch {number} does not match its root"
    return tree


def payout_tree(epoch: Epoch) -> StandardMerkleTree:
    return _tree(epoch.number, epoch.payout_root, epoch.payout_tree)


def label_tree(epoch: Epoch) -> StandardMerkleTree:
    return _tree(epoch.number, epoch.label_root, epoch.label_tree)


def label_proofs(session: Session, *, epoch: Epoch, account: str) -> list[LabelProof]:
    """The account's labels paid by `epoch`, as label-tree leaves with their proofs."""
    tree = label_tree(epoch)
    proofs = []
    for label, dataset, item in settlement_repository.labels_paid_in(
        session, epoch=epoch.number, annotator=account
    ):
        paid = paid_label(label, dataset, item)
        leaf = paid.leaf()
        proofs.append(LabelProof(leaf=leaf, method=paid.method, proof=tree.get_proof(leaf)))
    return proofs


def pending_epoch(session: Session) -> PendingEpoch | None:
    epoch = settlement_repository.unaccepted_epoch(session)
    if epoch is None or epoch.status not in (EpochStatus.proposed, EpochStatus.accepting):
        return None
    return PendingEpoch(
        epoch=epoch.number, payout_root=epoch.payout_root, acceptable_at=epoch.acceptable_at
    )


class EpochNotOnChain(Conflict):
    """We recorded an epoch as accepted, but the chain does not hold its payout root (it forgot
    it, or a newer one is being recorded): a claim against it would revert."""

    code = "epoch_not_on_chain"


def epoch_on_chain(
    session: Session, epoch: Epoch, *, deployment: Deployment, client: ChainClient
) -> Epoch:
    """The epoch whose payout root the ledger holds now (`payoutRoot()`, read now): `epoch`,
    our latest accepted one, or a later one of ours the chain already accepted while we record
    it. Raises `EpochNotOnChain` otherwise: a bundle is only served for a root the chain honours.
    """
    ledger = client.contract("LabelLedger", deployment.ledger)
    try:
        on_chain = "0x" + bytes(ledger.functions.payoutRoot().call()).hex()
    except (OSError, ValueError, Web3Exception) as exc:
        raise ChainUnavailable(
            f"cannot read the ledger's payout root at {client.rpc_url} ({exc}): try again shortly"
        ) from exc
    if on_chain.lower() == epoch.payout_root.lower():
        return epoch
    newer = session.scalars(
        select(Epoch).where(
            Epoch.number > epoch.number,
            Epoch.payout_root == on_chain.lower(),
            Epoch.status.in_((EpochStatus.proposed, EpochStatus.accepting)),
        )
    ).first()
    if newer is not None:
        return newer  # accepted on chain a moment ago; settlement is recording it
    raise EpochNotOnChain(
        f"epoch {epoch.number} is not the epoch the chain pays claims against (the ledger "
        f"holds root {on_chain}): settlement is re-sending it; try again in a minute"
    )


def claim_bundle(
    session: Session, *, account: str, deployment: Deployment, client: ChainClient
) -> ClaimBundle:
    pending = pending_epoch(session)
    epoch = settlement_repository.latest_accepted_epoch(session)
    if epoch is None:
        waiting = (
            f"; epoch {pending.epoch} is proposed and becomes claimable once accepted "
            f"(from unix time {pending.acceptable_at})"
            if pending
            else ""
        )
        raise NothingToClaim(f"no epoch has been accepted on chain yet{waiting}")
    epoch = epoch_on_chain(session, epoch, deployment=deployment, client=client)
    rows = settlement_repository.account_entitlements(session, epoch=epoch.number, account=account)
    if not rows:
        raise NothingToClaim(f"{account} has no entitlement as of epoch {epoch.number}")
    tree = payout_tree(epoch)
    entitlements = []
    for row in rows:
        paid, rewarded = mirror.claimed(session, account, row.token_index)
        leaf = [account, str(row.token_index), str(row.cumulative_payment)]
        leaf.append(str(row.cumulative_reward))
        entitlements.append(
            EntitlementProof(
                token=deployment.token_address(row.token_index),
                token_index=row.token_index,
                cumulative_payment=row.cumulative_payment,
                cumulative_reward=row.cumulative_reward,
                claimed_payment=paid,
                claimed_reward=rewarded,
                claimable_payment=max(row.cumulative_payment - paid, 0),
                claimable_reward=max(row.cumulative_reward - rewarded, 0),
                proof=tree.get_proof(leaf),
            )
        )
    ledger = client.contract("LabelLedger", deployment.ledger)
    if len(entitlements) == 1:
        only = entitlements[0]
        data = ledger.encode_abi(
            "claim",
            args=[
                account,
                only.token_index,
                only.cumulative_payment,
                only.cumulative_reward,
                [HexBytes(p) for p in only.proof],
            ],
        )
    else:
        batch = tree.get_multiproof(
            [
                [account, str(e.token_index), str(e.cumulative_payment), str(e.cumulative_reward)]
                for e in entitlements
            ]
        )
        data = ledger.encode_abi("claimMany", args=claim_many_args(batch))
    return ClaimBundle(
        account=account,
        epoch=epoch.number,
        root=epoch.payout_root,
        ledger=deployment.ledger,
        chain_id=deployment.chain_id,
        entitlements=entitlements,
        label_root=epoch.label_root,
        labels=label_proofs(session, epoch=epoch, account=account),
        to=deployment.ledger,
        data=data,
        pending=pending,
    )


@dataclass(frozen=True)
class PushBatch:
    """A `claimMany` for consecutive payout leaves of an accepted epoch."""

    epoch: int
    multiproof: MultiProof

    @property
    def leaves(self) -> list[LeafValue]:
        return self.multiproof.leaves


def claim_many_args(batch: MultiProof) -> list[object]:
    """`claimMany(leaves, proof, proofFlags)` arguments for a multiproof of payout leaves."""
    return [
        [(str(v[0]), int(v[1]), int(v[2]), int(v[3])) for v in batch.leaves],
        [HexBytes(p) for p in batch.proof],
        list(batch.proof_flags),
    ]


def push_batch(session: Session, *, start: int, count: int) -> PushBatch:
    """Payout leaves `start` .. `start + count - 1` of the accepted epoch (ascending account
    order), with one multiproof: what a pusher sends to `claimMany` to pay them all."""
    epoch = settlement_repository.latest_accepted_epoch(session)
    if epoch is None:
        raise NothingToClaim("no epoch has been accepted on chain yet")
    tree = payout_tree(epoch)
    indices: Sequence[int] = range(start, min(start + count, len(tree)))
    if not indices:
        raise NothingToClaim(f"epoch {epoch.number} has {len(tree)} payout leaves")
    return PushBatch(epoch=epoch.number, multiproof=tree.get_multiproof(list(indices)))


def unpaid_push_batches(
    session: Session, *, batch_size: int, epoch: Epoch | None = None
) -> list[PushBatch]:
    """The payout leaves of `epoch` (by default the latest accepted one) that still pay
    something (by the mirror's claimed totals), in tree order, cut into `claimMany` batches of
    at most `batch_size` leaves. Leaves paid meanwhile are harmless: the ledger pays a
    cumulative leaf at most once."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if epoch is None:
        epoch = settlement_repository.latest_accepted_epoch(session)
    if epoch is None:
        raise NothingToClaim("no epoch has been accepted on chain yet")
    tree = payout_tree(epoch)
    unpaid: list[int] = []
    for index, (account, token, payment, reward) in tree.entries():
        claimed_payment, claimed_reward = mirror.claimed(session, str(account), int(token))
        if int(payment) > claimed_payment or int(reward) > claimed_reward:
            unpaid.append(index)
    return [
        PushBatch(epoch=epoch.number, multiproof=tree.get_multiproof(unpaid[i : i + batch_size]))
        for i in range(0, len(unpaid), batch_size)
    ]


def push_payouts(
    db: Database,
    client: ChainClient,
    deployment: Deployment,
    pusher: LocalAccount,
    *,
    batch_size: int = 100,
    on_batch: Callable[[int, int], None] | None = None,
) -> int:
    """Pays every annotator the accepted epoch still owes, `batch_size` per `claimMany`, from
    `pusher`'s gas: for annotators who should not pay gas to be paid. Returns how many leaves
    were sent. Safe to repeat or to run beside pull claims: amounts are cumulative, so a leaf
    already paid pays nothing. `on_batch(sent, total)` reports progress.

    Only against the root the chain holds now (`epoch_on_chain`): a batch proved against a root
    the chain forgot would revert and cost the pusher its gas (`EpochNotOnChain` instead)."""
    with db.unit_of_work() as session:
        accepted = settlement_repository.latest_accepted_epoch(session)
        if accepted is None:
            raise NothingToClaim("no epoch has been accepted on chain yet")
        epoch = epoch_on_chain(session, accepted, deployment=deployment, client=client)
        batches = unpaid_push_batches(session, batch_size=batch_size, epoch=epoch)
    total = sum(len(batch.leaves) for batch in batches)
    ledger = client.contract("LabelLedger", deployment.ledger)
    sent = 0
    for batch in batches:
        client.transact(ledger.functions.claimMany(*claim_many_args(batch.multiproof)), pusher)
        sent += len(batch.leaves)
        if on_batch is not None:
            on_batch(sent, total)
    return sent
