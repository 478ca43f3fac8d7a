"""What each followed event does to the mirror's tables, and how a reorg takes it back.

`apply_logs` runs inside the chunk's transaction. Token transfers, nearly every log there is, take
a bulk path: the balances a chunk touches are read in a few queries, moved in memory, and written
back with one executemany per kind of change. The other events are rare and go through the ORM.

Blocks a reorg may still replace (above `Journal.floor`) are journaled: the first time a block
changes a row, the row as it was before (or None if the block creates it) goes to `mirror_undo`.
`undo_above` restores those before-images, newest block first, which puts every row back as it
was at the common ancestor.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, and_, delete, insert, select, update
from sqlalchemy.orm import Session

from ledger.kit.db import UINT256_DIGITS, Base, insert_many
from ledger.kit.errors import ChainStateMismatch
from ledger.kit.types import Bytes32Hex, ChecksumAddress
from ledger.mirror import repository
from ledger.mirror.events import ArgValue, DecodedLog
from ledger.mirror.models import (
    ChainBlock,
    ChainDataset,
    ChainEpoch,
    ChainLog,
    LedgerToken,
    PendingTransfer,
    TokenBalance,
    TokenSupply,
    UndoEntry,
)

ZERO_ADDRESS = ChecksumAddress("0x0000000000000000000000000000000000000000")
BPS = 10_000
_IN_BATCH = 500  # keys per IN (...) query: well under SQLite's and psycopg's parameter limits

_balances: Table = TokenBalance.__table__  # type: ignore[assignment]
_supplies: Table = TokenSupply.__table__  # type: ignore[assignment]
_logs: Table = ChainLog.__table__  # type: ignore[assignment]


class MirrorReorgDetected(ChainStateMismatch):
    """The chain no longer holds a block the mirror applied, and the mirror cannot undo it."""

    code = "mirror_reorg_detected"


@dataclass
class Openings:
    """Opening balances and supplies of accounts first seen in a chunk, for tokens with history
    before the deployment block: what `balanceOf`/`totalSupply` said just before the chunk."""

    balances: dict[tuple[str, str], int] = field(default_factory=dict)
    supplies: dict[str, int] = field(default_factory=dict)


@dataclass
class Journal:
    """Collects before-images of rows changed in blocks above `floor`, one per row and block."""

    chain_id: int
    floor: int  # blocks <= floor are final: nothing journaled
    entries: list[dict[str, Any]] = field(default_factory=list)
    _seen: set[tuple[int, str, tuple[Any, ...]]] = field(default_factory=set)

    def record(
        self, block: int, table: str, key: tuple[Any, ...], before: dict[str, Any] | None
    ) -> None:
        if block <= self.floor or (block, table, key) in self._seen:
            return
        self._seen.add((block, table, key))
        self.entries.append(
            {
                "chain_id": self.chain_id,
                "block_number": block,
                "table_name": table,
                "key": list(key),
                "before": before,
            }
        )

    def capture(self, block: int, row: Base) -> None:
        """Records `row` as it is now (before this block's change to it)."""
        if block <= self.floor:
            return
        table: Table = row.__table__  # type: ignore[assignment]
        key = tuple(getattr(row, c.key) for c in table.primary_key.columns)
        if (block, table.name, key) in self._seen:
            return
        self.record(block, table.name, key, {c.key: getattr(row, c.key) for c in table.columns})

    def created(self, block: int, row: Base) -> None:
        """Records that this block creates `row`: undoing the block deletes it."""
        table: Table = row.__table__  # type: ignore[assignment]
        key = tuple(getattr(row, c.key) for c in table.primary_key.columns)
        self.record(block, table.name, key, None)

    def write(self, session: Session) -> None:
        if self.entries:
            insert_many(
                session,
                "mirror_undo",
                ("chain_id", "block_number", "table_name", "key", "before"),
                [
                    (
                        e["chain_id"],
                        e["block_number"],
                        e["table_name"],
                        _json(e["key"]),
                        None if e["before"] is None else _json(e["before"]),
                    )
                    for e in self.entries
                ],
            )
            self.entries = []


def undo_above(session: Session, chain_id: int, ancestor: int) -> int:
    """Puts every journaled row back as it was at block `ancestor`, and forgets the logs,
    blocks and journal entries above it. Returns the number of rows restored."""
    entries = session.execute(
        select(UndoEntry.table_name, UndoEntry.key, UndoEntry.before)
        .where(UndoEntry.chain_id == chain_id, UndoEntry.block_number > ancestor)
        .order_by(UndoEntry.block_number, UndoEntry.id)
    ).all()
    session.flush()
    restored: set[tuple[str, tuple[Any, ...]]] = set()
    tables = Base.metadata.tables
    for table_name, key, before in entries:
        # the earliest entry above the ancestor holds the row as it was at the ancestor
        if (table_name, tuple(key)) in restored:
            continue
        restored.add((table_name, tuple(key)))
        table = tables[table_name]
        where = and_(*(c == v for c, v in zip(table.primary_key.columns, key, strict=True)))
        session.execute(delete(table).where(where))
        if before is not None:
            session.execute(insert(table).values(**before))
    session.execute(
        delete(UndoEntry).where(UndoEntry.chain_id == chain_id, UndoEntry.block_number > ancestor)
    )
    session.execute(
        delete(ChainLog).where(ChainLog.chain_id == chain_id, ChainLog.block_number > ancestor)
    )
    session.execute(
        delete(ChainBlock).where(ChainBlock.chain_id == chain_id, ChainBlock.number > ancestor)
    )
    session.execute(delete(PendingTransfer).where(PendingTransfer.chain_id == chain_id))
    session.expire_all()
    return len(restored)


# --- applying a chunk -------------------------------------------------------------------------


def apply_logs(
    session: Session,
    chain_id: int,
    logs: Sequence[DecodedLog],
    journal: Journal,
    openings: Openings | None = None,
) -> int:
    """Stores `logs` (sorted by block and index) and applies their effects; skips any log already
    stored. Returns how many were applied."""
    if not logs:
        return 0
    # Nothing above the cursor is normally stored (a chunk's logs, blocks and cursor commit
    # together, and an undo removes all three). Should a range be read again anyway, each log
    # it already holds is skipped rather than counted twice.
    fresh = list(logs)
    first, last = logs[0].block_number, logs[-1].block_number
    mark = _placeholder(session)
    connection = session.connection()
    held = connection.exec_driver_sql(
        f"SELECT 1 FROM chain_logs WHERE chain_id = {mark} "  # noqa: S608 (fixed names)
        f"AND block_number BETWEEN {mark} AND {mark} LIMIT 1",
        (chain_id, first, last),
    ).first()
    if held is not None:
        stored = set(
            connection.exec_driver_sql(
                f"SELECT block_hash, log_index FROM chain_logs WHERE chain_id = {mark} "  # noqa: S608
                f"AND block_number BETWEEN {mark} AND {mark}",
                (chain_id, first, last),
            ).all()
        )
        fresh = [log for log in logs if (log.block_hash, log.log_index) not in stored]
        if not fresh:
            return 0
    insert_many(
        session,
        "chain_logs",
        (
            "chain_id",
            "block_hash",
            "log_index",
            "block_number",
            "tx_hash",
            "address",
            "event",
            "args",
        ),
        [
            (
                chain_id,
                log.block_hash,
                log.log_index,
                log.block_number,
                log.tx_hash,
                log.address,
                log.event,
                _args_json(log.args),
            )
            for log in fresh
        ],
    )
    transfers = [log for log in fresh if log.event == "Transfer"]
    if transfers:
        _apply_transfers(session, transfers, journal, openings or Openings())
    events = _EventApplier(session, journal)
    for log in fresh:
        if log.event != "Transfer":
            events.apply(log)
    session.flush()
    journal.write(session)
    return len(fresh)


# --- values as the column types store them, for the driver-level bulk insert --------------------
# (`ledger.kit.db.insert_many`: SQLAlchemy would process every parameter of every row in Python
# before the driver sees it, which costs more than the driver's own executemany or COPY.)


def _placeholder(session: Session) -> str:
    return "?" if session.get_bind().dialect.paramstyle == "qmark" else "%s"


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _uint_storage(session: Session) -> Callable[[int], Any]:
    """How a uint256 is stored: what `UInt256` binds, without its per-value checks (the values
    come from 32-byte words, so they are in range by construction)."""
    if session.get_bind().dialect.name == "postgresql":
        return Decimal
    return _padded


def _padded(value: int) -> str:
    return str(value).zfill(UINT256_DIGITS)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _args_json(args: dict[str, ArgValue]) -> str:
    """A decoded log's arguments as JSON, the same text json.dumps would give (compact): they are
    only hex strings, ints and int lists, so no escaping is needed, and this is ~5x faster."""
    return "{" + ",".join(f'"{name}":{_json_value(value)}' for name, value in args.items()) + "}"


def _json_value(value: ArgValue) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ",".join(str(v) for v in value) + "]"
    return str(value)


def _in_batches(keys: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(keys), _IN_BATCH):
        yield keys[start : start + _IN_BATCH]


def _apply_transfers(
    session: Session, transfers: Sequence[DecodedLog], journal: Journal, openings: Openings
) -> None:
    """Moves balances and supplies for a run of Transfer logs, in bulk."""
    session.flush()  # the bulk statements below must see every ORM change before them
    batch = _TransferBatch(journal)
    for log in transfers:
        sender, recipient, value = log.args["from"], log.args["to"], log.args["value"]
        assert isinstance(sender, str)
        assert isinstance(recipient, str)
        assert isinstance(value, int)
        batch.moves.append((log.block_number, log.address, sender, recipient, value))
    batch.load(session, openings)
    for move in batch.moves:
        batch.move(*move)
    batch.check()
    batch.write(session)


@dataclass
class _TransferBatch:
    """The balances and supplies a chunk's transfers touch, read once, moved in memory."""

    journal: Journal
    moves: list[tuple[int, str, str, str, int]] = field(default_factory=list)
    balances: dict[tuple[str, str], int] = field(default_factory=dict)
    supplies: dict[str, int] = field(default_factory=dict)
    stored_balances: set[tuple[str, str]] = field(default_factory=set)  # rows in the table
    stored_supplies: set[str] = field(default_factory=set)
    _rows_b: set[tuple[str, str]] = field(default_factory=set)  # rows that exist by this move
    _rows_s: set[str] = field(default_factory=set)

    def load(self, session: Session, openings: Openings) -> None:
        keys: set[tuple[str, str]] = set()
        tokens: set[str] = set()
        for _, token, sender, recipient, _ in self.moves:
            for account in (sender, recipient):
                if account == ZERO_ADDRESS:
                    tokens.add(token)
                else:
                    keys.add((token, account))
        by_token: dict[str, list[str]] = {}
        for token, account in sorted(keys):
            by_token.setdefault(token, []).append(account)
        mark = _placeholder(session)
        connection = session.connection()
        for token, accounts in by_token.items():
            if _postgres(session):
                # one array parameter: PostgreSQL plans it once, whatever the count
                rows = connection.exec_driver_sql(
                    "SELECT account, balance FROM token_balances "
                    "WHERE token = %s AND account = ANY(%s)",
                    (token, accounts),
                )
                self.balances.update({(token, account): int(value) for account, value in rows})
                continue
            for part in _in_batches(accounts):
                rows = connection.exec_driver_sql(
                    "SELECT account, balance FROM token_balances "  # noqa: S608 (fixed names)
                    f"WHERE token = {mark} AND account IN ({', '.join([mark] * len(part))})",
                    (token, *part),
                )
                # int() reads both stored forms: PostgreSQL's Decimal and SQLite's padded text
                self.balances.update({(token, account): int(value) for account, value in rows})
        supply_rows = session.execute(
            select(TokenSupply.token, TokenSupply.total_supply).where(
                TokenSupply.token.in_(sorted(tokens))
            )
        )
        self.supplies = {token: supply for token, supply in supply_rows}  # noqa: C416 (Row pairs)
        self.stored_balances, self.stored_supplies = set(self.balances), set(self.supplies)
        self._rows_b, self._rows_s = set(self.balances), set(self.supplies)  # rows as of now
        for key, opening in openings.balances.items():
            self.balances.setdefault(key, opening)
        for token, opening in openings.supplies.items():
            self.supplies.setdefault(token, opening)

    def _journal(self, block: int, token: str, account: str) -> None:
        if account == ZERO_ADDRESS:
            before = (
                {"token": token, "total_supply": self.supplies[token]}
                if token in self._rows_s
                else None
            )
            self.journal.record(block, "token_supplies", (token,), before)
            self._rows_s.add(token)
        else:
            key = (token, account)
            before = (
                {"token": token, "account": account, "balance": self.balances[key]}
                if key in self._rows_b
                else None
            )
            self.journal.record(block, "token_balances", key, before)
            self._rows_b.add(key)

    def move(self, block: int, token: str, sender: str, recipient: str, value: int) -> None:
        if block > self.journal.floor:
            self._journal(block, token, sender)
            self._journal(block, token, recipient)
        if sender == ZERO_ADDRESS:
            self.supplies[token] = self.supplies.get(token, 0) + value
        else:
            self.balances[(token, sender)] = self.balances.get((token, sender), 0) - value
        if recipient == ZERO_ADDRESS:
            self.supplies[token] = self.supplies.get(token, 0) - value
        else:
            self.balances[(token, recipient)] = self.balances.get((token, recipient), 0) + value

    def check(self) -> None:
        for (token, account), balance in self.balances.items():
            if balance < 0:
                raise ChainStateMismatch(
                    f"{account} would hold {balance} of {token} by the mirror's count: if the "
                    "token has holders from before the deployment block, list it in the "
                    "deployment file with seed_balances true"
                )
        for token, supply in self.supplies.items():
            if supply < 0:
                raise ChainStateMismatch(
                    f"{token} would have a total supply of {supply} by the mirror's count: the "
                    "token has history before the deployment block"
                )

    def write(self, session: Session) -> None:
        uint = _uint_storage(session)
        changed = [
            (uint(balance), token, account)
            for (token, account), balance in self.balances.items()
            if (token, account) in self.stored_balances
        ]
        if changed and _postgres(session):
            by_token: dict[str, tuple[list[str], list[Any]]] = {}
            for balance, token, account in changed:
                accounts, balances = by_token.setdefault(token, ([], []))
                accounts.append(account)
                balances.append(balance)
            for token, (accounts, balances) in by_token.items():
                session.connection().exec_driver_sql(
                    "UPDATE token_balances AS b SET balance = v.balance "
                    "FROM unnest(%s::varchar[], %s::numeric[]) AS v(account, balance) "
                    "WHERE b.token = %s AND b.account = v.account",
                    (accounts, balances, token),
                )
        elif changed:
            mark = _placeholder(session)
            session.connection().exec_driver_sql(
                f"UPDATE token_balances SET balance = {mark} "  # noqa: S608 (fixed names)
                f"WHERE token = {mark} AND account = {mark}",
                changed,
            )
        new = [
            (token, account, uint(balance))
            for (token, account), balance in self.balances.items()
            if (token, account) not in self.stored_balances
        ]
        if new:
            insert_many(session, "token_balances", ("token", "account", "balance"), new)
        for token, supply in self.supplies.items():
            if token in self.stored_supplies:
                session.execute(
                    update(_supplies).where(_supplies.c.token == token).values(total_supply=supply)
                )
            else:
                session.execute(insert(_supplies).values(token=token, total_supply=supply))


class _EventApplier:
    """The ledger's own events, one at a time, through the ORM, journaled."""

    def __init__(self, session: Session, journal: Journal) -> None:
        self.session = session
        self.journal = journal

    def apply(self, log: DecodedLog) -> None:
        args = log.args
        session = self.session
        match log.event:
            case "TokenListed":
                index = _uint(args["index"])
                if repository.get_ledger_token(session, index) is None:
                    row = repository.put_ledger_token(
                        session, token_index=index, token=_address(args["token"])
                    )
                    self.journal.created(log.block_number, row)
            case "FeesWithdrawn":
                row = self._ledger_token(_uint(args["token"]), log)
                row.fees -= min(row.fees, _uint(args["amount"]))
            case "DatasetCreated":
                dataset_id = _id_hex(args["datasetId"])
                if repository.get_chain_dataset(session, dataset_id) is not None:
                    raise ChainStateMismatch(f"dataset {dataset_id} created twice on chain")
                index = _uint(args["token"])
                record = repository.add_chain_dataset(
                    session,
                    dataset_id=dataset_id,
                    buyer=_address(args["buyer"]),
                    salt=_bytes32(args["salt"]),
                    token_index=index,
                    token=self._ledger_token(index, log).token,
                    fee_bps=_uint(args["feeBps"]),
                )
                self.journal.created(log.block_number, record)
            case "DatasetFunded" | "DatasetCloseRequested" | "DatasetClosed":
                self._dataset_change(log)
            case "EpochProposed":
                self._proposal(log)
            case "EpochAccepted" | "EpochRevoked":
                self._decision(log)
            case "Claimed":
                account, token = _address(args["account"]), _uint(args["token"])
                existing = repository.get_claimed_row(session, account, token)
                if existing is not None:
                    self.journal.capture(log.block_number, existing)
                claimed = repository.claimed_row(session, account, token)
                if existing is None:
                    self.journal.created(log.block_number, claimed)
                claimed.payment += _uint(args["payment"])
                claimed.reward += _uint(args["reward"])
            case _:
                raise AssertionError(f"decoder produced an event the mirror does not apply: {log}")

    def _dataset_change(self, log: DecodedLog) -> None:
        args = log.args
        record = self._dataset(log, args["datasetId"])
        if log.event == "DatasetFunded":
            record.funded += _uint(args["amount"])
            record.available = _uint(args["available"])
        elif log.event == "DatasetCloseRequested":
            record.status = "closing"
            record.close_due_at = _uint(args["dueAt"])
        else:
            record.status = "closed"
            record.refunded += _uint(args["refund"])
            record.available = 0

    def _decision(self, log: DecodedLog) -> None:
        """EpochAccepted or EpochRevoked: a revocation returns the epoch's debits and fees."""
        number = _uint(log.args["epoch"])
        epoch = repository.get_chain_epoch(self.session, number)
        if log.event == "EpochAccepted":
            if epoch is None or epoch.payout_root != _bytes32(log.args["payoutRoot"]):
                raise ChainStateMismatch(
                    f"epoch {number} accepted in tx {log.tx_hash} with a root the mirror never "
                    "saw proposed: is deployment_block too late?"
                )
            self.journal.capture(log.block_number, epoch)
            epoch.status = "accepted"
            epoch.accepted_block = log.block_number
            return
        if epoch is None or epoch.status != "pending":
            raise ChainStateMismatch(
                f"epoch {number} revoked in tx {log.tx_hash}, but the mirror holds no pending "
                "proposal of it"
            )
        self.journal.capture(log.block_number, epoch)
        epoch.status = "revoked"
        for dataset_id, debit in epoch.debits:
            record = self._dataset(log, dataset_id)
            fee = int(debit) * record.fee_bps // BPS
            record.available += int(debit) + fee
            record.debited -= int(debit)
            record.fees -= fee
            self._ledger_token(record.token_index, log).fees -= fee

    def _proposal(self, log: DecodedLog) -> None:
        args = log.args
        number = _uint(args["epoch"])
        dataset_ids, debits = args["datasetIds"], args["debits"]
        assert isinstance(dataset_ids, list)
        assert isinstance(debits, list)
        existing = repository.get_chain_epoch(self.session, number)
        if existing is not None and existing.status != "revoked":
            raise ChainStateMismatch(
                f"epoch {number} was mirrored as {existing.status} with root "
                f"{existing.payout_root}, now proposed again in tx {log.tx_hash}"
            )
        listed = [[_id_hex(i), str(d)] for i, d in zip(dataset_ids, debits, strict=True)]
        for dataset_id, debit in listed:
            record = self._dataset(log, dataset_id)
            fee = int(debit) * record.fee_bps // BPS
            record.available -= int(debit) + fee
            record.debited += int(debit)
            record.fees += fee
            self._ledger_token(record.token_index, log).fees += fee
        fields = {
            "status": "pending",
            "payout_root": _bytes32(args["payoutRoot"]),
            "label_root": _bytes32(args["labelRoot"]),
            "content_hash": _bytes32(args["contentHash"]),
            "debits": listed,
            "acceptable_at": _uint(args["acceptableAt"]),
            "block_number": log.block_number,
            "tx_hash": log.tx_hash,
            "accepted_block": None,
        }
        if existing is None:
            row = ChainEpoch(epoch=number, **fields)
            repository.add_chain_epoch(self.session, row)
            self.journal.created(log.block_number, row)
        else:
            self.journal.capture(log.block_number, existing)
            for name, value in fields.items():
                setattr(existing, name, value)

    def _dataset(self, log: DecodedLog, dataset_id: ArgValue) -> ChainDataset:
        hex_id = _id_hex(dataset_id)
        record = repository.get_chain_dataset(self.session, hex_id)
        if record is None:
            raise ChainStateMismatch(
                f"{log.event} in tx {log.tx_hash} names dataset {hex_id}, which the mirror "
                "never saw created: is deployment_block too late?"
            )
        self.journal.capture(log.block_number, record)
        return record

    def _ledger_token(self, index: int, log: DecodedLog) -> LedgerToken:
        row = repository.get_ledger_token(self.session, index)
        if row is None:
            raise ChainStateMismatch(
                f"{log.event} in tx {log.tx_hash} names payment token {index}, which the mirror "
                "never saw listed: is deployment_block too late?"
            )
        self.journal.capture(log.block_number, row)
        return row


def _id_hex(value: ArgValue) -> Bytes32Hex:
    """A uint256 dataset id as the 0x + 64 hex the database keys it by."""
    if isinstance(value, str):
        return Bytes32Hex(value)
    assert isinstance(value, int)
    return Bytes32Hex("0x" + value.to_bytes(32, "big").hex())


def _address(value: ArgValue) -> ChecksumAddress:
    assert isinstance(value, str)
    return ChecksumAddress(value)


def _bytes32(value: ArgValue) -> Bytes32Hex:
    assert isinstance(value, str)
    return Bytes32Hex(value)


def _uint(value: ArgValue) -> int:
    assert isinstance(value, int)
    return value
