"""Truth inference for categorical labels: several annotators label an item, one class comes out.

Three estimators of increasing strength, all pure numpy over integer codes and deterministic:

- `majority_vote`: every label counts the same.
- `wawa` ("worker agreement with aggregate"): majority vote, then each annotator is weighted by
  how often they agreed with it, then a weighted vote.
- `dawid_skene`: expectation-maximisation over a confusion matrix per annotator (Dawid and Skene,
  1979), so spammers and an annotator who always answers the same class lose their influence.

A tie is never decided by class order: an item whose top classes are equally likely is
undecided (`Aggregation.decided`), has no aggregate label, and counts neither for nor against
anybody's agreement. (Deciding it by `argmax`, the first class listed, favoured the common class
on skewed data.) The ledger asks another annotator, or a reviewer, about such an item.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Key = str | int
"""An item id, an annotator id or a class: whatever the caller's domain uses, hashable."""

IntArray = NDArray[np.intp]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class LabelMatrix:
    """Labels as parallel arrays of codes: label `n` is annotator `annotator_codes[n]` answering
    class `label_codes[n]` on item `item_codes[n]`; a code indexes the matching id tuple."""

    items: tuple[Key, ...]
    annotators: tuple[Key, ...]
    classes: tuple[Key, ...]
    item_codes: IntArray
    annotator_codes: IntArray
    label_codes: IntArray

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_annotators(self) -> int:
        return len(self.annotators)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def vote_counts(self, weights: FloatArray | None = None) -> FloatArray:
        """(items x classes) table of votes, each label weighted by its annotator's weight."""
        counts = np.zeros((self.n_items, self.n_classes))
        label_weights = (
            np.ones(len(self.item_codes)) if weights is None else weights[self.annotator_codes]
        )
        np.add.at(counts, (self.item_codes, self.label_codes), label_weights)
        return counts


def encode_labels(
    labels: Iterable[tuple[Key, Key, Key]], classes: Sequence[Key] | None = None
) -> LabelMatrix:
    """Codes `(item, annotator, label)` triples. Items and annotators are numbered in order of
    first appearance; classes follow `classes` when given (it may list classes nobody used),
    else order of first appearance. One annotator labelling one item twice is a caller bug (the
    ledger stores one label per pair), so it raises rather than silently counting twice."""
    item_index: dict[Key, int] = {}
    annotator_index: dict[Key, int] = {}
    class_index: dict[Key, int] = {c: i for i, c in enumerate(classes or ())}
    if classes is not None and len(class_index) != len(classes):
        raise ValueError("classes must be unique")
    codes: list[tuple[int, int, int]] = []
    seen: set[tuple[int, int]] = set()
    for item, annotator, label in labels:
        if label not in class_index:
            if classes is not None:
                raise ValueError(f"label {label!r} is not one of the classes")
            class_index[label] = len(class_index)
        i = item_index.setdefault(item, len(item_index))
        a = annotator_index.setdefault(annotator, len(annotator_index))
        if (i, a) in seen:
            raise ValueError(f"annotator {annotator!r} labelled item {item!r} twice")
        seen.add((i, a))
        codes.append((i, a, class_index[label]))
    table = np.array(codes, dtype=np.intp).reshape(-1, 3)
    return LabelMatrix(
        items=tuple(item_index),
        annotators=tuple(annotator_index),
        classes=tuple(class_index),
        item_codes=table[:, 0].copy(),
        annotator_codes=table[:, 1].copy(),
        label_codes=table[:, 2].copy(),
    )


TIE_MARGIN = 1e-9
"""Top classes closer than this in probability are a tie (floating-point noise, not evidence)."""


@dataclass(frozen=True)
class AggregatedLabel:
    """One item's outcome: the chosen class and the estimator's probability that it is right;
    `label` is None when the item is undecided (a tie), `confidence` then the tied probability."""

    item: Key
    label: Key | None
    confidence: float


@dataclass(frozen=True)
class Aggregation:
    """An estimator's answer for every item of a `LabelMatrix`.

    `posteriors[i, c]` is the estimated probability that item `i` is of class `c` (for the votes,
    the class's share of the item's possibly weighted votes); `skills[a]` is annotator `a`'s
    estimated probability of answering correctly."""

    matrix: LabelMatrix
    label_codes: IntArray
    posteriors: FloatArray
    skills: FloatArray

    @property
    def decided(self) -> NDArray[np.bool_]:
        """Per item: whether one class is more likely than every other (not a tie)."""
        return decided_items(self.posteriors)

    def labels(self) -> dict[Key, AggregatedLabel]:
        classes = self.matrix.classes
        confidence = self.posteriors.max(axis=1, initial=0.0)
        decided = self.decided
        return {
            item: AggregatedLabel(
                item, classes[int(code)] if decided[i] else None, float(confidence[i])
            )
            for i, (item, code) in enumerate(zip(self.matrix.items, self.label_codes, strict=True))
        }

    def skill_by_annotator(self) -> dict[Key, float]:
        return {a: float(s) for a, s in zip(self.matrix.annotators, self.skills, strict=True)}

    def compared(self) -> NDArray[np.bool_]:
        """Per label of the matrix: whether its item has an aggregate to compare it with."""
        return np.asarray(self.decided[self.matrix.item_codes])

    def agrees(self) -> NDArray[np.bool_]:
        """Per label of the matrix: whether it equals its item's aggregated class (never on an
        undecided item)."""
        same = self.matrix.label_codes == self.label_codes[self.matrix.item_codes]
        return np.asarray(same & self.compared())


def decided_items(posteriors: FloatArray) -> NDArray[np.bool_]:
    """Per row: whether the largest entry exceeds the runner-up by more than `TIE_MARGIN`."""
    if posteriors.shape[1] < 2:
        return np.ones(posteriors.shape[0], dtype=np.bool_)
    top_two = np.sort(posteriors, axis=1)[:, -2:]
    return np.asarray(top_two[:, 1] - top_two[:, 0] > TIE_MARGIN)


def _sum_rows_by(groups: IntArray, rows: FloatArray, n_groups: int) -> FloatArray:
    """Sums of `rows` per group, like `np.add.at` but a `bincount` per column, which is several
    times faster and matters because Dawid-Skene does this twice per round."""
    sums = np.zeros((n_groups, rows.shape[1]))
    for column in range(rows.shape[1]):
        sums[:, column] = np.bincount(groups, weights=rows[:, column], minlength=n_groups)
    return sums


def _normalise_rows(table: FloatArray) -> FloatArray:
    """Rows scaled to sum to one; an all-zero row (no votes) becomes uniform, not NaN."""
    totals = table.sum(axis=1, keepdims=True)
    uniform = np.full_like(table, 1.0 / max(table.shape[1], 1))
    np.divide(table, totals, out=uniform, where=totals > 0)
    return uniform


def agreement_with(
    matrix: LabelMatrix, label_codes: IntArray, decided: NDArray[np.bool_]
) -> FloatArray:
    """Per annotator, the share of their labels on decided items equal to those items' classes
    (0 for an annotator with no label on a decided item)."""
    compared = decided[matrix.item_codes]
    agrees = (compared & (matrix.label_codes == label_codes[matrix.item_codes])).astype(np.float64)
    hits = np.bincount(matrix.annotator_codes, weights=agrees, minlength=matrix.n_annotators)
    total = np.bincount(matrix.annotator_codes, weights=compared, minlength=matrix.n_annotators)
    return np.divide(hits, total, out=np.zeros(matrix.n_annotators), where=total > 0)


def majority_vote(matrix: LabelMatrix) -> Aggregation:
    """The most frequent class per item (a tie leaves the item undecided); skill is an
    annotator's rate of agreement with the vote on decided items, which include items they
    labelled alone."""
    posteriors = _normalise_rows(matrix.vote_counts())
    labels = posteriors.argmax(axis=1)
    skills = agreement_with(matrix, labels, decided_items(posteriors))
    return Aggregation(matrix, labels, posteriors, skills)


def wawa(matrix: LabelMatrix) -> Aggregation:
    """Majority vote, then a vote weighted by each annotator's agreement with it.

    The skills reported are those weights. An item whose annotators all have weight zero keeps
    its plain majority vote, since the weighted vote has nothing to say about it."""
    first = majority_vote(matrix)
    weighted = matrix.vote_counts(first.skills)
    no_weight = weighted.sum(axis=1) == 0
    weighted[no_weight] = matrix.vote_counts()[no_weight]
    posteriors = _normalise_rows(weighted)
    return Aggregation(matrix, posteriors.argmax(axis=1), posteriors, first.skills)


@dataclass(frozen=True)
class DawidSkene(Aggregation):
    """Dawid-Skene's answer plus what it learnt: `confusions[a, true, observed]` is annotator
    `a`'s probability of answering `observed` on an item of class `true`, `priors` the class
    frequencies, `iterations` how many EM rounds ran and `converged` whether it met the tolerance
    before the limit."""

    confusions: FloatArray
    priors: FloatArray
    iterations: int
    converged: bool


def _answer_counts(matrix: LabelMatrix, posteriors: FloatArray) -> FloatArray:
    """Soft counts[a, true, observed]: annotator a's labels `observed` weighted by the
    probability that their item is of class `true`."""
    k = matrix.n_classes
    # rows (annotator, observed), columns true class; transposed to (annotator, true, observed)
    by_answer = _sum_rows_by(
        matrix.annotator_codes * k + matrix.label_codes,
        posteriors[matrix.item_codes],
        matrix.n_annotators * k,
    )
    return by_answer.reshape(matrix.n_annotators, k, k).transpose(0, 2, 1)


def crowd_confusion(matrix: LabelMatrix, posteriors: FloatArray) -> FloatArray:
    """The whole crowd's pooled confusion matrix against soft item classes, with one pseudo-label
    spread uniformly over each row so that no entry is zero."""
    pooled = _answer_counts(matrix, posteriors).sum(axis=0) + 1.0 / matrix.n_classes
    return _normalise_rows(pooled)


def _m_step(
    matrix: LabelMatrix, posteriors: FloatArray, smoothing: float, target: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Class priors and confusion matrices from soft item classes.

    Each annotator's confusion rows get `smoothing` pseudo-labels distributed like `target`, the
    crowd's pooled confusion against the starting majority vote (empirical-Bayes shrinkage): an
    annotator with a handful of labels is assumed to be like the average annotator until their
    own labels say otherwise, instead of getting the zeros and ones that would make their few
    answers decisive, or a uniform row that would let the class prior overrule the only label on
    an item. The target is fixed before the first round, as one re-estimated from the current
    posteriors lets EM talk a lone label into being noise. The class priors get `smoothing`
    pseudo-items spread uniformly, so a class nobody used stays possible but unlikely.
    """
    k = matrix.n_classes
    counts = _answer_counts(matrix, posteriors) + smoothing * target
    confusions = counts / counts.sum(axis=2, keepdims=True)
    class_mass = posteriors.sum(axis=0) + smoothing / k
    return confusions, class_mass / class_mass.sum()


def _item_log_joint(matrix: LabelMatrix, confusions: FloatArray, priors: FloatArray) -> FloatArray:
    """(items x classes): log P(item is of class c, and its labels) under the parameters."""
    log_likelihoods = np.log(confusions[matrix.annotator_codes, :, matrix.label_codes])
    return np.log(priors) + _sum_rows_by(matrix.item_codes, log_likelihoods, matrix.n_items)


def _e_step(matrix: LabelMatrix, confusions: FloatArray, priors: FloatArray) -> FloatArray:
    """Posterior class probabilities per item given the annotators' confusion matrices."""
    log_posteriors = _item_log_joint(matrix, confusions, priors)
    log_posteriors -= log_posteriors.max(axis=1, keepdims=True)
    return _normalise_rows(np.exp(log_posteriors))


def _objective(
    matrix: LabelMatrix,
    confusions: FloatArray,
    priors: FloatArray,
    smoothing: float,
    target: FloatArray,
) -> float:
    """What each EM round climbs: the log-likelihood of the labels (each item's class summed
    out) plus the log-density of the Dirichlet priors that the smoothing's pseudo-labels are."""
    joint = _item_log_joint(matrix, confusions, priors)
    top = joint.max(axis=1, initial=0.0)
    evidence = float((top + np.log(np.exp(joint - top[:, None]).sum(axis=1))).sum())
    shrinkage = float((smoothing * target * np.log(confusions)).sum())
    return evidence + shrinkage + float((smoothing / matrix.n_classes * np.log(priors)).sum())


_Parameters = tuple[FloatArray, FloatArray]


def dawid_skene(
    matrix: LabelMatrix,
    *,
    smoothing: float = 2.0,
    tolerance: float = 1e-6,
    max_iterations: int = 200,
    accelerate: bool = True,
) -> DawidSkene:
    """Dawid-Skene EM, started from the majority vote's class shares, accelerated by SQUAREM
    (`accelerate=False`: plain EM, one round after another, to the same fixed point).

    Each round re-estimates priors and confusion matrices from the current soft labels (M step),
    then the soft labels from those (E step); it stops once no item's posterior moves by more
    than `tolerance`, or after `max_iterations` rounds. Starting from the vote rather than at
    random makes the result deterministic and keeps class names from being permuted. Skill is the
    probability of a correct answer on a random item, sum over c of prior[c] * confusion[a, c, c];
    a spammer and an annotator who always answers one class both come out near 1/#classes.

    Why the acceleration: EM never moves downhill here (`_objective` grows every round), but near
    its fixed point it closes only a fixed share of the remaining distance per round, and that
    share is small where many items stay uncertain. On skewed crowds with few labels per item
    (a rare class's small prior weighed against one good annotator) it was 1-5% per round, so
    plain EM needed 300-1,100 rounds to meet the tolerance, past the limit, though no label
    changed after round ~200. SQUAREM (Varadhan and Roland, 2008, scheme S3) extrapolates along
    the last two rounds' steps and keeps the jump only when it is valid (every probability
    positive) and the objective did not fall, else it falls back to the two plain rounds: same
    fixed point, a fraction of the rounds."""
    if smoothing <= 0:
        raise ValueError("smoothing must be positive: without it confusion rows can be zero")
    posteriors = majority_vote(matrix).posteriors
    target = crowd_confusion(matrix, posteriors)
    theta = _m_step(matrix, posteriors, smoothing, target)
    iterations, converged = 0, False

    def em_round(parameters: _Parameters) -> tuple[_Parameters, FloatArray]:
        nonlocal iterations
        iterations += 1
        soft = _e_step(matrix, *parameters)
        return _m_step(matrix, soft, smoothing, target), soft

    while iterations < max_iterations and not converged:
        first, first_soft = em_round(theta)
        if (
            not accelerate
            or iterations >= max_iterations
            or np.abs(first_soft - posteriors).max(initial=0.0) <= tolerance
        ):
            theta, updated = first, first_soft
        else:
            second, second_soft = em_round(first)
            theta, updated = _squarem_step(
                (theta, first, second),
                second_soft,
                em_round=em_round,
                rounds_left=lambda: max_iterations - iterations,
                objective=lambda t: _objective(matrix, *t, smoothing, target),
            )
        converged = bool(np.abs(updated - posteriors).max(initial=0.0) <= tolerance)
        posteriors = updated
    confusions, priors = theta
    skills = np.einsum("c,acc->a", priors, confusions)
    return DawidSkene(
        matrix=matrix,
        label_codes=posteriors.argmax(axis=1),
        posteriors=posteriors,
        skills=skills,
        confusions=confusions,
        priors=priors,
        iterations=iterations,
        converged=converged,
    )


def _squarem_step(
    thetas: tuple[_Parameters, _Parameters, _Parameters],
    second_soft: FloatArray,
    *,
    em_round: Callable[[_Parameters], tuple[_Parameters, FloatArray]],
    rounds_left: Callable[[], int],
    objective: Callable[[_Parameters], float],
) -> tuple[_Parameters, FloatArray]:
    """One SQUAREM step from parameters `thetas[0]` and the two EM rounds after them: the
    extrapolated parameters after one more EM round, or the second round's when the jump is not
    valid, not uphill, or no round is left for it. Returns the parameters and the soft labels of
    the E step that produced them."""
    start, first, second = thetas
    r = [b - a for a, b in zip(start, first, strict=True)]
    v = [c - 2 * b + a for a, b, c in zip(start, first, second, strict=True)]
    r_norm = np.sqrt(sum(float((x * x).sum()) for x in r))
    v_norm = np.sqrt(sum(float((x * x).sum()) for x in v))
    if v_norm == 0.0:
        return second, second_soft
    alpha = min(-r_norm / v_norm, -1.0)
    floor = objective(second)
    while alpha < -1.0 and rounds_left() > 0:
        jump = tuple(
            a - 2 * alpha * x + alpha * alpha * y for a, x, y in zip(start, r, v, strict=True)
        )
        if all(bool((part > 0).all()) for part in jump):
            landed, soft = em_round((jump[0], jump[1]))
            if objective(landed) >= floor:
                return landed, soft
        # Back towards plain EM (alpha = -1 is exactly the second round), as SQUAREM does.
        alpha = (alpha - 1.0) / 2.0 if alpha < -2.0 else -1.0
    return second, second_soft
