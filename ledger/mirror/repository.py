"""All SQL over the mirror's tables: the mirror writes through here and the API reads through here.

Nothing here commits; callers run inside `Database.unit_of_work()`. Addresses are stored
checksummed, and the read helpers checksum what they are given, so a lowercase address from a
request finds the same row.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, or_, select, tuple_
from sqlalchemy.orm import Session

from ledger.kit.types import bytes32_hex, checksum
from ledger.mirror.models import (
    ChainBlock,
    ChainDataset,
    ChainEpoch,
    ClaimedTotal,
    LedgerToken,
    MirrorCursor,
    MirrorTip,
    PendingTransfer,
    Reconciliation,
    TokenBalance,
    TokenSupply,
)


@dataclass(frozen=True)
class MirrorStatus:
    """How far the mirror has applied the chain: its cursor block."""

    chain_id: int
    block_number: int
    block_hash: str


# --- reads for the API (and the mirror) ---------------------------------------------------------


def mirror_status(session: Session, chain_id: int) -> MirrorStatus | None:
    """The last block whose logs are applied, or None before the first sync."""
    cursor = session.get(MirrorCursor, chain_id)
    if cursor is None:
        return None
    return MirrorStatus(chain_id, cursor.block_number, cursor.block_hash)


def get_balance(session: Session, token: str, account: str) -> int:
    row = session.get(TokenBalance, (checksum(token), checksum(account)))
    return 0 if row is None else row.balance


def balances(session: Session, account: str) -> dict[str, int]:
    """Every followed token's balance of `account` that the chain ever moved, by token address."""
    rows = session.scalars(select(TokenBalance).where(TokenBalance.account == checksum(account)))
    return {row.token: row.balance for row in rows}


def total_supply(session: Session, token: str) -> int:
    row = session.get(TokenSupply, checksum(token))
    return 0 if row is None else row.total_supply


def get_chain_dataset(session: Session, dataset_id: str | bytes) -> ChainDataset | None:
    return session.get(ChainDataset, bytes32_hex(dataset_id))


def claimed(session: Session, account: str, token_index: int) -> tuple[int, int]:
    """(payment, reward) `account` has claimed for labels paid in `token_index` so far."""
    row = session.get(ClaimedTotal, (checksum(account), token_index))
    return (0, 0) if row is None else (row.payment, row.reward)


def reward_claimed(session: Session, account: str) -> int:
    """All LABEL `account` has claimed, over every payment token."""
    rows = session.scalars(select(ClaimedTotal).where(ClaimedTotal.account == checksum(account)))
    return sum(row.reward for row in rows)


def get_chain_epoch(session: Session, epoch: int) -> ChainEpoch | None:
    return session.get(ChainEpoch, epoch)


def get_ledger_token(session: Session, token_index: int) -> LedgerToken | None:
    return session.get(LedgerToken, token_index)


def pending_balance(session: Session, token: str, account: str) -> int:
    """The confirmed balance moved by the transfers of blocks above the confirmation depth."""
    account = checksum(account)
    token = checksum(token)
    balance = get_balance(session, token, account)
    rows = session.execute(
        select(PendingTransfer.sender, PendingTransfer.recipient, PendingTransfer.value).where(
            PendingTransfer.token == token,
            or_(PendingTransfer.sender == account, PendingTransfer.recipient == account),
        )
    )
    for sender, recipient, value in rows:
        if sender == account:
            balance -= value
        if recipient == account:
            balance += value
    return balance


def mirror_tip(session: Session, chain_id: int) -> MirrorTip | None:
    return session.get(MirrorTip, chain_id)


def last_reconciliation(session: Session, chain_id: int) -> Reconciliation | None:
    return session.scalar(
        select(Reconciliation)
        .where(Reconciliation.chain_id == chain_id)
        .order_by(Reconciliation.id.desc())
        .limit(1)
    )


def last_good_reconciliation(session: Session, chain_id: int) -> Reconciliation | None:
    return session.scalar(
        select(Reconciliation)
        .where(Reconciliation.chain_id == chain_id, Reconciliation.drift_count == 0)
        .order_by(Reconciliation.id.desc())
        .limit(1)
    )


def forget_old_reconciliations(session: Session, chain_id: int, *, keep: int) -> None:
    """Deletes all but the newest `keep` reconciliations, never the last good one (a repair
    returns to its block)."""
    cutoff = session.scalar(
        select(Reconciliation.id)
        .where(Reconciliation.chain_id == chain_id)
        .order_by(Reconciliation.id.desc())
        .offset(keep - 1)
        .limit(1)
    )
    if cutoff is None:
        return
    good = last_good_reconciliation(session, chain_id)
    session.execute(
        delete(Reconciliation).where(
            Reconciliation.chain_id == chain_id,
            Reconciliation.id < cutoff,
            Reconciliation.id != (good.id if good is not None else -1),
        )
    )


def last_good_reconciliation_block(session: Session, chain_id: int) -> int | None:
    good = last_good_reconciliation(session, chain_id)
    return None if good is None else good.block_number


# --- writes for the mirror ------------------------------------------------------------------------
# The mirror passes addresses exactly as the decoder produced them (already checksummed).


def get_cursor(session: Session, chain_id: int, *, for_update: bool = False) -> MirrorCursor | None:
    """The cursor; `for_update` locks its row until the transaction ends (PostgreSQL)."""
    return session.get(MirrorCursor, chain_id, with_for_update=for_update)


def move_cursor(session: Session, chain_id: int, block_number: int, block_hash: str) -> None:
    cursor = session.get(MirrorCursor, chain_id)
    if cursor is None:
        session.add(
            MirrorCursor(chain_id=chain_id, block_number=block_number, block_hash=block_hash)
        )
    else:
        cursor.block_number = block_number
        cursor.block_hash = block_hash


def known_balances(session: Session, keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (token, account) pairs already have a balance row."""
    ordered = sorted(keys)
    found: set[tuple[str, str]] = set()
    for start in range(0, len(ordered), 500):
        rows = session.execute(
            select(TokenBalance.token, TokenBalance.account).where(
                tuple_(TokenBalance.token, TokenBalance.account).in_(ordered[start : start + 500])
            )
        )
        found.update((token, account) for token, account in rows)
    return found


def known_supplies(session: Session, tokens: set[str]) -> set[str]:
    return set(session.scalars(select(TokenSupply.token).where(TokenSupply.token.in_(tokens))))


def stored_block_hashes(session: Session, chain_id: int, first: int, last: int) -> dict[int, str]:
    """Number -> hash of the blocks stored between `first` and `last` inclusive."""
    rows = session.execute(
        select(ChainBlock.number, ChainBlock.hash).where(
            ChainBlock.chain_id == chain_id, ChainBlock.number.between(first, last)
        )
    )
    return {number: block_hash for number, block_hash in rows}  # noqa: C416 (Row pairs)


def get_block(session: Session, chain_id: int, number: int) -> ChainBlock | None:
    return session.get(ChainBlock, (chain_id, number))


def add_chain_dataset(
    session: Session,
    *,
    dataset_id: str,
    buyer: str,
    salt: str,
    token_index: int,
    token: str,
    fee_bps: int,
) -> ChainDataset:
    record = ChainDataset(
        dataset_id=dataset_id,
        buyer=buyer,
        salt=salt,
        token_index=token_index,
        token=token,
        fee_bps=fee_bps,
        status="open",
        funded=0,
        available=0,
        debited=0,
        fees=0,
        refunded=0,
    )
    session.add(record)
    return record


def put_ledger_token(session: Session, *, token_index: int, token: str) -> LedgerToken:
    row = session.get(LedgerToken, token_index)
    if row is None:
        row = LedgerToken(token_index=token_index, token=token, fees=0)
        session.add(row)
    return row


def get_claimed_row(session: Session, account: str, token_index: int) -> ClaimedTotal | None:
    return session.get(ClaimedTotal, (account, token_index))


def claimed_row(session: Session, account: str, token_index: int) -> ClaimedTotal:
    row = session.get(ClaimedTotal, (account, token_index))
    if row is None:
        row = ClaimedTotal(account=account, token_index=token_index, payment=0, reward=0)
        session.add(row)
    return row


def add_chain_epoch(session: Session, row: ChainEpoch) -> None:
    session.add(row)
