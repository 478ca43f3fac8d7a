"""Balances and health, read from the chain mirror."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import RuntimeDep, SessionDep
from api.errors import ERROR_RESPONSES
from ledger.kit.types import checksum
from ledger.mirror import repository as mirror

router = APIRouter(prefix="/v1", tags=["chain"], responses=ERROR_RESPONSES)


class TokenBalanceOut(BaseModel):
    token: str
    symbol: str
    balance: int
    claimed: int


class BalancesOut(BaseModel):
    address: str
    mirrored_block: int | None
    balances: list[TokenBalanceOut]


class HealthOut(BaseModel):
    status: str
    chain_id: int
    rpc_url: str | None
    mirrored_block: int | None
    contracts: dict[str, str]


@router.get("/balances/{address}", response_model=BalancesOut)
def balances(address: str, session: SessionDep, runtime: RuntimeDep) -> BalancesOut:
    """Token balances of an address as mirrored from chain events (public, like the chain)."""
    account = checksum(address)
    deployment = runtime.deployment
    tokens = [(t, "payment") for t in deployment.payment_tokens]
    tokens.append((deployment.label_token, "LABEL"))
    rows = []
    for token, symbol in tokens:
        rows.append(
            TokenBalanceOut(
                token=token,
                symbol=symbol,
                balance=mirror.get_balance(session, token, account),
                claimed=mirror.claimed(session, account, token),
            )
        )
    cursor = mirror.get_cursor(session, deployment.chain_id)
    return BalancesOut(
        address=account,
        mirrored_block=cursor.block_number if cursor else None,
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
            "escrow": deployment.escrow,
            "distributor": deployment.distributor,
            "label_token": deployment.label_token,
            **{f"payment_token_{i}": t for i, t in enumerate(deployment.payment_tokens)},
        },
    )
