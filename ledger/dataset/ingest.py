"""Uploading items: streamed, in bulk, in bounded memory, and still all or nothing.

An upload (a JSON array or JSONL, read from a file the API spooled the request body to) is parsed
one item at a time and written in batches of `BATCH` rows straight to the driver (COPY on
PostgreSQL, executemany on SQLite), each batch its own short transaction, so a 100k-item upload
never holds SQLite's single writer lock for long and other requests keep being served.

All or nothing nevertheless: the dataset's items are visible (served, labelled, counted) only up
to `datasets.items_visible_upto`. The batches of an upload land above it, and only the last, short
transaction moves it past them, with the counts and, for gold items, the terms. A bad or duplicate
item anywhere stops the upload and deletes what it had written; so does a crash, at the start of
the next upload (`_claim`). One upload runs per dataset at a time.

Each item's data is stored sealed under its dataset's key (`item_data_sealer`, unwrapped once an
upload), and its media references are checked batch by batch against the dataset's uploaded
files before the batch is written (`ledger.media_access.service.ReferenceChecker`).
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import orjson
import psycopg
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger.dataset import repository
from ledger.dataset.models import Dataset, Item
from ledger.dataset.schemas import ItemsCreated, item_data_problem
from ledger.dataset.service import (
    LabelOutsideSchema,
    check_label,
    item_data_sealer,
    label_kind_of,
    refuse_gold_if_reviewed_only,
    refuse_gold_once_on_chain,
    reseal_terms,
    verification_of,
)
from ledger.kinds import NotAnAnswer
from ledger.kit.db import Database, hold_writes, insert_many, is_postgres
from ledger.kit.errors import BadRequest, Conflict, Unprocessable
from ledger.media_access.service import ReferenceChecker
from ledger.merkle import keccak256
from ledger.storage.service import MediaVault

MAX_ITEMS_PER_UPLOAD = 100_000
MAX_ITEM_BYTES = 1 << 20  # one item's JSON
MAX_ID_CHARS = 200
BATCH = 2_000
#: An upload that has not finished after this long is taken to have crashed.
STALE_UPLOAD = dt.timedelta(minutes=15)
_READ = 1 << 16
_FIELDS = frozenset({"id", "data", "gold"})


class DuplicateItem(Conflict):
    code = "duplicate_item"


class UploadInProgress(Conflict):
    code = "upload_in_progress"


@dataclass
class _Batch:
    """Rows ready for the driver, with what the upload learnt about them."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)


_COLUMNS = (
    "dataset_id",
    "external_id",
    "sealed_data",
    "item_hash",
    "gold_label",
    "gold",
    "places",
    "places_taken",
    "skips",
    "created_at",
)


def ingest(
    db: Database,
    vault: MediaVault,
    *,
    dataset_id: int,
    source: IO[bytes],
    jsonl: bool,
    now: dt.datetime,
) -> ItemsCreated:
    """Adds the items of `source` to the dataset, all or nothing (see the module docstring).
    Each item's data is stored sealed under the dataset's key; each media reference in it
    (`"media:<name>"`, ledger.media_access.references) must name a file uploaded to the dataset.
    The caller checked that the dataset is theirs."""
    dataset = _claim(db, dataset_id=dataset_id, now=now)
    try:
        created, gold = _write_batches(
            db, vault, dataset=dataset, source=source, jsonl=jsonl, now=now
        )
        if created == 0:
            raise Unprocessable("the upload holds no items")
        _publish(db, dataset_id=dataset_id, created=created, gold=gold)
    except BaseException:
        _discard(db, dataset_id=dataset_id)
        raise
    return ItemsCreated(created=created, gold=gold)


def ingest_records(
    db: Database,
    vault: MediaVault,
    *,
    dataset_id: int,
    records: Iterable[Mapping[str, Any]],
    now: dt.datetime,
) -> ItemsCreated:
    """`ingest` for code that has the items in hand (the demo, tests): as JSONL."""
    body = io.BytesIO(b"\n".join(orjson.dumps(dict(record)) for record in records))
    return ingest(db, vault, dataset_id=dataset_id, source=body, jsonl=True, now=now)


def _claim(db: Database, *, dataset_id: int, now: dt.datetime) -> Dataset:
    """Marks the dataset as being uploaded to (one upload at a time) and deletes what a crashed
    upload left above the visible items."""
    with db.unit_of_work() as session:
        hold_writes(session)
        dataset = session.get(Dataset, dataset_id, with_for_update=True)
        assert dataset is not None, "the caller found the dataset"
        started = dataset.upload_started_at
        if started is not None and now - started < STALE_UPLOAD:
            raise UploadInProgress(
                f"dataset {dataset_id} is taking another upload (since {started.isoformat()}): "
                "send this one when it has finished"
            )
        dataset.upload_started_at = now
        _delete_invisible(session, dataset)
        session.flush()
        session.expunge(dataset)
        return dataset


def _delete_invisible(session: Session, dataset: Dataset) -> None:
    session.execute(
        delete(Item).where(Item.dataset_id == dataset.id, Item.id > dataset.items_visible_upto)
    )


def _discard(db: Database, *, dataset_id: int) -> None:
    with db.unit_of_work() as session:
        hold_writes(session)
        dataset = session.get(Dataset, dataset_id, with_for_update=True)
        assert dataset is not None
        _delete_invisible(session, dataset)
        dataset.upload_started_at = None


def _publish(db: Database, *, dataset_id: int, created: int, gold: int) -> None:
    """The upload's one visible step: its items join the dataset."""
    with db.unit_of_work() as session:
        hold_writes(session)
        dataset = session.get(Dataset, dataset_id, with_for_update=True)
        assert dataset is not None
        if gold:
            refuse_gold_once_on_chain(session, dataset)
        last = session.scalar(
            select(func.max(Item.id)).where(
                Item.dataset_id == dataset_id, Item.id > dataset.items_visible_upto
            )
        )
        assert last is not None
        dataset.items_visible_upto = last
        dataset.item_count += created
        dataset.gold_count += gold
        dataset.upload_started_at = None
        session.flush()
        if gold:
            reseal_terms(session, dataset)


def _write_batches(
    db: Database,
    vault: MediaVault,
    *,
    dataset: Dataset,
    source: IO[bytes],
    jsonl: bool,
    now: dt.datetime,
) -> tuple[int, int]:
    spec = verification_of(dataset)
    seal = item_data_sealer(vault, dataset)
    references = ReferenceChecker(db, dataset.id)
    places, gold_places = spec.places(gold=False), spec.places(gold=True)
    key = bytes.fromhex(dataset.item_key.removeprefix("0x"))
    created = gold_count = 0
    batch = _Batch()
    gold_checked = False
    records = _jsonl_records(source) if jsonl else _array_records(source)
    with db.unit_of_work() as session:
        stamp = _stored_time(session, now)
    for where, record in records:
        if created + len(batch.rows) >= MAX_ITEMS_PER_UPLOAD:
            raise Unprocessable(f"at most {MAX_ITEMS_PER_UPLOAD} items per upload; split the file")
        external_id, data, gold = _item(dataset, where, record)
        references.add(where, data)
        if gold is not None and not gold_checked:
            with db.unit_of_work() as session:
                refuse_gold_once_on_chain(session, dataset)  # checked again when it is published
            gold_checked = True
        batch.ids.append(external_id)
        batch.rows.append(
            (
                dataset.id,
                external_id,
                seal(external_id, data),
                "0x" + keccak256(key + external_id.encode()).hex(),
                gold,
                gold is not None,
                places if gold is None else gold_places,
                0,
                0,
                stamp,
            )
        )
        gold_count += gold is not None
        if len(batch.rows) >= BATCH:
            references.check()
            _insert(db, dataset, batch)
            created += len(batch.rows)
            batch = _Batch()
    if batch.rows:
        references.check()
        _insert(db, dataset, batch)
        created += len(batch.rows)
    return created, gold_count


def _stored_time(session: Session, now: dt.datetime) -> Any:
    """`now` as the UTCDateTime column stores it (SQLite: naive UTC text)."""
    utc = now.astimezone(dt.UTC)
    if is_postgres(session):
        return utc
    return utc.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _insert(db: Database, dataset: Dataset, batch: _Batch) -> None:
    try:
        with db.unit_of_work() as session:
            insert_many(session, "items", _COLUMNS, batch.rows)
    except (IntegrityError, psycopg.errors.UniqueViolation) as exc:
        raise _duplicate(db, dataset, batch.ids) from exc


def _duplicate(db: Database, dataset: Dataset, ids: list[str]) -> DuplicateItem:
    """Which id broke the upload: one given twice, or one the dataset already has."""
    seen: set[str] = set()
    for external_id in ids:
        if external_id in seen:
            return DuplicateItem(f"item id {external_id!r} appears twice in the upload")
        seen.add(external_id)
    with db.unit_of_work() as session:
        clash = repository.items_by_external_id(
            session, dataset.id, ids, upto=dataset.items_visible_upto
        )
        if clash:
            return DuplicateItem(
                f"{len(clash)} item id(s) already exist in dataset {dataset.id}, "
                f"e.g. {sorted(i.external_id for i in clash)[0]!r}"
            )
        earlier = session.scalar(
            select(Item.external_id)
            .where(
                Item.dataset_id == dataset.id,
                Item.id > dataset.items_visible_upto,
                Item.external_id.in_(ids),
            )
            .limit(1)
        )
    return DuplicateItem(f"item id {earlier!r} appears twice in the upload")


# --- one item --------------------------------------------------------------------------------


def _item(dataset: Dataset, where: str, record: Any) -> tuple[str, Any, str | None]:
    """(external id, data, gold answer) of a record, or a 422 naming it."""
    if not isinstance(record, dict):
        raise Unprocessable(f'{where}: expected an object {{"id", "data", "gold"?}}')
    unknown = record.keys() - _FIELDS
    if unknown:
        raise Unprocessable(f"{where}: {sorted(unknown)[0]}: extra fields are not permitted")
    external_id = record.get("id")
    if not isinstance(external_id, str) or not 1 <= len(external_id) <= MAX_ID_CHARS:
        raise Unprocessable(f"{where}: id: a text of 1 to {MAX_ID_CHARS} characters is required")
    if "data" not in record:
        raise Unprocessable(f"{where}: data: field required")
    gold = record.get("gold")
    if gold is not None:
        refuse_gold_if_reviewed_only(dataset)
        # a structured kind's gold may come as its JSON value, as the buyer downloads labels
        try:
            gold = label_kind_of(dataset).from_delivered(gold)
        except NotAnAnswer as exc:
            raise LabelOutsideSchema(f"{where}: gold: {exc}") from None
        try:
            check_label(dataset, gold)
        except LabelOutsideSchema as exc:
            raise LabelOutsideSchema(f"{where}: gold: {exc.message}") from exc
    _check_text(where, "id", external_id)
    if gold is not None:
        _check_text(where, "gold", gold)
    _check_data(where, record["data"])
    return external_id, record["data"], gold


def _check_text(where: str, name: str, value: str) -> None:
    if "\x00" in value:
        raise Unprocessable(f"{where}: {name}: text may not contain NUL characters (\\u0000)")


def _check_data(where: str, data: Any) -> None:
    problem = item_data_problem(data)
    if problem:
        raise Unprocessable(f"{where}: data: {problem}")


# --- reading the upload ----------------------------------------------------------------------


def _jsonl_records(source: IO[bytes]) -> Iterator[tuple[str, Any]]:
    """One JSON document per line. Only "\\n" ends a line: JSON allows U+2028 and friends
    unescaped inside strings, and a trailing "\\r" is JSON whitespace."""
    for number, raw in enumerate(source, start=1):
        line = raw.strip()
        if not line:
            continue
        where = f"line {number}"
        if len(line) > MAX_ITEM_BYTES:
            raise Unprocessable(f"{where}: an item is at most {MAX_ITEM_BYTES // 1024} KiB")
        try:
            yield where, orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise _not_json(where, line, exc) from exc


def _not_json(where: str, raw: bytes, exc: orjson.JSONDecodeError) -> BadRequest:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return BadRequest("the upload is not UTF-8 text")
    if "recursion" in exc.msg:
        return BadRequest(f"{where} is nested too deeply to be an item")
    return BadRequest(f"{where} is not valid JSON: {exc.msg} at position {exc.pos}")


def _array_records(source: IO[bytes]) -> Iterator[tuple[str, Any]]:
    """The elements of one JSON array, one at a time: the whole document is never held."""
    decoder = json.JSONDecoder()
    text = _TextWindow(source)
    text.skip_space()
    if text.peek() != "[":
        if text.at_end():
            raise BadRequest("body is not valid JSON: Expecting value at position 0")
        _whole_value_or_error(text, decoder)
        raise Unprocessable('expected a JSON array of {"id", "data"} objects, or JSONL')
    text.advance(1)
    number = 0
    text.skip_space()
    if text.peek() == "]":
        text.advance(1)
        _expect_end(text)
        return
    while True:
        text.skip_space()
        yield f"item {number}", text.decode_value(decoder, f"item {number}")
        number += 1
        text.skip_space()
        mark = text.peek()
        if mark == ",":
            text.advance(1)
            continue
        if mark == "]":
            text.advance(1)
            _expect_end(text)
            return
        raise BadRequest(
            f"body is not valid JSON: Expecting ',' delimiter at position {text.position}"
        )


def _whole_value_or_error(text: _TextWindow, decoder: json.JSONDecoder) -> None:
    text.decode_value(decoder, "body")


def _expect_end(text: _TextWindow) -> None:
    text.skip_space()
    if not text.at_end():
        raise BadRequest(f"body is not valid JSON: Extra data at position {text.position}")


class _TextWindow:
    """A sliding window of decoded text over a byte stream, for parsing one value at a time."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.buffer = ""
        self.offset = 0  # index in buffer
        self.consumed = 0  # characters dropped before buffer[0]
        self.eof = False

    @property
    def position(self) -> int:
        return self.consumed + self.offset

    def _fill(self) -> bool:
        if self.eof:
            return False
        chunk = self.source.read(_READ)
        try:
            text = self.decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            raise BadRequest("the upload is not UTF-8 text") from exc
        if not chunk:
            self.eof = True
        # drop what was parsed already, so the window stays about one item long
        self.consumed += self.offset
        self.buffer = self.buffer[self.offset :] + text
        self.offset = 0
        return bool(chunk) or bool(text)

    def peek(self) -> str:
        while self.offset >= len(self.buffer):
            if not self._fill():
                return ""
        return self.buffer[self.offset]

    def at_end(self) -> bool:
        return self.peek() == ""

    def advance(self, count: int) -> None:
        self.offset += count

    def skip_space(self) -> None:
        while (mark := self.peek()) and mark in " \t\n\r":
            self.offset += 1

    def decode_value(self, decoder: json.JSONDecoder, where: str) -> Any:
        """The JSON value starting here; reads more until it is complete or certainly wrong."""
        while True:
            try:
                value, end = decoder.raw_decode(self.buffer, self.offset)
            except RecursionError as exc:
                raise BadRequest(f"{where} is nested too deeply to be an item") from exc
            except json.JSONDecodeError as exc:
                if self.eof or len(self.buffer) - self.offset > MAX_ITEM_BYTES:
                    if not self.eof:
                        raise Unprocessable(
                            f"{where}: an item is at most {MAX_ITEM_BYTES // 1024} KiB"
                        ) from exc
                    raise BadRequest(
                        f"body is not valid JSON: {exc.msg} at position {self.consumed + exc.pos}"
                    ) from exc
                self._fill()
                continue
            # a number at the window's edge may go on in the next chunk
            if end == len(self.buffer) and not self.eof:
                self._fill()
                continue
            self.offset = end
            return value
