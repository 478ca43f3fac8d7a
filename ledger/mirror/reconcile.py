"""Reconciliation: the mirror proves itself against the chain, and repairs itself when it cannot.

At the mirror's cursor block (confirmed, named by hash so the chain cannot move under the check),
every mirrored token balance is compared with `balanceOf`, every followed token's supply with
`totalSupply`, every dataset's available funds, debits and status with the ledger's `dataset`
view, and every claimed total with `claimed`. All calls go out as JSON-RPC batches.

Any difference is drift: it is recorded (`mirror_reconciliations`, which the API and `/metrics`
report), logged at error level with the first differing rows, and, with `repair`, mended by
re-syncing from the last good point: the mirror undoes back to the block of the last
reconciliation that found no drift, when the undo journal still reaches it, and otherwise
forgets everything and re-reads from the deployment block.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eth_abi.abi import decode as abi_decode
from sqlalchemy import select

from ledger.kit.db import utcnow
from ledger.mirror import repository
from ledger.mirror.apply import undo_above
from ledger.mirror.models import (
    ChainDataset,
    ClaimedTotal,
    MirrorTip,
    Reconciliation,
    TokenBalance,
    TokenSupply,
)
from ledger.mirror.rpc import BALANCE_OF, TOTAL_SUPPLY, selector
from ledger.mirror.rpc import word as _word

if TYPE_CHECKING:
    from ledger.mirror.service import Mirror

logger = logging.getLogger(__name__)

_MAX_DRIFT_ROWS = 100  # kept per reconciliation; the count is always exact
KEEP_RECONCILIATIONS = 2_000  # about a week at the default 5 minutes
_STATUS = {1: "open", 2: "closing", 3: "closed"}


_DATASET = selector("dataset(uint256)")
_CLAIMED = selector("claimed(address,uint16)")


@dataclass
class ReconcileReport:
    block_number: int | None
    block_hash: str | None
    checked: int = 0
    drift: list[dict[str, str]] = field(default_factory=list)
    drift_count: int = 0
    repaired_from: int | None = None  # the block the mirror re-synced from, if it repaired

    @property
    def ok(self) -> bool:
        return self.drift_count == 0


@dataclass(frozen=True, slots=True)
class _Check:
    what: str
    key: str
    to: str
    data: str
    mirror: Any
    read: Any  # bytes -> the comparable value on chain


def _uint(raw: bytes) -> int:
    return int.from_bytes(raw[:32], "big")


def _dataset_view(raw: bytes) -> tuple[int, int, str]:
    _buyer, _token, _fee, status, _requested, available, debited = abi_decode(
        ["(address,uint16,uint16,uint8,uint40,uint128,uint128)"], raw
    )[0]
    return int(available), int(debited), _STATUS.get(int(status), f"status {status}")


def _claimed_view(raw: bytes) -> tuple[int, int]:
    payment, reward = abi_decode(["uint256", "uint256"], raw)
    return int(payment), int(reward)


def reconcile(mirror: Mirror, *, repair: bool = True) -> ReconcileReport:
    chain_id = mirror.chain_id
    ledger = mirror.deployment.ledger
    with mirror.db.unit_of_work() as session:
        cursor = repository.get_cursor(session, chain_id)
        if cursor is None:
            return ReconcileReport(block_number=None, block_hash=None)
        number, block_hash = cursor.block_number, cursor.block_hash
        checks: list[_Check] = []
        for token, account, balance in session.execute(
            select(TokenBalance.token, TokenBalance.account, TokenBalance.balance)
        ):
            checks.append(
                _Check(
                    "balanceOf",
                    f"{token}/{account}",
                    token,
                    BALANCE_OF + _word(account),
                    balance,
                    _uint,
                )
            )
        supplies = dict(session.execute(select(TokenSupply.token, TokenSupply.total_supply)).all())
        for token in sorted({ledger, *supplies}):
            checks.append(
                _Check("totalSupply", token, token, TOTAL_SUPPLY, supplies.get(token, 0), _uint)
            )
        for record in session.scalars(select(ChainDataset)):
            checks.append(
                _Check(
                    "dataset",
                    record.dataset_id,
                    ledger,
                    _DATASET + _word(record.dataset_id),
                    (record.available, record.debited, record.status),
                    _dataset_view,
                )
            )
        for row in session.scalars(select(ClaimedTotal)):
            checks.append(
                _Check(
                    "claimed",
                    f"{row.account}/{row.token_index}",
                    ledger,
                    _CLAIMED + _word(row.account) + _word(row.token_index),
                    (row.payment, row.reward),
                    _claimed_view,
                )
            )

    answers = mirror.rpc.eth_calls([(c.to, c.data) for c in checks], block_hash)
    report = ReconcileReport(block_number=number, block_hash=block_hash, checked=len(checks))
    for check, raw in zip(checks, answers, strict=True):
        on_chain = check.read(raw)
        if on_chain != check.mirror:
            report.drift_count += 1
            if len(report.drift) < _MAX_DRIFT_ROWS:
                report.drift.append(
                    {
                        "what": check.what,
                        "key": check.key,
                        "mirror": _text(check.mirror),
                        "chain": _text(on_chain),
                    }
                )

    if report.ok:
        logger.info(
            "reconciled with the chain at block %d (%s): %d values agree",
            number,
            block_hash,
            report.checked,
        )
    else:
        logger.error(
            "DRIFT: the mirror disagrees with the chain at block %d (%s) on %d of %d values, "
            "first: %s%s",
            number,
            block_hash,
            report.drift_count,
            report.checked,
            report.drift[:3],
            "; repairing" if repair else "; run `label-ledger mirror --reconcile` to repair",
        )
        if repair:
            report.repaired_from = _repair(mirror)

    with mirror.db.unit_of_work() as session:
        session.add(
            Reconciliation(
                chain_id=chain_id,
                block_number=number,
                block_hash=block_hash,
                checked_at=utcnow(),
                checked=report.checked,
                drift_count=report.drift_count,
                drift=report.drift,
                repaired_from=report.repaired_from,
            )
        )
        session.flush()
        repository.forget_old_reconciliations(session, chain_id, keep=KEEP_RECONCILIATIONS)
    return report


def _repair(mirror: Mirror) -> int:
    """Re-syncs from the last good point; if the drift is older than that point (a row no block
    since has touched), the replay cannot mend it, so everything is re-read. Returns the block
    the mirror re-synced from."""
    start = _resync_from_last_good(mirror)
    if start == mirror.deployment.deployment_block:
        return start
    mirror.sync(should_stop=lambda: False)
    if reconcile(mirror, repair=False).ok:
        return start
    logger.warning("drift survived the replay from block %d: re-reading everything", start)
    return _rebuild(mirror)


def _rebuild(mirror: Mirror) -> int:
    from ledger.mirror.service import delete_mirror_state  # noqa: PLC0415

    with mirror.db.unit_of_work() as session:
        delete_mirror_state(session, mirror.chain_id)
    start = mirror.deployment.deployment_block
    logger.warning("mirror re-syncing from the deployment block %d", start)
    return start


def _resync_from_last_good(mirror: Mirror) -> int:
    """Undoes back to the last reconciliation without drift if the journal reaches it and that
    block is still on chain; otherwise forgets everything. Returns the block re-synced from."""
    chain_id = mirror.chain_id
    with mirror.db.unit_of_work() as session:
        good = repository.last_good_reconciliation(session, chain_id)
        tip = session.get(MirrorTip, chain_id)
        cursor = repository.get_cursor(session, chain_id)
        reachable = (
            good is not None
            and tip is not None
            and cursor is not None
            and tip.undo_floor <= good.block_number <= cursor.block_number
            and repository.get_block(session, chain_id, good.block_number) is not None
        )
    if reachable:
        assert good is not None
        header = mirror.rpc.headers([good.block_number]).get(good.block_number)
        if header is not None and header.hash == good.block_hash.lower():
            with mirror.db.unit_of_work() as session:
                undo_above(session, chain_id, good.block_number)
                repository.move_cursor(session, chain_id, good.block_number, good.block_hash)
            logger.warning(
                "mirror re-syncing from block %d, the last good reconciliation", good.block_number
            )
            return good.block_number
    logger.warning("no good reconciliation the undo journal reaches")
    return _rebuild(mirror)


def _text(value: Any) -> str:
    if isinstance(value, tuple):
        return "/".join(str(v) for v in value)
    return str(value)
