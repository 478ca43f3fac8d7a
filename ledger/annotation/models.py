"""Labels: one per annotator and item, with their verification verdict and payment epoch."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledger.kit.db import Base, UInt256, UTCDateTime, utcnow
from ledger.publication import random_nonce


class LabelStatus(enum.StrEnum):
    pending = "pending"
    verified = "verified"
    rejected = "rejected"


class VerificationMethod(enum.StrEnum):
    review = "review"
    gold = "gold"


class Label(Base):
    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("item_id", "annotator"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    annotator: Mapped[str] = mapped_column(ForeignKey("accounts.address"), index=True)
    value: Mapped[str] = mapped_column(String(200))
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
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    # What the label earns, fixed when it is verified.
    price: Mapped[int | None] = mapped_column(UInt256, default=None)
    reward: Mapped[int | None] = mapped_column(UInt256, default=None)
    # The epoch that paid it; NULL while verified but unpaid.
    epoch: Mapped[int | None] = mapped_column(ForeignKey("epochs.number"), default=None, index=True)
    # A gold rejection is published in the verdicts of the first epoch built after it.
    published_in: Mapped[int | None] = mapped_column(
        ForeignKey("epochs.number"), default=None, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
