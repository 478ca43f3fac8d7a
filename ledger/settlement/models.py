"""Epochs: what was paid, the cumulative entitlements they publish, and the double-entry ledger."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ledger.kit.db import Base, UInt256, UTCDateTime, utcnow
from ledger.kit.types import AddressColumn, Bytes32Column


class EpochStatus(enum.StrEnum):
    built = "built"  # trees, manifest and debits fixed in SQL, nothing sent yet
    sending = "sending"  # signed proposeEpoch stored, may or may not be on chain
    proposed = "proposed"  # the chain holds our epoch as pending: not claimable until accepted
    accepting = "accepting"  # signed acceptEpoch stored, may or may not be on chain
    accepted = "accepted"  # the chain's payout root is ours: claims are paid against it


class Epoch(Base):
    __tablename__ = "epochs"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    status: Mapped[EpochStatus] = mapped_column(
        Enum(EpochStatus, native_enum=False, length=16), default=EpochStatus.built
    )
    payout_root: Mapped[str] = mapped_column(Bytes32Column)
    label_root: Mapped[str] = mapped_column(Bytes32Column)
    # keccak256 of `manifest` (its UTF-8 bytes), posted on chain beside the two roots
    content_hash: Mapped[str] = mapped_column(Bytes32Column)
    label_count: Mapped[int] = mapped_column(Integer)
    # standard-v1 dumps: every cumulative entitlement as of this epoch; every label it pays
    # Loaded only when read (`deferred`): at a million labels they are ~770 MB of text, and
    # proposing, accepting and healing an epoch read its status and transactions many times.
    payout_tree: Mapped[str] = mapped_column(Text, deferred=True)
    label_tree: Mapped[str] = mapped_column(Text, deferred=True)
    manifest: Mapped[str] = mapped_column(Text, deferred=True)
    verdicts: Mapped[str] = mapped_column(Text, deferred=True)
    # The signed proposeEpoch: re-broadcasting it after a crash cannot propose twice.
    raw_tx: Mapped[str | None] = mapped_column(Text, default=None)
    tx_hash: Mapped[str | None] = mapped_column(Bytes32Column, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    posted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    posted_block: Mapped[int | None] = mapped_column(Integer, default=None)
    # unix time from which anyone may accept it (the chain's proposedAt + TIMELOCK)
    acceptable_at: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # The signed acceptEpoch, kept for the same reason as raw_tx.
    accept_raw_tx: Mapped[str | None] = mapped_column(Text, default=None)
    accept_tx_hash: Mapped[str | None] = mapped_column(Bytes32Column, default=None)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class EpochDebit(Base):
    __tablename__ = "epoch_debits"

    epoch: Mapped[int] = mapped_column(ForeignKey("epochs.number"), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    chain_dataset_id: Mapped[str] = mapped_column(Bytes32Column)
    amount: Mapped[int] = mapped_column(UInt256)  # paid to annotators; the fee is on top
    fee: Mapped[int] = mapped_column(UInt256)
    label_count: Mapped[int] = mapped_column(Integer)


class Entitlement(Base):
    """Cumulative entitlements of an account for labels paid in a token as of an epoch: one
    payout-tree leaf."""

    __tablename__ = "entitlements"

    epoch: Mapped[int] = mapped_column(ForeignKey("epochs.number"), primary_key=True)
    account: Mapped[str] = mapped_column(AddressColumn, primary_key=True)
    token_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    cumulative_payment: Mapped[int] = mapped_column(UInt256)
    cumulative_reward: Mapped[int] = mapped_column(UInt256)


class EntrySide(enum.StrEnum):
    debit = "debit"
    credit = "credit"


class LedgerEntry(Base):
    """Half of a balance movement; its pair shares the correlation id and the amount."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    correlation_id: Mapped[str] = mapped_column(String(200), index=True)
    epoch: Mapped[int] = mapped_column(ForeignKey("epochs.number"), index=True)
    # Which book the half belongs to: a dataset's funds, LABEL issuance, fees, or an annotator.
    ledger_account: Mapped[str] = mapped_column(String(120), index=True)
    token: Mapped[str] = mapped_column(AddressColumn)
    side: Mapped[EntrySide] = mapped_column(Enum(EntrySide, native_enum=False, length=8))
    amount: Mapped[int] = mapped_column(UInt256)
