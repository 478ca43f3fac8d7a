"""What annotators send to dispute a rejection, and what deciders send and everyone reads."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ledger.annotation.models import DisputeStatus
from ledger.kit.types import Text


class DisputeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: Text = Field(min_length=1, max_length=2000)


class DisputeVerdict(enum.StrEnum):
    uphold = "uphold"  # the rejection was wrong: the label is verified and paid next epoch
    deny = "deny"


class DisputeDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: DisputeVerdict
    reason: Text = Field(min_length=1, max_length=1000)


class DisputePublic(BaseModel):
    id: int
    label_id: int
    dataset_id: int
    annotator: str
    comment: str
    status: DisputeStatus
    rejected_by: str | None = Field(description="the reviewer who rejected (None: gold/consensus)")
    rejection_reason: str | None
    decided_by: str | None
    decision_reason: str | None
    created_at: dt.datetime
    decided_at: dt.datetime | None


class DisputeToDecide(DisputePublic):
    """An open dispute as its deciders see it: with the disputed label's value and its item."""

    value: str = Field(description="the disputed label's value")
    external_id: str = Field(description="the item's id in the buyer's upload")
    item_data: Any = Field(description="the item's data, as the annotator was served it")


class LabelEventPublic(BaseModel):
    at: dt.datetime
    kind: str
    actor: str | None
    detail: str | None


class LabelHistory(BaseModel):
    label_id: int
    status: str
    epoch: int | None = Field(description="the epoch that paid it, once paid")
    events: list[LabelEventPublic]
