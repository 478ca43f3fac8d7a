"""Reusable dependencies: the unit of work, the runtime, the signed-in account and its roles."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, TypeVar

import anyio.to_thread
from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ledger.annotation import queue
from ledger.auth import service as auth
from ledger.auth.models import Role
from ledger.kit.db import REQUEST_TURNS, utcnow
from ledger.kit.errors import Unauthorized
from ledger.kit.types import MAX_ROW_ID
from ledger.runtime import Runtime

T = TypeVar("T")
#: Worker threads for the sync parts of requests: more than the database turns (see
#: `database_turn`), with room for long-running ones (an upload holds one for seconds).
WORKER_THREADS = REQUEST_TURNS + 8

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


async def database_turn(runtime: RuntimeDep) -> AsyncIterator[None]:
    """A turn at the database, waited for on the event loop. A request of the dependency style
    holds a pooled connection (and on SQLite possibly the writer lock) from its sign-in check to
    its commit, across several hops to worker threads; if more requests held them than there are
    connections, or threads, every worker thread could end up waiting for something held by a
    request that waits for a thread. At most `REQUEST_TURNS` requests hold a turn; the pool has
    more connections and the thread pool more threads (`WORKER_THREADS`), so that never
    happens."""
    _size_thread_pool()
    async with runtime.db.request_turns:
        yield


def _size_thread_pool() -> None:
    limiter = anyio.to_thread.current_default_thread_limiter()
    if limiter.total_tokens != WORKER_THREADS:
        limiter.total_tokens = WORKER_THREADS


def get_session(
    runtime: RuntimeDep, _turn: Annotated[None, Depends(database_turn, scope="function")]
) -> Iterator[Session]:
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
    address, roles = auth.caller(
        session, token=credentials.credentials, now=utcnow(), operators=runtime.operators()
    )
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


BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def in_one_hop(
    runtime: Runtime,
    credentials: HTTPAuthorizationCredentials | None,
    required: Role,
    work: Callable[[Session, Caller], T],
) -> T:
    """For the calls a crowd makes all the time: the sign-in check, the work and the commit in
    one unit of work on one worker thread, so no lock or connection is ever held while waiting
    for a thread, and the request costs one hop to the thread pool instead of five."""
    _size_thread_pool()
    async with runtime.db.request_turns:
        return await run_in_threadpool(_unit_of_work, runtime, credentials, required, work)


def _unit_of_work(
    runtime: Runtime,
    credentials: HTTPAuthorizationCredentials | None,
    required: Role,
    work: Callable[[Session, Caller], T],
) -> T:
    if credentials is None:
        raise Unauthorized("sign in first: POST /v1/auth/nonce, then POST /v1/auth/session")
    for attempt in range(2):
        try:
            # not durable: a crowd's label, lease, skip or release that a power loss takes
            # back is labelled again (see `Database.unit_of_work`); nothing paid rests on it
            # until a settlement's durable commit
            with runtime.db.unit_of_work(durable=False) as session:
                address, roles = auth.caller(
                    session,
                    token=credentials.credentials,
                    now=utcnow(),
                    operators=runtime.operators(),
                )
                auth.require_role(roles, required)
                return work(session, Caller(address=address, roles=frozenset(roles)))
        except IntegrityError as exc:
            # Two requests of one annotator leased at once (PostgreSQL; SQLite serialises
            # them): the one-lease-per-dataset index refused the second, which rolled back
            # whole. Run once more: it now finds the lease the first took, and returns it.
            if attempt or not queue.refused_second_lease(exc):
                raise
    raise AssertionError("unreachable")
