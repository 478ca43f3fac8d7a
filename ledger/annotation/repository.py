"""All SQL about labels."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ledger.annotation.models import Label, LabelStatus
from ledger.dataset.models import Dataset, DatasetReviewer, Item
from ledger.kit.db import is_postgres


@functools.cache
def _insert_label_statement(*, postgres: bool) -> Any:
    table = cast(Table, Label.__table__)
    statement = postgresql.insert(table) if postgres else sqlite.insert(table)
    return (
        statement.values(status=LabelStatus.pending)
        .on_conflict_do_nothing(index_elements=[table.c.item_id, table.c.annotator])
        .returning(table.c.id)
    )


def insert_label(
    session: Session,
    *,
    dataset_id: int,
    item_id: int,
    annotator: str,
    value: str,
    salt: str,
    warmup: bool,
    instructions_version: int,
    now: dt.datetime,
) -> int | None:
    """Inserts a pending label; its id, or None when this annotator labelled the item already
    (the unique constraint decides, whatever the concurrency)."""
    found: int | None = (
        session.connection()
        .execute(
            _insert_label_statement(postgres=is_postgres(session)),
            {
                "dataset_id": dataset_id,
                "item_id": item_id,
                "annotator": annotator,
                "value": value,
                "salt": salt,
                "warmup": warmup,
                "holds_place": not warmup,
                "instructions_version": instructions_version,
                "created_at": now,
            },
        )
        .scalar()
    )
    return found


def labels_with_items(
    session: Session,
    *,
    annotator: str | None = None,
    dataset_id: int | None = None,
    status: LabelStatus | None = None,
    limit: int = 1000,
    offset: int = 0,
    unsealed: bool = False,
) -> Sequence[tuple[Label, Item]]:
    """Labels with their items, oldest first. A sealed gold verdict counts as pending unless
    `unsealed` (the buyer's view)."""
    query = select(Label, Item).join(Item, Item.id == Label.item_id).order_by(Label.id)
    if annotator is not None:
        query = query.where(Label.annotator == annotator)
    if dataset_id is not None:
        query = query.where(Label.dataset_id == dataset_id)
    if status is not None and unsealed:
        query = query.where(Label.status == status)
    elif status is LabelStatus.pending:
        query = query.where(or_(Label.status == status, Label.sealed_until.is_not(None)))
    elif status is not None:
        query = query.where(Label.status == status, Label.sealed_until.is_(None))
    return session.execute(query.limit(limit).offset(offset)).all()


def review_queue(session: Session, *, reviewer: str, limit: int) -> Sequence[tuple[Label, Item]]:
    """Pending labels of every dataset this reviewer was appointed to, oldest first."""
    datasets = select(DatasetReviewer.dataset_id).where(DatasetReviewer.address == reviewer)
    return session.execute(
        select(Label, Item)
        .join(Item, Item.id == Label.item_id)
        .join(Dataset, Dataset.id == Label.dataset_id)
        .where(
            Label.status == LabelStatus.pending,
            Label.dataset_id.in_(datasets),
            Label.annotator != reviewer,
            # under consensus only items whose annotators could not agree at the cap reach a
            # reviewer; labels still collecting their k wait
            or_(Dataset.method == "review", Item.places_taken >= Item.places),
        )
        .order_by(Label.id)
        .limit(limit)
    ).all()


def pending_labels_older_than(session: Session, cutoff: dt.datetime) -> Sequence[Label]:
    """Locked (PostgreSQL), and those another transaction is deciding skipped: a label is
    decided once."""
    return session.scalars(
        select(Label)
        .where(Label.status == LabelStatus.pending, Label.created_at <= cutoff)
        .order_by(Label.id)
        .with_for_update(skip_locked=True)
    ).all()


def pending_labels_on(session: Session, item_ids: Sequence[int]) -> Sequence[Label]:
    """Locked (PostgreSQL; after their item's row, the order every decision takes): a label
    being decided elsewhere is waited for and, decided, left out."""
    return session.scalars(
        select(Label)
        .where(Label.item_id.in_(item_ids), Label.status == LabelStatus.pending)
        .order_by(Label.id)
        .with_for_update()
    ).all()


def labels_of(session: Session, annotator: str) -> Sequence[tuple[Label, Dataset]]:
    return session.execute(
        select(Label, Dataset)
        .join(Dataset, Dataset.id == Label.dataset_id)
        .where(Label.annotator == annotator)
    ).all()
