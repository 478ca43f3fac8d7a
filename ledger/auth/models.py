"""Accounts, their roles, sign-in nonces and bearer sessions."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ledger.kit.db import Base, UTCDateTime, utcnow
from ledger.kit.types import AddressColumn


class Role(enum.StrEnum):
    buyer = "buyer"
    annotator = "annotator"
    reviewer = "reviewer"
    auditor = "auditor"
    operator = "operator"


# Anyone may take these for themselves; reviewers are appointed by a buyer, operators configured.
SELF_SERVICE_ROLES = frozenset({Role.buyer, Role.annotator, Role.auditor})


class Account(Base):
    __tablename__ = "accounts"

    address: Mapped[str] = mapped_column(AddressColumn, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AccountRole(Base):
    __tablename__ = "account_roles"

    address: Mapped[str] = mapped_column(ForeignKey("accounts.address"), primary_key=True)
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16), primary_key=True)
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuthNonce(Base):
    __tablename__ = "auth_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class AuthSession(Base):
    __tablename__ = "auth_sessions"

    # sha256 of the bearer token: a leaked database does not leak live tokens.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(ForeignKey("accounts.address"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
