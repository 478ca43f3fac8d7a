"""An annotator's standing on a dataset, from what the ledger recorded of their work: the
evidence `ledger.quality.reputation` scores (gold answers, agreement with consensus, acceptance),
hence their reward tier and whether they still receive the dataset's items.

The evidence is kept as counters, one row per annotator and dataset (`DatasetAnnotator`), so a
standing is one row to read however large the dataset. Services add to the counters with
`count(...)`; the sums are written in one upsert per row just before the transaction commits,
rows in sorted order: every transaction takes these row locks last and in the same order, so
two transactions deciding labels of the same annotators cannot deadlock.

A verdict on a gold item counts once it is revealed (`reveal_due`), not when it is graded:
otherwise the counts would change right after a gold item is answered and tell the annotator
which item was gold and whether they got it right. The qualification warm-up's answers are
counted as they are graded, in their own counters; only the warm-up's outcome is shown, once all
its items are answered.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import asdict
from typing import cast

from sqlalchemy import Table, event, select, update
from sqlalchemy.orm import Session

from ledger.annotation.models import (
    STANDING_COUNTERS,
    DatasetAnnotator,
    Label,
    LabelEvent,
    LabelStatus,
)
from ledger.annotation.schemas import StandingPublic
from ledger.dataset.models import Dataset
from ledger.dataset.service import verification_of
from ledger.kit.db import hold_writes, insert_for
from ledger.quality.reputation import (
    Qualification,
    ReputationEvidence,
    Standing,
    qualification,
    standing,
)

_PENDING = "standing_deltas"


def count(session: Session, *, dataset_id: int, annotator: str, **deltas: int) -> None:
    """Adds to the annotator's counters on the dataset when the transaction commits."""
    unknown = set(deltas) - set(STANDING_COUNTERS)
    assert not unknown, f"unknown counters {unknown}"
    pending: dict[tuple[int, str], Counter[str]] = session.info.setdefault(_PENDING, {})
    pending.setdefault((dataset_id, annotator), Counter()).update(deltas)


def with_pending_counts(session: Session, row: DatasetAnnotator) -> DatasetAnnotator:
    """The counters as they will be once this transaction commits (a transient row)."""
    pending: dict[tuple[int, str], Counter[str]] = session.info.get(_PENDING, {})
    deltas = pending.get((row.dataset_id, row.annotator), Counter())
    return DatasetAnnotator(
        dataset_id=row.dataset_id,
        annotator=row.annotator,
        **{name: (getattr(row, name) or 0) + deltas.get(name, 0) for name in STANDING_COUNTERS},
    )


@event.listens_for(Session, "before_commit")
def _write_counts(session: Session) -> None:
    pending: dict[tuple[int, str], Counter[str]] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    table = DatasetAnnotator.__table__
    for (dataset_id, annotator), deltas in sorted(pending.items()):
        values = {name: deltas.get(name, 0) for name in STANDING_COUNTERS}
        statement = insert_for(session, DatasetAnnotator).values(
            dataset_id=dataset_id, annotator=annotator, **values
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[DatasetAnnotator.dataset_id, DatasetAnnotator.annotator],
                set_={
                    name: table.c[name] + statement.excluded[name]
                    for name, delta in values.items()
                    if delta
                },
            )
        )


@event.listens_for(Session, "after_rollback")
def _forget_counts(session: Session) -> None:
    session.info.pop(_PENDING, None)


def counters_of(session: Session, *, dataset_id: int, annotator: str) -> DatasetAnnotator:
    """The annotator's counters on the dataset (all zero before their first decided label)."""
    row = session.get(DatasetAnnotator, (dataset_id, annotator))
    if row is None:
        return DatasetAnnotator(
            dataset_id=dataset_id, annotator=annotator, **dict.fromkeys(STANDING_COUNTERS, 0)
        )
    return row


def evidence(row: DatasetAnnotator) -> ReputationEvidence:
    return ReputationEvidence(
        gold_answered=row.gold_answered,
        gold_correct=row.gold_correct,
        compared=row.compared,
        agreed=row.agreed,
        decided=row.decided,
        accepted=row.accepted,
    )


def evidence_of(session: Session, *, dataset_id: int, annotator: str) -> ReputationEvidence:
    return evidence(counters_of(session, dataset_id=dataset_id, annotator=annotator))


def standing_of(session: Session, *, dataset: Dataset, annotator: str) -> Standing:
    return standing(evidence_of(session, dataset_id=dataset.id, annotator=annotator))


def qualification_of(dataset: Dataset, row: DatasetAnnotator) -> Qualification | None:
    """Where the annotator stands in the dataset's gold-only warm-up; None without one. Pending
    until all its items are answered, whatever the answers so far."""
    spec = verification_of(dataset)
    if spec.qualification_gold_items == 0:
        return None
    return qualification(
        gold_answered=row.warmup_answered,
        gold_correct=row.warmup_correct,
        min_items=spec.qualification_gold_items,
        min_accuracy=spec.qualification_min_accuracy,
    )


def standing_public(session: Session, *, dataset: Dataset, annotator: str) -> StandingPublic:
    """What an annotator sees of their own standing: no opaque score, the evidence is shown.
    Gold counts include revealed verdicts only; the warm-up shows its progress, and its
    accuracy once it is complete."""
    row = counters_of(session, dataset_id=dataset.id, annotator=annotator)
    shown = evidence(row)
    now = standing(shown)
    spec = verification_of(dataset)
    warmup = qualification_of(dataset, row)
    complete = warmup is not None and warmup is not Qualification.pending
    return StandingPublic(
        dataset_id=dataset.id,
        score=now.score,
        tier=now.tier,
        reward_multiplier_bps=now.multiplier_bps,
        receives_items=now.receives_items or not spec.reputation_cutoff,
        qualification="none" if warmup is None else warmup.value,
        qualification_answered=row.warmup_answered,
        qualification_items=spec.qualification_gold_items,
        qualification_correct=row.warmup_correct if complete else None,
        **asdict(shown),
    )


REVEAL_BATCH = 1000


def reveal_due(session: Session, *, now: dt.datetime) -> int:
    """Unseals every gold verdict whose delay has passed: from now on its annotator sees it, it
    counts in their standing, and the next epoch pays it (or publishes the rejection). Returns
    how many. Each label is unsealed by a conditional update and counted only if this call
    unsealed it, so the upkeep job and a settlement revealing at once count nothing twice."""
    hold_writes(session)
    labels = cast(Table, Label.__table__)
    revealed = 0
    while True:
        due = session.scalars(
            select(labels.c.id)
            .where(labels.c.sealed_until.is_not(None), labels.c.sealed_until <= now)
            .order_by(labels.c.id)
            .limit(REVEAL_BATCH)
        ).all()
        if not due:
            return revealed
        unsealed = session.execute(
            update(labels)
            .where(labels.c.id.in_(due), labels.c.sealed_until.is_not(None))
            .values(sealed_until=None)
            .returning(
                labels.c.id,
                labels.c.dataset_id,
                labels.c.annotator,
                labels.c.status,
                labels.c.method,
                labels.c.reason,
            )
        ).all()
        for label_id, dataset_id, annotator, status, method, reason in unsealed:
            right = LabelStatus(status) is LabelStatus.verified
            count(
                session,
                dataset_id=dataset_id,
                annotator=annotator,
                gold_answered=1,
                gold_correct=int(right),
                decided=1,
                accepted=int(right),
            )
            session.add(
                LabelEvent(label_id=label_id, at=now, kind=f"{status} ({method})", detail=reason)
            )
        session.flush()
        revealed += len(unsealed)
        if len(due) < REVEAL_BATCH:
            return revealed
