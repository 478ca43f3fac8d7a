"""What a label kind is: the one place that knows how a label of that kind is written, checked,
normalised, compared, combined, graded against gold and delivered to its buyer. The service, the
quality layer, settlement and the agreement report ask a kind (through
`ledger.kinds.kind_named`) and never branch on which one it is."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from ledger.kit.types import nfc
from ledger.quality.agreement import Consensus, consensus

Answer = Any
"""A label's value as its kind compares it (a class name, a list of coordinates, a list of
objects...): whatever the kind's `parse` returns and its `similarity` takes."""

#: The most characters a label's text may have, whatever its kind (a mask or a track of a long
#: video is the largest); each kind sets its own, smaller, limit in `max_chars`.
MAX_LABEL_CHARS = 1_000_000

#: The most classes (or keypoint names, answers, criteria) a dataset lists.
MAX_CLASSES = 1000


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

    What the dataset's `label_classes` are to the kind (`classes_are`): the classes a label
    picks from, the keypoints of a skeleton, the answers ranked, the criteria rated; empty when
    `needs_classes` is False.

    `single_class`: a label is exactly one of the classes, so the class aggregators (majority
    vote, Wawa, Dawid-Skene) and the kappa/alpha report apply.
    `exact`: two labels agree only when their canonical texts are equal, so a gold answer is
    graded by its bytes (the graded hash of the label itself) rather than by a similarity.
    `reviewed_only`: no measure says whether two labels agree (a written answer), so the dataset
    is verified by its reviewers and takes neither consensus nor gold items."""

    name: ClassVar[str]
    #: One line for the API's description, the web app and the README.
    summary: ClassVar[str]
    #: What it labels: "image", "text", "audio", "video", "3d", "llm" or "any".
    media: ClassVar[tuple[str, ...]] = ("any",)
    #: How two labels are compared, in words (the README's table).
    measure: ClassVar[str]
    needs_classes: ClassVar[bool] = False
    classes_are: ClassVar[str] = "classes"
    single_class: ClassVar[bool] = False
    exact: ClassVar[bool] = False
    reviewed_only: ClassVar[bool] = False
    max_chars: ClassVar[int] = 200

    # --- the dataset's classes ---

    def check_classes(self, classes: list[str]) -> list[str]:
        """The classes a dataset of this kind keeps, given what its buyer listed; ValueError
        saying what is wrong. By default: required when `needs_classes`, refused otherwise."""
        if self.needs_classes and not classes:
            raise ValueError(
                f"a dataset of {self.name} labels needs label_classes: {self.classes_are}"
            )
        if not self.needs_classes and classes:
            raise ValueError(f"{self.name} datasets take no label_classes")
        return classes

    # --- one label ---

    def normalize(self, value: str) -> str:
        """The value as it is stored, hashed and compared: one text per label, whichever client
        wrote it. A value that is not a label comes back as it is, for `parse` to refuse."""
        return nfc(value)

    def read(self, value: str, *, classes: Sequence[str], where: str) -> Answer:
        """`parse`, after the kind's size limit."""
        if len(value) > self.max_chars:
            raise NotAnAnswer(
                f"a {self.name} label is at most {self.max_chars} characters; this one has "
                f"{len(value)} ({where})"
            )
        return self.parse(value, classes=classes, where=where)

    @abstractmethod
    def parse(self, value: str, *, classes: Sequence[str], where: str) -> Answer:
        """The value as `similarity` takes it; NotAnAnswer naming `where` (e.g. "dataset 3")
        when it is not a label of this kind."""

    # --- two or more labels ---

    @abstractmethod
    def similarity(self, a: Answer, b: Answer) -> float:
        """How alike two parsed answers are, in [0, 1]."""

    def agree(self, a: Answer, b: Answer, threshold: float) -> bool:
        """Whether two answers are the same label for the dataset's agreement threshold."""
        return self.similarity(a, b) >= threshold

    def consensus(self, answers: Sequence[Answer], threshold: float) -> Consensus:
        """Which of several answers to one item is the item's: by default the answer agreeing
        with the most others, always one an annotator gave (see quality.agreement.consensus)."""
        return consensus(answers, self.similarity, threshold)

    def graded_right(self, answer: Answer, gold: Answer, threshold: float) -> bool:
        """Whether a label is right against its item's gold answer."""
        return self.agree(answer, gold, threshold)

    # --- what the buyer downloads ---

    def delivered(self, value: str) -> Any:
        """The stored text as the buyer downloads it (`answer` beside `value`): the JSON value
        itself for a structured kind, so nobody parses JSON inside JSON."""
        return value

    def from_delivered(self, answer: Any) -> str:
        """The label text of a delivered answer (or a gold answer uploaded as JSON): the inverse
        of `delivered`, so a delivered label reads back as the same label. NotAnAnswer when it
        is not one."""
        if not isinstance(answer, str):
            raise NotAnAnswer(f"must be a text (a {self.name} label)")
        return self.normalize(answer)
