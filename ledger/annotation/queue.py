"""The work queue: all SQL that hands items out, reserves them and fills their places.

Every guarantee lives in one statement the database runs atomically, never in a read followed by
a write in Python:

- an item takes a label only while it has a free place (`take_place`: a conditional UPDATE), so
  no concurrency can give an item more labels than its dataset pays for;
- an item is reserved for one annotator at a time (one `leased_to` column), and an annotator
  holds at most one lease per dataset (a unique partial index: when one annotator's two
  requests lease at once on PostgreSQL, it refuses the second, which is run again and then
  returns the first's lease);
- an item is served to an annotator at most once (the assignments' primary key).

Serving reads the queue index (`ix_items_queue`: free, unleased, not set aside), in id order, so
its cost does not grow with the dataset: it skips only items this annotator has already been
served that are still open (under consensus, those waiting for other annotators).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from ledger.annotation import repository
from ledger.annotation.models import (
    STANDING_COUNTERS,
    Assignment,
    AssignmentOutcome,
    DatasetAnnotator,
    Label,
    LabelStatus,
    SkipReason,
)
from ledger.dataset.models import Dataset, DatasetMember, DatasetReviewer, Item
from ledger.kit.db import UTCDateTime, is_postgres
from ledger.mirror.models import ChainDataset


def servable(items: Any = Item) -> ColumnElement[bool]:
    """The queue index's predicate (ledger.dataset.models.QUEUE_PREDICATE), as a query must say
    it for SQLite to use the index."""
    return and_(items.places_taken < items.places, items.set_aside_at.is_(None))


def unheld(items: Any, now: Any) -> ColumnElement[bool]:
    """Nobody holds a live lease on the item (a lease that ran out holds nothing)."""
    return or_(items.leased_to.is_(None), items.lease_expires_at <= now)


SERVABLE = servable()


@dataclass(frozen=True)
class Context:
    """What serving or labelling needs to know, read in one statement: the dataset, its state
    on the ledger, whether the annotator belongs to its workforce or reviews it, their counters
    (a transient DatasetAnnotator), and the item they hold on it, if any."""

    dataset: Dataset
    chain_status: str | None
    chain_token: str | None
    member: bool
    reviewer: bool
    counters: DatasetAnnotator
    held: Served | None


@dataclass(frozen=True)
class LabelTarget:
    """The item a label is for, as the label's checks and its answer need it."""

    item_id: int
    external_id: str
    item_hash: str
    gold_label: str | None
    leased_to: str | None
    lease_expires_at: dt.datetime | None
    places: int
    labelled_before: bool


# Statements of the hot paths are built once, with bound parameters, as Core statements on the
# tables, and run on the session's connection: building a select from ORM attributes, or running
# one through the ORM (which rebuilds it and its cache key each time), costs more than running it.
_ITEMS = cast(Table, Item.__table__)
_ASSIGNMENTS = cast(Table, Assignment.__table__)
_DATASETS = cast(Table, Dataset.__table__)
_CHAIN = cast(Table, ChainDataset.__table__)
_STANDINGS = cast(Table, DatasetAnnotator.__table__)
_MEMBERS = cast(Table, DatasetMember.__table__)
_REVIEWERS = cast(Table, DatasetReviewer.__table__)
_LABELS = cast(Table, Label.__table__)
_DATASET_ID = bindparam("p_dataset_id", type_=Integer)
_ITEM_ID = bindparam("p_item_id", type_=Integer)
_ANNOTATOR = bindparam("p_annotator", type_=String)
_NOW = bindparam("p_now", type_=UTCDateTime())
_DATASET_COLUMNS = tuple(column.key for column in _DATASETS.columns)


def _context_columns() -> list[Any]:
    datasets = _DATASETS.c
    member = exists().where(_MEMBERS.c.dataset_id == datasets.id, _MEMBERS.c.address == _ANNOTATOR)
    reviewer = exists().where(
        _REVIEWERS.c.dataset_id == datasets.id, _REVIEWERS.c.address == _ANNOTATOR
    )
    return [
        *_DATASETS.columns,
        _CHAIN.c.status,
        _CHAIN.c.token,
        member.label("member"),
        reviewer.label("reviewer"),
        *(_STANDINGS.c[name] for name in STANDING_COUNTERS),
    ]


def _joined(query: Any) -> Any:
    return query.outerjoin(_CHAIN, _CHAIN.c.dataset_id == _DATASETS.c.chain_dataset_id).outerjoin(
        _STANDINGS,
        and_(_STANDINGS.c.dataset_id == _DATASETS.c.id, _STANDINGS.c.annotator == _ANNOTATOR),
    )


def _held_columns(held: Any) -> list[Any]:
    return [held.c.id, held.c.external_id, held.c.sealed_data, held.c.lease_expires_at]


@functools.cache
def _serving_statement() -> Any:
    held = _ITEMS.alias("held")
    return (
        _joined(select(*_context_columns(), *_held_columns(held)).select_from(_DATASETS))
        .outerjoin(held, and_(held.c.dataset_id == _DATASETS.c.id, held.c.leased_to == _ANNOTATOR))
        .where(_DATASETS.c.id == _DATASET_ID)
    )


@functools.cache
def _labelling_statement() -> Any:
    items = _ITEMS.c
    labelled = exists().where(_LABELS.c.item_id == items.id, _LABELS.c.annotator == _ANNOTATOR)
    held = _ITEMS.alias("held")
    return (
        _joined(
            select(
                *_context_columns(),
                items.id,
                items.external_id,
                items.item_hash,
                items.gold_label,
                items.leased_to,
                items.lease_expires_at,
                items.places,
                labelled.label("labelled"),
                *_held_columns(held),
            )
            .select_from(_ITEMS)
            .join(_DATASETS, _DATASETS.c.id == items.dataset_id)
        )
        .outerjoin(held, and_(held.c.dataset_id == _DATASETS.c.id, held.c.leased_to == _ANNOTATOR))
        .where(items.id == _ITEM_ID)
    )


def _counters(dataset_id: int, annotator: str, values: Any) -> DatasetAnnotator:
    return DatasetAnnotator(
        dataset_id=dataset_id,
        annotator=annotator,
        **{name: value or 0 for name, value in zip(STANDING_COUNTERS, values, strict=True)},
    )


def _context(row: Any, annotator: str, held: Served | None) -> Context:
    width = len(_DATASET_COLUMNS)
    # a transient Dataset: what the rules read of it, without the ORM's loading
    dataset = Dataset(**dict(zip(_DATASET_COLUMNS, row[:width], strict=True)))
    rest = row[width:]
    return Context(
        dataset=dataset,
        chain_status=rest[0],
        chain_token=rest[1],
        member=bool(rest[2]),
        reviewer=bool(rest[3]),
        counters=_counters(dataset.id, annotator, rest[4 : 4 + len(STANDING_COUNTERS)]),
        held=held,
    )


def _served_from(lease: Any) -> Served | None:
    return None if lease[0] is None else Served(lease[0], lease[1], lease[2], lease[3])


def serving_context(session: Session, *, dataset_id: int, annotator: str) -> Context | None:
    row = (
        session.connection()
        .execute(_serving_statement(), {"p_dataset_id": dataset_id, "p_annotator": annotator})
        .first()
    )
    if row is None:
        return None
    return _context(row, annotator, _served_from(row[-4:]))


def labelling_context(
    session: Session, *, item_id: int, annotator: str
) -> tuple[Context, LabelTarget] | None:
    row = (
        session.connection()
        .execute(_labelling_statement(), {"p_item_id": item_id, "p_annotator": annotator})
        .first()
    )
    if row is None:
        return None
    tail = row[len(_DATASET_COLUMNS) + 4 + len(STANDING_COUNTERS) :]
    return _context(row, annotator, _served_from(tail[8:12])), LabelTarget(
        item_id=tail[0],
        external_id=tail[1],
        item_hash=tail[2],
        gold_label=tail[3],
        leased_to=tail[4],
        lease_expires_at=tail[5],
        places=tail[6],
        labelled_before=bool(tail[7]),
    )


def renew(session: Session, *, item_id: int, annotator: str, expires: dt.datetime) -> bool:
    """Extends the annotator's own lease (they asked again after it ran out, and nobody has
    taken the item since)."""
    result = session.execute(
        update(Item)
        .where(Item.id == item_id, Item.leased_to == annotator)
        .values(lease_expires_at=expires),
        execution_options={"synchronize_session": False},
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


@functools.cache
def lease_first_statement(*, postgres: bool) -> Any:
    """UPDATE ... WHERE id = (the first servable non-gold item the annotator was never served)
    RETURNING it: serving is one statement. Parameters: dataset_id, annotator, expires, upto."""
    pick = _ITEMS.alias("pick").c
    first = (
        select(pick.id)
        .where(
            pick.dataset_id == _DATASET_ID,
            pick.gold.is_(False),
            servable(pick),
            unheld(pick, _NOW),
            pick.id <= bindparam("p_upto", type_=Integer),
            _not_served_to(_ANNOTATOR, pick),
        )
        .order_by(pick.id)
        .limit(1)
    )
    if postgres:
        first = first.with_for_update(skip_locked=True)
    items = _ITEMS
    leasing = (
        update(items)
        .where(items.c.id == first.scalar_subquery())
        .values(leased_to=_ANNOTATOR, lease_expires_at=bindparam("p_expires", type_=UTCDateTime()))
        .returning(items.c.id, items.c.external_id, items.c.sealed_data, items.c.lease_expires_at)
    )
    if not postgres:
        return leasing
    # PostgreSQL: the assignment is recorded by the same statement (a data-modifying CTE), one
    # round trip instead of two.
    leased = leasing.cte("leased")
    served = _ASSIGNMENTS.insert().from_select(
        ["item_id", "annotator", "dataset_id", "served_at", "outcome"],
        select(
            leased.c.id,
            _ANNOTATOR,
            _DATASET_ID,
            _NOW,
            literal(AssignmentOutcome.leased, type_=_ASSIGNMENTS.c.outcome.type),
        ),
    )
    return select(
        leased.c.id, leased.c.external_id, leased.c.sealed_data, leased.c.lease_expires_at
    ).add_cte(served.cte("served"))


def lease_first(
    session: Session,
    *,
    dataset_id: int,
    annotator: str,
    now: dt.datetime,
    seconds: int,
    visible_upto: int,
) -> Served | None:
    """Leases the first servable non-gold item the annotator was never served, in one statement,
    and records that it was served to them (in the same statement on PostgreSQL)."""
    row = (
        session.connection()
        .execute(
            lease_first_statement(postgres=is_postgres(session)),
            {
                "p_dataset_id": dataset_id,
                "p_annotator": annotator,
                "p_expires": now + dt.timedelta(seconds=seconds),
                "p_upto": visible_upto,
                "p_now": now,
            },
        )
        .first()
    )
    if row is None:
        return None
    if not is_postgres(session):
        _served(session, item_id=row[0], dataset_id=dataset_id, annotator=annotator, now=now)
    return Served(row[0], row[1], row[2], row[3])


_SERVED = insert(_ASSIGNMENTS).values(outcome=AssignmentOutcome.leased)


def _served(
    session: Session, *, item_id: int, dataset_id: int, annotator: str, now: dt.datetime
) -> None:
    session.connection().execute(
        _SERVED,
        {"item_id": item_id, "annotator": annotator, "dataset_id": dataset_id, "served_at": now},
    )


@dataclass(frozen=True)
class Served:
    """An item as next-item hands it out: `data` still sealed (see
    ledger.media_access.service.shown_item_data)."""

    item_id: int
    external_id: str
    data: bytes
    lease_expires_at: dt.datetime


LEASE_HOLDER_INDEX = "uq_items_lease_holder"


def refused_second_lease(error: IntegrityError) -> bool:
    """Whether the database refused a lease because the annotator took another one on the same
    dataset at the same moment (the one-lease-per-annotator index)."""
    diagnosis = getattr(error.orig, "diag", None)
    return getattr(diagnosis, "constraint_name", None) == LEASE_HOLDER_INDEX


def lock_item(session: Session, item_id: int) -> None:
    """Row-locks an item before its labels change (PostgreSQL), so that everything touching one
    item's labels takes its locks in the same order: the item, then the labels."""
    if is_postgres(session):
        session.execute(select(Item.id).where(Item.id == item_id).with_for_update())


def release_expired(session: Session, *, now: dt.datetime) -> int:
    """Ends every lease that ran out, so nothing shows an item as held that nobody holds (an
    expired lease does not hold its item from the queue anyway)."""
    result = session.execute(
        update(Item)
        .where(Item.leased_to.is_not(None), Item.lease_expires_at <= now)
        .values(leased_to=None, lease_expires_at=None),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def held_by(session: Session, *, dataset_id: int, annotator: str) -> Served | None:
    """The item this annotator holds on the dataset, if any (expired leases released first)."""
    row = session.execute(
        select(Item.id, Item.external_id, Item.sealed_data, Item.lease_expires_at).where(
            Item.dataset_id == dataset_id, Item.leased_to == annotator
        )
    ).first()
    if row is None:
        return None
    assert row.lease_expires_at is not None
    return Served(row.id, row.external_id, row.sealed_data, row.lease_expires_at)


def _not_served_to(annotator: str | BindParameter[str], items: Any = Item) -> Any:
    # A scalar subquery with LIMIT, not NOT EXISTS: PostgreSQL turns NOT EXISTS into an anti-join
    # that reads every assignment the annotator ever had (a merge over the primary key); this
    # form stays a probe of the primary key for each candidate, as on SQLite.
    served = (
        select(literal(1))
        .where(_ASSIGNMENTS.c.item_id == items.id, _ASSIGNMENTS.c.annotator == annotator)
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
    now: dt.datetime,
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
            Item.set_aside_at.is_(None),
        )
    else:
        query = select(Item.id).where(Item.dataset_id == dataset_id, Item.gold == gold, SERVABLE)
    query = (
        query.where(unheld(Item, now), Item.id <= visible_upto, _not_served_to(annotator))
        .order_by(Item.id)
        .limit(1)
    )
    if is_postgres(session):
        query = query.with_for_update(of=Item, skip_locked=True)
    found: int | None = session.scalar(query)
    return found


def reserved_for_others(
    session: Session,
    *,
    dataset_id: int,
    annotator: str,
    visible_upto: int,
    warmup: bool,
    now: dt.datetime,
) -> bool:
    """Whether items this annotator was never served still want labels but are held by others
    (or, on PostgreSQL, being taken by them this instant): the queue is empty for them only for
    now. Read only when `candidate` found nothing."""
    held = select(Item.id).where(
        Item.dataset_id == dataset_id,
        Item.leased_to.is_not(None),
        Item.lease_expires_at > now,
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
                unheld(Item, now),
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
    query = update(Item).where(Item.id == item_id, unheld(Item, now), Item.set_aside_at.is_(None))
    if not warmup:
        query = query.where(Item.places_taken < Item.places)
    result = session.execute(
        query.values(leased_to=annotator, lease_expires_at=expires),
        execution_options={"synchronize_session": False},
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    _served(session, item_id=item_id, dataset_id=dataset_id, annotator=annotator, now=now)
    return expires


@functools.cache
def _take_place_statement(*, warmup: bool) -> Any:
    items = _ITEMS
    where = [
        items.c.id == _ITEM_ID,
        (items.c.leased_to.is_(None))
        | (items.c.leased_to == _ANNOTATOR)
        | (items.c.lease_expires_at <= _NOW),
    ]
    if not warmup:
        where.append(items.c.places_taken < items.c.places)
    return (
        update(items)
        .where(*where)
        .values(
            places_taken=items.c.places_taken + (0 if warmup else 1),
            leased_to=None,
            lease_expires_at=None,
        )
        .returning(items.c.places_taken, items.c.places)
    )


def take_place(
    session: Session, *, item_id: int, annotator: str, now: dt.datetime, warmup: bool
) -> tuple[int, int] | None:
    """A label takes one of the item's places (a warm-up label none: it is never paid) and ends
    the lease on it. Refused (None) when the item is full, or reserved for somebody else.
    Returns (places taken, places) as they are now."""
    row = (
        session.connection()
        .execute(
            _take_place_statement(warmup=warmup),
            {"p_item_id": item_id, "p_annotator": annotator, "p_now": now},
        )
        .first()
    )
    return None if row is None else (int(row[0]), int(row[1]))


@functools.cache
def _place_and_label_statement(*, warmup: bool) -> Any:
    """PostgreSQL: take_place, the label's insert and mark_labelled as one statement (data-
    modifying CTEs), one round trip instead of three. Each part sees the rows the one before
    returned: no place taken, no label; a label this annotator already gave (the unique index
    decides, committed or concurrent), no label id and no assignment change. Returns (places
    taken, places, label id or NULL), or no row when no place was taken."""
    taken = _take_place_statement(warmup=warmup).returning(_ITEMS.c.id).cte("taken")
    labels = _LABELS
    inserted = (
        postgresql.insert(labels)
        .from_select(
            [
                "dataset_id",
                "item_id",
                "annotator",
                "value",
                "salt",
                "status",
                "warmup",
                "holds_place",
                "instructions_version",
                "created_at",
            ],
            select(
                _DATASET_ID,
                taken.c.id,
                _ANNOTATOR,
                bindparam("p_value", type_=String),
                bindparam("p_salt", type_=String),
                literal(LabelStatus.pending, type_=labels.c.status.type),
                literal(warmup),
                literal(not warmup),
                bindparam("p_instructions_version", type_=Integer),
                _NOW,
            ),
            include_defaults=False,
        )
        .on_conflict_do_nothing(index_elements=[labels.c.item_id, labels.c.annotator])
        .returning(labels.c.id, labels.c.item_id)
        .cte("inserted")
    )
    assignments = _ASSIGNMENTS
    marking = postgresql.insert(assignments).from_select(
        ["item_id", "annotator", "dataset_id", "served_at", "ended_at", "outcome"],
        select(
            inserted.c.item_id,
            _ANNOTATOR,
            _DATASET_ID,
            _NOW,
            _NOW,
            literal(AssignmentOutcome.labelled, type_=assignments.c.outcome.type),
        ),
        include_defaults=False,
    )
    marked = marking.on_conflict_do_update(
        index_elements=[assignments.c.item_id, assignments.c.annotator],
        set_={"outcome": AssignmentOutcome.labelled, "ended_at": marking.excluded.ended_at},
    ).cte("marked")
    return (
        select(taken.c.places_taken, taken.c.places, inserted.c.id)
        .select_from(taken.outerjoin(inserted, literal(True)))
        .add_cte(marked)
    )


@dataclass(frozen=True)
class Placed:
    """A label's place on its item: the item's places taken and places once it is taken, and
    the label's id (None when this annotator had labelled the item already)."""

    taken: int
    places: int
    label_id: int | None


def place_label(
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
) -> Placed | None:
    """Takes a place on the item for the label (`take_place`), inserts the label unless this
    annotator labelled the item already, and records the assignment's outcome (and the
    assignment itself when the annotator labelled an item without being served it, which a
    free, unreserved item allows). None when no place was taken: the item is full or reserved
    for somebody else. One statement on PostgreSQL, three in a row on SQLite (whose writer
    lock, taken before, orders them against every other writer)."""
    if is_postgres(session):
        row = (
            session.connection()
            .execute(
                _place_and_label_statement(warmup=warmup),
                {
                    "p_item_id": item_id,
                    "p_dataset_id": dataset_id,
                    "p_annotator": annotator,
                    "p_now": now,
                    "p_value": value,
                    "p_salt": salt,
                    "p_instructions_version": instructions_version,
                },
            )
            .first()
        )
        return None if row is None else Placed(int(row[0]), int(row[1]), row[2])
    taken = take_place(session, item_id=item_id, annotator=annotator, now=now, warmup=warmup)
    if taken is None:
        return None
    label_id = repository.insert_label(
        session,
        dataset_id=dataset_id,
        item_id=item_id,
        annotator=annotator,
        value=value,
        salt=salt,
        warmup=warmup,
        instructions_version=instructions_version,
        now=now,
    )
    if label_id is not None:
        mark_labelled(session, item_id=item_id, dataset_id=dataset_id, annotator=annotator, now=now)
    return Placed(taken[0], taken[1], label_id)


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


@functools.cache
def _mark_labelled_statement(*, postgres: bool) -> Any:
    table = _ASSIGNMENTS
    statement = (postgresql.insert(table) if postgres else sqlite.insert(table)).values(
        outcome=AssignmentOutcome.labelled
    )
    return statement.on_conflict_do_update(
        index_elements=[table.c.item_id, table.c.annotator],
        set_={"outcome": AssignmentOutcome.labelled, "ended_at": statement.excluded.ended_at},
    )


def mark_labelled(
    session: Session, *, item_id: int, dataset_id: int, annotator: str, now: dt.datetime
) -> None:
    """Records the assignment's outcome (and the assignment itself when the annotator labelled
    an item without being served it, which a free, unreserved item allows)."""
    session.connection().execute(
        _mark_labelled_statement(postgres=is_postgres(session)),
        {
            "item_id": item_id,
            "annotator": annotator,
            "dataset_id": dataset_id,
            "served_at": now,
            "ended_at": now,
        },
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
