"""A dataset's agreement report: Fleiss' kappa, Krippendorff's alpha, per-class confusion and
per-annotator accuracy, against an aggregate (majority vote, Wawa or Dawid-Skene) of its labels."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.annotation.models import Label
from ledger.annotation.schemas import (
    Aggregator,
    AgreementReportPublic,
    AnnotatorAgreementPublic,
)
from ledger.dataset import service as datasets
from ledger.dataset.models import Dataset, Item
from ledger.kit.errors import Unprocessable
from ledger.quality.aggregation import (
    Aggregation,
    LabelMatrix,
    dawid_skene,
    encode_labels,
    majority_vote,
    wawa,
)
from ledger.quality.agreement import agreement_report


class AgreementNeedsClasses(Unprocessable):
    code = "agreement_needs_classes"


AGGREGATORS: dict[Aggregator, Callable[[LabelMatrix], Aggregation]] = {
    Aggregator.majority: majority_vote,
    Aggregator.wawa: wawa,
    Aggregator.dawid_skene: dawid_skene,
}


def aggregated_label(
    session: Session, *, dataset: Dataset, item_id: int, aggregator: Aggregator
) -> tuple[str | None, float]:
    """An item's label and the aggregator's confidence in it, estimated from every label of the
    dataset (Wawa and Dawid-Skene learn each annotator's skill from all their work); None for
    the label when the item's top classes tie."""
    rows = session.execute(
        select(Label.item_id, Label.annotator, Label.value)
        .where(Label.dataset_id == dataset.id)
        .order_by(Label.id)
    ).all()
    matrix = encode_labels([(i, a, v) for i, a, v in rows], classes=datasets.label_classes(dataset))
    result = AGGREGATORS[aggregator](matrix).labels()[item_id]
    return (None if result.label is None else str(result.label)), result.confidence


def dataset_agreement(
    session: Session, *, dataset: Dataset, aggregator: Aggregator
) -> AgreementReportPublic:
    if not datasets.label_kind_of(dataset).single_class:
        raise AgreementNeedsClasses(
            f"dataset {dataset.id} labels {datasets.label_type_of(dataset)}: kappa and alpha "
            "here are for class labels; its consensus verdicts carry each item's agreement"
        )
    classes = datasets.label_classes(dataset)
    rows = session.execute(
        select(Label.item_id, Label.annotator, Label.value)
        .where(Label.dataset_id == dataset.id)
        .order_by(Label.id)
    ).all()
    gold: dict[str | int, str | int] = {
        item: str(answer)
        for item, answer in session.execute(
            select(Item.id, Item.gold_label).where(
                Item.dataset_id == dataset.id, Item.gold_label.is_not(None)
            )
        )
    }
    empty = AgreementReportPublic(
        dataset_id=dataset.id,
        aggregator=aggregator,
        classes=classes,
        items=0,
        undecided_items=0,
        labels=0,
        fleiss_kappa=None,
        krippendorff_alpha=None,
        confusion=[[0] * len(classes) for _ in classes],
        annotators=[],
    )
    if not rows:
        return empty
    matrix = encode_labels([(i, a, v) for i, a, v in rows], classes=classes)
    aggregate = AGGREGATORS[aggregator](matrix)
    report = agreement_report(aggregate, gold)
    skills = aggregate.skill_by_annotator()
    return empty.model_copy(
        update={
            "items": report.items,
            "undecided_items": report.undecided_items,
            "labels": report.labels,
            "fleiss_kappa": report.fleiss_kappa,
            "krippendorff_alpha": report.krippendorff_alpha,
            "confusion": report.confusion,
            "annotators": [
                AnnotatorAgreementPublic(
                    annotator=str(a.annotator),
                    labels=a.labels,
                    agreement_with_aggregate=a.agreement_with_aggregate,
                    gold_answered=a.gold_answered,
                    gold_accuracy=a.gold_accuracy,
                    estimated_skill=skills[a.annotator],
                )
                for a in report.annotators
            ],
        }
    )
