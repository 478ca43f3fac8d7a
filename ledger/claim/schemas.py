"""An annotator's claim bundle: everything needed to claim on chain without our service."""

from __future__ import annotations

from pydantic import BaseModel


class EntitlementProof(BaseModel):
    token: str
    cumulative: int
    claimed: int  # as mirrored from the chain
    claimable: int
    proof: list[str]


class ClaimBundle(BaseModel):
    account: str
    epoch: int
    root: str
    distributor: str
    chain_id: int
    entitlements: list[EntitlementProof]
    # A ready transaction: send `data` to `to` from any wallet (anyone may claim for anyone).
    to: str
    data: str
