"""An annotator's standing on a dataset, from what the ledger recorded of their work: the
evidence `ledger.quality.reputation` scores (gold answers, agreement with consensus, acceptance),
hence their reward tier and whether they still receive the dataset's items."""

from __future__ import annotations

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from ledger.annotation.models import Label, LabelStatus, VerificationMethod
from ledger.dataset.models import Dataset
from ledger.quality.reputation import ReputationEvidence, Standing, standing


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
