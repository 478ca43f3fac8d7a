"""Labels: one per annotator and item, with their verification verdict and payment epoch, the
history of every step taken on them, and the disputes their annotators raise; the items served
to each annotator (assignments) and each annotator's counters on a dataset."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    UnicodeText,
    UniqueConstraint,
    select,
    text,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column

from ledger.kit.db import Base, UInt256, UTCDateTime, utcnow
from ledger.publication import random_nonce


class LabelStatus(enum.StrEnum):
    pending = "pending"
    verified = "verified"
    rejected = "rejected"


class VerificationMethod(enum.StrEnum):
    review = "review"  # a reviewer of the dataset decided (also a dispute's decision)
    gold = "gold"  # graded on the committed gold answer
    consensus = "consensus"  # agreed, or not, with most of the item's k annotators
    auto = "auto"  # nobody decided within the dataset's review window: accepted
    # a rejection overturned on appeal (an upheld dispute): paid even when the item's places
    # were given to other annotators meanwhile, and published as such
    appeal = "appeal"


class LabelPayment(Base):
    """The epoch that paid a label: one row per paid label, written when the epoch is built.

    Kept apart from the label's own row so that paying a million labels writes a million narrow
    rows (two integers, one key) instead of a new version of each wide label row with an entry in
    each of its indexes (BENCHMARKS.md, "Settling an epoch end to end"). The primary key is what
    makes a label paid at most once: an epoch that would take a label another one holds is
    refused whole (`ledger.settlement.select.assign_labels`). No foreign keys, by measurement:
    their per-row checks cost five times the insert itself at a million labels; the one writer is
    settlement, under its lock, which writes the epoch row first and removes an epoch's payments
    before the epoch (`repository.discard_epoch`); labels are never deleted.
    """

    __tablename__ = "label_payments"

    label_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    epoch: Mapped[int] = mapped_column(Integer, index=True)


class Label(Base):
    __tablename__ = "labels"
    __table_args__ = (
        UniqueConstraint("item_id", "annotator"),
        Index(
            "ix_labels_sealed",
            "sealed_until",
            sqlite_where=text("sealed_until IS NOT NULL"),
            postgresql_where=text("sealed_until IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    annotator: Mapped[str] = mapped_column(ForeignKey("accounts.address"), index=True)
    # Unbounded in the database: each kind bounds its own labels (LabelKind.max_chars).
    value: Mapped[str] = mapped_column(UnicodeText)
    # Publications name the value keccak256(salt ++ value): no guessing it from the few classes.
    salt: Mapped[str] = mapped_column(String(66), default=random_nonce)
    status: Mapped[LabelStatus] = mapped_column(
        Enum(LabelStatus, native_enum=False, length=16), default=LabelStatus.pending, index=True
    )
    method: Mapped[VerificationMethod | None] = mapped_column(
        Enum(VerificationMethod, native_enum=False, length=16), default=None
    )
    reviewer: Mapped[str | None] = mapped_column(String(42), default=None)
    reason: Mapped[str | None] = mapped_column(String(1000), default=None)
    # A reviewer's correct-and-accept: the value delivered to the buyer instead of `value`.
    corrected_value: Mapped[str | None] = mapped_column(UnicodeText, default=None)
    # Part of the annotator's gold-only qualification warm-up: graded, never paid.
    warmup: Mapped[bool] = mapped_column(Boolean, default=False)
    # Under consensus: how many of the item's annotators gave the winning label, "n/total".
    agreement: Mapped[str | None] = mapped_column(String(20), default=None)
    # Whether it holds one of its item's places (items.places_taken counts exactly these).
    holds_place: Mapped[bool] = mapped_column(Boolean, default=True)
    # A verdict on gold stays sealed until then: the label shows as pending to everyone but the
    # buyer, is not paid, and counts in nobody's standing, so an annotator cannot learn from
    # the answer which items are gold and what their answers are. NULL: nothing sealed.
    sealed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    # The dataset's instructions version in force when the label was made.
    instructions_version: Mapped[int] = mapped_column(Integer, default=1)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    # What the label earns, fixed when it is verified.
    price: Mapped[int | None] = mapped_column(UInt256, default=None)
    reward: Mapped[int | None] = mapped_column(UInt256, default=None)
    # The epoch that paid it (`LabelPayment`); NULL while verified but unpaid. Read-only here:
    # settlement writes label_payments.
    epoch: Mapped[int | None] = column_property(
        select(LabelPayment.epoch)
        .where(LabelPayment.label_id == id)
        .correlate_except(LabelPayment)
        .scalar_subquery()
    )
    # A gold rejection is published in the verdicts of the first epoch built after it.
    published_in: Mapped[int | None] = mapped_column(
        ForeignKey("epochs.number"), default=None, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LabelEvent(Base):
    """One step in a label's life after its submission (decided, disputed, dispute decided), in
    order; the submission itself is the label's own row."""

    __tablename__ = "label_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label_id: Mapped[int] = mapped_column(ForeignKey("labels.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(String(42), default=None)
    detail: Mapped[str | None] = mapped_column(String(2000), default=None)


class DisputeStatus(enum.StrEnum):
    open = "open"
    upheld = "upheld"  # the label is verified and paid by the next epoch
    denied = "denied"


class Dispute(Base):
    """An annotator's appeal against a rejection, decided by someone other than who rejected it."""

    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label_id: Mapped[int] = mapped_column(ForeignKey("labels.id"), unique=True)
    annotator: Mapped[str] = mapped_column(String(42), index=True)
    comment: Mapped[str] = mapped_column(String(2000))
    # who rejected the label (None for gold and consensus): never the one who decides
    rejected_by: Mapped[str | None] = mapped_column(String(42), default=None)
    rejection_reason: Mapped[str | None] = mapped_column(String(1000), default=None)
    status: Mapped[DisputeStatus] = mapped_column(
        Enum(DisputeStatus, native_enum=False, length=16), default=DisputeStatus.open, index=True
    )
    decided_by: Mapped[str | None] = mapped_column(String(42), default=None)
    decision_reason: Mapped[str | None] = mapped_column(String(1000), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class AssignmentOutcome(enum.StrEnum):
    leased = "leased"  # reserved for the annotator (expired if the lease ran out since)
    labelled = "labelled"
    skipped = "skipped"
    released = "released"


class SkipReason(enum.StrEnum):
    unclear = "unclear"  # the instructions do not say how to label it
    broken_media = "broken_media"  # it does not load, or is not what it should be
    offensive = "offensive"
    other = "other"


class Assignment(Base):
    """An item served to an annotator, and how that ended. An item is served to an annotator at
    most once (a gold item included): skipped, released or abandoned, it goes to others."""

    __tablename__ = "assignments"
    __table_args__ = (Index("ix_assignments_dataset_outcome", "dataset_id", "outcome"),)

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), primary_key=True)
    annotator: Mapped[str] = mapped_column(String(42), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    served_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[AssignmentOutcome] = mapped_column(
        Enum(AssignmentOutcome, native_enum=False, length=16), default=AssignmentOutcome.leased
    )
    reason: Mapped[SkipReason | None] = mapped_column(
        Enum(SkipReason, native_enum=False, length=16), default=None
    )
    comment: Mapped[str | None] = mapped_column(String(500), default=None)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


#: DatasetAnnotator's counters, by name.
STANDING_COUNTERS = (
    "gold_answered",
    "gold_correct",
    "compared",
    "agreed",
    "decided",
    "accepted",
    "warmup_answered",
    "warmup_correct",
)


class DatasetAnnotator(Base):
    """An annotator's counters on one dataset: the evidence their reputation is computed from
    (ledger.quality.reputation), kept as they change so that a standing is one row to read,
    whatever the size of the dataset. Gold verdicts count once they are revealed. The warm-up
    counters count a qualification warm-up's answers as they are graded; only its outcome is
    shown, once it is complete."""

    __tablename__ = "dataset_annotators"

    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    annotator: Mapped[str] = mapped_column(String(42), primary_key=True)
    gold_answered: Mapped[int] = mapped_column(Integer, default=0)
    gold_correct: Mapped[int] = mapped_column(Integer, default=0)
    compared: Mapped[int] = mapped_column(Integer, default=0)
    agreed: Mapped[int] = mapped_column(Integer, default=0)
    decided: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    warmup_answered: Mapped[int] = mapped_column(Integer, default=0)
    warmup_correct: Mapped[int] = mapped_column(Integer, default=0)
