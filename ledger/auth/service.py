"""Wallet sign-in (EIP-4361) with single-use nonces, bearer sessions, and roles."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import cast

from sqlalchemy import String, Table, bindparam, delete, select, update
from sqlalchemy.orm import Session

from ledger.auth import siwe
from ledger.auth.models import (
    SELF_SERVICE_ROLES,
    Account,
    AccountRole,
    AuthNonce,
    AuthSession,
    Role,
)
from ledger.kit.errors import Forbidden, Unauthorized

# Clocks on phones drift: accept an Issued At this far in the future.
CLOCK_SKEW = dt.timedelta(seconds=60)


class InvalidToken(Unauthorized):
    code = "invalid_token"


class RoleNotSelfService(Forbidden):
    code = "role_not_self_service"


class MissingRole(Forbidden):
    code = "missing_role"


def issue_nonce(session: Session, *, now: dt.datetime, ttl_seconds: int) -> AuthNonce:
    # Anyone may ask for nonces: drop expired ones as we go so the table cannot grow unbounded.
    session.execute(delete(AuthNonce).where(AuthNonce.expires_at < now))
    nonce = AuthNonce(
        nonce=secrets.token_hex(16),
        issued_at=now,
        expires_at=now + dt.timedelta(seconds=ttl_seconds),
    )
    session.add(nonce)
    session.flush()
    return nonce


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ensure_account(session: Session, address: str) -> Account:
    account = session.get(Account, address)
    if account is None:
        account = Account(address=address)
        session.add(account)
        session.flush()
    return account


def sign_in(
    session: Session,
    *,
    message: str,
    signature: str,
    domain: str,
    uri: str,
    chain_id: int,
    now: dt.datetime,
    session_ttl_seconds: int,
) -> tuple[str, AuthSession]:
    """Checks every claim of the message, spends its nonce, and opens a session."""
    parsed = siwe.parse(message)
    if parsed.domain != domain:
        raise siwe.InvalidSignIn(f"message is for domain {parsed.domain!r}, this is {domain!r}")
    if parsed.uri != uri:
        raise siwe.InvalidSignIn(f"message is for URI {parsed.uri!r}, this is {uri!r}")
    if parsed.chain_id != chain_id:
        raise siwe.InvalidSignIn(f"message is for chain {parsed.chain_id}, this is {chain_id}")
    if parsed.expiration_time is None:
        raise siwe.InvalidSignIn("message must carry an Expiration Time")
    if parsed.expiration_time <= now:
        raise siwe.InvalidSignIn("message has expired: ask for a new nonce and sign again")
    if parsed.issued_at > now + CLOCK_SKEW:
        raise siwe.InvalidSignIn("message is issued in the future: check your clock")
    if parsed.not_before is not None and parsed.not_before > now:
        raise siwe.InvalidSignIn("message is not valid yet (Not Before)")
    signer = siwe.recover_signer(message, signature)
    if signer != parsed.address:
        raise siwe.InvalidSignIn("the signature was not made by the message's address")
    # Spend the nonce atomically: of two concurrent sign-ins with one nonce, one wins.
    spent = session.execute(
        update(AuthNonce)
        .where(
            AuthNonce.nonce == parsed.nonce,
            AuthNonce.used_at.is_(None),
            AuthNonce.expires_at > now,
        )
        .values(used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise siwe.InvalidSignIn("nonce is unknown, expired or already used: ask for a new one")
    ensure_account(session, parsed.address)
    token = secrets.token_urlsafe(32)
    auth_session = AuthSession(
        token_hash=_hash_token(token),
        address=parsed.address,
        created_at=now,
        expires_at=min(parsed.expiration_time, now + dt.timedelta(seconds=session_ttl_seconds)),
    )
    session.add(auth_session)
    session.flush()
    return token, auth_session


_SESSIONS = cast(Table, AuthSession.__table__)
_ROLES = cast(Table, AccountRole.__table__)
_CALLER = (
    select(_SESSIONS.c.address, _SESSIONS.c.expires_at, _ROLES.c.role)
    .select_from(_SESSIONS)
    .outerjoin(_ROLES, _ROLES.c.address == _SESSIONS.c.address)
    .where(_SESSIONS.c.token_hash == bindparam("p_token_hash", type_=String))
)


def caller(
    session: Session, *, token: str, now: dt.datetime, operators: set[str]
) -> tuple[str, set[Role]]:
    """The signed-in account behind a bearer token and its roles, in one read (every request
    asks it)."""
    rows = session.connection().execute(_CALLER, {"p_token_hash": _hash_token(token)}).all()
    if not rows or rows[0].expires_at <= now:
        raise InvalidToken("bearer token is unknown or expired: sign in again")
    address: str = rows[0].address
    roles = {Role(row.role) for row in rows if row.role is not None}
    if address.lower() in operators:
        roles.add(Role.operator)
    return address, roles


def roles_of(session: Session, *, address: str, operators: set[str]) -> set[Role]:
    roles = set(session.scalars(select(AccountRole.role).where(AccountRole.address == address)))
    if address.lower() in operators:
        roles.add(Role.operator)
    return roles


def grant_role(session: Session, *, address: str, role: Role) -> None:
    ensure_account(session, address)
    if session.get(AccountRole, (address, role)) is None:
        session.add(AccountRole(address=address, role=role))
        session.flush()


def enroll(session: Session, *, address: str, role: Role) -> None:
    """Takes a self-service role (buyer, annotator, auditor) for oneself."""
    if role not in SELF_SERVICE_ROLES:
        raise RoleNotSelfService(
            f"the {role} role cannot be taken: "
            + ("a buyer appoints reviewers" if role is Role.reviewer else "it is configured")
        )
    grant_role(session, address=address, role=role)


def require_role(roles: set[Role], role: Role) -> None:
    if role in roles:
        return
    if role in SELF_SERVICE_ROLES:
        how = "take it with POST /v1/me/roles (the web app: Account)"
    elif role is Role.reviewer:
        how = "a dataset's buyer appoints its reviewers"
    else:
        how = (
            "it belongs to the ledger's on-chain operator and to the addresses "
            "LABEL_LEDGER_OPERATOR_ADDRESSES names"
        )
    raise MissingRole(f"this needs the {role} role: {how}")
