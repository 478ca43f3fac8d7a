"""Simulated crowds with a known truth, for testing truth inference and reputation.

Every crowd comes from one seed, so a test's numbers are the same on every run. Annotator kinds:
honest (right with a given accuracy; wrong answers uniform over the other classes, or drawn from a
given confusion row), spammer (uniform over all classes, right 1/#classes of the time) and
adversary (always the same class, whatever the item).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Kind = Literal["honest", "spammer", "adversary"]


@dataclass(frozen=True)
class SimulatedAnnotator:
    name: str
    kind: Kind
    accuracy: float = 0.0  # honest only
    confusion: NDArray[np.float64] | None = None  # honest only: rows true class, cols answer
    fixed_class: int = 0  # adversary only

    def answer(self, truth: int, n_classes: int, rng: np.random.Generator) -> int:
        if self.kind == "spammer":
            return int(rng.integers(n_classes))
        if self.kind == "adversary":
            return self.fixed_class
        if self.confusion is not None:
            return int(rng.choice(n_classes, p=self.confusion[truth]))
        if rng.random() < self.accuracy:
            return truth
        wrong = int(rng.integers(n_classes - 1))
        return wrong + (wrong >= truth)


def honest(name: str, accuracy: float) -> SimulatedAnnotator:
    return SimulatedAnnotator(name, "honest", accuracy=accuracy)


def spammer(name: str) -> SimulatedAnnotator:
    return SimulatedAnnotator(name, "spammer")


def adversary(name: str, fixed_class: int = 0) -> SimulatedAnnotator:
    return SimulatedAnnotator(name, "adversary", fixed_class=fixed_class)


@dataclass(frozen=True)
class Crowd:
    """Items `item-0..` with true classes `c0..`, and the labels the annotators gave them."""

    classes: tuple[str, ...]
    truth: dict[str, str]
    annotators: tuple[SimulatedAnnotator, ...]
    labels: list[tuple[str, str, str]] = field(default_factory=list)

    def of_kind(self, kind: Kind) -> list[str]:
        return [a.name for a in self.annotators if a.kind == kind]

    def labels_by(self, annotator: str) -> list[tuple[str, str, str]]:
        return [label for label in self.labels if label[1] == annotator]


class CrowdStream:
    """Items arriving one batch at a time, each labelled by annotators drawn from whoever is
    still active, so a test can stop sending items to an annotator mid-way."""

    def __init__(
        self,
        *,
        seed: int,
        n_classes: int,
        annotators: Sequence[SimulatedAnnotator],
        class_weights: Sequence[float] | None = None,
    ) -> None:
        self.rng = np.random.default_rng(seed)
        self.n_classes = n_classes
        self.classes = tuple(f"c{c}" for c in range(n_classes))
        self.annotators = {a.name: a for a in annotators}
        self.class_p = (
            None if class_weights is None else np.asarray(class_weights) / sum(class_weights)
        )
        self.truth: dict[str, str] = {}

    def label_items(
        self, n_items: int, labels_per_item: int, active: Sequence[str] | None = None
    ) -> list[tuple[str, str, str]]:
        """Creates `n_items` new items, each labelled by `labels_per_item` distinct annotators
        drawn uniformly from `active` (default: everybody); labels in arrival order."""
        pool = list(self.annotators) if active is None else list(active)
        if labels_per_item > len(pool):
            raise ValueError("more labels per item than active annotators")
        labels: list[tuple[str, str, str]] = []
        for _ in range(n_items):
            true_code = int(self.rng.choice(self.n_classes, p=self.class_p))
            item = f"item-{len(self.truth)}"
            self.truth[item] = self.classes[true_code]
            for a in self.rng.choice(len(pool), size=labels_per_item, replace=False):
                annotator = self.annotators[pool[a]]
                answer = annotator.answer(true_code, self.n_classes, self.rng)
                labels.append((item, annotator.name, self.classes[answer]))
        return labels


def simulate_crowd(
    *,
    seed: int,
    n_items: int,
    n_classes: int,
    annotators: Sequence[SimulatedAnnotator],
    labels_per_item: int,
    class_weights: Sequence[float] | None = None,
) -> Crowd:
    """A whole crowd at once: each item gets `labels_per_item` distinct annotators drawn
    uniformly, so everybody labels about `n_items * labels_per_item / len(annotators)` items."""
    stream = CrowdStream(
        seed=seed, n_classes=n_classes, annotators=annotators, class_weights=class_weights
    )
    labels = stream.label_items(n_items, labels_per_item)
    return Crowd(stream.classes, stream.truth, tuple(annotators), labels)
