"""Media rules: a buyer uploads files into their dataset; items refer to them; an item is shown
with signed URLs for the wallet it is shown to; a signed URL opens only while that wallet may
still see the item (holds its lease, reviews the dataset, is its buyer or an operator), and
every opening is logged for the buyer.

The upload's name is reserved by its row before the bytes are stored, in one transaction: two
uploads of one name at once cannot both store (the unique (dataset, name) index refuses the
second, or SQLite serialises them), so a row's sha256 always describes the bytes stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger.dataset import repository as dataset_repository
from ledger.dataset import service as datasets
from ledger.dataset.models import Dataset, Item
from ledger.kit.db import Database, hold_writes
from ledger.kit.errors import Conflict, Forbidden, NotFound
from ledger.kit.types import checksum
from ledger.media import MediaFile
from ledger.media_access.models import MediaAccess, MediaObject
from ledger.media_access.references import (
    PREFIX,
    UnknownMediaReference,
    check_name,
    referenced_names,
    with_urls,
)
from ledger.media_access.schemas import ItemView, MediaAccessPublic, MediaObjectPublic
from ledger.storage.service import BadMediaName, MediaVault
from ledger.storage.signing import MediaGrant


class MediaNameTaken(Conflict):
    code = "media_name_taken"


class MediaNotFound(NotFound):
    code = "media_not_found"


class MediaAccessDenied(Forbidden):
    code = "media_access_denied"


# --- uploads ---


def to_public(row: MediaObject) -> MediaObjectPublic:
    return MediaObjectPublic(
        name=row.name,
        reference=PREFIX + row.name,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        created_at=row.created_at,
    )


def upload(
    db: Database,
    vault: MediaVault,
    *,
    dataset_id: int,
    name: str,
    content: bytes,
    content_type: str,
    now: dt.datetime,
) -> tuple[MediaObjectPublic, bool]:
    """Stores `content` as `name` in the dataset (the caller checked it is the buyer's), sealed
    under the dataset's key. Returns the object and whether it is new: the same name with the
    same bytes and type again is the same object (a retried upload), with other bytes 409."""
    check_upload_name(vault, dataset_id, name)
    normalized = vault.check_upload(len(content), content_type)
    blob_key = vault.blob_key(dataset_id, name)
    digest = hashlib.sha256(content).hexdigest()
    for attempt in range(2):
        try:
            with db.unit_of_work() as session:
                hold_writes(session)
                dataset = datasets.get_dataset(session, dataset_id)
                existing = _object(session, dataset_id, name)
                if existing is not None:
                    return _same_or_taken(existing, digest, normalized), False
                row = MediaObject(
                    dataset_id=dataset_id,
                    name=name,
                    content_type=normalized,
                    size=len(content),
                    sha256=digest,
                    blob_key=blob_key,
                    created_at=now,
                )
                session.add(row)
                session.flush()  # the name is ours from here on: another upload of it waits
                vault.store(dataset_id, name, content, normalized, wrapped_key=dataset.data_key)
                return to_public(row), True
        except IntegrityError:
            # PostgreSQL: another upload of the name committed first; look at what it stored
            if attempt:
                raise
    raise AssertionError("unreachable")


_EXTENSION = re.compile(r"[^/]+\.[A-Za-z0-9]{1,10}")


def check_upload_name(vault: MediaVault, dataset_id: int, name: str) -> None:
    """A name the vault takes whose file name ends with an extension: the signed URLs end with
    it, and clients (the web app) tell a picture from a clip or a point cloud by it."""
    vault.blob_key(dataset_id, name)
    if not _EXTENSION.fullmatch(name.rsplit("/", 1)[-1]):
        raise BadMediaName(
            f"media name {name[:100]!r} needs an extension (clip.wav, photo.jpg, scan.pcd): "
            "URLs end with it, and clients show the file by it"
        )


def _same_or_taken(existing: MediaObject, digest: str, content_type: str) -> MediaObjectPublic:
    if existing.sha256 == digest and existing.content_type == content_type:
        return to_public(existing)
    raise MediaNameTaken(
        f"dataset {existing.dataset_id} already has a media file {existing.name!r} with other "
        f"{'bytes' if existing.sha256 != digest else 'content type'} ({existing.content_type}, "
        f"{existing.size} bytes, sha256 {existing.sha256[:12]}...): upload this one under another "
        "name"
    )


def _object(session: Session, dataset_id: int, name: str) -> MediaObject | None:
    return session.scalar(
        select(MediaObject).where(MediaObject.dataset_id == dataset_id, MediaObject.name == name)
    )


def media_of(
    session: Session, *, dataset_id: int, limit: int, offset: int
) -> list[MediaObjectPublic]:
    rows = session.scalars(
        select(MediaObject)
        .where(MediaObject.dataset_id == dataset_id)
        .order_by(MediaObject.name)
        .limit(limit)
        .offset(offset)
    )
    return [to_public(row) for row in rows]


def missing_names(session: Session, *, dataset_id: int, names: set[str]) -> set[str]:
    """Those of `names` the dataset has no uploaded object of."""
    if not names:
        return set()
    found = session.scalars(
        select(MediaObject.name).where(
            MediaObject.dataset_id == dataset_id, MediaObject.name.in_(sorted(names))
        )
    )
    return names - set(found)


class ReferenceChecker:
    """Checks the media references of an upload's items, batch by batch, against the dataset's
    uploaded objects: names already seen known are not asked for again."""

    def __init__(self, db: Database, dataset_id: int) -> None:
        self.db = db
        self.dataset_id = dataset_id
        self.known: set[str] = set()
        self.pending: dict[str, str] = {}  # name -> where it was first referred to

    def add(self, where: str, data: Any) -> None:
        for name in referenced_names(data):
            if name not in self.known and name not in self.pending:
                check_name(name, where=where)
                self.pending[name] = where

    def check(self) -> None:
        """`UnknownMediaReference` naming the first item that refers to no uploaded object."""
        if not self.pending:
            return
        with self.db.unit_of_work() as session:
            missing = missing_names(session, dataset_id=self.dataset_id, names=set(self.pending))
        if missing:
            name = min(missing, key=lambda n: self.pending[n])
            raise UnknownMediaReference(
                f"{self.pending[name]}: data refers to {PREFIX}{name}, which dataset "
                f"{self.dataset_id} has no media file of: upload it first (PUT "
                f"/v1/datasets/{self.dataset_id}/media/{name}), or fix the name"
            )
        self.known.update(self.pending)
        self.pending.clear()


# --- showing items ---


def shown_item_data(
    vault: MediaVault,
    dataset: Dataset,
    *,
    item_id: int,
    external_id: str,
    sealed: bytes,
    wallet: str,
    now: dt.datetime,
    not_after: dt.datetime | None = None,
) -> Any:
    """An item's data as `wallet` is shown it: opened from its sealed column, each media
    reference a signed URL for that wallet and item, living the vault's URL lifetime or until
    `not_after` (the end of the wallet's lease) if sooner. Every route that shows item data
    shows it through here."""
    data = datasets.item_data(vault, dataset, external_id, sealed)
    limit = not_after if not_after is not None and not_after > now else None

    def url_of(name: str) -> str:
        return vault.signed_path(dataset.id, item_id, name, wallet, now=now, not_after=limit)

    return with_urls(data, url_of)


def item_view(
    session: Session,
    vault: MediaVault,
    *,
    dataset: Dataset,
    item_id: int,
    viewer: str,
    now: dt.datetime,
) -> ItemView:
    """One item of the dataset for its buyer (the caller checked), with signed URLs."""
    item = session.get(Item, item_id)
    if item is None or item.dataset_id != dataset.id or item.id > dataset.items_visible_upto:
        raise datasets.UnknownItem(f"dataset {dataset.id} has no item {item_id}")
    return ItemView(
        dataset_id=dataset.id,
        item_id=item.id,
        external_id=item.external_id,
        data=shown_item_data(
            vault,
            dataset,
            item_id=item.id,
            external_id=item.external_id,
            sealed=item.sealed_data,
            wallet=viewer,
            now=now,
        ),
        gold=item.gold,
    )


# --- opening a signed URL ---


@dataclass(frozen=True)
class Opening:
    """A signed URL that may open now: the object, the dataset's key, who opens it and why."""

    grant: MediaGrant
    role: str
    wallet: str
    content_type: str
    wrapped_key: bytes


def authorize(
    session: Session, *, grant: MediaGrant, operators: set[str], now: dt.datetime
) -> Opening:
    """Whether the wallet a valid signed URL was issued to may still open it now: it holds the
    item's lease, reviews the dataset, bought it, or is an operator. The signature only says we
    issued the URL; this says the reason for it still holds."""
    item = session.get(Item, grant.item_id)
    dataset = None if item is None else dataset_repository.get_dataset(session, item.dataset_id)
    if item is None or dataset is None or dataset.id != grant.dataset_id:
        raise MediaNotFound(f"no item {grant.item_id} in dataset {grant.dataset_id}")
    wallet = checksum(grant.wallet)
    role = _role(session, dataset, item, wallet, operators=operators, now=now)
    if role is None:
        raise MediaAccessDenied(
            f"{wallet} may not open item {item.id}'s media now: an annotator opens it only while "
            "holding the item's lease (ask next-item again for fresh links), a reviewer only on "
            "the datasets they review, a buyer only in their own datasets"
        )
    stored = _object(session, dataset.id, grant.name)
    if stored is None:
        raise MediaNotFound(f"dataset {dataset.id} has no media file {grant.name!r}")
    return Opening(grant, role, wallet, stored.content_type, dataset.data_key)


def _role(
    session: Session,
    dataset: Dataset,
    item: Item,
    wallet: str,
    *,
    operators: set[str],
    now: dt.datetime,
) -> str | None:
    if wallet == dataset.buyer:
        return "buyer"
    if (
        item.leased_to == wallet
        and item.lease_expires_at is not None
        and item.lease_expires_at > now
    ):
        return "annotator"
    if dataset_repository.is_reviewer(session, dataset.id, wallet):
        return "reviewer"
    if wallet.lower() in {operator.lower() for operator in operators}:
        return "operator"
    return None


def read(vault: MediaVault, opening: Opening) -> MediaFile:
    grant = opening.grant
    return vault.read(grant.dataset_id, grant.name, wrapped_key=opening.wrapped_key)


def log_opening(session: Session, opening: Opening, *, now: dt.datetime) -> None:
    grant = opening.grant
    session.add(
        MediaAccess(
            dataset_id=grant.dataset_id,
            item_id=grant.item_id,
            object_name=grant.name,
            wallet=opening.wallet,
            role=opening.role,
            at=now,
        )
    )


def access_log(
    session: Session, *, dataset_id: int, limit: int, offset: int
) -> Sequence[MediaAccessPublic]:
    """The dataset's media openings, newest first."""
    rows = session.execute(
        select(MediaAccess, Item.external_id)
        .join(Item, Item.id == MediaAccess.item_id)
        .where(MediaAccess.dataset_id == dataset_id)
        .order_by(MediaAccess.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return [
        MediaAccessPublic(
            id=access.id,
            wallet=access.wallet,
            role=access.role,
            item_id=access.item_id,
            external_id=external_id,
            object_name=access.object_name,
            at=access.at,
        )
        for access, external_id in rows
    ]
