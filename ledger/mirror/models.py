"""The chain, mirrored into SQL from events: datasets, epochs, claims, token balances."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ledger.kit.db import Base, UInt256, UTCDateTime
from ledger.kit.types import AddressColumn, Bytes32Column


class MirrorCursor(Base):
    """The last block whose logs are applied; moved in the same transaction as their effects."""

    __tablename__ = "mirror_cursor"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(Bytes32Column)


class ChainBlock(Base):
    __tablename__ = "chain_blocks"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(Bytes32Column)
    parent_hash: Mapped[str] = mapped_column(Bytes32Column)


class ChainLog(Base):
    """Each log once, keyed by where it sits on chain; its decoded arguments beside it."""

    __tablename__ = "chain_logs"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    block_hash: Mapped[str] = mapped_column(Bytes32Column, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    tx_hash: Mapped[str] = mapped_column(Bytes32Column)
    address: Mapped[str] = mapped_column(AddressColumn)
    event: Mapped[str] = mapped_column(String(40))
    args: Mapped[dict[str, Any]] = mapped_column(JSON)


class ChainDataset(Base):
    """A dataset's record on the ledger, from its events (ids as 0x + 64 hex)."""

    __tablename__ = "chain_datasets"

    dataset_id: Mapped[str] = mapped_column(Bytes32Column, primary_key=True)
    buyer: Mapped[str] = mapped_column(AddressColumn)
    salt: Mapped[str] = mapped_column(Bytes32Column)
    token_index: Mapped[int] = mapped_column(Integer)
    token: Mapped[str] = mapped_column(AddressColumn)
    fee_bps: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, closing, closed
    close_due_at: Mapped[int | None] = mapped_column(BigInteger, default=None)  # unix seconds
    funded: Mapped[int] = mapped_column(UInt256, default=0)
    available: Mapped[int] = mapped_column(UInt256, default=0)
    debited: Mapped[int] = mapped_column(UInt256, default=0)  # fees excluded
    fees: Mapped[int] = mapped_column(UInt256, default=0)
    refunded: Mapped[int] = mapped_column(UInt256, default=0)


class ChainEpoch(Base):
    """An epoch as proposed on chain; `status` is pending, accepted or revoked.

    A revoked epoch's number is proposed again later: the row then describes the new proposal.
    """

    __tablename__ = "chain_epochs"

    epoch: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(16))
    payout_root: Mapped[str] = mapped_column(Bytes32Column)
    label_root: Mapped[str] = mapped_column(Bytes32Column)
    content_hash: Mapped[str] = mapped_column(Bytes32Column)
    # [[dataset id hex, debit as a decimal string], ...] as proposed: a revocation undoes them
    debits: Mapped[list[list[str]]] = mapped_column(JSON)
    acceptable_at: Mapped[int] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(Bytes32Column)
    accepted_block: Mapped[int | None] = mapped_column(BigInteger, default=None)


class ClaimedTotal(Base):
    """What an account has claimed for labels paid in a token (the ledger's `claimed`)."""

    __tablename__ = "claimed_totals"

    account: Mapped[str] = mapped_column(AddressColumn, primary_key=True)
    token_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    payment: Mapped[int] = mapped_column(UInt256, default=0)
    reward: Mapped[int] = mapped_column(UInt256, default=0)


class LedgerToken(Base):
    """A payment token the ledger listed, and what it accrued in fees."""

    __tablename__ = "ledger_tokens"

    token_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    token: Mapped[str] = mapped_column(AddressColumn)
    fees: Mapped[int] = mapped_column(UInt256, default=0)


class TokenBalance(Base):
    __tablename__ = "token_balances"

    token: Mapped[str] = mapped_column(AddressColumn, primary_key=True)
    account: Mapped[str] = mapped_column(AddressColumn, primary_key=True)
    balance: Mapped[int] = mapped_column(UInt256, default=0)


class TokenSupply(Base):
    __tablename__ = "token_supplies"

    token: Mapped[str] = mapped_column(AddressColumn, primary_key=True)
    total_supply: Mapped[int] = mapped_column(UInt256, default=0)


class MirrorTip(Base):
    """Where the chain's head was at the last sync, and how far back reorgs can be undone.

    Blocks above `undo_floor` have their changes in `mirror_undo`; a fork below it is deeper than
    the mirror can repair and stops it with an alarm.
    """

    __tablename__ = "mirror_tip"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    head_block: Mapped[int] = mapped_column(BigInteger)
    undo_floor: Mapped[int] = mapped_column(BigInteger)
    synced_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class UndoEntry(Base):
    """A row as it was before a block changed it (None: the block created it), for reorgs."""

    __tablename__ = "mirror_undo"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    table_name: Mapped[str] = mapped_column(String(40))
    key: Mapped[list[Any]] = mapped_column(JSON)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class PendingTransfer(Base):
    """A token transfer in a block above the confirmation depth: shown as pending, never trusted.

    The whole table is replaced at every sync, so a reorg among these blocks needs no undo.
    """

    __tablename__ = "pending_transfers"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    block_hash: Mapped[str] = mapped_column(Bytes32Column, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    block_number: Mapped[int] = mapped_column(BigInteger)
    token: Mapped[str] = mapped_column(AddressColumn, index=True)
    sender: Mapped[str] = mapped_column(AddressColumn)
    recipient: Mapped[str] = mapped_column(AddressColumn)
    value: Mapped[int] = mapped_column(UInt256)


class Reconciliation(Base):
    """One comparison of the mirror with the chain at a confirmed block, and what it found."""

    __tablename__ = "mirror_reconciliations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger, index=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(Bytes32Column)
    checked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    checked: Mapped[int] = mapped_column(Integer)  # values compared
    drift_count: Mapped[int] = mapped_column(Integer)
    # the first differing values: [{"what", "key", "mirror", "chain"}], amounts as strings
    drift: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    repaired_from: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    @property
    def ok(self) -> bool:
        return self.drift_count == 0


# The tables whose rows the chain's events change, and whose changes a reorg must undo.
JOURNALED_TABLES = (
    "token_balances",
    "token_supplies",
    "chain_datasets",
    "chain_epochs",
    "claimed_totals",
    "ledger_tokens",
)
