"""Annotators' and reviewers' rules: taking work, labelling, verifying by review or gold."""

from __future__ import annotations

import datetime as dt
import secrets
from collections import Counter

from sqlalchemy.orm import Session

from ledger.annotation import repository
from ledger.annotation.agreement import aggregated_label
from ledger.annotation.models import Label, LabelEvent, LabelStatus, VerificationMethod
from ledger.annotation.schemas import (
    Aggregator,
    EarningsPublic,
    LabelCreate,
    LabelPublic,
    NextItem,
    ReviewCreate,
    Verdict,
)
from ledger.annotation.standing import evidence_of, qualification_of, standing_of
from ledger.dataset import repository as dataset_repository
from ledger.dataset import service as datasets
from ledger.dataset.models import Dataset, Item
from ledger.dataset.schemas import DatasetStatus, LabelType
from ledger.kit.errors import Conflict, Forbidden, NotFound, Unprocessable
from ledger.publication import label_hash, random_nonce
from ledger.quality.reputation import (
    DEFAULT_POLICY,
    Qualification,
    ReputationEvidence,
    apply_multiplier,
    receives_items,
    reputation_score,
)


class QueueEmpty(NotFound):
    code = "queue_empty"


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


class CorrectionMismatch(Unprocessable):
    code = "correction_mismatch"


class ReasonRequired(Unprocessable):
    code = "reason_required"


GOLD_MISMATCH = "does not match the gold answer"


def _require_open(session: Session, dataset: Dataset) -> None:
    status = datasets.status_of(session, dataset)
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


def next_item(session: Session, *, annotator: str, dataset_id: int) -> NextItem:
    dataset = datasets.get_dataset(session, dataset_id)
    if dataset.buyer == annotator:
        raise ConflictOfInterest("a buyer cannot label their own dataset")
    _require_open(session, dataset)
    evidence = evidence_of(session, dataset_id=dataset.id, annotator=annotator)
    warming_up = _warming_up(dataset, evidence)
    if datasets.verification_of(dataset).reputation_cutoff and not receives_items(evidence):
        raise BelowReputationCutoff(
            f"your reputation on dataset {dataset.id} is {reputation_score(evidence):.2f}, "
            f"below its cutoff {DEFAULT_POLICY.cutoff}: it no longer sends you items (see "
            f"GET /v1/me/datasets/{dataset.id}/standing for the counts behind it)"
        )
    item = (
        repository.next_item_for(session, dataset_id=dataset.id, annotator=annotator, gold=True)
        if warming_up
        else _serve(session, dataset=dataset, annotator=annotator)
    )
    if item is None and warming_up:
        raise QueueEmpty(
            f"dataset {dataset.id} has no gold item left for your qualification warm-up"
        )
    if item is None:
        raise QueueEmpty(f"you have labelled every item of dataset {dataset.id}")
    return NextItem(
        dataset_id=dataset.id,
        item_id=item.id,
        external_id=item.external_id,
        data=item.data,
        label_type=datasets.label_type_of(dataset),
        label_classes=datasets.label_classes(dataset),
    )


def _warming_up(dataset: Dataset, evidence: ReputationEvidence) -> bool:
    """True while the annotator is in the dataset's gold-only warm-up; raises once they failed
    it. Without a warm-up in the terms, always False."""
    outcome = qualification_of(dataset, evidence)
    if outcome is Qualification.failed:
        accuracy = datasets.verification_of(dataset).qualification_min_accuracy
        raise QualificationFailed(
            f"{evidence.gold_correct} of your {evidence.gold_answered} warm-up answers on "
            f"dataset {dataset.id} were right, below the {accuracy:.0%} it asks before paid work"
        )
    return outcome is Qualification.pending


def _serve(session: Session, *, dataset: Dataset, annotator: str) -> Item | None:
    """The next item: with a gold rate, a gold item with that probability (hidden among the
    others: nothing in what is served tells them apart), else the least-labelled item."""
    rate = datasets.verification_of(dataset).gold_rate_bps
    if rate is None:
        return repository.next_item_for(session, dataset_id=dataset.id, annotator=annotator)
    gold_first = secrets.randbelow(10_000) < rate
    for gold in (gold_first, not gold_first):
        item = repository.next_item_for(
            session, dataset_id=dataset.id, annotator=annotator, gold=gold
        )
        if item is not None:
            return item
    return None


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
) -> None:
    """Verifies or rejects a pending label, fixing what it earns and recording why. What it earns
    is fixed now: the price in force when it was verified, and the reward scaled by the
    annotator's reputation tier (earned before this label) where the dataset's terms say so."""
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
    if accept:
        label.price, label.reward = price, reward
    verdict = "verified" if accept else "rejected"
    record(session, label, f"{verdict} ({method})", at=now, actor=reviewer, detail=reason)


def _grade_on_gold(
    session: Session, label: Label, dataset: Dataset, item: Item, now: dt.datetime
) -> None:
    assert item.gold_label is not None
    accept = datasets.answers_agree(dataset, label.value, item.gold_label)
    decide(
        session,
        label,
        dataset,
        accept=accept,
        method=VerificationMethod.gold,
        now=now,
        reason=None if accept else GOLD_MISMATCH,
    )


def submit_label(session: Session, *, annotator: str, spec: LabelCreate, now: dt.datetime) -> Label:
    item = session.get(Item, spec.item_id)
    if item is None:
        raise datasets.UnknownItem(f"no item {spec.item_id}")
    dataset = datasets.get_dataset(session, item.dataset_id)
    if dataset.buyer == annotator:
        raise ConflictOfInterest("a buyer cannot label their own dataset")
    datasets.check_label(dataset, spec.value)
    _require_open(session, dataset)
    if repository.find_label(session, item_id=item.id, annotator=annotator) is not None:
        raise DuplicateLabel(f"you already labelled item {item.id}")
    warming_up = bool(datasets.verification_of(dataset).qualification_gold_items) and _warming_up(
        dataset, evidence_of(session, dataset_id=dataset.id, annotator=annotator)
    )
    if warming_up and item.gold_label is None:
        raise QualificationRequired(
            f"dataset {dataset.id} asks for a gold-only warm-up before paid work: label the "
            f"items GET /v1/datasets/{dataset.id}/next-item serves first"
        )
    label = Label(
        dataset_id=dataset.id,
        item_id=item.id,
        annotator=annotator,
        value=spec.value,
        salt=random_nonce(),
        warmup=warming_up,
        created_at=now,
    )
    item.label_count += 1
    session.add(label)
    session.flush()
    record(session, label, "submitted", at=now, actor=annotator)
    if item.gold_label is not None:
        _grade_on_gold(session, label, dataset, item, now)
        session.flush()
    if item.gold_label is None and item.wanted_labels is not None:
        _decide_by_consensus(session, dataset, item, now)
    return label


def _decide_by_consensus(session: Session, dataset: Dataset, item: Item, now: dt.datetime) -> None:
    """Once an item has its k labels: a label given by more than half of its annotators is the
    item's, and each annotator is verified or rejected by agreeing with it. Without such a
    majority the item asks one more annotator, up to the dataset's cap; at the cap its labels
    wait for a reviewer (or the review window)."""
    wanted = item.wanted_labels
    assert wanted is not None
    if item.label_count < wanted:
        return
    labels = repository.pending_labels_on(session, [item.id])
    if not labels:
        return
    spec = datasets.verification_of(dataset)
    total = len(labels)
    classes = datasets.label_type_of(dataset) is LabelType.classes
    if classes and spec.consensus_aggregator is not Aggregator.majority:
        winner, confidence = aggregated_label(
            session, dataset=dataset, item_id=item.id, aggregator=spec.consensus_aggregator
        )
        votes = sum(1 for label in labels if label.value == winner)
        settled = confidence > 0.5 and votes > 0
    else:
        agreed = datasets.agreed_answer(dataset, [label.value for label in labels])
        winner, votes = labels[agreed.index].value, agreed.supporters
        settled = 2 * votes > total
    if not settled:
        cap = datasets.verification_of(dataset).consensus_max_k
        if wanted < cap:
            item.wanted_labels = wanted + 1
        session.flush()
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
        datasets.check_label(dataset, spec.corrected_value)
        if spec.corrected_value == label.value:
            raise CorrectionMismatch("the correction equals the label: accept it instead")
        label.corrected_value = spec.corrected_value
        reason = f"accepted with a correction to {spec.corrected_value!r}" + (
            f": {reason}" if reason else ""
        )
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


def to_public(label: Label, item: Item) -> LabelPublic:
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
        counts[label.status] += 1
        if label.status is not LabelStatus.verified:
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
