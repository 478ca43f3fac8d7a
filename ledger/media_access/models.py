"""The media objects a buyer uploaded into a dataset, and the log of every opening of one."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledger.kit.db import Base, UTCDateTime, utcnow
from ledger.storage.blobs import MAX_KEY_LENGTH
from ledger.storage.service import MAX_NAME_LENGTH


class MediaObject(Base):
    """One uploaded file of a dataset, named as items refer to it (`media:<name>`). The bytes
    are sealed in the blob store under `blob_key`; the row says what they are, so an upload of
    the same name can be told apart from a repeat (same sha256) or a clash (409)."""

    __tablename__ = "media_objects"
    __table_args__ = (UniqueConstraint("dataset_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)  # of the content, before sealing
    sha256: Mapped[str] = mapped_column(String(64))  # hex, of the content
    blob_key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class MediaAccess(Base):
    """A signed media URL that opened: who (the wallet it was issued to, in what role), which
    item and object of which dataset, when. The buyer reads it newest first."""

    __tablename__ = "media_access"
    __table_args__ = (Index("ix_media_access_dataset", "dataset_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    object_name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    wallet: Mapped[str] = mapped_column(String(42))  # checksummed
    role: Mapped[str] = mapped_column(String(16))  # annotator, reviewer, buyer, operator
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
