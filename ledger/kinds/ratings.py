"""Ratings: an item shows a prompt and a model's answer, and a label rates the answer on each of
the dataset's criteria on a Likert scale of 1 to 5. The dataset's label_classes are the criteria
(1 to 20, e.g. helpfulness, honesty, harmlessness); a label is the JSON object of every criterion
exactly once with its rating, an integer from 1 to 5, e.g. `{"harmlessness": 5, "helpfulness":
4, "honesty": 5}` (stored with its keys sorted).

Two labels agree by 1 - mean |a_c - b_c| / (5 - 1) over the criteria c: 1 for the same ratings,
0 when one rated every criterion 1 and the other 5, and a rating one point off on one criterion
of k costs 1 / (4 k). The scale's points are ordered and evenly spaced (that is what a Likert
scale claims), so a distance is fairer than equality: 4 against 5 is a near miss, 1 against 5 is
not."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from ledger.kinds.base import Answer, NotAnAnswer
from ledger.kinds.jsontext import NotJson, canonical_json, read_json
from ledger.kinds.structured import JsonKind
from ledger.kit.types import nfc

MAX_CRITERIA = 20
LOWEST, HIGHEST = 1, 5


class Ratings(JsonKind):
    """Consensus is the base kind's: the ratings agreeing with the most others, then the nearest
    all the others. It is a label an annotator gave (not a per-criterion median nobody gave), so
    the ledger pays exactly the labels matching it."""

    name = "ratings"
    summary = "a rating of 1 to 5 on each of the dataset's criteria"
    media = ("llm",)
    measure = "1 - mean absolute difference of the ratings / (5 - 1)"
    needs_classes = True
    classes_are = f"the criteria rated (1 to {MAX_CRITERIA}, e.g. helpfulness, honesty)"
    #: The lowest and highest rating.
    scale: ClassVar[tuple[int, int]] = (LOWEST, HIGHEST)
    # twenty criteria of up to 200 characters, even if every character is written as a \u escape
    max_chars = MAX_CRITERIA * (200 * 6 + 10) + 2
    shape = (
        f"a JSON object rating every criterion once, an integer from {LOWEST} to {HIGHEST}, "
        f'e.g. {{"helpfulness": 4, "honesty": 5}}'
    )

    def check_classes(self, classes: list[str]) -> list[str]:
        if not 1 <= len(classes) <= MAX_CRITERIA:
            raise ValueError(
                f"a ratings dataset lists the criteria it rates as label_classes: 1 to "
                f'{MAX_CRITERIA} of them, e.g. ["helpfulness", "honesty", "harmlessness"]'
            )
        return classes

    def normalize(self, value: str) -> str:
        """The canonical spelling (keys in NFC, sorted); a value that is not an object of
        integers comes back as it is for `parse` to refuse (so 4.0 is never made into 4)."""
        try:
            doc = read_json(value)
        except NotJson:
            return value
        if not _integers_by_name(doc):
            return value
        return canonical_json(doc)

    def read_doc(self, doc: Any, *, classes: Sequence[str], where: str) -> Answer:
        if not isinstance(doc, dict):
            raise NotAnAnswer(self.refusal(where))
        ratings = {nfc(criterion): rating for criterion, rating in doc.items()}
        if len(ratings) != len(doc):
            raise NotAnAnswer(f"a criterion is rated twice ({where})")
        unknown = [c for c in ratings if c not in classes]
        if unknown:
            raise NotAnAnswer(
                f"{unknown[0]!r} is not a criterion of {where}; criteria: {', '.join(classes)}"
            )
        missing = [c for c in classes if c not in ratings]
        if missing:
            raise NotAnAnswer(
                f"{', '.join(repr(m) for m in missing)} not rated: a label rates every "
                f"criterion of {where}"
            )
        low, high = self.scale
        for criterion, rating in ratings.items():
            # bool is an int in Python, and true is not a rating
            if isinstance(rating, bool) or not isinstance(rating, int) or not low <= rating <= high:
                raise NotAnAnswer(
                    f"{criterion!r} is rated {json.dumps(rating)}: a rating is an integer "
                    f"from {low} to {high} ({where})"
                )
        return ratings

    def similarity(self, a: Answer, b: Answer) -> float:
        if not isinstance(a, Mapping) or not isinstance(b, Mapping):
            raise TypeError("a ratings answer is a mapping of criteria to ratings")
        if set(a) != set(b) or not a:
            raise ValueError(f"not two ratings of the same criteria: {sorted(a)}, {sorted(b)}")
        low, high = self.scale
        mean_difference = sum(abs(int(a[c]) - int(b[c])) for c in a) / len(a)
        return 1.0 - mean_difference / (high - low)


def _integers_by_name(doc: Any) -> bool:
    """Whether `doc` is a JSON object of integers (no booleans, no 4.0): a ratings label's shape
    before the dataset's criteria and scale are known."""
    return isinstance(doc, dict) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in doc.values()
    )
