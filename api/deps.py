"""Reusable dependencies: the unit of work, the runtime, the signed-in account and its roles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from ledger.auth import service as auth
from ledger.auth.models import Role
from ledger.kit.db import utcnow
from ledger.kit.errors import Unauthorized
from ledger.kit.types import MAX_ROW_ID
from ledger.runtime import Runtime

# Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in its
# thread pool, a hop that costs more than what they do.


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_now(runtime: RuntimeDep) -> dt.datetime:
    return runtime.clock()


NowDep = Annotated[dt.datetime, Depends(get_now)]

#: An id in a URL: larger than any row id is refused (422), not sent to the database.
PathId = Annotated[int, Path(ge=0, le=MAX_ROW_ID)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    # scope="function" below: the commit happens before the response leaves, so a client never
    # sees success for something that was not stored.
    with runtime.db.unit_of_work() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="token from POST /v1/auth/session")


@dataclass(frozen=True)
class Caller:
    address: str
    roles: frozenset[Role]

    @property
    def operator(self) -> bool:
        return Role.operator in self.roles


def get_caller(
    session: SessionDep,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None:
        raise Unauthorized("sign in first: POST /v1/auth/nonce, then POST /v1/auth/session")
    address = auth.authenticate(session, token=credentials.credentials, now=utcnow())
    roles = auth.roles_of(session, address=address, operators=runtime.operators())
    return Caller(address=address, roles=frozenset(roles))


CallerDep = Annotated[Caller, Depends(get_caller)]


def role(required: Role) -> Callable[[Caller], Awaitable[Caller]]:
    async def check(caller: CallerDep) -> Caller:
        auth.require_role(set(caller.roles), required)
        return caller

    return check


Buyer = Annotated[Caller, Depends(role(Role.buyer))]
Annotator = Annotated[Caller, Depends(role(Role.annotator))]
Reviewer = Annotated[Caller, Depends(role(Role.reviewer))]
Auditor = Annotated[Caller, Depends(role(Role.auditor))]
Operator = Annotated[Caller, Depends(role(Role.operator))]
