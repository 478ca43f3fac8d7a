"""Annotators' and reviewers' rules: taking work from the queue, labelling, verifying by
review, gold or consensus.

How many labels an item takes is part of the dataset's terms (`places`); `ledger.annotation.queue`
holds every statement that serves, reserves and fills items, each guarantee in one statement the
database runs atomically. Verdicts on gold items are sealed for the dataset's
`gold_reveal_seconds`: the label answers `pending` like any other, so an annotator cannot learn
which items are gold, nor their answers, from submitting them.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections import Counter

from sqlalchemy.orm import Session

from ledger.annotation import queue, repository
from ledger.annotation.agreement import aggregated_label
from ledger.annotation.models import (
    AssignmentOutcome,
    DatasetAnnotator,
    Label,
    LabelEvent,
    LabelStatus,
    VerificationMethod,
)
from ledger.annotation.schemas import (
    Aggregator,
    DeliveredLabel,
    EarningsPublic,
    LabelAndNext,
    LabelCreate,
    LabelPublic,
    NextItem,
    Refusal,
    ReviewCreate,
    SkipCreate,
    Verdict,
)
from ledger.annotation.standing import (
    count,
    evidence,
    qualification_of,
    standing_of,
    with_pending_counts,
)
from ledger.dataset import repository as dataset_repository
from ledger.dataset import service as datasets
from ledger.dataset.models import Dataset, Item
from ledger.dataset.schemas import DatasetStatus, Method
from ledger.kit.db import hold_writes
from ledger.kit.errors import Conflict, Forbidden, NotFound, Unprocessable
from ledger.media_access.service import shown_item_data
from ledger.publication import label_hash, random_nonce
from ledger.quality.reputation import (
    DEFAULT_POLICY,
    Qualification,
    apply_multiplier,
    receives_items,
    reputation_score,
)
from ledger.storage.service import MediaVault


class QueueEmpty(NotFound):
    code = "queue_empty"


class ItemsReserved(Conflict):
    code = "items_reserved"


class DatasetNotOpen(Conflict):
    code = "dataset_not_open"


class DuplicateLabel(Conflict):
    code = "duplicate_label"


class LabelNotFound(NotFound):
    code = "label_not_found"


class AlreadyDecided(Conflict):
    code = "label_already_decided"


class NotAppointedReviewer(Forbidden):
    code = "not_appointed_reviewer"


class ConflictOfInterest(Forbidden):
    code = "conflict_of_interest"


class BelowReputationCutoff(Forbidden):
    code = "below_reputation_cutoff"


class QualificationFailed(Forbidden):
    code = "qualification_failed"


class QualificationRequired(Forbidden):
    code = "qualification_required"


class ItemFull(Conflict):
    code = "item_full"


class ItemReserved(Conflict):
    code = "item_reserved"


class NoLease(Conflict):
    code = "no_lease"


class NotInWorkforce(Forbidden):
    code = "not_in_workforce"


class CorrectionMismatch(Unprocessable):
    code = "correction_mismatch"


class ReasonRequired(Unprocessable):
    code = "reason_required"


GOLD_MISMATCH = "does not match the gold answer"


def _require_open(dataset: Dataset, status: DatasetStatus) -> None:
    if status is not DatasetStatus.open:
        raise DatasetNotOpen(
            f"dataset {dataset.id} is {status}: "
            + (
                "its buyer has not created it on the ledger yet"
                if status is DatasetStatus.awaiting_funds
                else "its buyer is closing it"
                if status is DatasetStatus.closing
                else "its buyer closed it"
            )
        )


def next_item(
    session: Session, *, annotator: str, dataset_id: int, now: dt.datetime, vault: MediaVault
) -> NextItem:
    """Serves the annotator an item and reserves it for them for the dataset's lease time: the
    item they already hold on the dataset, or the first free one in the queue they were never
    served (gold items mixed in at the dataset's gold rate, or only gold items during a
    qualification warm-up). Its data comes with signed URLs for its media, for this annotator
    and until the lease ends."""
    hold_writes(session)
    context = queue.serving_context(session, dataset_id=dataset_id, annotator=annotator)
    if context is None or not _may_see(context, annotator):
        raise datasets.DatasetNotFound(f"no dataset {dataset_id}")
    _check_worker(context, annotator)
    return _next_for(session, context, annotator=annotator, now=now, vault=vault)


def _check_worker(context: queue.Context, annotator: str) -> None:
    """The annotator may work on the dataset now: not its buyer, in its workforce if it has
    one, and the dataset open on the ledger."""
    dataset = context.dataset
    if dataset.buyer == annotator:
        raise ConflictOfInterest("a buyer cannot label their own dataset")
    if dataset.private and not context.member:
        raise NotInWorkforce(
            f"dataset {dataset.id} is private: its buyer admits the annotators who label it"
        )
    _require_open(dataset, _status(context))


def _next_for(
    session: Session,
    context: queue.Context,
    *,
    annotator: str,
    now: dt.datetime,
    vault: MediaVault,
) -> NextItem:
    dataset = context.dataset
    row = context.counters
    warming_up = _warming_up(dataset, row)
    spec = datasets.verification_of(dataset)
    if spec.reputation_cutoff and not receives_items(evidence(row)):
        raise BelowReputationCutoff(
            f"your reputation on dataset {dataset.id} is {reputation_score(evidence(row)):.2f}, "
            f"below its cutoff {DEFAULT_POLICY.cutoff}: it no longer sends you items (see "
            f"GET /v1/me/datasets/{dataset.id}/standing for the counts behind it)"
        )
    served = context.held
    if served is not None and served.lease_expires_at <= now:
        # asked again after their own lease ran out, and nobody took the item meanwhile
        expires = now + dt.timedelta(seconds=dataset.lease_seconds)
        queue.renew(session, item_id=served.item_id, annotator=annotator, expires=expires)
        served = queue.Served(served.item_id, served.external_id, served.data, expires)
    if served is None:
        served = _serve(session, dataset=dataset, annotator=annotator, now=now, warmup=warming_up)
    if served is None and queue.reserved_for_others(
        session,
        dataset_id=dataset.id,
        annotator=annotator,
        visible_upto=dataset.items_visible_upto,
        warmup=warming_up,
        now=now,
    ):
        raise ItemsReserved(
            f"every item of dataset {dataset.id} left for you is reserved by another annotator "
            f"now: ask again in a little while (a reservation ends when its item is labelled, "
            f"skipped or released, or after {dataset.lease_seconds}s)"
        )
    if served is None and warming_up:
        raise QueueEmpty(
            f"dataset {dataset.id} has no gold item left for your qualification warm-up"
        )
    if served is None:
        raise QueueEmpty(
            f"dataset {dataset.id} has nothing more for you: every item you were not served yet "
            "has all its labels"
        )
    return NextItem(
        dataset_id=dataset.id,
        item_id=served.item_id,
        external_id=served.external_id,
        data=shown_item_data(
            vault,
            dataset,
            item_id=served.item_id,
            external_id=served.external_id,
            sealed=served.data,
            wallet=annotator,
            now=now,
            not_after=served.lease_expires_at,
        ),
        label_type=datasets.label_type_of(dataset),
        label_classes=datasets.label_classes(dataset),
        lease_expires_at=served.lease_expires_at,
        lease_seconds=dataset.lease_seconds,
        instructions_version=dataset.instructions_version,
    )


def _may_see(context: queue.Context, viewer: str) -> bool:
    dataset = context.dataset
    return not dataset.private or viewer == dataset.buyer or context.member or context.reviewer


def _status(context: queue.Context) -> DatasetStatus:
    return datasets.status_from(
        context.dataset, status=context.chain_status, token=context.chain_token
    )


def _warming_up(dataset: Dataset, row: DatasetAnnotator) -> bool:
    """True while the annotator is in the dataset's gold-only warm-up; raises once they failed
    it. Without a warm-up in the terms, always False."""
    outcome = qualification_of(dataset, row)
    if outcome is Qualification.failed:
        accuracy = datasets.verification_of(dataset).qualification_min_accuracy
        raise QualificationFailed(
            f"{row.warmup_correct} of your {row.warmup_answered} warm-up answers on "
            f"dataset {dataset.id} were right, below the {accuracy:.0%} it asks before paid work"
        )
    return outcome is Qualification.pending


def _serve(
    session: Session, *, dataset: Dataset, annotator: str, now: dt.datetime, warmup: bool
) -> queue.Served | None:
    """Picks and leases the next item. With a gold rate, a gold item comes first with that
    probability (nothing in what is served tells them apart); without one, gold items take their
    turn in the queue like any other. A candidate another request leased meanwhile is passed."""
    if not warmup and dataset.gold_count == 0:
        return queue.lease_first(
            session,
            dataset_id=dataset.id,
            annotator=annotator,
            now=now,
            seconds=dataset.lease_seconds,
            visible_upto=dataset.items_visible_upto,
        )
    if warmup:
        kinds: tuple[bool, ...] = (True,)
    elif dataset.gold_count == 0:
        kinds = (False,)
    else:
        rate = datasets.verification_of(dataset).gold_rate_bps
        gold_first = secrets.randbelow(10_000) < rate if rate is not None else None
        kinds = (False, True) if gold_first is None else (gold_first, not gold_first)
    for _attempt in range(5):
        found = [
            (item_id, gold)
            for gold in kinds
            if (
                item_id := queue.candidate(
                    session,
                    dataset_id=dataset.id,
                    annotator=annotator,
                    gold=gold,
                    visible_upto=dataset.items_visible_upto,
                    now=now,
                    warmup=warmup,
                )
            )
            is not None
        ]
        if not found:
            return None
        # with a gold rate the preferred kind comes first; without one, the queue's order
        item_id = found[0][0] if rate_applies(dataset, warmup) else min(found)[0]
        expires = queue.lease(
            session,
            item_id=item_id,
            dataset_id=dataset.id,
            annotator=annotator,
            now=now,
            seconds=dataset.lease_seconds,
            warmup=warmup,
        )
        if expires is not None:
            return queue.held_by(session, dataset_id=dataset.id, annotator=annotator)
    return None


def rate_applies(dataset: Dataset, warmup: bool) -> bool:
    return warmup or datasets.verification_of(dataset).gold_rate_bps is not None


def record(
    session: Session,
    label: Label,
    kind: str,
    *,
    at: dt.datetime,
    actor: str | None = None,
    detail: str | None = None,
) -> None:
    """Appends a step to the label's history, which its annotator can always read. The label
    must be stored (it has an id)."""
    assert label.id is not None, "record() needs a stored label"
    session.add(LabelEvent(label_id=label.id, at=at, kind=kind, actor=actor, detail=detail))


def frees_place(dataset: Dataset, method: VerificationMethod) -> bool:
    """Whether a rejection gives the label's place to another annotator: under review, and on
    gold, yes (the item still wants a good label); a consensus rejection no: its item is decided
    and every place was spent finding the agreement."""
    return method is VerificationMethod.gold or (
        dataset.method == Method.review and method is not VerificationMethod.consensus
    )


def decide(
    session: Session,
    label: Label,
    dataset: Dataset,
    *,
    accept: bool,
    method: VerificationMethod,
    now: dt.datetime,
    reviewer: str | None = None,
    reason: str | None = None,
    sealed_until: dt.datetime | None = None,
) -> None:
    """Verifies or rejects a pending label, fixing what it earns and recording why. What it earns
    is fixed now: the price in force when it was verified, and the reward scaled by the
    annotator's reputation tier (earned before this label) where the dataset's terms say so.
    A rejection frees the label's place where `frees_place` says so. A sealed verdict (gold) is
    neither shown nor counted nor paid before `sealed_until` (`standing.reveal_due`)."""
    price, reward = dataset.price_per_label, dataset.reward_per_label
    if label.warmup:
        price = reward = 0  # the warm-up is graded, not paid
    elif accept and datasets.verification_of(dataset).reward_tiers:
        standing = standing_of(session, dataset=dataset, annotator=label.annotator)
        reward = apply_multiplier(reward, standing.multiplier_bps)
    label.status = LabelStatus.verified if accept else LabelStatus.rejected
    label.method = method
    label.reviewer = reviewer
    label.reason = reason
    label.decided_at = now
    label.sealed_until = sealed_until
    if accept:
        label.price, label.reward = price, reward
    elif label.holds_place and frees_place(dataset, method):
        queue.free_place(session, label.item_id)
        label.holds_place = False
    if sealed_until is not None:
        return  # shown, counted and recorded in the history when revealed
    decided = {"decided": 1, "accepted": int(accept)}
    if method is VerificationMethod.gold:
        decided |= {"gold_answered": 1, "gold_correct": int(accept)}
    elif method is VerificationMethod.consensus:
        decided |= {"compared": 1, "agreed": int(accept)}
    count(session, dataset_id=label.dataset_id, annotator=label.annotator, **decided)
    verdict = "verified" if accept else "rejected"
    record(session, label, f"{verdict} ({method})", at=now, actor=reviewer, detail=reason)


def reinstate(
    session: Session,
    label: Label,
    dataset: Dataset,
    *,
    now: dt.datetime,
    decider: str,
    reason: str,
) -> None:
    """An upheld dispute: the rejected label is verified and paid (method `appeal`). It takes its
    item's place back if one is still free; if the place went to another annotator meanwhile it
    is paid all the same (the buyer's rejection was wrong), and the publication shows it as an
    appeal, which the overlap the terms commit to does not count."""
    queue.lock_item(session, label.item_id)
    if not label.holds_place and not label.warmup:
        label.holds_place = queue.retake_place(session, label.item_id)
    price, reward = dataset.price_per_label, dataset.reward_per_label
    if label.warmup:
        price = reward = 0
    elif datasets.verification_of(dataset).reward_tiers:
        standing = standing_of(session, dataset=dataset, annotator=label.annotator)
        reward = apply_multiplier(reward, standing.multiplier_bps)
    label.status = LabelStatus.verified
    label.method = VerificationMethod.appeal
    label.reviewer = decider
    label.reason = reason
    label.decided_at = now
    label.price, label.reward = price, reward
    # the rejection was counted as decided; it is now an accepted one
    count(session, dataset_id=label.dataset_id, annotator=label.annotator, accepted=1)
    record(session, label, "verified (appeal)", at=now, actor=decider, detail=reason)


def _grade_on_gold(
    session: Session, label: Label, dataset: Dataset, item: Item, now: dt.datetime
) -> None:
    assert item.gold_label is not None
    accept = datasets.graded_right(dataset, label.value, item.gold_label)
    delay = datasets.verification_of(dataset).gold_reveal_seconds
    if label.warmup:
        count(
            session,
            dataset_id=dataset.id,
            annotator=label.annotator,
            warmup_answered=1,
            warmup_correct=int(accept),
        )
    decide(
        session,
        label,
        dataset,
        accept=accept,
        method=VerificationMethod.gold,
        now=now,
        reason=None if accept else GOLD_MISMATCH,
        sealed_until=now + dt.timedelta(seconds=delay) if delay else None,
    )


def _labelable_item(session: Session, *, item_id: int, annotator: str) -> tuple[Item, Dataset]:
    """The item and its dataset, if the annotator may know of the item; an item of a private
    dataset they are not admitted to, or of an upload still in progress, is unknown, as an id
    that was never used."""
    item = session.get(Item, item_id)
    dataset = None if item is None else datasets.get_dataset(session, item.dataset_id)
    if (
        item is None
        or dataset is None
        or item.id > dataset.items_visible_upto
        or not datasets.may_see(session, dataset, annotator)
    ):
        raise datasets.UnknownItem(f"no item {item_id}")
    return item, dataset


def submit_label(
    session: Session, *, annotator: str, spec: LabelCreate, now: dt.datetime
) -> LabelPublic:
    """Stores the label if its item has a free place and nobody else holds it, in as few
    statements as the guarantees allow: one read of everything the checks need, the item's
    place taken by one conditional update, the label inserted unless one by the same annotator
    exists."""
    context, target, value = _labelling(session, annotator=annotator, spec=spec)
    hold_writes(session)
    return _store_label(session, context, target, annotator=annotator, value=value, now=now)


def label_and_next(
    session: Session, *, annotator: str, spec: LabelCreate, now: dt.datetime, vault: MediaVault
) -> LabelAndNext:
    """Submit and next, in one round trip: stores the label as `submit_label` does, then serves
    the next item as `next_item` does. When nothing can be served the label is still stored, and
    `next_refusal` says why (queue_empty, items_reserved, ...)."""
    hold_writes(session)  # SQLite: from here on nothing changes under this request's reads
    context, target, value = _labelling(session, annotator=annotator, spec=spec)
    held = context.held
    label = _store_label(session, context, target, annotator=annotator, value=value, now=now)
    held = held if held and held.item_id != target.item_id else None
    after = queue.Context(
        dataset=context.dataset,
        chain_status=context.chain_status,
        chain_token=context.chain_token,
        member=context.member,
        reviewer=context.reviewer,
        counters=with_pending_counts(session, context.counters),
        held=held,
    )
    try:
        served = _next_for(session, after, annotator=annotator, now=now, vault=vault)
    except (QueueEmpty, ItemsReserved, BelowReputationCutoff, QualificationFailed) as refusal:
        return LabelAndNext(
            label=label, next=None, next_refusal=Refusal(code=refusal.code, message=refusal.message)
        )
    return LabelAndNext(label=label, next=served, next_refusal=None)


def _labelling(
    session: Session, *, annotator: str, spec: LabelCreate
) -> tuple[queue.Context, queue.LabelTarget, str]:
    """Reads and checks everything a label needs before anything is written: the context, the
    item, the normalised value."""
    found = queue.labelling_context(session, item_id=spec.item_id, annotator=annotator)
    if found is None:
        raise datasets.UnknownItem(f"no item {spec.item_id}")
    context, target = found
    dataset = context.dataset
    if target.item_id > dataset.items_visible_upto or not _may_see(context, annotator):
        raise datasets.UnknownItem(f"no item {spec.item_id}")
    value = datasets.normalized_value(dataset, spec.value)
    if dataset.buyer == annotator:
        raise ConflictOfInterest("a buyer cannot label their own dataset")
    if dataset.private and not context.member:
        raise NotInWorkforce(
            f"dataset {dataset.id} is private: its buyer admits the annotators who label it"
        )
    datasets.check_label(dataset, value)
    _require_open(dataset, _status(context))
    if target.labelled_before:
        raise DuplicateLabel(f"you already labelled item {target.item_id}")
    return context, target, value


def _store_label(
    session: Session,
    context: queue.Context,
    target: queue.LabelTarget,
    *,
    annotator: str,
    value: str,
    now: dt.datetime,
) -> LabelPublic:
    dataset = context.dataset
    warming_up = bool(datasets.verification_of(dataset).qualification_gold_items) and _warming_up(
        dataset, context.counters
    )
    if warming_up and target.gold_label is None:
        raise QualificationRequired(
            f"dataset {dataset.id} asks for a gold-only warm-up before paid work: label the "
            f"items GET /v1/datasets/{dataset.id}/next-item serves first"
        )
    # The item's row is locked from its place taken to the commit (PostgreSQL), so a concurrent
    # label by the same annotator on it has committed or waits: the insert cannot miss it.
    salt = random_nonce()
    placed = queue.place_label(
        session,
        dataset_id=dataset.id,
        item_id=target.item_id,
        annotator=annotator,
        value=value,
        salt=salt,
        warmup=warming_up,
        instructions_version=dataset.instructions_version,
        now=now,
    )
    if placed is None:
        raise _why_not_taken(session, target, dataset_id=dataset.id, annotator=annotator, now=now)
    if placed.label_id is None:
        raise DuplicateLabel(f"you already labelled item {target.item_id}")
    label_id = placed.label_id
    taken = (placed.taken, placed.places)
    decided = target.gold_label is not None or (
        dataset.method == Method.consensus and taken[0] >= taken[1]
    )
    if decided:
        label = session.get(Label, label_id)
        assert label is not None
        item = session.get(Item, target.item_id)
        assert item is not None
        if target.gold_label is not None:
            _grade_on_gold(session, label, dataset, item, now)
        else:
            _decide_by_consensus(session, dataset, item.id, taken[1], now)
        session.flush()
        return to_public(label, item)
    return LabelPublic(
        id=label_id,
        dataset_id=dataset.id,
        item_id=target.item_id,
        external_id=target.external_id,
        annotator=annotator,
        value=value,
        item_hash=target.item_hash,
        salt=salt,
        label_hash=label_hash(salt, value),
        warmup=warming_up,
        instructions_version=dataset.instructions_version,
        corrected_value=None,
        status=LabelStatus.pending,
        method=None,
        reviewer=None,
        reason=None,
        price=None,
        reward=None,
        epoch=None,
        created_at=now,
        decided_at=None,
    )


def _why_not_taken(
    session: Session,
    target: queue.LabelTarget,
    *,
    dataset_id: int,
    annotator: str,
    now: dt.datetime,
) -> Conflict:
    item = session.get(Item, target.item_id, populate_existing=True)
    assert item is not None
    if item.leased_to not in (None, annotator) and (
        item.lease_expires_at is not None and item.lease_expires_at > now
    ):
        return ItemReserved(
            f"item {item.id} is reserved for another annotator until "
            f"{item.lease_expires_at.isoformat()}: ask "
            f"GET /v1/datasets/{dataset_id}/next-item for one of your own"
        )
    return ItemFull(
        f"item {item.id} has all the labels its dataset pays for ({item.places}): ask "
        f"GET /v1/datasets/{dataset_id}/next-item for another"
    )


def skip(
    session: Session, *, annotator: str, item_id: int, spec: SkipCreate, now: dt.datetime
) -> None:
    """Gives back the item the annotator holds and says why (the buyer sees the reasons per
    item); it is never served to them again. After the dataset's skip limit an item is set
    aside for its buyer."""
    item, dataset = _labelable_item(session, item_id=item_id, annotator=annotator)
    hold_writes(session)
    ended = queue.end_lease(
        session,
        item_id=item.id,
        annotator=annotator,
        now=now,
        outcome=AssignmentOutcome.skipped,
        reason=spec.reason,
        comment=(spec.comment or "").strip() or None,
        skip_limit=dataset.skip_limit,
    )
    if not ended:
        raise NoLease(f"you hold no reservation on item {item.id}: there is nothing to skip")


def release(session: Session, *, annotator: str, item_id: int, now: dt.datetime) -> None:
    """Gives back the item the annotator holds, for somebody else (not them) to label."""
    item, _dataset = _labelable_item(session, item_id=item_id, annotator=annotator)
    hold_writes(session)
    if not queue.end_lease(
        session, item_id=item.id, annotator=annotator, now=now, outcome=AssignmentOutcome.released
    ):
        raise NoLease(f"you hold no reservation on item {item.id}: there is nothing to release")


def _decide_by_consensus(
    session: Session, dataset: Dataset, item_id: int, places: int, now: dt.datetime
) -> None:
    """Once an item has its k labels: a label given by more than half of its annotators is the
    item's, and each annotator is verified or rejected by agreeing with it. Without such a
    majority the item asks one more annotator, up to the dataset's cap; at the cap its labels
    wait for a reviewer (or the review window)."""
    labels = repository.pending_labels_on(session, [item_id])
    if not labels:
        return
    spec = datasets.verification_of(dataset)
    total = len(labels)
    classes = datasets.label_kind_of(dataset).single_class
    if classes and spec.consensus_aggregator is not Aggregator.majority:
        aggregated, confidence = aggregated_label(
            session, dataset=dataset, item_id=item_id, aggregator=spec.consensus_aggregator
        )
        if aggregated is None:  # a tie: never decided by class order
            settled, votes = False, 0
        else:
            winner = aggregated
            votes = sum(1 for label in labels if label.value == winner)
            settled = confidence > 0.5 and votes > 0
    else:
        agreed = datasets.agreed_answer(dataset, [label.value for label in labels])
        winner, votes = labels[agreed.index].value, agreed.supporters
        settled = 2 * votes > total
    if not settled:
        if places < spec.consensus_max_k:
            queue.add_place(session, item_id=item_id, cap=spec.consensus_max_k)
        return
    agreement = f"{votes}/{total}"
    for label in labels:
        agrees = datasets.answers_agree(dataset, label.value, winner)
        decide(
            session,
            label,
            dataset,
            accept=agrees,
            method=VerificationMethod.consensus,
            now=now,
            reason=None
            if agrees
            else f"disagrees with the consensus label {winner!r} ({agreement} annotators)",
        )
        label.agreement = agreement
    session.flush()


def auto_accept_due(session: Session, *, now: dt.datetime) -> int:
    """Accepts every label nobody decided within its dataset's review window: annotators are
    never held hostage by an idle buyer. Returns how many."""
    shortest = dt.timedelta(seconds=3600)  # VerificationSpec's least review window
    accepted = 0
    windows: dict[int, dt.timedelta] = {}
    hold_writes(session)  # SQLite: no reviewer decides one of these meanwhile
    for label in repository.pending_labels_older_than(session, now - shortest):
        dataset = datasets.get_dataset(session, label.dataset_id)
        if dataset.id not in windows:
            seconds = datasets.verification_of(dataset).review_window_seconds
            windows[dataset.id] = dt.timedelta(seconds=seconds)
        if label.created_at + windows[dataset.id] <= now:
            decide(session, label, dataset, accept=True, method=VerificationMethod.auto, now=now)
            accepted += 1
    session.flush()
    return accepted


def review_label(
    session: Session, *, reviewer: str, label_id: int, spec: ReviewCreate, now: dt.datetime
) -> Label:
    label = session.get(Label, label_id)
    if label is None:
        raise LabelNotFound(f"no label {label_id}")
    dataset = datasets.get_dataset(session, label.dataset_id)
    if not dataset_repository.is_reviewer(session, dataset.id, reviewer):
        raise NotAppointedReviewer(f"you are not a reviewer of dataset {dataset.id}")
    hold_writes(session)
    queue.lock_item(session, label.item_id)
    # the label itself, locked after its item: a decision made meanwhile (auto-accept, another
    # reviewer, a consensus) is seen here, never made twice
    session.refresh(label, with_for_update=True)
    if label.annotator == reviewer:
        raise ConflictOfInterest("nobody reviews their own label")
    if label.status is not LabelStatus.pending:
        raise AlreadyDecided(f"label {label_id} is already {label.status}")
    reason = (spec.reason or "").strip() or None
    if spec.verdict is Verdict.reject and reason is None:
        raise ReasonRequired("a rejection must say why (reason)")
    correcting = spec.verdict is Verdict.correct
    if correcting != (spec.corrected_value is not None):
        raise CorrectionMismatch("corrected_value goes with the `correct` verdict, and only there")
    if spec.corrected_value is not None:
        corrected = datasets.normalized_value(dataset, spec.corrected_value)
        datasets.check_label(dataset, corrected)
        if corrected == label.value:
            raise CorrectionMismatch("the correction equals the label: accept it instead")
        label.corrected_value = corrected
        reason = f"accepted with a correction to {corrected!r}" + (f": {reason}" if reason else "")
    decide(
        session,
        label,
        dataset,
        accept=spec.verdict is not Verdict.reject,
        method=VerificationMethod.review,
        now=now,
        reviewer=reviewer,
        reason=reason,
    )
    session.flush()
    return label


def to_public(label: Label, item: Item, *, unsealed: bool = False) -> LabelPublic:
    """A label as the API shows it. A sealed gold verdict shows as pending (with nothing it
    earns) to everybody but the buyer (`unsealed`), who knows the gold answers anyway."""
    if label.sealed_until is not None and not unsealed:
        return _shown(label, item).model_copy(
            update={
                "status": LabelStatus.pending,
                "method": None,
                "reviewer": None,
                "reason": None,
                "price": None,
                "reward": None,
                "decided_at": None,
            }
        )
    return _shown(label, item)


def delivered(label: Label, item: Item, dataset: Dataset) -> DeliveredLabel:
    """A label as its buyer downloads it, with its kind's JSON value beside its text."""
    kind = datasets.label_kind_of(dataset)
    corrected = label.corrected_value
    return DeliveredLabel(
        **to_public(label, item, unsealed=True).model_dump(),
        answer=kind.delivered(label.value),
        corrected_answer=None if corrected is None else kind.delivered(corrected),
    )


def _shown(label: Label, item: Item) -> LabelPublic:
    return LabelPublic(
        id=label.id,
        dataset_id=label.dataset_id,
        item_id=label.item_id,
        external_id=item.external_id,
        annotator=label.annotator,
        value=label.value,
        item_hash=item.item_hash,
        salt=label.salt,
        warmup=label.warmup,
        instructions_version=label.instructions_version,
        corrected_value=label.corrected_value,
        label_hash=label_hash(label.salt, label.value),
        status=label.status,
        method=label.method,
        reviewer=label.reviewer,
        reason=label.reason,
        price=label.price,
        reward=label.reward,
        epoch=label.epoch,
        created_at=label.created_at,
        decided_at=label.decided_at,
    )


def earnings(session: Session, *, annotator: str, label_token: str) -> EarningsPublic:
    counts: Counter[LabelStatus] = Counter()
    earned: Counter[str] = Counter()
    unsettled: Counter[str] = Counter()
    paid = 0
    for label, dataset in repository.labels_of(session, annotator):
        status = LabelStatus.pending if label.sealed_until is not None else label.status
        counts[status] += 1
        if status is not LabelStatus.verified:
            continue
        amounts = ((dataset.payment_token, label.price or 0), (label_token, label.reward or 0))
        for token, amount in amounts:
            earned[token] += amount
            if label.epoch is None:
                unsettled[token] += amount
        paid += label.epoch is not None
    return EarningsPublic(
        pending=counts[LabelStatus.pending],
        verified=counts[LabelStatus.verified],
        rejected=counts[LabelStatus.rejected],
        paid_labels=paid,
        earned=dict(earned),
        unsettled=dict(unsettled),
    )
