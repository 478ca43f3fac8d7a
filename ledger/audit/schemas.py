"""What an auditor asks and is told."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ledger.kit.db import UINT256_MAX


class EpochPublic(BaseModel):
    number: int
    status: str
    root: str
    label_count: int
    tx_hash: str | None
    posted_block: int | None
    debits: dict[str, int]  # escrow id -> amount debited


class ProofCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    epoch: int = Field(ge=1)
    account: str
    token: str
    cumulative: int = Field(ge=0, le=UINT256_MAX, strict=True)
    proof: list[str] = Field(max_length=256)


class ProofVerdict(BaseModel):
    valid: bool
    root_on_chain: str
    root_published: str | None
    reason: str
