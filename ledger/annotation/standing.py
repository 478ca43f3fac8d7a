"""An annotator's standing on a dataset, from what the ledger recorded of their work: the
evidence `ledger.quality.reputation` scores (gold answers, agreement with consensus, acceptance),
hence their reward tier and whether they still receive the dataset's items."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from ledger.annotation.models import Label, LabelStatus, VerificationMethod
from ledger.annotation.schemas import StandingPublic
from ledger.dataset.models import Dataset
from ledger.dataset.service import verification_of
from ledger.quality.reputation import (
    Qualification,
    ReputationEvidence,
    Standing,
    qualification,
    standing,
)


def evidence_of(session: Session, *, dataset_id: int, annotator: str) -> ReputationEvidence:
    """Counts over the annotator's decided labels on the dataset. A label graded on gold is gold
    evidence, one decided by consensus is agreement evidence; every decided label is acceptance
    evidence (accepted or rejected)."""
    verified = Label.status == LabelStatus.verified

    def count(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    row = session.execute(
        select(
            count(Label.method == VerificationMethod.gold),
            count((Label.method == VerificationMethod.gold) & verified),
            count(Label.method == VerificationMethod.consensus),
            count((Label.method == VerificationMethod.consensus) & verified),
            count(Label.status != LabelStatus.pending),
            count(verified),
        ).where(Label.dataset_id == dataset_id, Label.annotator == annotator)
    ).one()
    gold_answered, gold_correct, compared, agreed, decided, accepted = (int(v) for v in row)
    return ReputationEvidence(
        gold_answered=gold_answered,
        gold_correct=gold_correct,
        compared=compared,
        agreed=agreed,
        decided=decided,
        accepted=accepted,
    )


def standing_of(session: Session, *, dataset: Dataset, annotator: str) -> Standing:
    return standing(evidence_of(session, dataset_id=dataset.id, annotator=annotator))


def qualification_of(dataset: Dataset, evidence: ReputationEvidence) -> Qualification | None:
    """Where the annotator stands in the dataset's gold-only warm-up; None without one."""
    spec = verification_of(dataset)
    if spec.qualification_gold_items == 0:
        return None
    return qualification(
        gold_answered=evidence.gold_answered,
        gold_correct=evidence.gold_correct,
        min_items=spec.qualification_gold_items,
        min_accuracy=spec.qualification_min_accuracy,
    )


def standing_public(session: Session, *, dataset: Dataset, annotator: str) -> StandingPublic:
    """What an annotator sees of their own standing: no opaque score, the evidence is shown."""
    evidence = evidence_of(session, dataset_id=dataset.id, annotator=annotator)
    now = standing(evidence)
    spec = verification_of(dataset)
    warmup = qualification_of(dataset, evidence)
    return StandingPublic(
        dataset_id=dataset.id,
        score=now.score,
        tier=now.tier,
        reward_multiplier_bps=now.multiplier_bps,
        receives_items=now.receives_items or not spec.reputation_cutoff,
        qualification="none" if warmup is None else warmup.value,
        **asdict(evidence),
    )
