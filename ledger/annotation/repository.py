"""All SQL about labels."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ledger.annotation.models import Label, LabelStatus
from ledger.dataset.models import Dataset, DatasetReviewer, Item


def next_item_for(
    session: Session, *, dataset_id: int, annotator: str, gold: bool | None = None
) -> Item | None:
    """The least-labelled item this annotator has not labelled yet (spreads work evenly); only
    gold items if `gold`, only others if `gold` is False."""
    already = select(Label.item_id).where(
        Label.annotator == annotator, Label.dataset_id == dataset_id
    )
    query = select(Item).where(
        Item.dataset_id == dataset_id,
        Item.id.not_in(already),
        or_(Item.wanted_labels.is_(None), Item.label_count < Item.wanted_labels),
    )
    if gold is not None:
        query = query.where(Item.gold_label.is_not(None) if gold else Item.gold_label.is_(None))
    return session.scalars(query.order_by(Item.label_count, Item.id).limit(1)).first()


def find_label(session: Session, *, item_id: int, annotator: str) -> Label | None:
    return session.scalars(
        select(Label).where(Label.item_id == item_id, Label.annotator == annotator)
    ).first()


def labels_with_items(
    session: Session,
    *,
    annotator: str | None = None,
    dataset_id: int | None = None,
    status: LabelStatus | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> Sequence[tuple[Label, Item]]:
    query = select(Label, Item).join(Item, Item.id == Label.item_id).order_by(Label.id)
    if annotator is not None:
        query = query.where(Label.annotator == annotator)
    if dataset_id is not None:
        query = query.where(Label.dataset_id == dataset_id)
    if status is not None:
        query = query.where(Label.status == status)
    return session.execute(query.limit(limit).offset(offset)).all()


def review_queue(session: Session, *, reviewer: str, limit: int) -> Sequence[tuple[Label, Item]]:
    """Pending labels of every dataset this reviewer was appointed to, oldest first."""
    datasets = select(DatasetReviewer.dataset_id).where(DatasetReviewer.address == reviewer)
    return session.execute(
        select(Label, Item)
        .join(Item, Item.id == Label.item_id)
        .where(
            Label.status == LabelStatus.pending,
            Label.dataset_id.in_(datasets),
            Label.annotator != reviewer,
            # under consensus only items whose annotators could not agree reach a reviewer
            or_(Item.wanted_labels.is_(None), Item.label_count >= Item.wanted_labels),
        )
        .order_by(Label.id)
        .limit(limit)
    ).all()


def pending_labels_older_than(session: Session, cutoff: dt.datetime) -> Sequence[Label]:
    return session.scalars(
        select(Label)
        .where(Label.status == LabelStatus.pending, Label.created_at <= cutoff)
        .order_by(Label.id)
    ).all()


def pending_labels_on(session: Session, item_ids: Sequence[int]) -> Sequence[Label]:
    return session.scalars(
        select(Label).where(Label.item_id.in_(item_ids), Label.status == LabelStatus.pending)
    ).all()


def labels_of(session: Session, annotator: str) -> Sequence[tuple[Label, Dataset]]:
    return session.execute(
        select(Label, Dataset)
        .join(Dataset, Dataset.id == Label.dataset_id)
        .where(Label.annotator == annotator)
    ).all()
