"""Sign-In with Ethereum and the caller's own roles."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CallerDep, RuntimeDep, SessionDep
from api.errors import ERROR_RESPONSES
from ledger.auth import service as auth
from ledger.auth.models import Role
from ledger.kit.db import utcnow

router = APIRouter(prefix="/v1", tags=["auth"], responses=ERROR_RESPONSES)

SIGN_IN_STATEMENT = "Sign in to label-ledger."


class NonceOut(BaseModel):
    nonce: str
    expires_at: dt.datetime
    domain: str
    uri: str
    chain_id: int
    statement: str


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(max_length=4000, description="the EIP-4361 message that was signed")
    signature: str = Field(max_length=200, description="personal_sign signature, 0x hex")


class SessionOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 (the OAuth token type, not a secret)
    address: str
    roles: list[Role]
    expires_at: dt.datetime


class MeOut(BaseModel):
    address: str
    roles: list[Role]


class RoleTake(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


@router.post("/auth/nonce", response_model=NonceOut)
def issue_nonce(session: SessionDep, runtime: RuntimeDep) -> NonceOut:
    """A single-use nonce and the fields your EIP-4361 message must carry."""
    settings = runtime.settings
    nonce = auth.issue_nonce(session, now=utcnow(), ttl_seconds=settings.nonce_ttl_seconds)
    return NonceOut(
        nonce=nonce.nonce,
        expires_at=nonce.expires_at,
        domain=settings.siwe_domain,
        uri=settings.siwe_uri,
        chain_id=runtime.deployment.chain_id,
        statement=SIGN_IN_STATEMENT,
    )


@router.post("/auth/session", response_model=SessionOut, status_code=201)
def sign_in(body: SessionCreate, session: SessionDep, runtime: RuntimeDep) -> SessionOut:
    """Exchanges a signed EIP-4361 message for a bearer token."""
    settings = runtime.settings
    token, opened = auth.sign_in(
        session,
        message=body.message,
        signature=body.signature,
        domain=settings.siwe_domain,
        uri=settings.siwe_uri,
        chain_id=runtime.deployment.chain_id,
        now=utcnow(),
        session_ttl_seconds=settings.session_ttl_seconds,
    )
    roles = auth.roles_of(session, address=opened.address, operators=runtime.operators())
    return SessionOut(
        access_token=token,
        address=opened.address,
        roles=sorted(roles),
        expires_at=opened.expires_at,
    )


@router.get("/me", response_model=MeOut)
def me(caller: CallerDep) -> MeOut:
    return MeOut(address=caller.address, roles=sorted(caller.roles))


@router.post("/me/roles", response_model=MeOut)
def take_role(body: RoleTake, caller: CallerDep, session: SessionDep, runtime: RuntimeDep) -> MeOut:
    """Take a self-service role: buyer, annotator or auditor."""
    auth.enroll(session, address=caller.address, role=body.role)
    roles = auth.roles_of(session, address=caller.address, operators=runtime.operators())
    return MeOut(address=caller.address, roles=sorted(roles))
