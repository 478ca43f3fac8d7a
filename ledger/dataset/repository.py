"""All SQL about datasets, items, reviewers and workforces."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from ledger.dataset.models import Dataset, DatasetMember, DatasetReviewer, Item


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
