"""All SQL about datasets, items, reviewers and workforces."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from ledger.annotation.models import Label, LabelPayment, LabelStatus
from ledger.dataset.models import Dataset, DatasetMember, DatasetReviewer, Item
from ledger.dataset.schemas import DatasetProgress


def get_dataset(session: Session, dataset_id: int) -> Dataset | None:
    return session.get(Dataset, dataset_id)


def list_datasets(session: Session, *, viewer: str, operator: bool = False) -> Sequence[Dataset]:
    """Every dataset the viewer may know of: the public ones, and private ones they buy, work
    on or review (operators see all)."""
    query = select(Dataset).order_by(Dataset.id)
    if not operator:
        query = query.where(
            or_(
                Dataset.private.is_(False),
                Dataset.buyer == viewer,
                exists().where(
                    DatasetMember.dataset_id == Dataset.id, DatasetMember.address == viewer
                ),
                exists().where(
                    DatasetReviewer.dataset_id == Dataset.id, DatasetReviewer.address == viewer
                ),
            )
        )
    return session.scalars(query).all()


def items_by_external_id(
    session: Session, dataset_id: int, ids: Sequence[str], *, upto: int
) -> list[Item]:
    found: list[Item] = []
    for start in range(0, len(ids), 500):
        found.extend(
            session.scalars(
                select(Item).where(
                    Item.dataset_id == dataset_id,
                    Item.external_id.in_(ids[start : start + 500]),
                    Item.id <= upto,
                )
            )
        )
    return found


def is_reviewer(session: Session, dataset_id: int, address: str) -> bool:
    return session.get(DatasetReviewer, (dataset_id, address)) is not None


def is_member(session: Session, dataset_id: int, address: str) -> bool:
    return session.get(DatasetMember, (dataset_id, address)) is not None


def members(session: Session, dataset_id: int) -> list[str]:
    return list(
        session.scalars(
            select(DatasetMember.address)
            .where(DatasetMember.dataset_id == dataset_id)
            .order_by(DatasetMember.address)
        )
    )


def gold_answers(session: Session, dataset_id: int, *, upto: int) -> list[tuple[str, str]]:
    """(external id, gold answer) of every gold item of the dataset up to item id `upto`."""
    rows = session.execute(
        select(Item.external_id, Item.gold_label).where(
            Item.dataset_id == dataset_id, Item.gold_label.is_not(None), Item.id <= upto
        )
    )
    return [(external_id, str(answer)) for external_id, answer in rows]


def progress_counts(session: Session, dataset: Dataset) -> DatasetProgress:
    """The dataset's counts in four aggregate queries, each over the dataset's rows of one
    index (labels by dataset_id, items by (dataset_id, external_id)): no row reaches Python."""
    by_status: dict[tuple[LabelStatus, bool], tuple[int, int]] = {}
    for status, warmup, total, paid in session.execute(
        select(Label.status, Label.warmup, func.count(), func.count(LabelPayment.epoch))
        .outerjoin(LabelPayment, LabelPayment.label_id == Label.id)
        .where(Label.dataset_id == dataset.id)
        .group_by(Label.status, Label.warmup)
    ):
        by_status[(LabelStatus(status), bool(warmup))] = (int(total), int(paid))

    def count(status: LabelStatus) -> int:
        return by_status.get((status, False), (0, 0))[0]

    items_labelled = session.scalar(
        select(func.count(func.distinct(Label.item_id))).where(
            Label.dataset_id == dataset.id, Label.warmup.is_(False)
        )
    )
    epochs, latest = session.execute(
        select(func.count(func.distinct(LabelPayment.epoch)), func.max(LabelPayment.epoch))
        .join(Label, Label.id == LabelPayment.label_id)
        .where(Label.dataset_id == dataset.id)
    ).one()
    set_aside = session.scalar(
        select(func.count())
        .select_from(Item)
        .where(
            Item.dataset_id == dataset.id,
            Item.id <= dataset.items_visible_upto,
            Item.set_aside_at.is_not(None),
        )
    )
    paid = by_status.get((LabelStatus.verified, False), (0, 0))[1]
    return DatasetProgress(
        dataset_id=dataset.id,
        items=dataset.item_count,
        gold_items=dataset.gold_count,
        items_labelled=items_labelled or 0,
        items_set_aside=set_aside or 0,
        labels=sum(c for (_, warmup), (c, _) in by_status.items() if not warmup),
        pending=count(LabelStatus.pending),
        verified=count(LabelStatus.verified),
        rejected=count(LabelStatus.rejected),
        paid=paid,
        unpaid=count(LabelStatus.verified) - paid,
        warmup_labels=sum(c for (_, warmup), (c, _) in by_status.items() if warmup),
        epochs=int(epochs or 0),
        latest_epoch=None if latest is None else int(latest),
    )


def reviewers(session: Session, dataset_id: int) -> list[DatasetReviewer]:
    return list(
        session.scalars(
            select(DatasetReviewer)
            .where(DatasetReviewer.dataset_id == dataset_id)
            .order_by(DatasetReviewer.appointed_at, DatasetReviewer.address)
        )
    )
