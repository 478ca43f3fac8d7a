"""Balances and health, read from the chain mirror."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import RuntimeDep, SessionDep
from api.errors import ERROR_RESPONSES
from ledger.kit.types import checksum
from ledger.kit.units import LABEL_DECIMALS
from ledger.mirror import repository as mirror

router = APIRouter(prefix="/v1", tags=["chain"], responses=ERROR_RESPONSES)


class TokenBalanceOut(BaseModel):
    token: str
    symbol: str
    decimals: int | None
    balance: int
    claimed: int  # claimed from the ledger so far: payment in this token, or LABEL rewards


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
            claimed=mirror.reward_claimed(session, account),
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
            "ledger": deployment.ledger,
            "label_token": deployment.ledger,
            **{f"payment_token_{i}": t.address for i, t in enumerate(deployment.payment_tokens)},
        },
        payment_tokens={t.address: t.index for t in deployment.payment_tokens},
        timelock_seconds=deployment.timelock,
        label_decimals=LABEL_DECIMALS,
    )
