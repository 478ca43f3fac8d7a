"""Datasets (what a buyer pays for), their reviewers and their items."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledger.kit.db import Base, UInt256, UTCDateTime, utcnow
from ledger.kit.types import AddressColumn, Bytes32Column


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
    # The dataset's terms (ledger.publication.terms_document): price, reward, label schema hash
    # and the commitment to its gold answers. salt = keccak256(terms), so the buyer's own
    # `createAndFund(salt, ...)` fixes them on chain before any work; until then they follow
    # the dataset (gold answers may still be added), afterwards they never change.
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
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class DatasetReviewer(Base):
    __tablename__ = "dataset_reviewers"

    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    address: Mapped[str] = mapped_column(ForeignKey("accounts.address"), primary_key=True)
    appointed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("dataset_id", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(200))
    data: Mapped[Any] = mapped_column(JSON)
    # How publications name it: keccak256(dataset.item_key ++ external_id).
    item_hash: Mapped[str] = mapped_column(Bytes32Column)
    # The known answer of a gold item; never shown to annotators.
    gold_label: Mapped[str | None] = mapped_column(String(200), default=None)
    label_count: Mapped[int] = mapped_column(Integer, default=0)
    # Under consensus: how many labels the item is collecting (k, more while they disagree).
    wanted_labels: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
