"""Balances, health and the mirror's own state, read from the chain mirror."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from api.deps import Operator, RuntimeDep, SessionDep
from api.errors import ERROR_RESPONSES
from ledger.jobs import build_mirror
from ledger.kit.types import checksum
from ledger.kit.units import LABEL_DECIMALS
from ledger.mirror import repository as mirror
from ledger.mirror.models import Reconciliation
from ledger.mirror.reconcile import ReconcileReport

router = APIRouter(prefix="/v1", tags=["chain"], responses=ERROR_RESPONSES)
metrics_router = APIRouter(tags=["chain"])


class TokenBalanceOut(BaseModel):
    token: str
    symbol: str
    decimals: int | None
    balance: int  # confirmed: at the mirrored block, `confirmations` below the head
    pending_balance: int  # with the transfers of the blocks above the confirmation depth
    claimed: int  # claimed from the ledger so far: payment in this token, or LABEL rewards


class BalancesOut(BaseModel):
    address: str
    mirrored_block: int | None  # the last confirmed block the balances include
    head_block: int | None  # the head the pending balances include
    confirmations: int
    balances: list[TokenBalanceOut]


class DriftOut(BaseModel):
    what: str  # balanceOf, totalSupply, dataset, claimed
    key: str
    mirror: str
    chain: str


class ReconciliationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    block_number: int
    block_hash: str
    checked_at: dt.datetime | None = None  # None: a report of a check made just now
    checked: int  # values compared with the chain
    drift_count: int
    drift: list[DriftOut]  # the first differing values
    repaired_from: int | None  # the block the mirror re-synced from, if it repaired


class MirrorStatusOut(BaseModel):
    status: str  # not_started, ok, drift (the last reconciliation found differences)
    chain_id: int
    cursor_block: int | None
    cursor_hash: str | None
    head_block: int | None
    lag_blocks: int | None  # head - cursor: the confirmation depth when caught up
    confirmations: int
    max_reorg_depth: int
    undo_floor: int | None  # reorgs down to this block can be undone
    synced_at: dt.datetime | None
    last_reconciliation: ReconciliationOut | None


class HealthOut(BaseModel):
    status: str
    chain_id: int
    rpc_url: str | None
    mirrored_block: int | None
    contracts: dict[str, str]
    payment_tokens: dict[str, int]  # address -> the ledger's allowlist index
    timelock_seconds: int
    label_decimals: int


@router.get("/balances/{address}", response_model=BalancesOut)
def balances(address: str, session: SessionDep, runtime: RuntimeDep) -> BalancesOut:
    """Token balances of an address as mirrored from chain events (public, like the chain)."""
    account = checksum(address)
    deployment = runtime.deployment
    rows = [
        TokenBalanceOut(
            token=token.address,
            symbol="payment",
            decimals=None,
            balance=mirror.get_balance(session, token.address, account),
            pending_balance=mirror.pending_balance(session, token.address, account),
            claimed=mirror.claimed(session, account, token.index)[0],
        )
        for token in deployment.payment_tokens
    ]
    rows.append(
        TokenBalanceOut(
            token=deployment.ledger,
            symbol="LABEL",
            decimals=LABEL_DECIMALS,
            balance=mirror.get_balance(session, deployment.ledger, account),
            pending_balance=mirror.pending_balance(session, deployment.ledger, account),
            claimed=mirror.reward_claimed(session, account),
        )
    )
    cursor = mirror.get_cursor(session, deployment.chain_id)
    tip = mirror.mirror_tip(session, deployment.chain_id)
    return BalancesOut(
        address=account,
        mirrored_block=cursor.block_number if cursor else None,
        head_block=tip.head_block if tip else None,
        confirmations=runtime.settings.confirmations,
        balances=rows,
    )


@router.get("/health", response_model=HealthOut)
def health(session: SessionDep, runtime: RuntimeDep) -> HealthOut:
    deployment = runtime.deployment
    cursor = mirror.get_cursor(session, deployment.chain_id)
    return HealthOut(
        status="ok",
        chain_id=deployment.chain_id,
        rpc_url=runtime.settings.public_rpc_url,
        mirrored_block=cursor.block_number if cursor else None,
        contracts={
            "ledger": deployment.ledger,
            "label_token": deployment.ledger,
            **{f"payment_token_{i}": t.address for i, t in enumerate(deployment.payment_tokens)},
        },
        payment_tokens={t.address: t.index for t in deployment.payment_tokens},
        timelock_seconds=deployment.timelock,
        label_decimals=LABEL_DECIMALS,
    )


def _reconciliation_out(
    report: ReconcileReport | Reconciliation | None,
) -> ReconciliationOut | None:
    """A reconciliation just made, or the last one stored; None before the first sync."""
    if report is None or report.block_number is None:
        return None
    return ReconciliationOut.model_validate(report)


def _status(session: SessionDep, runtime: RuntimeDep) -> MirrorStatusOut:
    chain_id = runtime.deployment.chain_id
    cursor = mirror.get_cursor(session, chain_id)
    tip = mirror.mirror_tip(session, chain_id)
    last = mirror.last_reconciliation(session, chain_id)
    reconciliation = _reconciliation_out(last)
    if cursor is None:
        status = "not_started"
    elif last is not None and last.drift_count:
        status = "drift"
    else:
        status = "ok"
    return MirrorStatusOut(
        status=status,
        chain_id=chain_id,
        cursor_block=cursor.block_number if cursor else None,
        cursor_hash=cursor.block_hash if cursor else None,
        head_block=tip.head_block if tip else None,
        lag_blocks=tip.head_block - cursor.block_number if tip and cursor else None,
        confirmations=runtime.settings.confirmations,
        max_reorg_depth=runtime.settings.mirror_max_reorg_depth,
        undo_floor=tip.undo_floor if tip else None,
        synced_at=tip.synced_at if tip else None,
        last_reconciliation=reconciliation,
    )


@router.get("/mirror/status", response_model=MirrorStatusOut)
def mirror_status(session: SessionDep, runtime: RuntimeDep) -> MirrorStatusOut:
    """How far the mirror has followed the chain, and what its last reconciliation found."""
    return _status(session, runtime)


@router.post("/mirror/reconcile", response_model=ReconciliationOut | None)
async def reconcile_now(
    _operator: Operator, runtime: RuntimeDep, repair: bool = True
) -> ReconciliationOut | None:
    """Compares the mirror with balanceOf/totalSupply and the ledger's views at its confirmed
    block now; with `repair` (default) drift makes it re-sync from the last good point."""
    mirror_ = build_mirror(runtime)
    try:
        report = await run_in_threadpool(lambda: mirror_.reconcile(repair=repair))
    finally:
        mirror_.rpc.close()  # its keep-alive connection serves this request only
    return _reconciliation_out(report)


@metrics_router.get("/metrics", response_class=PlainTextResponse, include_in_schema=False)
def metrics(session: SessionDep, runtime: RuntimeDep) -> str:
    """The mirror's figures in the Prometheus text format."""
    status = _status(session, runtime)
    last = status.last_reconciliation
    figures = {
        "label_ledger_mirror_cursor_block": status.cursor_block,
        "label_ledger_mirror_head_block": status.head_block,
        "label_ledger_mirror_lag_blocks": status.lag_blocks,
        "label_ledger_mirror_drift_values": None if last is None else last.drift_count,
        "label_ledger_mirror_reconciled_block": None if last is None else last.block_number,
        "label_ledger_mirror_reconciled_values": None if last is None else last.checked,
    }
    lines = []
    for name, value in figures.items():
        lines.append(f"# TYPE {name} gauge")
        lines.append(f"{name} {'NaN' if value is None else value}")
    return "\n".join(lines) + "\n"
