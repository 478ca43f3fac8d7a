"""The chain, mirrored into SQL from events: escrow records, epochs, claims, token balances."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ledger.kit.db import Base, UInt256
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


class EscrowRecord(Base):
    __tablename__ = "escrow_records"

    escrow_id: Mapped[str] = mapped_column(Bytes32Column, primary_key=True)
    buyer: Mapped[str] = mapped_column(AddressColumn)
    token: Mapped[str] = mapped_column(AddressColumn)
    funded: Mapped[int] = mapped_column(UInt256, default=0)
    available: Mapped[int] = mapped_column(UInt256, default=0)
    debited: Mapped[int] = mapped_column(UInt256, default=0)
    refunded: Mapped[int] = mapped_column(UInt256, default=0)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)


class ChainEpoch(Base):
    __tablename__ = "chain_epochs"

    epoch: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    root: Mapped[str] = mapped_column(Bytes32Column)
    block_number: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(Bytes32Column)


class ClaimedTotal(Base):
    """What an account has claimed of a token so far (the distributor's `claimed`)."""

    __tablename__ = "claimed_totals"

    account: Mapped[str] = mapped_column(AddressColumn, primary_key=True)
    token: Mapped[str] = mapped_column(AddressColumn, primary_key=True)
    claimed: Mapped[int] = mapped_column(UInt256, default=0)


class TokenBalance(Base):
    __tablename__ = "token_balances"

    token: Mapped[str] = mapped_column(AddressColumn, primary_key=True)
    account: Mapped[str] = mapped_column(AddressColumn, primary_key=True)
    balance: Mapped[int] = mapped_column(UInt256, default=0)


class TokenSupply(Base):
    __tablename__ = "token_supplies"

    token: Mapped[str] = mapped_column(AddressColumn, primary_key=True)
    total_supply: Mapped[int] = mapped_column(UInt256, default=0)
