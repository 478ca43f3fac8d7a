"""An annotator's claim bundle: everything needed to claim on chain without our service."""

from __future__ import annotations

from pydantic import BaseModel, Field


class EntitlementProof(BaseModel):
    """One payout leaf: cumulative entitlements for labels paid in one payment token."""

    token: str  # the payment token's address
    token_index: int  # its allowlist index on the ledger: the leaf's `token`
    cumulative_payment: int
    cumulative_reward: int  # LABEL, 6 decimals
    claimed_payment: int  # as mirrored from the chain
    claimed_reward: int
    claimable_payment: int
    claimable_reward: int
    proof: list[str]


class LabelProof(BaseModel):
    """One label the epoch paid you, as its label-tree leaf, with the proof that it is in the
    tree whose root the chain committed to. `leaf` is `(datasetId, itemIdHash, annotator,
    labelHash, method, payment, reward)`, decimal strings and 0x hex as in the standard-v1 dump."""

    leaf: list[str]
    method: str
    proof: list[str]


class PendingEpoch(BaseModel):
    """A proposed epoch that is not claimable until the ledger accepts it."""

    epoch: int
    payout_root: str
    acceptable_at: int | None = Field(description="unix time from which anyone may accept it")


class ClaimBundle(BaseModel):
    account: str
    epoch: int = Field(description="the accepted epoch the proofs are for")
    root: str
    ledger: str
    chain_id: int
    entitlements: list[EntitlementProof]
    label_root: str = Field(description="the epoch's label root (committed on chain with it)")
    labels: list[LabelProof] = Field(description="your labels this epoch paid, with proofs")
    # A ready transaction: send `data` to `to` from any wallet (anyone may claim for anyone).
    # One leaf: `claim`; several: `claimMany` with one multiproof.
    to: str
    data: str
    pending: PendingEpoch | None
