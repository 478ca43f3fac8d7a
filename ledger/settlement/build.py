"""Building an epoch: which verified labels their datasets' funds cover, and everything the
epoch fixes in one SQL transaction (entitlements, debits, ledger entries, trees, manifest).

Sending it to the chain is `ledger.settlement.service`.

Built for a million labels an epoch: the labels are read as plain columns through the driver
(`ledger.settlement.select`), each label's leaf and verdict row computed without an object per
label (`_published`, the same hashes as `paid_label`), the rows bulk-inserted, and the labels put
in the epoch in one statement that still refuses a label another epoch took meanwhile.
`tests/integration/test_settlement_fast.py` holds it to the per-label computation, byte for
byte; `./scripts/bench-settle` measures it.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ledger.annotation.models import Label, VerificationMethod
from ledger.annotation.service import auto_accept_due
from ledger.annotation.standing import reveal_due
from ledger.chain.client import (
    Deployment,
)
from ledger.dataset.models import Dataset, Item
from ledger.dataset.service import label_kind_of
from ledger.kinds import kind_named
from ledger.kit.db import UINT256_DIGITS, is_postgres
from ledger.kit.errors import Conflict
from ledger.merkle import new_keccak256 as keccak_object
from ledger.publication import (
    METHOD_CODES,
    DatasetDebit,
    GoldRejection,
    PaidLabel,
    build_epoch_files_from_leaves,
    graded_hash,
    label_hash,
)
from ledger.settlement import repository
from ledger.settlement import select as select_sql
from ledger.settlement.models import (
    EntrySide,
    Epoch,
    EpochStatus,
)
from ledger.settlement.select import DatasetTerms, uint256

log = logging.getLogger(__name__)

BPS = 10_000
CLOSE_GRACE_PERIOD = select_sql.CLOSE_GRACE_PERIOD  # the ledger's CLOSE_GRACE_PERIOD
ZERO_HASH = b"\x00" * 32
BLANK_HASH = "0x" + "00" * 32  # an epoch row's roots while it is being built


class MirrorBehind(Conflict):
    code = "mirror_behind"


class EpochInFlight(Conflict):
    code = "epoch_in_flight"


def fee_of(debit: int, fee_bps: int) -> int:
    """The ledger's fee on a debit, taken on top of it (rounded down, as on chain)."""
    return debit * fee_bps // BPS


@dataclass(slots=True)
class _DatasetDebit:
    dataset: DatasetTerms
    token_index: int
    fee_bps: int
    amount: int = 0
    labels: int = 0
    # what its labels' leaves, verdicts and movements repeat, computed once
    leaf_id: str = ""  # the ledger's dataset id in decimal
    gold_key: bytes = b""
    source: str = ""  # its ledger account: "dataset:<id>"

    @property
    def fee(self) -> int:
        return fee_of(self.amount, self.fee_bps)


@dataclass
class _Payable:
    label_ids: list[int] = field(default_factory=list)
    # (annotator, token index) -> [payment, reward]
    earnings: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    debits: dict[int, _DatasetDebit] = field(default_factory=dict)  # by dataset id
    # what the label tree and the verdicts hold of each paid label, in verification order
    leaves: list[tuple[str, ...]] = field(default_factory=list)
    verdicts: list[tuple[str | None, ...]] = field(default_factory=list)
    # (from ledger account, annotator, token) -> amount, in the order first met
    movements: dict[tuple[str, str, str], int] = field(default_factory=dict)


def _hex_or_text(part: str) -> bytes:
    """A part of `ledger.publication.salted_hash`: 0x + 64 hex as its bytes, text as UTF-8."""
    return bytes.fromhex(part[2:]) if len(part) == 66 and part[:2] == "0x" else part.encode()


def _debit_of(dataset: DatasetTerms) -> _DatasetDebit | None:
    if not dataset.payable:
        return None  # not on the ledger, or closed
    return _DatasetDebit(
        dataset,
        dataset.token_index,
        dataset.fee_bps,
        leaf_id=str(int(dataset.chain_dataset_id, 16)),
        gold_key=bytes.fromhex(dataset.gold_nonce.removeprefix("0x")),
        source=f"dataset:{dataset.chain_dataset_id}",
    )


_METHOD_CODES = {name: str(code) for name, code in METHOD_CODES.items()}


def _published(
    row: Sequence[Any], debit: _DatasetDebit, price: int, reward: int, decimals: dict[int, str]
) -> tuple[tuple[str, ...], tuple[str | None, ...]]:
    """`paid_label(...).leaf()` and its verdict row, from a payable row (`select.payable_rows`)
    of a label its dataset pays: the same hashes, without a PaidLabel."""
    r = select_sql
    item_hash, annotator, value = row[r.ITEM_HASH], row[r.ANNOTATOR], row[r.VALUE]
    label_digest = (
        "0x"
        + (
            keccak_object(bytes.fromhex(row[r.SALT].removeprefix("0x")) + _hex_or_text(value))
        ).hexdigest()
    )
    method = row[r.METHOD] or "review"
    evidence, graded = row[r.REVIEWER], None
    if method == "consensus":
        evidence = row[r.AGREEMENT]
    elif method == "gold" and row[r.GOLD_LABEL] is not None:
        prefix = debit.gold_key + _hex_or_text(item_hash)
        evidence = "0x" + keccak_object(prefix + _hex_or_text(row[r.GOLD_LABEL])).hexdigest()
        # a box or span matches its gold answer by overlap, not byte for byte: graded as it
        exact = kind_named(debit.dataset.label_type).exact
        graded = (
            "0x" + keccak_object(prefix + _hex_or_text(value)).hexdigest() if exact else evidence
        )
    payment_text = decimals.get(price)
    if payment_text is None:
        payment_text = decimals[price] = str(price)
    reward_text = decimals.get(reward)
    if reward_text is None:
        reward_text = decimals[reward] = str(reward)
    chain_id = debit.dataset.chain_dataset_id
    return (
        (
            debit.leaf_id,
            item_hash,
            annotator,
            label_digest,
            _METHOD_CODES[method],
            payment_text,
            reward_text,
        ),
        (chain_id, item_hash, annotator, label_digest, method, evidence, graded),
    )


def _select_payable(session: Session, *, deployment: Deployment) -> _Payable:
    """Takes labels in verification order while each dataset's funds still cover them, fee
    included. A closing dataset pays the labels submitted before its close was requested, also
    those its reviewers verify during the grace period: the work was done while it was open.

    Reads plain columns (`ledger.settlement.select`), each dataset's terms and ledger record
    once, and computes each paid label's leaf and verdict row as `paid_label` would."""
    payable = _Payable()
    terms = select_sql.dataset_terms(session)
    known: dict[int, _DatasetDebit | None] = {}
    decimals: dict[int, str] = {}
    issuance = deployment.ledger
    earnings, movements = payable.earnings, payable.movements
    label_ids, leaves, verdicts = payable.label_ids, payable.leaves, payable.verdicts
    r = select_sql
    for row in select_sql.payable_rows(session):
        dataset_id = row[r.DATASET]
        if dataset_id in known:
            debit = known[dataset_id]
        else:
            debit = known[dataset_id] = _debit_of(terms[dataset_id])
            if debit is not None:
                payable.debits[dataset_id] = debit
        if debit is None:
            continue  # not on the ledger, or closed
        cutoff = debit.dataset.paid_until
        if cutoff is not None and select_sql.timestamp(row[r.CREATED_AT]) >= cutoff:
            continue  # submitted after the buyer asked to close: the ledger owes it nothing
        price, reward = uint256(row[r.PRICE]), uint256(row[r.REWARD])
        new_amount = debit.amount + price
        if new_amount + new_amount * debit.fee_bps // BPS > debit.dataset.available:
            continue  # waits for a top-up; later labels of other datasets still settle
        debit.amount = new_amount
        debit.labels += 1
        label_ids.append(row[r.ID])
        annotator = row[r.ANNOTATOR]
        key = (annotator, debit.token_index)
        earned = earnings.get(key)
        if earned is None:
            earnings[key] = [price, reward]
        else:
            earned[0] += price
            earned[1] += reward
        if price:
            moved = (debit.source, annotator, debit.dataset.payment_token)
            movements[moved] = movements.get(moved, 0) + price
        if reward:
            moved = ("issuance:LABEL", annotator, issuance)
            movements[moved] = movements.get(moved, 0) + reward
        leaf, verdict = _published(row, debit, price, reward, decimals)
        leaves.append(leaf)
        verdicts.append(verdict)
    payable.debits = {k: d for k, d in payable.debits.items() if d.labels}
    return payable


def paid_label(label: Label, dataset: Dataset, item: Item) -> PaidLabel:
    """A verified label as the epoch paying it publishes it: hashes, method, amounts, and what
    the verdict rests on: the reviewer, the consensus count, or for gold the hash of the answer
    and of the label graded against it."""
    item_hash = item.item_hash
    evidence, graded = label.reviewer, None
    if label.method is VerificationMethod.consensus:
        evidence = label.agreement
    elif label.method is VerificationMethod.gold and item.gold_label is not None:
        evidence = graded_hash(dataset.gold_nonce, item_hash, item.gold_label)
        # a box or span matches its gold answer by overlap, not byte for byte: graded as it
        exact = label_kind_of(dataset).exact
        graded = graded_hash(dataset.gold_nonce, item_hash, label.value) if exact else evidence
    return PaidLabel(
        dataset_id=dataset.chain_dataset_id,
        item_id_hash=item_hash,
        annotator=label.annotator,
        label_hash=label_hash(label.salt, label.value),
        method=str(label.method or "review"),
        payment=label.price or 0,
        reward=label.reward or 0,
        evidence=evidence,
        graded=graded,
    )


def gold_rejection(label: Label, dataset: Dataset, item: Item) -> GoldRejection:
    item_hash = item.item_hash
    return GoldRejection(
        dataset_id=dataset.chain_dataset_id,
        item_id_hash=item_hash,
        annotator=label.annotator,
        label_hash=label_hash(label.salt, label.value),
        answer_hash=graded_hash(dataset.gold_nonce, item_hash, item.gold_label or ""),
        graded=graded_hash(dataset.gold_nonce, item_hash, label.value),
    )


def _account_order(key: tuple[str, int]) -> tuple[int, int]:
    return int(key[0], 16), key[1]


def build_epoch(session: Session, *, deployment: Deployment, now: dt.datetime) -> Epoch | None:
    """Builds the next epoch from every payable label; None when there is nothing to pay."""
    pending = repository.unaccepted_epoch(session)
    if pending is not None:
        raise EpochInFlight(f"epoch {pending.number} is not accepted on chain yet: finish it first")
    # gold verdicts past their seal are revealed, and labels nobody decided within their
    # dataset's review window are accepted: both are paid now
    reveal_due(session, now=now)
    auto_accept_due(session, now=now)
    if not repository.has_payable_labels(session):
        return None
    last = repository.last_epoch(session)
    number = (last.number if last else 0) + 1
    if last is not None:
        seen = repository.mirrored_proposal(session, last.number)
        if seen is None or seen.payout_root != last.payout_root or seen.status == "revoked":
            # Dataset balances are read from the mirror; they must include the last debits.
            raise MirrorBehind(f"the mirror has not seen epoch {last.number} yet; retry shortly")
    payable = _select_payable(session, deployment=deployment)
    if not payable.label_ids:
        return None

    cumulative: dict[tuple[str, int], tuple[int, int]] = {}
    if last is not None:
        cumulative.update(repository.entitlements_at(session, last.number))
    for key, (payment, reward) in payable.earnings.items():
        before = cumulative.get(key, (0, 0))
        cumulative[key] = (before[0] + payment, before[1] + reward)
    # Ascending (account, token) and unsorted by hash: consecutive annotators sit in adjacent
    # leaves, so a push batch's multiproof stays a handful of hashes.
    leaves = sorted(cumulative.items(), key=lambda item: _account_order(item[0]))
    debits = sorted(payable.debits.values(), key=lambda d: d.dataset.chain_dataset_id)
    rejected = repository.unpublished_gold_rejections(session)
    gold_rejections = [gold_rejection(label, dataset, item) for label, dataset, item in rejected]
    previous_root = last.payout_root if last is not None else None
    select_sql.store_large_text_fast(session)
    # The epoch's row goes in first with its roots and texts still blank (nobody sees it before
    # the commit): the rows that refer to it can then be written while the trees are built.
    epoch = Epoch(
        number=number,
        status=EpochStatus.built,
        payout_root=BLANK_HASH,
        label_root=BLANK_HASH,
        content_hash=BLANK_HASH,
        label_count=len(payable.label_ids),
        payout_tree="",
        label_tree="",
        manifest="",
        verdicts="",
        created_at=now,
    )
    session.add(epoch)
    session.flush()
    writes = _Writes(session, beside=is_postgres(session))
    try:
        _write_rows(writes, session, number, payable, leaves, debits)

        def store_label_tree(dump: str) -> None:
            # the largest text is stored while the verdicts and the manifest are made
            writes.add(lambda: _update_epoch(session, number, label_tree=dump))

        files = build_epoch_files_from_leaves(
            chain_id=deployment.chain_id,
            ledger=deployment.ledger,
            number=number,
            previous_payout_root=previous_root,
            payout_leaves=[
                [account, str(index), str(pay), str(rew)] for (account, index), (pay, rew) in leaves
            ],
            label_leaves=payable.leaves,
            verdict_rows=payable.verdicts,
            gold_rejections=gold_rejections,
            debits=[
                DatasetDebit(
                    dataset_id=d.dataset.chain_dataset_id,
                    token=d.token_index,
                    fee_bps=d.fee_bps,
                    debit=d.amount,
                    fee=d.fee,
                    labels=d.labels,
                    terms_hash=d.dataset.salt,
                )
                for d in debits
            ],
            label_tree_ready=store_label_tree if writes.beside else None,
        )
        del payable.leaves, payable.verdicts  # the trees hold what they need: free the rest
        final = {
            "payout_root": files.payout_root,
            "label_root": files.label_root,
            "content_hash": files.content_hash,
            "payout_tree": files.payout_tree,
            "manifest": files.manifest,
            "verdicts": files.verdicts,
        }
        texts = final if writes.beside else {**final, "label_tree": files.label_tree}
        writes.add(lambda: _update_epoch(session, number, **texts))
    finally:
        writes.finish()  # waits for every write, and raises the first that failed
    for name, value in {**final, "label_tree": files.label_tree}.items():
        set_committed_value(epoch, name, value)  # what the row now holds, without reading it
    repository.mark_published(
        session, label_ids=[label.id for label, _d, _i in rejected], epoch=number
    )
    session.flush()
    log.info("built epoch %s: %s labels, root %s", number, epoch.label_count, epoch.payout_root)
    return epoch


class _Writes:
    """The epoch's SQL writes, run in the order given on the session's connection.

    On PostgreSQL (`beside`) they run in a thread of their own while this one builds the trees,
    their JSON and the manifest, so that the server's work (storing the rows and hundreds of MB
    of text) and ours overlap: before, each waited for the other, and the build took their sum.
    The thread is the session's only user until `finish`: the caller computes without SQL
    meanwhile. On SQLite (one writer, in this process) each write runs at once."""

    def __init__(self, session: Session, *, beside: bool) -> None:
        self.beside = beside
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._failed: BaseException | None = None
        self._thread: threading.Thread | None = None
        if beside:
            session.connection()  # the transaction's connection, taken in this thread
            self._thread = threading.Thread(target=self._run, name="epoch-writes", daemon=True)
            self._thread.start()

    def add(self, job: Callable[[], None]) -> None:
        if self._thread is None:
            job()
        else:
            self._jobs.put(job)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            if self._failed is None:  # after a failure the rest is skipped: all rolls back
                try:
                    job()
                except BaseException as error:  # re-raised by finish, in the caller's thread
                    self._failed = error

    def finish(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None
        if self._failed is not None:
            raise self._failed


def _write_rows(
    writes: _Writes,
    session: Session,
    number: int,
    payable: _Payable,
    leaves: list[tuple[tuple[str, int], tuple[int, int]]],
    debits: list[_DatasetDebit],
) -> None:
    """The labels put in the epoch, its entitlements, debits and ledger entries: what the
    selection fixed, before any tree is built."""
    uint = _uint256_storage(session)
    label_ids = payable.label_ids
    writes.add(lambda: select_sql.assign_labels(session, label_ids=label_ids, epoch=number))
    entitlements = [
        (number, account, index, uint(payment), uint(reward))
        for (account, index), (payment, reward) in leaves
    ]
    writes.add(
        lambda: select_sql.insert_rows(
            session,
            "entitlements",
            ("epoch", "account", "token_index", "cumulative_payment", "cumulative_reward"),
            entitlements,
        )
    )
    debit_rows = [
        (number, d.dataset.id, d.dataset.chain_dataset_id, uint(d.amount), uint(d.fee), d.labels)
        for d in debits
    ]
    writes.add(
        lambda: select_sql.insert_rows(
            session,
            "epoch_debits",
            ("epoch", "dataset_id", "chain_dataset_id", "amount", "fee", "label_count"),
            debit_rows,
        )
    )
    movements = dict(payable.movements)
    for d in debits:
        if d.fee:
            moved = (f"dataset:{d.dataset.chain_dataset_id}", "fees", d.dataset.payment_token)
            movements[moved] = movements.get(moved, 0) + d.fee
    entries: list[tuple[object, ...]] = []
    for (source, beneficiary, token), amount in movements.items():
        correlation = f"epoch:{number}:{source}:{beneficiary}"
        book = "fees" if beneficiary == "fees" else f"annotator:{beneficiary}"
        stored = uint(amount)
        entries.append((correlation, number, source, token, EntrySide.debit.value, stored))
        entries.append((correlation, number, book, token, EntrySide.credit.value, stored))
    writes.add(
        lambda: select_sql.insert_rows(
            session,
            "ledger_entries",
            ("correlation_id", "epoch", "ledger_account", "token", "side", "amount"),
            entries,
        )
    )


def _update_epoch(session: Session, number: int, **values: object) -> None:
    """Sets columns of the epoch's row in SQL (not through the session's object, which the
    builder sets once every write is done)."""
    table = Epoch.__table__
    assert isinstance(table, Table)
    session.connection().execute(table.update().where(table.c.number == number).values(values))


def _uint256_storage(session: Session) -> Callable[[int], object]:
    """How a uint256 column stores an int (`ledger.kit.db.UInt256`), for `insert_many`, which
    writes values as they are stored: NUMERIC on PostgreSQL, 78-digit text on SQLite."""
    if is_postgres(session):
        return lambda value: value
    return lambda value: str(value).zfill(UINT256_DIGITS)
