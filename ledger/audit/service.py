"""Checks an annotator's proof against the root the chain holds, not against our word."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ledger.audit.schemas import EpochPublic, ProofCheck, ProofVerdict
from ledger.chain.client import ChainClient, Deployment
from ledger.kit.errors import NotFound, Unprocessable
from ledger.kit.types import checksum
from ledger.merkle import MerkleTreeError, verify_proof
from ledger.settlement import repository as settlement_repository
from ledger.settlement.models import Epoch
from ledger.settlement.service import PAYOUT_LEAF_ENCODING

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
        root=epoch.root,
        label_count=epoch.label_count,
        tx_hash=epoch.tx_hash,
        posted_block=epoch.posted_block,
        debits={
            d.escrow_id: d.amount for d in settlement_repository.debits_of(session, epoch.number)
        },
    )


def check_proof(
    session: Session, *, check: ProofCheck, client: ChainClient, deployment: Deployment
) -> ProofVerdict:
    account, token = checksum(check.account), checksum(check.token)
    distributor = client.contract("EpochDistributor", deployment.distributor)
    root_on_chain = "0x" + bytes(distributor.functions.epochRoot(check.epoch).call()).hex()
    published = session.get(Epoch, check.epoch)
    root_published = published.root if published else None
    if root_on_chain == ZERO_ROOT:
        return ProofVerdict(
            valid=False,
            root_on_chain=root_on_chain,
            root_published=root_published,
            reason=f"the chain holds no root for epoch {check.epoch}",
        )
    try:
        valid = verify_proof(
            root_on_chain,
            PAYOUT_LEAF_ENCODING,
            [account, token, str(check.cumulative)],
            check.proof,
        )
    except MerkleTreeError as exc:
        raise Unprocessable(f"malformed proof: {exc}") from exc
    reason = (
        "the leaf is in the tree whose root the chain holds"
        if valid
        else "the proof does not lead to the chain's root for this leaf"
    )
    if root_published is not None and root_published != root_on_chain:
        reason += "; WARNING: the service's published root differs from the chain's"
    return ProofVerdict(
        valid=valid, root_on_chain=root_on_chain, root_published=root_published, reason=reason
    )
