"""Checks an annotator's proof against what the chain holds, not against our word.

The ledger keeps only the accepted payout root, plus `epochCommitment(epoch)` =
keccak256(abi.encode(payoutRoot, labelRoot, contentHash)) for every epoch proposed and not
revoked: a published epoch whose roots hash to that commitment is the one the chain took.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from ledger.audit.schemas import EpochDebitPublic, EpochPublic, ProofCheck, ProofVerdict
from ledger.chain.client import ChainClient, Deployment
from ledger.dataset.models import Dataset
from ledger.kit.errors import NotFound, Unprocessable
from ledger.kit.types import checksum
from ledger.merkle import MerkleTreeError, verify_proof
from ledger.mirror.repository import get_chain_dataset
from ledger.publication import PAYOUT_LEAF_ENCODING
from ledger.settlement import repository as settlement_repository
from ledger.settlement.models import Epoch, EpochDebit, EpochStatus
from ledger.settlement.service import epoch_commitment

ZERO_ROOT = "0x" + "00" * 32


class EpochNotFound(NotFound):
    code = "epoch_not_found"


def get_epoch(session: Session, number: int) -> Epoch:
    epoch = session.get(Epoch, number)
    if epoch is None:
        raise EpochNotFound(f"no epoch {number}")
    return epoch


def to_public(session: Session, epoch: Epoch) -> EpochPublic:
    return EpochPublic(
        number=epoch.number,
        status=epoch.status,
        payout_root=epoch.payout_root,
        label_root=epoch.label_root,
        content_hash=epoch.content_hash,
        label_count=epoch.label_count,
        tx_hash=epoch.tx_hash,
        posted_block=epoch.posted_block,
        acceptable_at=epoch.acceptable_at,
        accept_tx_hash=epoch.accept_tx_hash,
        claimable=epoch.status is EpochStatus.accepted,
        debits=[
            _debit_public(session, d)
            for d in settlement_repository.debits_of(session, epoch.number)
        ],
    )


def _debit_public(session: Session, debit: EpochDebit) -> EpochDebitPublic:
    """A debit with the token it is in: the dataset's payment token (the only one its escrow
    holds) and that token's index on the ledger, as the chain mirror recorded it."""
    dataset = session.get(Dataset, debit.dataset_id)
    assert dataset is not None  # a foreign key
    record = get_chain_dataset(session, debit.chain_dataset_id)
    return EpochDebitPublic(
        dataset_id=debit.chain_dataset_id,
        token_index=record.token_index if record is not None else None,
        token=dataset.payment_token,
        debit=debit.amount,
        fee=debit.fee,
        labels=debit.label_count,
    )


def check_proof(
    session: Session, *, check: ProofCheck, client: ChainClient, deployment: Deployment
) -> ProofVerdict:
    account = checksum(check.account)
    token_index = deployment.token_index(checksum(check.token))
    if token_index is None:
        raise Unprocessable(f"{check.token} is not a payment token of this ledger")
    ledger = client.contract("LabelLedger", deployment.ledger)
    accepted_epoch = int(ledger.functions.acceptedEpoch().call())
    commitment = bytes(ledger.functions.epochCommitment(check.epoch).call())
    published = session.get(Epoch, check.epoch)
    root_published = published.payout_root if published else None
    accepted = accepted_epoch >= check.epoch
    if published is not None and commitment == epoch_commitment(
        published.payout_root, published.label_root, published.content_hash
    ):
        root_on_chain = published.payout_root
    elif check.epoch == accepted_epoch:
        root_on_chain = "0x" + bytes(ledger.functions.payoutRoot().call()).hex()
    else:
        reason = (
            f"the chain holds no epoch {check.epoch}"
            if commitment == bytes(32)
            else f"the chain's commitment to epoch {check.epoch} does not match what we published"
        )
        return ProofVerdict(
            valid=False,
            root_on_chain=ZERO_ROOT,
            root_published=root_published,
            accepted=accepted,
            reason=reason,
        )
    try:
        valid = verify_proof(
            root_on_chain,
            PAYOUT_LEAF_ENCODING,
            [account, token_index, check.cumulative_payment, check.cumulative_reward],
            check.proof,
        )
    except MerkleTreeError as exc:
        raise Unprocessable(f"malformed proof: {exc}") from exc
    reason = (
        "the leaf is in the tree whose root the chain holds"
        if valid
        else "the proof does not lead to the chain's root for this leaf"
    )
    if not accepted:
        reason += "; the epoch is not accepted yet: nothing is claimable against it"
    if root_published is not None and root_published != root_on_chain:
        reason += "; WARNING: the service's published root differs from the chain's"
    return ProofVerdict(
        valid=valid,
        root_on_chain=root_on_chain,
        root_published=root_published,
        accepted=accepted,
        reason=reason,
    )
