"""The work queue: all SQL that hands items out, reserves them and fills their places.

Every guarantee lives in one statement the database runs atomically, never in a read followed by
a write in Python:

- an item takes a label only while it has a free place (`take_place`: a conditional UPDATE), so
  no concurrency can give an item more labels than its dataset pays for;
- an item is reserved for one annotator at a time (one `leased_to` column), and an annotator
  holds at most one lease per dataset (a unique partial index);
- an item is served to an annotator at most once (the assignments' primary key).

Serving reads the queue index (`ix_items_queue`: free, unleased, not set aside), in id order, so
its cost does not grow with the dataset: it skips only items this annotator has already been
served that are still open (under consensus, those waiting for other annotators).
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, literal, select, update
from sqlalchemy.orm import Session

from ledger.annotation.models import Assignment, AssignmentOutcome, SkipReason
from ledger.dataset.models import Item
from ledger.kit.db import insert_for, is_postgres

#: The queue index's predicate (ledger.dataset.models.QUEUE_PREDICATE), as a query must say it.
SERVABLE = and_(
    Item.places_taken < Item.places,
    Item.leased_to.is_(None),
    Item.set_aside_at.is_(None),
)


@dataclass(frozen=True)
class Served:
    """An item as next-item hands it out."""

    item_id: int
    external_id: str
    data: Any
    lease_expires_at: dt.datetime


def lock_annotator(session: Session, *, dataset_id: int, annotator: str) -> None:
    """Serialises one annotator's requests on one dataset (two tabs asking for work at once get
    the same lease, not an error). PostgreSQL: a transaction-scoped advisory lock, which no row
    lock waits for, so it cannot deadlock with them. SQLite serialises every write transaction
    already (`ledger.kit.db.hold_writes`)."""
    if is_postgres(session):
        key = zlib.crc32(f"{dataset_id}:{annotator}".encode()) | (dataset_id << 32)
        session.execute(select(func.pg_advisory_xact_lock(key & 0x7FFF_FFFF_FFFF_FFFF)))


def lock_item(session: Session, item_id: int) -> None:
    """Row-locks an item before its labels change (PostgreSQL), so that everything touching one
    item's labels takes its locks in the same order: the item, then the labels."""
    if is_postgres(session):
        session.execute(select(Item.id).where(Item.id == item_id).with_for_update())


def release_expired(session: Session, *, now: dt.datetime, dataset_id: int | None = None) -> int:
    """Ends every lease that ran out (of one dataset, or all), so its item is served again."""
    query = update(Item).where(Item.leased_to.is_not(None), Item.lease_expires_at <= now)
    if dataset_id is not None:
        query = query.where(Item.dataset_id == dataset_id)
    result = session.execute(
        query.values(leased_to=None, lease_expires_at=None),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def held_by(session: Session, *, dataset_id: int, annotator: str) -> Served | None:
    """The item this annotator holds on the dataset, if any (expired leases released first)."""
    row = session.execute(
        select(Item.id, Item.external_id, Item.data, Item.lease_expires_at).where(
            Item.dataset_id == dataset_id, Item.leased_to == annotator
        )
    ).first()
    if row is None:
        return None
    assert row.lease_expires_at is not None
    return Served(row.id, row.external_id, row.data, row.lease_expires_at)


def _not_served_to(annotator: str) -> Any:
    # A scalar subquery with LIMIT, not NOT EXISTS: PostgreSQL turns NOT EXISTS into an anti-join
    # that reads every assignment the annotator ever had (a merge over the primary key); this
    # form stays a probe of the primary key for each candidate, as on SQLite.
    served = (
        select(literal(1))
        .where(Assignment.item_id == Item.id, Assignment.annotator == annotator)
        .limit(1)
        .scalar_subquery()
    )
    return served.is_(None)


def candidate(
    session: Session,
    *,
    dataset_id: int,
    annotator: str,
    gold: bool,
    visible_upto: int,
    warmup: bool = False,
) -> int | None:
    """The first item, in queue order, this annotator can be served: with a free place (a
    warm-up takes gold items whatever their paid places), not held by anyone, not set aside,
    never served to them before. On PostgreSQL the row comes locked, and rows other requests
    are locking are skipped rather than waited for."""
    if warmup:
        query = select(Item.id).where(
            Item.dataset_id == dataset_id,
            Item.gold_label.is_not(None),
            Item.leased_to.is_(None),
            Item.set_aside_at.is_(None),
        )
    else:
        query = select(Item.id).where(Item.dataset_id == dataset_id, Item.gold == gold, SERVABLE)
    query = (
        query.where(Item.id <= visible_upto, _not_served_to(annotator)).order_by(Item.id).limit(1)
    )
    if is_postgres(session):
        query = query.with_for_update(of=Item, skip_locked=True)
    found: int | None = session.scalar(query)
    return found


def reserved_for_others(
    session: Session, *, dataset_id: int, annotator: str, visible_upto: int, warmup: bool
) -> bool:
    """Whether items this annotator was never served still want labels but are held by others
    (or, on PostgreSQL, being taken by them this instant): the queue is empty for them only for
    now. Read only when `candidate` found nothing."""
    held = select(Item.id).where(
        Item.dataset_id == dataset_id,
        Item.leased_to.is_not(None),
        Item.set_aside_at.is_(None),
        Item.id <= visible_upto,
        _not_served_to(annotator),
    )
    if warmup:
        held = held.where(Item.gold_label.is_not(None))
    else:
        held = held.where(Item.places_taken < Item.places)
    if session.scalar(held.limit(1)) is not None:
        return True
    # unleased rows a concurrent request has locked (candidate skipped them)
    return any(
        session.scalar(
            select(Item.id)
            .where(
                Item.dataset_id == dataset_id,
                Item.gold == gold,
                SERVABLE,
                Item.id <= visible_upto,
                _not_served_to(annotator),
            )
            .limit(1)
        )
        is not None
        for gold in (False, True)
    )


def lease(
    session: Session,
    *,
    item_id: int,
    dataset_id: int,
    annotator: str,
    now: dt.datetime,
    seconds: int,
    warmup: bool = False,
) -> dt.datetime | None:
    """Reserves the item for the annotator and records that it was served to them; the lease's
    expiry, or None if the item was taken meanwhile."""
    expires = now + dt.timedelta(seconds=seconds)
    query = update(Item).where(
        Item.id == item_id, Item.leased_to.is_(None), Item.set_aside_at.is_(None)
    )
    if not warmup:
        query = query.where(Item.places_taken < Item.places)
    result = session.execute(
        query.values(leased_to=annotator, lease_expires_at=expires),
        execution_options={"synchronize_session": False},
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.execute(
        insert_for(session, Assignment).values(
            item_id=item_id,
            annotator=annotator,
            dataset_id=dataset_id,
            served_at=now,
            outcome=AssignmentOutcome.leased,
        )
    )
    return expires


def take_place(
    session: Session, *, item_id: int, annotator: str, now: dt.datetime, warmup: bool
) -> tuple[int, int] | None:
    """A label takes one of the item's places (a warm-up label none: it is never paid) and ends
    the lease on it. Refused (None) when the item is full, or reserved for somebody else.
    Returns (places taken, places) as they are now."""
    query = update(Item).where(
        Item.id == item_id,
        (Item.leased_to.is_(None)) | (Item.leased_to == annotator) | (Item.lease_expires_at <= now),
    )
    if not warmup:
        query = query.where(Item.places_taken < Item.places)
    row = session.execute(
        query.values(
            places_taken=Item.places_taken + (0 if warmup else 1),
            leased_to=None,
            lease_expires_at=None,
        ).returning(Item.places_taken, Item.places),
        execution_options={"synchronize_session": False},
    ).first()
    return None if row is None else (int(row[0]), int(row[1]))


def free_place(session: Session, item_id: int) -> None:
    """A rejected label gives its place back: the item is served to another annotator."""
    session.execute(
        update(Item)
        .where(Item.id == item_id, Item.places_taken > 0)
        .values(places_taken=Item.places_taken - 1),
        execution_options={"synchronize_session": False},
    )


def retake_place(session: Session, item_id: int) -> bool:
    """A label reinstated on appeal takes a place again, if one is still free."""
    result = session.execute(
        update(Item)
        .where(Item.id == item_id, Item.places_taken < Item.places)
        .values(places_taken=Item.places_taken + 1),
        execution_options={"synchronize_session": False},
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def add_place(session: Session, *, item_id: int, cap: int) -> bool:
    """Under consensus, a split item asks one more annotator, up to the cap."""
    result = session.execute(
        update(Item).where(Item.id == item_id, Item.places < cap).values(places=Item.places + 1),
        execution_options={"synchronize_session": False},
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def mark_labelled(
    session: Session, *, item_id: int, dataset_id: int, annotator: str, now: dt.datetime
) -> None:
    """Records the assignment's outcome (and the assignment itself when the annotator labelled
    an item without being served it, which a free, unreserved item allows)."""
    statement = insert_for(session, Assignment).values(
        item_id=item_id,
        annotator=annotator,
        dataset_id=dataset_id,
        served_at=now,
        outcome=AssignmentOutcome.labelled,
        ended_at=now,
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[Assignment.item_id, Assignment.annotator],
            set_={"outcome": AssignmentOutcome.labelled, "ended_at": now},
        )
    )


def end_lease(
    session: Session,
    *,
    item_id: int,
    annotator: str,
    now: dt.datetime,
    outcome: AssignmentOutcome,
    reason: SkipReason | None = None,
    comment: str | None = None,
    skip_limit: int = 0,
) -> bool:
    """Skip or release: the annotator gives back the item they hold (False if they hold none).
    A skip counts against the item, which is set aside once `skip_limit` annotators skipped it
    (0: never)."""
    values: dict[str, Any] = {"leased_to": None, "lease_expires_at": None}
    if outcome is AssignmentOutcome.skipped:
        values["skips"] = Item.skips + 1
        if skip_limit > 0:
            values["set_aside_at"] = case(
                (Item.skips + 1 >= skip_limit, func.coalesce(Item.set_aside_at, now)),
                else_=Item.set_aside_at,
            )
    result = session.execute(
        update(Item).where(Item.id == item_id, Item.leased_to == annotator).values(values),
        execution_options={"synchronize_session": False},
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.execute(
        update(Assignment)
        .where(Assignment.item_id == item_id, Assignment.annotator == annotator)
        .values(outcome=outcome, reason=reason, comment=comment, ended_at=now),
        execution_options={"synchronize_session": False},
    )
    return True


def release_all_of(session: Session, *, dataset_id: int, annotator: str) -> None:
    """Ends the annotator's lease on the dataset, if any (they left its workforce)."""
    session.execute(
        update(Item)
        .where(Item.dataset_id == dataset_id, Item.leased_to == annotator)
        .values(leased_to=None, lease_expires_at=None),
        execution_options={"synchronize_session": False},
    )


def requeue(session: Session, *, item_id: int) -> None:
    """The buyer puts a set-aside item back in the queue (for those who have not skipped it)."""
    session.execute(
        update(Item).where(Item.id == item_id).values(set_aside_at=None, skips=0),
        execution_options={"synchronize_session": False},
    )


def skipped_items(
    session: Session, *, dataset_id: int, limit: int, offset: int
) -> list[tuple[Item, list[Assignment]]]:
    """The dataset's skipped items, most skipped first, with their skips (latest first); read
    from the skips alone, never from the whole dataset."""
    counted = session.execute(
        select(Assignment.item_id, func.count())
        .where(
            Assignment.dataset_id == dataset_id,
            Assignment.outcome == AssignmentOutcome.skipped,
        )
        .group_by(Assignment.item_id)
        .order_by(func.count().desc(), Assignment.item_id)
        .limit(limit)
        .offset(offset)
    ).all()
    ids = [item_id for item_id, _count in counted]
    if not ids:
        return []
    items = {item.id: item for item in session.scalars(select(Item).where(Item.id.in_(ids)))}
    skips: dict[int, list[Assignment]] = {item_id: [] for item_id in ids}
    for assignment in session.scalars(
        select(Assignment)
        .where(Assignment.item_id.in_(ids), Assignment.outcome == AssignmentOutcome.skipped)
        .order_by(Assignment.ended_at.desc())
    ):
        skips[assignment.item_id].append(assignment)
    return [(items[item_id], skips[item_id]) for item_id in ids]
