"""The SQL of a fast epoch build: payable labels as plain columns (no ORM entity per label), each
dataset's terms and ledger record in one query, and the labels put in the epoch in a few
statements. `ledger.settlement.build` computes the epoch from what these return.

Reading a million labels as (Label, Dataset, Item) entities costs more than everything else an
epoch does together; these read only the columns the epoch needs, in the order it needs them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ledger.dataset.models import Dataset
from ledger.kit.db import insert_many, is_postgres
from ledger.mirror.models import ChainDataset
from ledger.settlement import repository

#: The ledger's CLOSE_GRACE_PERIOD: a closing dataset's `close_due_at` minus it is when the buyer
#: asked to close.
CLOSE_GRACE_PERIOD = 7 * 24 * 3600

#: Rows fetched from the driver at a time: the whole result is never held twice.
BATCH = 20_000


@dataclass(frozen=True)
class DatasetTerms:
    """What an epoch needs of one dataset: its ids and keys, and what its ledger record lets it
    pay. `payable` is False for a dataset not on the ledger (or in another token) or closed."""

    id: int
    chain_dataset_id: str
    payment_token: str
    salt: str
    gold_nonce: str
    label_type: str  # its kind (`ledger.kinds`), which says how a gold label is graded
    payable: bool
    token_index: int
    fee_bps: int
    available: int
    # a closing dataset pays the labels submitted before this (when the buyer asked to close)
    paid_until: dt.datetime | None


def dataset_terms(session: Session) -> dict[int, DatasetTerms]:
    """Every dataset with its mirrored ledger record, in one query (`chain_record`'s rule: a
    record in another token than the dataset's cannot pay its labels)."""
    rows = session.execute(
        select(
            Dataset.id,
            Dataset.chain_dataset_id,
            Dataset.payment_token,
            Dataset.salt,
            Dataset.gold_nonce,
            Dataset.label_schema,
            ChainDataset.token,
            ChainDataset.status,
            ChainDataset.token_index,
            ChainDataset.fee_bps,
            ChainDataset.available,
            ChainDataset.close_due_at,
        ).outerjoin(ChainDataset, ChainDataset.dataset_id == Dataset.chain_dataset_id)
    )
    terms: dict[int, DatasetTerms] = {}
    for row in rows:
        on_ledger = row.token is not None and row.token == row.payment_token
        payable = on_ledger and row.status in ("open", "closing")
        closing = on_ledger and row.status == "closing" and bool(row.close_due_at)
        terms[row.id] = DatasetTerms(
            id=row.id,
            chain_dataset_id=row.chain_dataset_id,
            payment_token=row.payment_token,
            salt=row.salt,
            gold_nonce=row.gold_nonce,
            label_type=row.label_schema.get("type", "classes"),
            payable=payable,
            token_index=row.token_index if on_ledger else 0,
            fee_bps=row.fee_bps if on_ledger else 0,
            available=row.available if payable else 0,
            paid_until=(
                dt.datetime.fromtimestamp(row.close_due_at - CLOSE_GRACE_PERIOD, dt.UTC)
                if closing
                else None
            ),
        )
    return terms


#: Positions in a payable row (plain tuples: a million of them).
ID, DATASET, ANNOTATOR, SALT, VALUE, METHOD, REVIEWER, AGREEMENT = range(8)
PRICE, REWARD, CREATED_AT, ITEM_HASH, GOLD_LABEL = range(8, 13)

# The columns as the database stores them, read through the driver: SQLAlchemy's result rows
# and type processing cost more than the rest of reading a million labels. What the stored forms
# are: `uint256` and `timestamp` below, `ledger.kit.db` for the column types.
_PAYABLE_SQL = """
SELECT labels.id, labels.dataset_id, labels.annotator, labels.salt, labels.value,
       labels.method, labels.reviewer, labels.agreement, labels.price, labels.reward,
       labels.created_at, items.item_hash,
       CASE WHEN labels.method = 'gold' THEN items.gold_label END
FROM labels JOIN items ON items.id = labels.item_id
WHERE labels.status = 'verified'
  AND NOT EXISTS (SELECT 1 FROM label_payments paid WHERE paid.label_id = labels.id)
  AND labels.warmup = {false}
  AND labels.sealed_until IS NULL
ORDER BY labels.decided_at, labels.id
"""


def payable_rows(session: Session) -> Iterator[Sequence[Any]]:
    """Verified labels not yet in any epoch, in the order they were verified, as rows of the
    columns above, as stored: the method as its text (None: review), price and reward as
    `uint256` reads them, `created_at` as `timestamp` reads it, the item's gold answer only under
    the gold method. Not a warm-up label (graded, never paid), nor a gold verdict still sealed
    (paid once revealed). `repository.payable_labels`, without an entity per row; fetched `BATCH`
    rows at a time (a server-side cursor on PostgreSQL): the result is never held whole."""
    driver: Any = session.connection().connection.driver_connection
    if is_postgres(session):
        cursor = driver.cursor(name="settlement_payable_labels")  # psycopg's server-side cursor
        sql = _PAYABLE_SQL.format(false="false")
    else:
        cursor = driver.cursor()
        sql = _PAYABLE_SQL.format(false="0")
    try:
        cursor.execute(sql)
        while batch := cursor.fetchmany(BATCH):
            yield from batch
    finally:
        cursor.close()


def uint256(stored: Any) -> int:
    """A `UInt256` column's value as read through the driver (NUMERIC or 78-digit text)."""
    return 0 if stored is None else int(stored)


def timestamp(stored: Any) -> dt.datetime:
    """A `UTCDateTime` column's value as read through the driver: aware on PostgreSQL, SQLite's
    text (`YYYY-MM-DD HH:MM:SS.ffffff`, in UTC) elsewhere."""
    if isinstance(stored, str):
        stored = dt.datetime.fromisoformat(stored)
    assert isinstance(stored, dt.datetime)
    return stored.replace(tzinfo=dt.UTC) if stored.tzinfo is None else stored


def assign_labels(session: Session, *, label_ids: Sequence[int], epoch: int) -> None:
    """`repository.assign_labels`: a row in label_payments per label, in one statement on
    PostgreSQL; the whole epoch refused if another epoch holds any of them."""
    repository.assign_labels(session, label_ids=label_ids, epoch=epoch)


def store_large_text_fast(session: Session) -> None:
    """PostgreSQL compresses a large text value (an epoch's trees and verdicts, hundreds of MB at
    a million labels) before it stores it, by default with pglz, at a few tens of MB/s; lz4 does
    it many times faster for a similar size. For this transaction only, where the server has it
    (PostgreSQL 14+ built with lz4): a value is read back the same whichever way it was stored."""
    if not is_postgres(session):
        return
    has_lz4 = session.execute(
        text(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
    ).scalar()
    if has_lz4:
        session.execute(text("SET LOCAL default_toast_compression = 'lz4'"))


def insert_rows(
    session: Session, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """`ledger.kit.db.insert_many`, with PostgreSQL's COPY fed one text block instead of a
    Python call per row (psycopg's `write_row`, most of the time for 200,000 ledger entries)
    when every value is an int or a str that COPY's text format takes as it is; else, and on
    SQLite, `insert_many` itself."""
    if not rows:
        return
    if not is_postgres(session) or not all(
        set(map(type, column)) <= {int, str} for column in zip(*rows, strict=True)
    ):
        insert_many(session, table, columns, rows)
        return
    block = "".join(["\t".join(map(str, row)) + "\n" for row in rows])
    # a tab, newline, carriage return or backslash inside a value would need escaping
    separators = len(rows) * (len(columns) - 1)
    if (
        "\\" in block
        or "\r" in block
        or block.count("\t") != separators
        or block.count("\n") != len(rows)
    ):
        insert_many(session, table, columns, rows)
        return
    driver: Any = session.connection().connection.driver_connection
    command = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with driver.cursor() as cursor, cursor.copy(command) as copy:
        copy.write(block)
