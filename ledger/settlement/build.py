"""Building an epoch: which verified labels their datasets' funds cover, and everything the
epoch fixes in one SQL transaction (entitlements, debits, ledger entries, trees, manifest).

Sending it to the chain is `ledger.settlement.service`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from ledger.annotation.models import Label, VerificationMethod
from ledger.annotation.service import auto_accept_due
from ledger.annotation.standing import reveal_due
from ledger.chain.client import (
    Deployment,
)
from ledger.dataset.models import Dataset, Item
from ledger.dataset.service import chain_record, label_kind_of
from ledger.kit.errors import Conflict
from ledger.publication import (
    DatasetDebit,
    GoldRejection,
    PaidLabel,
    build_epoch_files,
    graded_hash,
    label_hash,
)
from ledger.settlement import repository
from ledger.settlement.models import (
    Entitlement,
    EntrySide,
    Epoch,
    EpochDebit,
    EpochStatus,
    LedgerEntry,
)

log = logging.getLogger(__name__)

BPS = 10_000
CLOSE_GRACE_PERIOD = 7 * 24 * 3600  # the ledger's CLOSE_GRACE_PERIOD
ZERO_HASH = b"\x00" * 32


class MirrorBehind(Conflict):
    code = "mirror_behind"


class EpochInFlight(Conflict):
    code = "epoch_in_flight"


def fee_of(debit: int, fee_bps: int) -> int:
    """The ledger's fee on a debit, taken on top of it (rounded down, as on chain)."""
    return debit * fee_bps // BPS


@dataclass
class _DatasetDebit:
    dataset: Dataset
    token_index: int
    fee_bps: int
    amount: int = 0
    labels: int = 0

    @property
    def fee(self) -> int:
        return fee_of(self.amount, self.fee_bps)


@dataclass
class _Payable:
    label_ids: list[int] = field(default_factory=list)
    # (annotator, token index) -> [payment, reward]
    earnings: defaultdict[tuple[str, int], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )
    debits: dict[int, _DatasetDebit] = field(default_factory=dict)  # by dataset id
    paid: list[PaidLabel] = field(default_factory=list)
    # (from ledger account, annotator, token) -> amount
    movements: Counter[tuple[str, str, str]] = field(default_factory=Counter)


def _select_payable(session: Session, *, deployment: Deployment) -> _Payable:
    """Takes labels in verification order while each dataset's funds still cover them, fee
    included. A closing dataset pays the labels submitted before its close was requested, also
    those its reviewers verify during the grace period: the work was done while it was open."""
    payable = _Payable()
    budget: dict[int, int] = {}
    paid_until: dict[int, dt.datetime | None] = {}
    for label, dataset, item in repository.payable_labels(session):
        if dataset.id not in budget:
            record = chain_record(session, dataset)
            usable = record is not None and record.status in ("open", "closing")
            budget[dataset.id] = record.available if record is not None and usable else 0
            paid_until[dataset.id] = (
                dt.datetime.fromtimestamp(record.close_due_at - CLOSE_GRACE_PERIOD, dt.UTC)
                if record is not None and record.status == "closing" and record.close_due_at
                else None
            )
            if record is not None and usable:
                payable.debits[dataset.id] = _DatasetDebit(
                    dataset, record.token_index, record.fee_bps
                )
        debit = payable.debits.get(dataset.id)
        if debit is None:
            continue  # not on the ledger, or closed
        cutoff = paid_until[dataset.id]
        if cutoff is not None and label.created_at >= cutoff:
            continue  # submitted after the buyer asked to close: the ledger owes it nothing
        price, reward = label.price or 0, label.reward or 0
        new_amount = debit.amount + price
        if new_amount + fee_of(new_amount, debit.fee_bps) > budget[dataset.id]:
            continue  # waits for a top-up; later labels of other datasets still settle
        debit.amount = new_amount
        debit.labels += 1
        payable.label_ids.append(label.id)
        entry = payable.earnings[(label.annotator, debit.token_index)]
        entry[0] += price
        entry[1] += reward
        payable.paid.append(paid_label(label, dataset, item))
        if price:
            payable.movements[
                (f"dataset:{dataset.chain_dataset_id}", label.annotator, dataset.payment_token)
            ] += price
        if reward:
            payable.movements[("issuance:LABEL", label.annotator, deployment.ledger)] += reward
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
    files = build_epoch_files(
        chain_id=deployment.chain_id,
        ledger=deployment.ledger,
        number=number,
        previous_payout_root=last.payout_root if last is not None else None,
        payout_leaves=[
            [account, str(index), str(pay), str(rew)] for (account, index), (pay, rew) in leaves
        ],
        paid=payable.paid,
        gold_rejections=[gold_rejection(label, dataset, item) for label, dataset, item in rejected],
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
    )
    epoch = Epoch(
        number=number,
        status=EpochStatus.built,
        payout_root=files.payout_root,
        label_root=files.label_root,
        content_hash=files.content_hash,
        label_count=len(payable.label_ids),
        payout_tree=files.payout_tree,
        label_tree=files.label_tree,
        manifest=files.manifest,
        verdicts=files.verdicts,
        created_at=now,
    )
    session.add(epoch)
    session.flush()
    session.add_all(
        Entitlement(
            epoch=number,
            account=account,
            token_index=index,
            cumulative_payment=payment,
            cumulative_reward=reward,
        )
        for (account, index), (payment, reward) in leaves
    )
    session.add_all(
        EpochDebit(
            epoch=number,
            dataset_id=d.dataset.id,
            chain_dataset_id=d.dataset.chain_dataset_id,
            amount=d.amount,
            fee=d.fee,
            label_count=d.labels,
        )
        for d in debits
    )
    movements = Counter(payable.movements)
    for d in debits:
        if d.fee:
            movements[
                (f"dataset:{d.dataset.chain_dataset_id}", "fees", d.dataset.payment_token)
            ] += d.fee
    for (source, beneficiary, token), amount in movements.items():
        correlation = f"epoch:{number}:{source}:{beneficiary}"
        book = "fees" if beneficiary == "fees" else f"annotator:{beneficiary}"
        session.add_all(
            [
                LedgerEntry(
                    correlation_id=correlation,
                    epoch=number,
                    ledger_account=source,
                    token=token,
                    side=EntrySide.debit,
                    amount=amount,
                ),
                LedgerEntry(
                    correlation_id=correlation,
                    epoch=number,
                    ledger_account=book,
                    token=token,
                    side=EntrySide.credit,
                    amount=amount,
                ),
            ]
        )
    repository.assign_labels(session, label_ids=payable.label_ids, epoch=number)
    repository.mark_published(
        session, label_ids=[label.id for label, _d, _i in rejected], epoch=number
    )
    session.flush()
    log.info("built epoch %s: %s labels, root %s", number, epoch.label_count, epoch.payout_root)
    return epoch
