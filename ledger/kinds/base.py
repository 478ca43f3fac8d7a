"""What a label kind is: the one place that knows how a label of that kind is written, checked,
normalised and compared. The service, the quality layer and settlement ask a kind (through
`ledger.kinds.kind_named`) and never branch on which one it is."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

Answer = str | Sequence[float]
"""A label's value as a kind compares it: a class name, or a sequence of coordinates."""


class NotAnAnswer(ValueError):
    """A value that is not a label of the kind; the message says what one is."""


def overlap_ratio(intersection: float, union: float, identical: bool) -> float:
    """Intersection over union; a zero union (two empty shapes) is 1 when the shapes are equal
    and 0 otherwise, so a degenerate answer still matches itself and nothing else."""
    if union <= 0:
        return 1.0 if identical else 0.0
    return intersection / union


class LabelKind(ABC):
    """One kind of label.

    `takes_classes`: the dataset lists its classes and every label is one of them, so the class
    aggregators (majority vote, Wawa, Dawid-Skene) and the kappa/alpha report apply.
    `exact`: two labels agree only when their values are equal, so a gold answer is graded by its
    bytes (the graded hash of the label itself) rather than by a similarity."""

    name: ClassVar[str]
    takes_classes: ClassVar[bool] = False
    exact: ClassVar[bool] = False

    def normalize(self, value: str) -> str:
        """The value as it is stored and compared."""
        return value

    @abstractmethod
    def parse(self, value: str, *, classes: Sequence[str], where: str) -> Answer:
        """The value as `similarity` takes it; NotAnAnswer naming `where` (e.g. "dataset 3")
        when it is not a label of this kind."""

    @abstractmethod
    def similarity(self, a: Answer, b: Answer) -> float:
        """How alike two parsed answers are, in [0, 1]."""
