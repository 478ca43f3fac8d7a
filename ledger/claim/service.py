"""Proofs for claims, from the latest epoch that is on chain."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy.orm import Session

from ledger.chain.client import ChainClient, Deployment
from ledger.claim.schemas import ClaimBundle, EntitlementProof
from ledger.kit.errors import NotFound
from ledger.merkle import StandardMerkleTree
from ledger.mirror import repository as mirror
from ledger.settlement import repository as settlement_repository
from ledger.settlement.models import Epoch


class NothingToClaim(NotFound):
    code = "nothing_to_claim"


@lru_cache(maxsize=8)
def _tree(number: int, root: str, dump: str) -> StandardMerkleTree:
    # Loading validates every node; an epoch's tree never changes once built, so keep a few.
    tree = StandardMerkleTree.loads(dump)
    assert tree.root == root, f"stored tree of epoch {number} does not match its root"
    return tree


def payout_tree(epoch: Epoch) -> StandardMerkleTree:
    return _tree(epoch.number, epoch.root, epoch.payout_tree)


def claim_bundle(
    session: Session, *, account: str, deployment: Deployment, client: ChainClient
) -> ClaimBundle:
    epoch = settlement_repository.latest_posted_epoch(session)
    if epoch is None:
        raise NothingToClaim("no epoch has been settled on chain yet")
    rows = settlement_repository.account_entitlements(session, epoch=epoch.number, account=account)
    if not rows:
        raise NothingToClaim(f"{account} has no entitlement as of epoch {epoch.number}")
    tree = payout_tree(epoch)
    entitlements = []
    for row in rows:
        claimed = mirror.claimed(session, account, row.token)
        entitlements.append(
            EntitlementProof(
                token=row.token,
                cumulative=row.cumulative,
                claimed=claimed,
                claimable=max(row.cumulative - claimed, 0),
                proof=tree.get_proof([account, row.token, str(row.cumulative)]),
            )
        )
    distributor = client.contract("EpochDistributor", deployment.distributor)
    data = distributor.encode_abi(
        "claim",
        args=[
            account,
            [
                (e.token, e.cumulative, [bytes.fromhex(p[2:]) for p in e.proof])
                for e in entitlements
            ],
        ],
    )
    return ClaimBundle(
        account=account,
        epoch=epoch.number,
        root=epoch.root,
        distributor=deployment.distributor,
        chain_id=deployment.chain_id,
        entitlements=entitlements,
        to=deployment.distributor,
        data=data,
    )
