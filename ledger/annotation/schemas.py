"""What annotators and reviewers send and receive."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ledger.annotation.models import LabelStatus, SkipReason, VerificationMethod
from ledger.kinds import MAX_LABEL_CHARS
from ledger.kit.types import RowId, Text


class NextItem(BaseModel):
    """An item reserved for you: nobody else is served it until you label, skip or release it,
    or the lease expires. Asking again returns the same item while you hold it."""

    dataset_id: int
    item_id: int
    external_id: str
    data: Any
    label_type: str = Field(
        description="the kind of label asked for (a LabelType: classes, boxes, spans, objects...)"
    )
    label_classes: list[str]
    lease_expires_at: dt.datetime = Field(description="the item is yours until then")
    lease_seconds: int = Field(description="how long the dataset reserves an item")
    instructions_version: int = Field(
        description="the instructions in force (GET /v1/datasets/{id}/instructions): read them "
        "again when this changes"
    )


class LabelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: RowId
    value: Text = Field(
        min_length=1,
        max_length=MAX_LABEL_CHARS,
        description="the label as its kind writes it: a class name, a text, or the JSON text of "
        "a structured label (each kind also bounds its own length)",
    )


class SkipCreate(BaseModel):
    """Why you skip the item (optional); its buyer sees the reasons per item."""

    model_config = ConfigDict(extra="forbid")

    reason: SkipReason | None = None
    comment: Text | None = Field(default=None, max_length=500)


class Verdict(enum.StrEnum):
    accept = "accept"
    correct = "correct"  # accept (the annotator is paid) and deliver the reviewer's correction
    reject = "reject"


class ReviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Verdict
    reason: Text | None = Field(default=None, max_length=1000)
    corrected_value: Text | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_LABEL_CHARS,
        description="with `correct`: the fixed label",
    )


class LabelPublic(BaseModel):
    id: int
    dataset_id: int
    item_id: int
    external_id: str
    annotator: str
    value: str = Field(description="the label's text, as hashed and paid")
    item_hash: str = Field(description="the itemHash of its label-tree leaf")
    salt: str = Field(description="random per label: the publication names the value by hash")
    label_hash: str = Field(
        description="keccak256(salt ++ UTF-8 value): the labelHash of its label-tree leaf"
    )
    warmup: bool = Field(description="part of a qualification warm-up: graded, not paid")
    instructions_version: int = Field(description="the instructions it was made under")
    corrected_value: str | None = Field(
        description="a reviewer's correction: what the buyer should use (the annotator's value "
        "is what was paid, and what the label tree commits to)"
    )
    status: LabelStatus
    method: VerificationMethod | None
    reviewer: str | None
    reason: str | None
    price: int | None
    reward: int | None
    epoch: int | None
    created_at: dt.datetime
    decided_at: dt.datetime | None


class DeliveredLabel(LabelPublic):
    """A label as its buyer downloads it: beside the text that was hashed and paid, the label as
    its kind's JSON value, ready for a training pipeline."""

    answer: Any = Field(
        description="`value` as its kind's JSON (a structured label parsed; a class or a text "
        "as it is); it reads back as the same label"
    )
    corrected_answer: Any = Field(description="`corrected_value` the same way, when there is one")


class ReviewEntry(LabelPublic):
    """A pending label in a reviewer's queue, with the item as its annotator saw it."""

    item_data: Any = Field(description="the item's data, as next-item served it")


class Refusal(BaseModel):
    """Why something was not done, as an error would say it (a stable code, a message)."""

    code: str
    message: str


class LabelAndNext(BaseModel):
    """A label stored, and the next item reserved for you in the same round trip."""

    label: LabelPublic
    next: NextItem | None = Field(
        description="the next item, reserved for you; null when none can be served now"
    )
    next_refusal: Refusal | None = Field(
        description="why there is no next item (queue_empty, items_reserved, "
        "below_reputation_cutoff, qualification_failed); the label is stored all the same"
    )


class BuyerRecord(BaseModel):
    """How a buyer treats annotators' work, for annotators deciding whether to take it."""

    buyer: str
    labels_decided: int
    rejection_rate: float | None = Field(description="rejected / decided, every method")
    labels_reviewed: int = Field(description="decided by the buyer's reviewers (latest 10,000)")
    review_rejection_rate: float | None
    median_review_seconds: float | None = Field(description="from submission to review")
    disputes_open: int
    disputes_upheld: int = Field(description="rejections overturned on appeal")
    disputes_denied: int


class Aggregator(enum.StrEnum):
    majority = "majority"
    wawa = "wawa"
    dawid_skene = "dawid_skene"


class AnnotatorAgreementPublic(BaseModel):
    annotator: str
    labels: int
    agreement_with_aggregate: float | None
    gold_answered: int
    gold_accuracy: float | None
    estimated_skill: float = Field(description="the aggregator's estimate of P(answer right)")


class AgreementReportPublic(BaseModel):
    """A dataset's inter-annotator agreement, every label counted (pending ones too)."""

    dataset_id: int
    aggregator: Aggregator
    classes: list[str]
    items: int
    undecided_items: int = Field(
        description="items whose top classes tie under the aggregator: no aggregate label, "
        "counted neither in the confusion nor in anybody's agreement"
    )
    labels: int
    fleiss_kappa: float | None
    krippendorff_alpha: float | None
    confusion: list[list[int]] = Field(
        description="confusion[t][o]: labels answering classes[o] on items aggregated as classes[t]"
    )
    annotators: list[AnnotatorAgreementPublic]


class StandingPublic(BaseModel):
    """An annotator's reputation on one dataset, with the evidence it is computed from:
    score = (2 gold_correct + agreed + accepted + 10) / (2 gold_answered + compared + decided + 20)
    (ledger/quality/reputation.py). Verdicts on gold items count once they are revealed (the
    dataset's gold_reveal_seconds after the answer), not before."""

    dataset_id: int
    score: float
    tier: str
    reward_multiplier_bps: int = Field(description="applies where the dataset has reward tiers")
    receives_items: bool
    qualification: str = Field(description="none, pending, passed or failed")
    qualification_answered: int = Field(description="warm-up items answered so far")
    qualification_items: int = Field(description="warm-up items the dataset asks for")
    qualification_correct: int | None = Field(
        description="right answers among them, shown once the warm-up is complete"
    )
    gold_answered: int
    gold_correct: int
    compared: int = Field(description="labels decided by consensus")
    agreed: int
    decided: int
    accepted: int


class EarningsPublic(BaseModel):
    """An annotator's work and money, per token, in base units."""

    pending: int
    verified: int
    rejected: int
    paid_labels: int
    earned: dict[str, int]  # token -> sum over verified labels
    unsettled: dict[str, int]  # token -> verified but not yet in an epoch
