"""All SQL about datasets, items and reviewers."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.dataset.models import Dataset, DatasetReviewer, Item


def get_dataset(session: Session, dataset_id: int) -> Dataset | None:
    return session.get(Dataset, dataset_id)


def list_datasets(session: Session, *, buyer: str | None = None) -> Sequence[Dataset]:
    query = select(Dataset).order_by(Dataset.id)
    if buyer is not None:
        query = query.where(Dataset.buyer == buyer)
    return session.scalars(query).all()


def item_count(session: Session, dataset_id: int) -> int:
    return session.scalar(select(func.count()).where(Item.dataset_id == dataset_id)) or 0


def existing_external_ids(session: Session, dataset_id: int, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    # Chunked so a 100k-item upload does not build one giant IN list.
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found.update(
            session.scalars(
                select(Item.external_id).where(
                    Item.dataset_id == dataset_id, Item.external_id.in_(chunk)
                )
            )
        )
    return found


def items_by_external_id(session: Session, dataset_id: int, ids: Sequence[str]) -> list[Item]:
    return list(
        session.scalars(
            select(Item).where(Item.dataset_id == dataset_id, Item.external_id.in_(ids))
        )
    )


def is_reviewer(session: Session, dataset_id: int, address: str) -> bool:
    return session.get(DatasetReviewer, (dataset_id, address)) is not None


def gold_answers(session: Session, dataset_id: int) -> list[tuple[str, str]]:
    """(external id, gold answer) of every gold item of the dataset."""
    rows = session.execute(
        select(Item.external_id, Item.gold_label).where(
            Item.dataset_id == dataset_id, Item.gold_label.is_not(None)
        )
    )
    return [(external_id, str(answer)) for external_id, answer in rows]
