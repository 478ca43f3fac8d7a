"""Datasets (what a buyer pays for), their reviewers, their private workforce, their versioned
instructions, and their items with the queue state that hands items out to annotators."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UnicodeText,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.kit.db import Base, UInt256, UTCDateTime, utcnow
from ledger.kit.types import AddressColumn, Bytes32Column
from ledger.storage.crypto import WRAPPED_KEY_BYTES


class Dataset(Base):
    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    buyer: Mapped[str] = mapped_column(ForeignKey("accounts.address"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    label_schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    payment_token: Mapped[str] = mapped_column(AddressColumn)
    price_per_label: Mapped[int] = mapped_column(UInt256)
    reward_per_label: Mapped[int] = mapped_column(UInt256)
    # ledger.dataset.schemas.VerificationSpec as JSON: committed in the terms
    verification: Mapped[dict[str, Any]] = mapped_column(JSON)
    # its `method` (review or consensus), as a column for the queries that depend on it
    method: Mapped[str] = mapped_column(String(16), default="review")
    # The dataset's terms (ledger.publication.terms_document): price, reward, label schema hash,
    # verification (overlap included), the instructions' hash and the commitment to its gold
    # answers. salt = keccak256(terms), so the buyer's own `createAndFund(salt, ...)` fixes them
    # on chain before any work; until then they follow the dataset (gold answers and
    # instructions may still change), afterwards they never change.
    terms: Mapped[str] = mapped_column(Text)
    terms_nonce: Mapped[str] = mapped_column(Bytes32Column)
    # The committed gold answers (ledger.publication.gold_document), published once closed; its
    # nonce stays secret until then, so the commitment gives nothing away.
    gold_document: Mapped[str | None] = mapped_column(Text, default=None)
    gold_nonce: Mapped[str] = mapped_column(Bytes32Column)  # the gold document's `key`
    # Publications name items keccak256(item_key ++ item id): only the buyer can tell them apart.
    item_key: Mapped[str] = mapped_column(Bytes32Column)
    # The ledger's `datasetIdOf(buyer, salt)` = uint256(keccak256(abi.encode(buyer, salt))),
    # kept as 0x + 64 hex: known before the buyer touches the chain.
    salt: Mapped[str] = mapped_column(Bytes32Column)
    chain_dataset_id: Mapped[str] = mapped_column(Bytes32Column, unique=True)
    # Who may work on it: everybody, or (private) only the addresses in dataset_members; to
    # anyone else a private dataset does not exist.
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    # How long next-item reserves an item for the annotator it served it to.
    lease_seconds: Mapped[int] = mapped_column(Integer, default=600)
    # An item skipped by this many annotators is set aside (no longer served) for the buyer to
    # look at; 0 never sets one aside.
    skip_limit: Mapped[int] = mapped_column(Integer, default=3)
    # The instructions in force (the latest version in dataset_instructions).
    instructions_version: Mapped[int] = mapped_column(Integer, default=1)
    # Items are added in batches, each its own short transaction; an upload's items stay
    # invisible (never served, never labelled) until its last batch is in and this moves past
    # them, so an upload still counts all or nothing. Only one upload runs per dataset at a time.
    items_visible_upto: Mapped[int] = mapped_column(Integer, default=0)
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    gold_count: Mapped[int] = mapped_column(Integer, default=0)
    upload_started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    # The dataset's own data key, wrapped by the service's master key and bound to this id
    # (ledger.storage.MediaVault.wrap_new_dataset_key): its items' data and its uploaded media
    # are sealed under it. Never shown; deleting it makes every copy of them unreadable.
    data_key: Mapped[bytes] = mapped_column(LargeBinary(WRAPPED_KEY_BYTES))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class DatasetReviewer(Base):
    __tablename__ = "dataset_reviewers"

    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    address: Mapped[str] = mapped_column(ForeignKey("accounts.address"), primary_key=True)
    appointed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class DatasetMember(Base):
    """An annotator a private dataset's buyer admitted to its workforce."""

    __tablename__ = "dataset_members"

    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class DatasetInstructions(Base):
    """One version of a dataset's instructions: Markdown and example items. Version 1 is the one
    the terms commit to (its hash is in them); a later version is written only once the dataset
    is on the ledger, and every label records the version it was made under."""

    __tablename__ = "dataset_instructions"

    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    markdown: Mapped[str] = mapped_column(Text)
    examples: Mapped[list[Any]] = mapped_column(JSON)
    # keccak256 of the canonical JSON of {markdown, examples} (ledger.publication)
    hash: Mapped[str] = mapped_column(Bytes32Column)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# An item can be handed out when it has a free place, is not set aside, and nobody holds a live
# lease on it. The queue index holds the items with a free place that are not set aside, in the
# order they are served (per dataset, gold apart, by id), so next-item reads the first entry that
# fits instead of sorting the dataset; an item leaves it the moment it is filled. Leased items
# stay in it (a lease that ran out makes its item servable again with no statement to run); only
# the crowd's own live leases are read past. Queries must repeat the predicate word for word for
# SQLite to use the index (`ledger.annotation.queue.servable`).
QUEUE_PREDICATE = "places_taken < places AND set_aside_at IS NULL"


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("dataset_id", "external_id"),
        Index(
            "ix_items_queue",
            "dataset_id",
            "gold",
            "id",
            sqlite_where=text(QUEUE_PREDICATE),
            postgresql_where=text(QUEUE_PREDICATE),
        ),
        # A qualification warm-up serves gold items whatever their paid places.
        Index(
            "ix_items_gold_pool",
            "dataset_id",
            "id",
            sqlite_where=text("gold_label IS NOT NULL"),
            postgresql_where=text("gold_label IS NOT NULL"),
        ),
        # One lease per annotator and dataset, enforced by the database.
        Index(
            "uq_items_lease_holder",
            "dataset_id",
            "leased_to",
            unique=True,
            sqlite_where=text("leased_to IS NOT NULL"),
            postgresql_where=text("leased_to IS NOT NULL"),
        ),
        Index(
            "ix_items_lease_expiry",
            "dataset_id",
            "lease_expires_at",
            sqlite_where=text("leased_to IS NOT NULL"),
            postgresql_where=text("leased_to IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    external_id: Mapped[str] = mapped_column(String(200))
    # The item's JSON data sealed under its dataset's key, bound to the dataset and external id
    # (ledger.dataset.service.item_data opens it; nothing else reads this column).
    sealed_data: Mapped[bytes] = mapped_column(LargeBinary)
    # How publications name it: keccak256(dataset.item_key ++ external_id).
    item_hash: Mapped[str] = mapped_column(Bytes32Column)
    # The known answer of a gold item; never shown to annotators.
    gold_label: Mapped[str | None] = mapped_column(UnicodeText, default=None)
    gold: Mapped[bool] = mapped_column(Boolean, default=False)
    # How many labels the item takes: the dataset's overlap under review, k (one more at a time
    # while they disagree, up to the cap) under consensus, the gold overlap for a gold item.
    places: Mapped[int] = mapped_column(Integer)
    # Labels holding a place: pending or verified ones, and consensus rejections (their item is
    # decided). A label rejected by a reviewer or on gold frees its place; a warm-up label never
    # takes one (it is not paid). Only changed by atomic conditional updates.
    places_taken: Mapped[int] = mapped_column(Integer, default=0)
    # The annotator next-item reserved it for, until lease_expires_at.
    leased_to: Mapped[str | None] = mapped_column(String(42), default=None)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    skips: Mapped[int] = mapped_column(Integer, default=0)
    set_aside_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
