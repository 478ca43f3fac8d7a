"""What buyers send and receive about datasets and items."""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ledger.kit.db import UINT256_MAX

MAX_CLASSES = 1000


class DatasetStatus(enum.StrEnum):
    awaiting_funds = "awaiting_funds"  # the escrow record is not on chain (yet)
    open = "open"  # the escrow exists on chain: work is paid from it
    closed = "closed"  # the buyer closed the escrow: no new work


class DatasetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    label_classes: list[str] = Field(min_length=1, max_length=MAX_CLASSES)
    payment_token: str = Field(description="ERC-20 the buyer pays in; must be on the allowlist")
    # strict: JSON true or 2.0 is not an amount; money is an integer of base units, full stop
    price_per_label: int = Field(
        ge=0, le=UINT256_MAX, strict=True, description="payment token base units"
    )
    reward_per_label: int = Field(
        ge=0, le=UINT256_MAX, strict=True, description="LABEL base units (18 decimals)"
    )

    @field_validator("label_classes")
    @classmethod
    def _classes_unique(cls, classes: list[str]) -> list[str]:
        cleaned = [c.strip() for c in classes]
        if any(not c or len(c) > 200 for c in cleaned):
            raise ValueError("each class is 1 to 200 characters")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("label classes must be unique")
        return cleaned


class EscrowPublic(BaseModel):
    """The dataset's escrow as the mirror last saw it on chain."""

    address: str
    escrow_id: str
    salt: str
    funded: int
    available: int
    debited: int
    refunded: int
    closed: bool


class DatasetPublic(BaseModel):
    id: int
    name: str
    buyer: str
    label_classes: list[str]
    payment_token: str
    price_per_label: int
    reward_per_label: int
    status: DatasetStatus
    escrow: EscrowPublic
    item_count: int


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200, description="the buyer's own id for the item")
    data: Any = Field(description="anything JSON: a URL, text, coordinates...")
    gold: str | None = Field(default=None, description="known answer: makes this a gold item")


class ItemsCreated(BaseModel):
    created: int
    gold: int


class GoldAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: str = Field(min_length=1, max_length=200)
    label: str


class ReviewerAppoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str
