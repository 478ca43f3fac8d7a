"""Which label an item's annotators agree on, and how much a dataset's annotators agree overall.

How alike two labels are is their kind's to say (`ledger.kinds`); here `consensus` takes that
similarity as a function. For a dataset, the report gives chance-corrected agreement (Fleiss'
kappa and Krippendorff's alpha, nominal), the confusion of all labels against the aggregate, and
per annotator their agreement with the aggregate and their accuracy on gold items.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from ledger.quality.aggregation import Aggregation, FloatArray, Key, LabelMatrix

DEFAULT_OVERLAP_THRESHOLD = 0.5
"""IoU at which two boxes or spans count as the same answer: the PASCAL VOC convention."""

T = TypeVar("T")


@dataclass(frozen=True)
class Consensus:
    """The answer an item's annotators agree on: `index` into the answers given, and how many of
    them (itself included) agree with it."""

    index: int
    supporters: int
    total: int

    @property
    def support(self) -> float:
        return self.supporters / self.total


def consensus(
    answers: Sequence[T],
    similarity: Callable[[T, T], float],
    threshold: float = DEFAULT_OVERLAP_THRESHOLD,
) -> Consensus:
    """The answer agreeing with the most others (for classes, the majority). Ties go to the
    answer with the highest summed similarity, so the box in the middle of a cluster beats one on
    its edge, then to the earliest answer. Boxes and spans are not averaged: the consensus is
    always an answer somebody actually gave, so the ledger can pay exactly the labels matching it.
    """
    if not answers:
        raise ValueError("no answers to agree on")
    n = len(answers)
    # A similarity is symmetric and an answer agrees fully with itself (every kind's is, and
    # tests/unit/test_kinds.py holds each to it), so each pair is compared once: for a kind whose
    # comparison is costly (thousands of objects a label), 3 comparisons for 3 answers, not 9.
    scores = np.ones((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            scores[i, j] = scores[j, i] = similarity(answers[i], answers[j])
    supporters = (scores >= threshold).sum(axis=1)
    # lexsort's last key is primary; ties in both keep input order, as lexsort is stable
    order = np.lexsort((-scores.sum(axis=1), -supporters))
    best = int(order[0])
    return Consensus(index=best, supporters=int(supporters[best]), total=n)


# --- dataset agreement ---


def fleiss_kappa(counts: FloatArray) -> float | None:
    """Fleiss' kappa from an (items x classes) table of how many raters chose each class.

    Items may have different numbers of raters: each item's observed agreement is the share of
    agreeing ordered pairs among its own raters, sum n_ic (n_ic - 1) / (n_i (n_i - 1)), the mean
    is over items with at least two raters, and chance agreement uses the class shares of all
    their labels. With equal rater numbers this is exactly Fleiss (1971). None when chance
    agreement is 1 (everybody used one class), where kappa is undefined."""
    counts = np.asarray(counts, dtype=np.float64)
    raters = counts.sum(axis=1)
    rated = counts[raters >= 2]
    if rated.size == 0:
        return None
    n_i = rated.sum(axis=1)
    observed = ((rated * (rated - 1)).sum(axis=1) / (n_i * (n_i - 1))).mean()
    shares = rated.sum(axis=0) / rated.sum()
    expected = float((shares**2).sum())
    if expected >= 1.0:
        return None
    return float((observed - expected) / (1.0 - expected))


def krippendorff_alpha_nominal(counts: FloatArray) -> float | None:
    """Krippendorff's alpha for nominal data from an (items x classes) value-count table.

    Missing values are simply absent from the table. Items with fewer than two values are not
    pairable and drop out. Coincidences o_ck = sum over items of
    (n_ic n_ik - [c = k] n_ic) / (n_i - 1); with n_c = sum_k o_ck and n = sum_c n_c,
    alpha = 1 - (n - 1) * sum_{c != k} o_ck / sum_{c != k} n_c n_k. None when there is no
    expected disagreement (one value only), where alpha is undefined."""
    counts = np.asarray(counts, dtype=np.float64)
    pairable = counts[counts.sum(axis=1) >= 2]
    if pairable.size == 0:
        return None
    weights = 1.0 / (pairable.sum(axis=1) - 1.0)
    coincidences = np.einsum("u,uc,uk->ck", weights, pairable, pairable)
    coincidences -= np.diag((weights[:, None] * pairable).sum(axis=0))
    n_c = coincidences.sum(axis=1)
    n = n_c.sum()
    observed_disagreement = coincidences.sum() - np.trace(coincidences)
    expected_disagreement = n_c.sum() ** 2 - (n_c**2).sum()
    if expected_disagreement <= 0:
        return None
    return float(1.0 - (n - 1.0) * observed_disagreement / expected_disagreement)


@dataclass(frozen=True)
class AnnotatorAgreement:
    """One annotator against the aggregate and the gold answers, as counts and as rates (a rate
    is None without data). The counts feed `ledger.quality.reputation.ReputationEvidence`."""

    annotator: Key
    labels: int
    compared: int  # labels on items with an aggregate (not tied)
    agreed: int
    agreement_with_aggregate: float | None
    gold_answered: int
    gold_correct: int
    gold_accuracy: float | None


@dataclass(frozen=True)
class AgreementReport:
    """A dataset's agreement, in plain types so the API can return it as is.

    `confusion[t][o]` counts labels answering class `o` on items whose aggregate is class `t`,
    both indexing `classes`; `undecided_items` (ties: no aggregate) are in neither it nor anybody's
    agreement."""

    classes: list[Key]
    items: int
    undecided_items: int
    labels: int
    fleiss_kappa: float | None
    krippendorff_alpha: float | None
    confusion: list[list[int]]
    annotators: list[AnnotatorAgreement]


def _annotator_agreement(
    matrix: LabelMatrix, aggregate: Aggregation, gold: Mapping[Key, Key]
) -> list[AnnotatorAgreement]:
    agrees = aggregate.agrees().astype(np.int64)
    compared_labels = aggregate.compared().astype(np.int64)
    class_codes = {c: i for i, c in enumerate(matrix.classes)}
    gold_codes = np.array(
        [class_codes.get(gold[item], -1) if item in gold else -2 for item in matrix.items],
        dtype=np.intp,
    )
    label_gold = gold_codes[matrix.item_codes]
    on_gold = label_gold != -2
    correct = on_gold & (label_gold == matrix.label_codes)
    n = matrix.n_annotators
    labels = np.bincount(matrix.annotator_codes, minlength=n)
    agreed = np.bincount(matrix.annotator_codes, weights=agrees, minlength=n)
    compared = np.bincount(matrix.annotator_codes, weights=compared_labels, minlength=n)
    answered = np.bincount(matrix.annotator_codes, weights=on_gold, minlength=n)
    right = np.bincount(matrix.annotator_codes, weights=correct, minlength=n)
    return [
        AnnotatorAgreement(
            annotator=annotator,
            labels=int(labels[a]),
            compared=int(compared[a]),
            agreed=int(agreed[a]),
            agreement_with_aggregate=_rate(int(agreed[a]), int(compared[a])),
            gold_answered=int(answered[a]),
            gold_correct=int(right[a]),
            gold_accuracy=_rate(int(right[a]), int(answered[a])),
        )
        for a, annotator in enumerate(matrix.annotators)
    ]


def _rate(successes: int, trials: int) -> float | None:
    return successes / trials if trials else None


def agreement_report(
    aggregate: Aggregation, gold: Mapping[Key, Key] | None = None
) -> AgreementReport:
    """Agreement of the labels behind `aggregate`; `gold` maps gold items to their answers
    (items absent from the labels are ignored; a gold answer outside the classes counts every
    label on that item as wrong)."""
    matrix = aggregate.matrix
    counts = matrix.vote_counts()
    k = matrix.n_classes
    confusion = np.zeros((k, k), dtype=np.int64)
    compared = aggregate.compared()
    np.add.at(
        confusion,
        (aggregate.label_codes[matrix.item_codes[compared]], matrix.label_codes[compared]),
        1,
    )
    return AgreementReport(
        classes=list(matrix.classes),
        items=matrix.n_items,
        undecided_items=int((~aggregate.decided).sum()),
        labels=len(matrix.label_codes),
        fleiss_kappa=fleiss_kappa(counts),
        krippendorff_alpha=krippendorff_alpha_nominal(counts),
        confusion=confusion.tolist(),
        annotators=_annotator_agreement(matrix, aggregate, gold or {}),
    )
