"""What an auditor asks and is told."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ledger.kit.db import UINT256_MAX
from ledger.kit.types import MAX_ROW_ID, Text


class EpochDebitPublic(BaseModel):
    dataset_id: str  # the ledger's dataset id, 0x + 64 hex
    token_index: int | None = Field(
        description="the payment token's index on the ledger's allowlist, as the manifest names "
        "it (null only while the chain mirror has not seen the dataset)"
    )
    token: str = Field(description="the payment token's address: debit and fee are in it")
    debit: int  # paid to annotators
    fee: int  # taken on top, for the treasury
    labels: int


class EpochPublic(BaseModel):
    number: int
    status: str  # built, sending, proposed, accepting, accepted
    payout_root: str
    label_root: str
    content_hash: str = Field(description="keccak256 of the manifest's bytes")
    label_count: int
    tx_hash: str | None
    posted_block: int | None
    acceptable_at: int | None = Field(description="unix time from which anyone may accept it")
    accept_tx_hash: str | None
    claimable: bool = Field(description="accepted on chain: claims are paid against its root")
    debits: list[EpochDebitPublic]


class ProofCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    epoch: int = Field(ge=1, le=MAX_ROW_ID)
    account: Text = Field(max_length=42)
    token: Text = Field(max_length=42, description="the payment token's address")
    cumulative_payment: int = Field(ge=0, le=UINT256_MAX, strict=True)
    cumulative_reward: int = Field(ge=0, le=UINT256_MAX, strict=True)
    proof: list[Text] = Field(max_length=256)


class ProofVerdict(BaseModel):
    valid: bool
    root_on_chain: str
    root_published: str | None
    accepted: bool = Field(description="the chain has accepted the epoch (its claims are paid)")
    reason: str
