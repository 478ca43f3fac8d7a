"""The chain mirror: the chain's truth copied into SQL from events, never from anyone's word.

`Mirror.sync_once` brings the mirror up to the chain:

1. It checks that the last applied block (the cursor) is still the chain's block at that height.
   If not, the chain reorganised: it walks back over the stored block hashes to the newest block
   the chain still holds (the common ancestor), undoes everything above it in one transaction
   (`apply.undo_above`) and replays from there. A fork deeper than `max_reorg_depth`, or below
   what the undo journal still covers, stops the mirror with `MirrorReorgTooDeep` and changes
   nothing: guessing would publish balances the chain does not hold.
2. It applies every block up to the head less `confirmations`, in chunks of at most
   `max_block_range` blocks, each chunk one transaction that stores its logs (each once, keyed by
   chain id, block hash and log index), applies their effects, records the blocks and moves the
   cursor. A crash at any point loses nothing and repeats nothing: the next run starts again from
   the cursor the last committed chunk left. The transaction also locks the cursor row and checks
   it is where the chunk begins, so a repair or a second mirror writing meanwhile makes this one
   retry rather than apply a chunk twice.
   - Blocks within `max_reorg_depth` of the head are read exactly: every header, each linked to
     its parent, the first to the cursor, and every log checked against its block's hash; their
     changes are journaled so a reorg can undo them.
   - Older blocks are final: read by range, with headers only where logs are. While one chunk
     of them is written, the next is fetched in a reader thread.
   - A node that refuses a range as too large makes the range shrink (halving); each success
     doubles it again, up to `max_block_range`. A log answer is accepted only when a second query
     from its last block to the end of the range finds nothing the first one lacked, so a
     provider that silently truncates answers is caught and asked for smaller ranges.
3. It records the token transfers of the unconfirmed blocks as pending (`pending_transfers`), so
   the API can show pending balances next to the confirmed ones.

`Mirror.reconcile` compares the mirror with `balanceOf`, `totalSupply` and the ledger's views at
the cursor block (see `ledger.mirror.reconcile`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from ledger.chain.client import ChainClient, Deployment
from ledger.kit.db import Base, Database, utcnow
from ledger.kit.errors import BadRequest, ChainStateMismatch, ChainUnavailable
from ledger.kit.types import Bytes32Hex
from ledger.mirror import repository
from ledger.mirror.apply import (
    ZERO_ADDRESS,
    Journal,
    MirrorReorgDetected,
    Openings,
    apply_logs,
    undo_above,
)
from ledger.mirror.events import DecodedLog, EventDecoder
from ledger.mirror.models import (
    JOURNALED_TABLES,
    ChainBlock,
    ChainLog,
    MirrorCursor,
    MirrorTip,
    PendingTransfer,
    UndoEntry,
)
from ledger.mirror.rpc import (
    BALANCE_OF,
    TOTAL_SUPPLY,
    BlockHeader,
    MirrorRpc,
    RangeTooLarge,
    RpcFailed,
)
from ledger.mirror.rpc import (
    word as _word,
)

if TYPE_CHECKING:
    from ledger.mirror.reconcile import ReconcileReport

logger = logging.getLogger(__name__)

__all__ = [
    "Mirror",
    "MirrorCursorMoved",
    "MirrorReorgDetected",
    "MirrorReorgTooDeep",
    "SyncReport",
]


class MirrorReorgTooDeep(MirrorReorgDetected):
    """The chain forked below what the mirror may or can undo: it stops rather than guess."""

    code = "mirror_reorg_too_deep"


class _ChainMoved(ChainUnavailable):
    """The node changed branch while the mirror read a chunk: read it again."""

    code = "chain_moved"


class MirrorCursorMoved(ChainUnavailable):
    """Another writer (a repair, a second mirror) moved the cursor while this one worked."""

    code = "mirror_cursor_moved"


class _LinkBroken(Exception):
    """The first block of a chunk does not build on the cursor block: the chain reorganised."""


@dataclass(frozen=True, slots=True)
class _Chunk:
    first: int
    last: int
    logs: list[DecodedLog]
    headers: dict[int, BlockHeader]


@dataclass(frozen=True, slots=True)
class _RawChunk:
    first: int
    last: int
    raw: list[dict[str, Any]]
    headers: dict[int, BlockHeader]


@dataclass(frozen=True, slots=True)
class _Ahead:
    """A chunk being fetched while the one before it is written."""

    first: int
    to: int
    parent: str
    future: Future[_RawChunk]


@dataclass
class SyncReport:
    """What one sync did."""

    applied: int = 0  # logs applied
    reorgs: int = 0  # forks undone
    undone_blocks: int = 0
    head: int = 0
    cursor: int | None = None
    pending: int = 0  # transfers above the confirmation depth


class Mirror:
    """Keeps one deployment's datasets, epochs, claims and token balances in SQL, from its logs."""

    def __init__(
        self,
        db: Database,
        client: ChainClient,
        deployment: Deployment,
        *,
        confirmations: int = 0,
        max_block_range: int = 2000,
        max_reorg_depth: int = 64,
        rpc_url: str | None = None,
        rpc_timeout: float = 10.0,
        rpc_attempts: int = 8,
        backoff_base_seconds: float = 0.25,
        backoff_max_seconds: float = 30.0,
    ) -> None:
        if confirmations < 0:
            raise ValueError(f"confirmations must be >= 0, got {confirmations}")
        if max_block_range < 1:
            raise ValueError(f"max_block_range must be >= 1, got {max_block_range}")
        if max_reorg_depth <= confirmations:
            raise BadRequest(
                f"LABEL_LEDGER_MIRROR_MAX_REORG_DEPTH ({max_reorg_depth}) must exceed "
                f"LABEL_LEDGER_CONFIRMATIONS ({confirmations}): confirmed blocks must stay "
                "undoable. Raise the first or lower the second"
            )
        self.db = db
        self.client = client
        self.deployment = deployment
        self.confirmations = confirmations
        self.max_block_range = max_block_range
        self.max_reorg_depth = max_reorg_depth
        self.chain_id = deployment.chain_id
        self.decoder = EventDecoder(deployment)
        self.rpc = MirrorRpc(
            rpc_url or client.rpc_url,
            timeout=rpc_timeout,
            attempts=rpc_attempts,
            backoff_base=backoff_base_seconds,
            backoff_max=backoff_max_seconds,
        )
        self.block_range = max_block_range  # adapts to what the node accepts
        self._addresses = [str(a) for a in self.decoder.addresses]
        self._topics = self.decoder.topics
        self._chain_checked = False
        self._seeded = {t.address for t in deployment.payment_tokens if t.seed_balances}

    # --- the loop ---------------------------------------------------------------------------------

    def sync_once(self) -> int:
        """Applies everything confirmed since the cursor; returns how many logs were applied."""
        return self.sync(should_stop=lambda: False).applied

    def run(
        self,
        stop: threading.Event,
        *,
        poll_seconds: float = 1.0,
        max_backoff_seconds: float = 30.0,
        reconcile_every_seconds: float = 0.0,
    ) -> None:
        """Syncs until `stop` is set; reconciles with the chain every `reconcile_every_seconds`
        (0: never). A node or database outage is logged and waited out.

        A reorg deeper than the mirror may undo, or any other disagreement with the chain it
        cannot explain, stops the loop with the error: carrying on would publish wrong balances.
        """
        failures = 0
        next_reconcile = time.monotonic() + reconcile_every_seconds
        while not stop.is_set():
            try:
                report = self.sync(should_stop=stop.is_set)
                if reconcile_every_seconds > 0 and time.monotonic() >= next_reconcile:
                    self.reconcile(repair=True)
                    next_reconcile = time.monotonic() + reconcile_every_seconds
            except ChainStateMismatch:
                logger.critical(
                    "ALARM: mirror stopped: the chain disagrees with what the mirror applied and "
                    "it cannot repair that itself. Inspect the chain at the cursor block; "
                    "`label-ledger mirror --rebuild` re-reads everything from the deployment block",
                    exc_info=True,
                )
                raise
            except Exception as exc:
                failures += 1
                delay = min(max_backoff_seconds, poll_seconds * 2 ** min(failures, 16))
                if isinstance(exc, ChainUnavailable | OperationalError):
                    logger.error(
                        "mirror sync failed (%s); retrying in %.1fs. If this persists, check that "
                        "the node at %s and the database are reachable",
                        exc,
                        delay,
                        self.rpc.url,
                    )
                else:
                    logger.exception(
                        "mirror sync failed unexpectedly; retrying in %.1fs. Report this with the "
                        "traceback if it repeats",
                        delay,
                    )
                stop.wait(delay)
                continue
            if failures:
                logger.info("mirror sync recovered after %d failed attempts", failures)
            failures = 0
            if report.applied or report.reorgs:
                logger.info(
                    "mirror at block %s (head %d): %d logs applied, %d reorgs undone",
                    report.cursor,
                    report.head,
                    report.applied,
                    report.reorgs,
                )
            stop.wait(poll_seconds)

    def reconcile(self, *, repair: bool = True) -> ReconcileReport:
        """Compares the mirror with the chain at its cursor block; see `ledger.mirror.reconcile`."""
        from ledger.mirror.reconcile import reconcile  # noqa: PLC0415 (it imports this module)

        return reconcile(self, repair=repair)

    # --- one sync ---------------------------------------------------------------------------------

    def sync(
        self,
        *,
        should_stop: Callable[[], bool],
        progress: Callable[[int, int], None] | None = None,
    ) -> SyncReport:
        """One pass up to the head; `progress(cursor, target)` is told after each chunk."""
        self._check_chain()
        head = self.rpc.head()
        report = SyncReport(head=head)
        confirmed = head - self.confirmations
        final = head - self.max_reorg_depth  # blocks at or below are final: not journaled

        position = self._position()
        if position is not None and not self._still_canonical(*position, head=head):
            position = self._rewind(head, report)
        if position is not None and position[0] > confirmed:
            # The chain went back (a node restarted from an older state, a rollback): what we
            # applied is still there but no longer `confirmations` deep, so it is undone until
            # it is again.
            position = self._rewind(head, report, only_unconfirmed=True)

        last, last_hash = position if position is not None else (self._start_block(), None)
        ahead: _Ahead | None = None
        # While a chunk of final blocks is written, the next one is already being read: the
        # node's work and the database's overlap instead of taking turns.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mirror-read") as reader:
            while last < confirmed and not should_stop():
                first = last + 1
                exact = first > final
                if ahead is not None and (ahead.first, ahead.parent) == (first, last_hash):
                    to, future = ahead.to, ahead.future
                else:
                    upper = confirmed if exact else min(confirmed, final)
                    to = min(first + self.block_range - 1, upper)
                    future = reader.submit(self._fetch, first, to, last_hash, exact=exact)
                ahead = None
                try:
                    chunk = self._decode(future.result())
                except RangeTooLarge as exc:
                    self._shrink(first, to, exc)
                    continue
                except _LinkBroken:
                    position = self._rewind(head, report)
                    last, last_hash = (
                        position if position is not None else (self._start_block(), None)
                    )
                    continue
                self.block_range = min(self.max_block_range, self.block_range * 2)
                chunk_hash = chunk.headers[to].hash
                if not exact and to < min(confirmed, final):
                    upcoming = min(to + self.block_range, confirmed, final)
                    ahead = _Ahead(
                        first=to + 1,
                        to=upcoming,
                        parent=chunk_hash,
                        future=reader.submit(
                            self._fetch, to + 1, upcoming, chunk_hash, exact=False
                        ),
                    )
                openings = self._openings(chunk, last_hash)
                parent = None if last_hash is None else (last, last_hash)
                report.applied += self._store(chunk, openings, parent, final=final, head=head)
                last, last_hash = to, chunk_hash
                if progress is not None:
                    progress(last, confirmed)

        report.cursor = last
        if last >= confirmed and not should_stop():
            report.pending = self._refresh_pending(confirmed, head)
        self._prune(final)
        return report

    def _shrink(self, first: int, to: int, refusal: RangeTooLarge) -> None:
        if to == first:
            raise RpcFailed(
                f"the node at {self.rpc.url} refuses the logs of block {first} even alone "
                f"({refusal}): use a node without that cap"
            ) from refusal
        self.block_range = max(1, (to - first + 1) // 2)
        logger.info(
            "log range %d..%d refused (%s); trying %d blocks", first, to, refusal, self.block_range
        )

    def _check_chain(self) -> None:
        if self._chain_checked:
            return
        chain_id = int(self.rpc.call("eth_chainId", []), 16)
        if chain_id != self.chain_id:
            raise ChainStateMismatch(
                f"the node at {self.rpc.url} is chain {chain_id}, but the deployment is on chain "
                f"{self.chain_id}: point the mirror at the right node"
            )
        self._chain_checked = True

    def _start_block(self) -> int:
        return self.deployment.deployment_block - 1

    def _position(self) -> tuple[int, Bytes32Hex] | None:
        with self.db.unit_of_work() as session:
            cursor = repository.get_cursor(session, self.chain_id)
            if cursor is None:
                return None
            return cursor.block_number, Bytes32Hex(cursor.block_hash)

    def _still_canonical(self, number: int, stored_hash: str, *, head: int) -> bool:
        if number > head:
            return False  # the chain is shorter than what we applied: rolled back
        on_chain = self.rpc.headers([number]).get(number)
        if on_chain is None:
            raise ChainUnavailable(f"the node at {self.rpc.url} does not have block {number} yet")
        return on_chain.hash == stored_hash.lower()

    # --- reorgs -----------------------------------------------------------------------------------

    def _rewind(
        self, head: int, report: SyncReport, *, only_unconfirmed: bool = False
    ) -> tuple[int, Bytes32Hex] | None:
        """Walks back to the newest stored block the chain still holds and undoes everything
        above it, in one transaction. Returns the new cursor.

        `only_unconfirmed`: the cursor is still on chain but the chain went back (a node
        restarted from an older state, a rollback) and it is no longer `confirmations` deep:
        the ancestor is the newest stored block at or below the head less `confirmations`, so
        what is undone is replayed once it is confirmed again (the cursor stays when no stored
        block is that deep)."""
        with self.db.unit_of_work() as session:
            cursor = repository.get_cursor(session, self.chain_id)
            assert cursor is not None
            tip = session.get(MirrorTip, self.chain_id)
            undo_floor = tip.undo_floor if tip is not None else self._start_block()
            stored = session.execute(
                select(ChainBlock.number, ChainBlock.hash)
                .where(
                    ChainBlock.chain_id == self.chain_id,
                    ChainBlock.number <= min(cursor.block_number, head),
                    ChainBlock.number >= undo_floor,
                )
                .order_by(ChainBlock.number.desc())
            ).all()
            cursor_number, cursor_hash = cursor.block_number, cursor.block_hash
        if only_unconfirmed:
            stored = [row for row in stored if row[0] <= head - self.confirmations]
            if not stored:
                return cursor_number, Bytes32Hex(cursor_hash)

        ancestor: tuple[int, Bytes32Hex] | None = None
        for start in range(0, len(stored), 32):
            page = stored[start : start + 32]
            canonical = self.rpc.headers([n for n, _ in page])
            for number, stored_hash in page:
                found = canonical.get(number)
                if found is not None and found.hash == stored_hash.lower():
                    ancestor = (number, Bytes32Hex(stored_hash))
                    break
            if ancestor is not None or cursor_number - page[-1][0] > self.max_reorg_depth:
                break

        depth = cursor_number - ancestor[0] if ancestor is not None else None
        if ancestor is None or depth is None or depth > self.max_reorg_depth:
            raise MirrorReorgTooDeep(
                f"the chain no longer holds block {cursor_number} as the mirror applied it, and "
                + (
                    f"the common ancestor is block {ancestor[0]}, {depth} blocks back"
                    if ancestor is not None
                    else f"no block the mirror stored since block {undo_floor} is still on chain"
                )
                + f": deeper than the mirror may undo (max_reorg_depth {self.max_reorg_depth}). "
                "Nothing was changed. Check the node (is it on the right network?); if the reorg "
                "is real, `label-ledger mirror --rebuild` re-reads everything"
            )

        with self.db.unit_of_work() as session:
            _expect_cursor(session, self.chain_id, (cursor_number, cursor_hash))
            restored = undo_above(session, self.chain_id, ancestor[0])
            repository.move_cursor(session, self.chain_id, ancestor[0], ancestor[1])
        report.reorgs += 1
        report.undone_blocks += depth
        logger.warning(
            "chain reorganised: block %d..%d replaced; undid %d rows back to block %d (%s), "
            "replaying",
            ancestor[0] + 1,
            cursor_number,
            restored,
            ancestor[0],
            ancestor[1],
        )
        return ancestor

    # --- reading a chunk --------------------------------------------------------------------------

    def _fetch(self, first: int, last: int, parent: str | None, *, exact: bool) -> _RawChunk:
        """The chunk's logs as the node sends them, and the headers that vouch for them.

        Network only, so it can run in the reader thread: decoding holds the GIL, and a thread
        holding it makes the writer's executemany wait for it between every two rows.
        """
        if exact:
            # headers first: logs read afterwards must belong to exactly these blocks
            headers = self.rpc.headers(range(first, last + 1))
            _check_linked(headers, first, last, parent)
            raw = self._complete_logs(first, last)
        else:
            raw = self._complete_logs(first, last)
            numbers = {int(n, 16) for n in {log["blockNumber"] for log in raw}}
            headers = self.rpc.headers({first, last, *numbers})
            if first not in headers or last not in headers:
                raise ChainUnavailable(f"the node at {self.rpc.url} lacks block {first}..{last}")
            if parent is not None and headers[first].parent_hash != parent.lower():
                raise _LinkBroken
        return _RawChunk(first, last, raw, headers)

    def _decode(self, chunk: _RawChunk) -> _Chunk:
        logs = self._decoded(chunk.raw)
        headers = chunk.headers
        for log in logs:
            header = headers.get(log.block_number)
            if header is None or header.hash != log.block_hash:
                raise _ChainMoved(f"block {log.block_number} changed while the mirror read it")
        return _Chunk(chunk.first, chunk.last, logs, headers)

    def _complete_logs(self, first: int, last: int) -> list[dict[str, Any]]:
        raw = self.rpc.logs(self._addresses, self._topics, first, last)
        if raw:
            # A provider may cut an answer short without saying so. Ask again from the last
            # block it reached: a complete answer holds everything that query finds.
            numbers = [int(log["blockNumber"], 16) for log in raw]
            reached = max(numbers)
            seen = {
                (log["blockHash"], log["logIndex"])
                for log, number in zip(raw, numbers, strict=True)
                if number == reached
            }
            probe = self.rpc.logs(self._addresses, self._topics, reached, last)
            if any((log["blockHash"], log["logIndex"]) not in seen for log in probe):
                self.rpc.stats.range_refusals += 1
                raise RangeTooLarge(f"eth_getLogs {first}..{last} was cut short at block {reached}")
        return raw

    def _decoded(self, raw: list[dict[str, Any]]) -> list[DecodedLog]:
        decoded = [d for d in map(self.decoder.decode, raw) if d is not None]
        decoded.sort(key=lambda log: (log.block_number, log.log_index))
        return decoded

    # --- writing a chunk ----------------------------------------------------------------------

    def _openings(self, chunk: _Chunk, parent: str | None) -> Openings:
        """Balances and supplies, before this chunk, of seeded tokens' accounts the mirror sees
        for the first time: `balanceOf`/`totalSupply` at the block before the chunk."""
        openings = Openings()
        wanted: set[tuple[str, str]] = set()
        supplies: set[str] = set()
        for log in chunk.logs:
            if log.event != "Transfer" or log.address not in self._seeded:
                continue
            for account in (log.args["from"], log.args["to"]):
                if account == ZERO_ADDRESS:
                    supplies.add(log.address)
                else:
                    wanted.add((log.address, str(account)))
        if not wanted and not supplies:
            return openings
        with self.db.unit_of_work() as session:
            known = repository.known_balances(session, wanted)
            supplies -= repository.known_supplies(session, supplies)
        new = sorted(wanted - known)
        calls = [(token, BALANCE_OF + _word(account)) for token, account in new]
        calls += [(token, TOTAL_SUPPLY) for token in sorted(supplies)]
        if not calls:
            return openings
        answers = self.rpc.eth_calls(calls, parent if parent is not None else chunk.first - 1)
        for key, raw in zip(new, answers, strict=False):
            openings.balances[key] = int.from_bytes(raw[:32], "big")
        for token, raw in zip(sorted(supplies), answers[len(new) :], strict=True):
            openings.supplies[token] = int.from_bytes(raw[:32], "big")
        return openings

    def _store(
        self,
        chunk: _Chunk,
        openings: Openings,
        parent: tuple[int, str] | None,
        *,
        final: int,
        head: int,
    ) -> int:
        journal = Journal(self.chain_id, floor=final)
        try:
            with self.db.unit_of_work() as session:
                _expect_cursor(session, self.chain_id, parent)
                stored = repository.stored_block_hashes(
                    session, self.chain_id, chunk.first, chunk.last
                )
                for number, stored_hash in stored.items():
                    header = chunk.headers.get(number)
                    if header is not None and header.hash != stored_hash:
                        # above the cursor nothing is stored, so this is a bug, not a reorg
                        raise ChainStateMismatch(
                            f"block {number} above the cursor was stored as {stored_hash}"
                        )
                new_blocks = [
                    {
                        "chain_id": self.chain_id,
                        "number": h.number,
                        "hash": h.hash,
                        "parent_hash": h.parent_hash,
                    }
                    for h in chunk.headers.values()
                    if h.number not in stored
                ]
                if new_blocks:
                    session.execute(insert(ChainBlock), new_blocks)
                applied = apply_logs(session, self.chain_id, chunk.logs, journal, openings)
                repository.move_cursor(
                    session, self.chain_id, chunk.last, chunk.headers[chunk.last].hash
                )
                tip = session.get(MirrorTip, self.chain_id)
                if tip is None:
                    floor = chunk.last if chunk.last <= final else self._start_block()
                    session.add(
                        MirrorTip(
                            chain_id=self.chain_id,
                            head_block=head,
                            undo_floor=floor,
                            synced_at=utcnow(),
                        )
                    )
                else:
                    if chunk.last <= final:
                        tip.undo_floor = max(tip.undo_floor, chunk.last)
                    tip.head_block = head
                    tip.synced_at = utcnow()
        except IntegrityError as exc:
            # two writers both started from no cursor: the loser's inserts collide
            raise MirrorCursorMoved(f"another writer stored this chunk first ({exc.orig})") from exc
        logger.debug("mirror applied blocks %d..%d: %d new logs", chunk.first, chunk.last, applied)
        return applied

    def _refresh_pending(self, confirmed: int, head: int) -> int:
        """Replaces the pending transfers with those of blocks confirmed+1..head."""
        rows: list[dict[str, Any]] = []
        if head > confirmed:
            try:
                logs = self._decoded(self._complete_logs(confirmed + 1, head))
            except RangeTooLarge:
                logs = []  # pending is a courtesy: never worth failing a sync for
                logger.info("pending blocks %d..%d not read: range refused", confirmed + 1, head)
            rows = [
                {
                    "chain_id": self.chain_id,
                    "block_hash": log.block_hash,
                    "log_index": log.log_index,
                    "block_number": log.block_number,
                    "token": log.address,
                    "sender": log.args["from"],
                    "recipient": log.args["to"],
                    "value": log.args["value"],
                }
                for log in logs
                if log.event == "Transfer"
            ]
        with self.db.unit_of_work() as session:
            session.execute(
                delete(PendingTransfer).where(PendingTransfer.chain_id == self.chain_id)
            )
            if rows:
                session.execute(insert(PendingTransfer), rows)
            tip = session.get(MirrorTip, self.chain_id)
            if tip is not None:
                tip.head_block = head
                tip.synced_at = utcnow()
        return len(rows)

    def _prune(self, final: int) -> None:
        """Forgets undo entries and log-less block headers of blocks that are final, keeping
        what a repair back to the last good reconciliation needs."""
        with self.db.unit_of_work() as session:
            tip = session.get(MirrorTip, self.chain_id)
            if tip is None or final <= tip.undo_floor:
                return
            keep_from = repository.last_good_reconciliation_block(session, self.chain_id)
            target = (
                final if keep_from is None or keep_from < tip.undo_floor else min(final, keep_from)
            )
            # the new floor must be a stored block: a rewind needs its hash
            floor = session.scalar(
                select(func.max(ChainBlock.number)).where(
                    ChainBlock.chain_id == self.chain_id, ChainBlock.number <= target
                )
            )
            if floor is None or floor <= tip.undo_floor:
                return
            session.execute(
                delete(UndoEntry).where(
                    UndoEntry.chain_id == self.chain_id, UndoEntry.block_number <= floor
                )
            )
            with_logs = select(ChainLog.block_number).where(
                ChainLog.chain_id == self.chain_id,
                ChainLog.block_number > tip.undo_floor,
                ChainLog.block_number < floor,
            )
            session.execute(
                delete(ChainBlock).where(
                    ChainBlock.chain_id == self.chain_id,
                    ChainBlock.number > tip.undo_floor,
                    ChainBlock.number < floor,
                    ChainBlock.number.not_in(with_logs),
                )
            )
            tip.undo_floor = floor


def _expect_cursor(session: Session, chain_id: int, expected: tuple[int, str] | None) -> None:
    """Locks the cursor row for this transaction and checks nobody moved it since it was read:
    a repair or a second mirror may write between this mirror's read and its write."""
    cursor = repository.get_cursor(session, chain_id, for_update=True)
    found = None if cursor is None else (cursor.block_number, cursor.block_hash.lower())
    wanted = None if expected is None else (expected[0], expected[1].lower())
    if found != wanted:
        raise MirrorCursorMoved(
            f"the mirror's cursor is at {found}, not {wanted} as read: another writer moved it; "
            "retrying from where it is now"
        )


def _check_linked(
    headers: dict[int, BlockHeader], first: int, last: int, parent: str | None
) -> None:
    missing = [n for n in range(first, last + 1) if n not in headers]
    if missing:
        raise ChainUnavailable(f"the node does not have blocks {missing[:5]} yet")
    if parent is not None and headers[first].parent_hash != parent.lower():
        raise _LinkBroken
    for number in range(first + 1, last + 1):
        if headers[number].parent_hash != headers[number - 1].hash:
            raise _ChainMoved(f"block {number} does not build on block {number - 1}")


def delete_mirror_state(session: Session, chain_id: int) -> None:
    """Forgets everything the mirror derived for `chain_id`, so it re-reads from the deployment
    block. One transaction: readers see either the old state or an empty one."""
    for name in JOURNALED_TABLES:
        session.execute(delete(Base.metadata.tables[name]))
    for model in (ChainLog, ChainBlock, UndoEntry, PendingTransfer, MirrorTip, MirrorCursor):
        session.execute(delete(model).where(model.chain_id == chain_id))
