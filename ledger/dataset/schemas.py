"""What buyers send and receive about datasets and items."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ledger.annotation.schemas import Aggregator, BuyerRecord
from ledger.kinds import KINDS, MAX_LABEL_CHARS, kind_named
from ledger.kinds.base import MAX_CLASSES
from ledger.kit.db import UINT256_MAX
from ledger.kit.types import Text, nfc
from ledger.quality.reputation import DEFAULT_POLICY

MAX_DATA_DEPTH = 32  # nesting of an item's data: deeper is refused, never a crash
MAX_INSTRUCTIONS_CHARS = 50_000
MAX_EXAMPLES = 50
MAX_WORKFORCE = 10_000


class DatasetStatus(enum.StrEnum):
    awaiting_funds = "awaiting_funds"  # not created on the ledger (yet)
    open = "open"  # created on the ledger: work is paid from its funds
    closing = "closing"  # the buyer requested the close: no new work; earlier labels still paid
    closed = "closed"  # closed and refunded on the ledger


class Method(enum.StrEnum):
    """How a dataset's labels are verified (gold items are graded on their answer in both)."""

    review = "review"  # the buyer's reviewers accept or reject each label
    consensus = "consensus"  # each item goes to k annotators; those agreeing with it are verified


DAY = 24 * 3600


class VerificationSpec(BaseModel):
    """Chosen per dataset at creation and committed in its terms (so on chain, via the salt)."""

    model_config = ConfigDict(extra="forbid")

    method: Method = Method.review
    overlap: int = Field(
        default=1,
        ge=1,
        le=25,
        description="under review: how many annotators label each item (each accepted label is "
        "paid; no item is paid more, except rejections overturned on appeal). Under consensus "
        "consensus_k and consensus_max_k say it",
    )
    gold_overlap: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="how many annotators answer each gold item (a right answer is paid like any "
        "verified label)",
    )
    gold_reveal_seconds: int = Field(
        default=DAY,
        ge=0,
        le=30 * DAY,
        description="how long a verdict on a gold item stays sealed: until then the label shows "
        "as pending and counts in no standing, so nobody learns which items are gold or their "
        "answers from it; then it is shown, counted and paid",
    )
    consensus_k: int = Field(
        default=3, ge=2, le=15, description="annotators per item under consensus"
    )
    consensus_max_k: int = Field(
        default=5, ge=2, le=25, description="at most this many when the first k disagree"
    )
    review_window_seconds: int = Field(
        default=7 * DAY,
        ge=3600,
        le=90 * DAY,
        description="a label still undecided this long after submission is accepted and paid",
    )
    consensus_aggregator: Aggregator = Field(
        default=Aggregator.majority,
        description="how a class item's label is found: its own majority, or Wawa or "
        "Dawid-Skene over the whole dataset (they weigh annotators by estimated skill, so a "
        "crowd with spammers still finds the right label); boxes and spans use overlap",
    )
    agreement_threshold: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description="intersection over union at which two boxes or two spans are the same answer",
    )
    dispute_window_seconds: int = Field(
        default=7 * DAY,
        ge=DAY,
        le=90 * DAY,
        description="an annotator may dispute a rejection this long after it",
    )
    gold_rate_bps: int | None = Field(
        default=None,
        ge=0,
        le=10_000,
        description="the share of served items that are (hidden) gold items, in basis points, "
        "while the annotator has gold items left; null serves gold like any other item",
    )
    qualification_gold_items: int = Field(
        default=0,
        ge=0,
        le=1000,
        description="a gold-only warm-up of this many items before paid work (0: none); "
        "warm-up labels are graded, not paid",
    )
    qualification_min_accuracy: float = Field(
        default=0.7, ge=0.0, le=1.0, description="accuracy on the warm-up needed to go on"
    )
    reputation_cutoff: bool = Field(
        default=True,
        description="annotators whose reputation on the dataset falls below the cutoff stop "
        "receiving its items (ledger/quality/reputation.py)",
    )
    reward_tiers: bool = Field(
        default=False,
        description="scale each label's LABEL reward by its annotator's reputation tier, "
        "0.5x to 1.5x (the multipliers are committed in the terms)",
    )
    reward_multipliers_bps: list[int] = Field(
        default_factory=lambda: [10_000],
        description="set by the service from the tiers: the multipliers a reward may carry",
    )

    @model_validator(mode="after")
    def _max_k_at_least_k(self) -> VerificationSpec:
        if self.consensus_max_k < self.consensus_k:
            raise ValueError("consensus_max_k must be at least consensus_k")
        if self.method is Method.consensus and self.overlap != 1:
            raise ValueError(
                "under consensus, consensus_k and consensus_max_k say how many annotators label "
                "an item: leave overlap out"
            )
        tiers = [t.multiplier_bps for t in DEFAULT_POLICY.tiers] if self.reward_tiers else [10_000]
        self.reward_multipliers_bps = sorted(set(tiers))
        return self

    def places(self, *, gold: bool) -> int:
        """How many labels a new item takes (a consensus item may ask for more, see max_places)."""
        if gold:
            return self.gold_overlap
        return self.consensus_k if self.method is Method.consensus else self.overlap

    def max_places(self, *, gold: bool) -> int:
        """The most labels an item of this dataset is ever paid (appeals aside)."""
        if gold:
            return self.gold_overlap
        return self.consensus_max_k if self.method is Method.consensus else self.overlap


#: What a label is: one member per registered kind (ledger.kinds), so a kind added there is a
#: label type here, in the API's schema and in the web app's types, with nothing else to edit.
LabelType = enum.StrEnum(  # type: ignore[misc]  # members come from the registry
    "LabelType", [(name, name) for name in KINDS]
)
LabelType.__doc__ = "What a label is; each kind's shape and agreement measure: README, Label kinds."


def item_data_problem(data: Any) -> str | None:
    """What is wrong with an item's data, if anything: nested deeper than MAX_DATA_DEPTH, or a
    NUL character in a text or a key (PostgreSQL cannot store it). Iterative: a deep document
    must not cost a deep Python stack."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return "text may not contain NUL characters (\\u0000)"
        elif isinstance(value, dict | list):
            if depth > MAX_DATA_DEPTH:
                return f"nested more than {MAX_DATA_DEPTH} levels deep"
            if isinstance(value, dict):
                if any("\x00" in key for key in value):
                    return "text may not contain NUL characters (\\u0000)"
                stack.extend((inner, depth + 1) for inner in value.values())
            else:
                stack.extend((inner, depth + 1) for inner in value)
    return None


class ExampleItem(BaseModel):
    """An item shown with the instructions, with how it should be labelled and why."""

    model_config = ConfigDict(extra="forbid")

    data: Any = Field(description="as an item's data: a URL, text, coordinates...")
    label: Text = Field(
        min_length=1, max_length=MAX_LABEL_CHARS, description="its right label, as a label's value"
    )
    explanation: Text = Field(default="", max_length=2000)

    @field_validator("data")
    @classmethod
    def _sound_data(cls, data: Any) -> Any:
        problem = item_data_problem(data)
        if problem:
            raise ValueError(problem)
        return data


class InstructionsIn(BaseModel):
    """How to label: Markdown and example items. Part of the dataset's terms: before the dataset
    is on the ledger they change its salt; afterwards each change is a new version that every
    annotator is shown and every label records."""

    model_config = ConfigDict(extra="forbid")

    instructions: Text = Field(default="", max_length=MAX_INSTRUCTIONS_CHARS)
    examples: list[ExampleItem] = Field(default_factory=list, max_length=MAX_EXAMPLES)


class InstructionsPublic(BaseModel):
    dataset_id: int
    version: int = Field(description="the version in force; labels record theirs")
    instructions: str
    examples: list[ExampleItem]
    hash: str = Field(description="keccak256 of the canonical JSON of {markdown, examples}")
    created_at: dt.datetime
    committed: bool = Field(description="this version's hash is the one the terms commit to")


class DatasetCreate(InstructionsIn):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=200)
    label_type: LabelType = LabelType("classes")
    label_classes: list[Text] = Field(
        default_factory=list,
        max_length=MAX_CLASSES,
        description="what the label type picks from or names (GET /v1/kinds, `classes_are`): "
        "its classes, keypoints, answers or criteria; empty for the kinds that take none",
    )
    payment_token: str = Field(description="ERC-20 the buyer pays in; must be on the allowlist")
    # strict: JSON true or 2.0 is not an amount; money is an integer of base units, full stop
    price_per_label: int = Field(
        ge=0, le=UINT256_MAX, strict=True, description="payment token base units"
    )
    reward_per_label: int = Field(
        ge=0, le=UINT256_MAX, strict=True, description="LABEL base units (6 decimals)"
    )
    verification: VerificationSpec = Field(default_factory=VerificationSpec)
    private: bool = Field(
        default=False,
        description="only the addresses in `workforce` (and the buyer's reviewers) see it; to "
        "anyone else it does not exist",
    )
    workforce: list[Text] = Field(
        default_factory=list,
        max_length=MAX_WORKFORCE,
        description="with `private`: the annotators admitted (add and remove them later at "
        "/v1/datasets/{id}/workforce)",
    )
    lease_seconds: int = Field(
        default=600,
        ge=30,
        le=7 * DAY,
        description="how long next-item reserves an item for the annotator it serves it to",
    )
    skip_limit: int = Field(
        default=3,
        ge=0,
        le=1000,
        description="an item skipped by this many annotators is set aside (no longer served) "
        "for the buyer to look at; 0: never",
    )

    @field_validator("label_classes")
    @classmethod
    def _classes_unique(cls, classes: list[str]) -> list[str]:
        # NFC: "café" typed two ways looks the same and must be one class, or annotators would
        # be graded against an answer they cannot tell apart from their own.
        cleaned = [nfc(c.strip()) for c in classes]
        if any(not c or len(c) > 200 for c in cleaned):
            raise ValueError("each class is 1 to 200 characters")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("label classes must be unique (compared in Unicode NFC form)")
        return cleaned

    @model_validator(mode="after")
    def _classes_for_classes_only(self) -> DatasetCreate:
        kind = kind_named(self.label_type)
        self.label_classes = kind.check_classes(self.label_classes)
        if kind.reviewed_only and (
            self.verification.method is not Method.review
            or self.verification.qualification_gold_items
        ):
            raise ValueError(
                f"{self.label_type} labels have no measure of agreement: verify them by review "
                "(verification.method review), without gold items"
            )
        if self.workforce and not self.private:
            raise ValueError("a workforce goes with a private dataset: set private")
        return self


class ChainRecordPublic(BaseModel):
    """The dataset on the ledger, as the mirror last saw it; ids and salt as 0x hex."""

    ledger: str = Field(description="the LabelLedger contract: fund and close it there")
    dataset_id: str = Field(description="datasetIdOf(buyer, salt), a uint256 as 0x + 64 hex")
    salt: str
    token_index: int | None = Field(description="allowlist index to pass to createAndFund")
    fee_bps: int | None = Field(description="fee on top of each debit, fixed at creation")
    status: str | None = Field(description="open, closing or closed; null before creation")
    close_due_at: int | None = Field(description="unix time finalizeClose becomes possible")
    funded: int
    available: int
    debited: int
    fees: int
    refunded: int


class LeaseTerms(BaseModel):
    seconds: int = Field(description="how long next-item reserves an item for you")
    skip_limit: int = Field(description="skips after which an item is set aside (0: never)")


class DatasetPublic(BaseModel):
    id: int
    name: str
    buyer: str
    private: bool
    instructions_version: int = Field(
        description="the instructions in force: GET /v1/datasets/{id}/instructions"
    )
    leases: LeaseTerms
    label_type: LabelType
    label_classes: list[str]
    payment_token: str
    price_per_label: int
    reward_per_label: int
    verification: VerificationSpec
    status: DatasetStatus
    buyer_record: BuyerRecord = Field(description="how this buyer treats annotators' work")
    chain: ChainRecordPublic
    item_count: int


class ChainCall(BaseModel):
    """A transaction for the buyer's wallet to send: `data` to `to`."""

    function: str
    to: str
    data: str


class CloseSteps(BaseModel):
    """Closing on the ledger is two transactions from the buyer's wallet, a grace period apart."""

    dataset_id: int
    status: DatasetStatus
    next: ChainCall | None = Field(description="what to send now; null when nothing can be sent")
    due_at: int | None = Field(description="unix time finalizeClose becomes possible")
    message: str


class ItemIn(BaseModel):
    """One uploaded item (documentation: uploads are parsed by ledger.dataset.ingest)."""

    model_config = ConfigDict(extra="forbid")

    id: Text = Field(min_length=1, max_length=200, description="the buyer's own id for the item")
    data: Any = Field(description="anything JSON, at most 32 levels deep: a URL, text...")
    gold: Text | None = Field(default=None, description="known answer: makes this a gold item")


class ItemsCreated(BaseModel):
    created: int
    gold: int


class GoldAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: Text = Field(min_length=1, max_length=200)
    label: Text = Field(min_length=1, max_length=MAX_LABEL_CHARS)


class ReviewerAppoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: Text = Field(max_length=42)


class WorkforceChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    addresses: list[Text] = Field(min_length=1, max_length=MAX_WORKFORCE)


class WorkforcePublic(BaseModel):
    dataset_id: int
    private: bool
    members: list[str]


class SkippedItem(BaseModel):
    """An item annotators skipped, with their reasons (for the buyer)."""

    item_id: int
    external_id: str
    skips: int
    reasons: dict[str, int] = Field(description="how many skips gave each reason")
    comments: list[str] = Field(description="the annotators' comments, latest first")
    set_aside: bool = Field(description="no longer served; POST .../requeue to serve it again")


class DatasetProgress(BaseModel):
    """How the work on a dataset goes, as its buyer sees it: every verdict as it stands, gold
    verdicts still sealed from their annotators included. Warm-up labels (graded, never paid)
    are counted apart from the rest."""

    dataset_id: int
    items: int = Field(description="items uploaded")
    gold_items: int
    items_labelled: int = Field(description="items with at least one label (warm-ups aside)")
    items_set_aside: int = Field(description="skipped too often: no longer served")
    labels: int = Field(description="labels submitted, warm-ups aside")
    pending: int = Field(description="awaiting a verdict")
    verified: int = Field(description="accepted: paid now or by the next epoch")
    rejected: int
    paid: int = Field(description="verified labels an epoch has paid")
    unpaid: int = Field(description="verified labels no epoch has paid yet")
    warmup_labels: int = Field(description="qualification warm-up answers: graded, never paid")
    epochs: int = Field(description="epochs that paid some of its labels")
    latest_epoch: int | None = Field(description="the latest of them")


class ReviewerPublic(BaseModel):
    address: str
    appointed_at: dt.datetime
