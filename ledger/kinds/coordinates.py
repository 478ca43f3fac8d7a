"""What the coordinate kinds (boxes, spans) share: a label is the JSON text of a list of finite
numbers, stored in one canonical spelling."""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from ledger.kinds.base import Answer, NotAnAnswer
from ledger.kinds.jsontext import NotJson, canonical_json, is_number, read_json
from ledger.kinds.structured import JsonKind


def numbers_in(doc: Any, count: int, *, integers: bool) -> list[Any] | None:
    """`doc` if it is a list of `count` numbers (integers only when `integers`), else None."""
    if not isinstance(doc, list) or len(doc) != count or not all(is_number(n) for n in doc):
        return None
    if integers and not all(isinstance(n, int) for n in doc):
        return None
    return doc


def read_point(raw: Any) -> tuple[float, float] | None:
    """`raw` as a point if it is `[x, y]` of finite numbers, else None. JSON reads a literal
    beyond the doubles, 1e400, as infinity, so finiteness is checked here and not only by
    refusing NaN and Infinity."""
    pair = numbers_in(raw, 2, integers=False)
    if pair is None:
        return None
    try:
        x, y = float(pair[0]), float(pair[1])
    except OverflowError:  # an integer literal beyond the doubles
        return None
    return (x, y) if math.isfinite(x) and math.isfinite(y) else None


class CoordinateKind(JsonKind):
    """A kind whose label is the JSON text of `count` numbers (integers only when `integers`) in
    the order `in_order` checks, described to a client as `shape`."""

    count: ClassVar[int]
    integers: ClassVar[bool]
    max_chars = 200

    @abstractmethod
    def in_order(self, numbers: list[Any]) -> bool:
        """Whether the numbers make a well-formed label (e.g. a box's min before its max)."""

    @abstractmethod
    def overlap(self, a: Sequence[float], b: Sequence[float]) -> float:
        """The kind's measure of two parsed labels, in [0, 1]."""

    def normalize(self, value: str) -> str:
        # only a list of the right numbers is respelled: [4.0, 9] stays as it is, for `parse` to
        # refuse as a span (offsets are integers), rather than becoming the span [4,9]
        try:
            doc = read_json(value)
        except NotJson:
            return value
        if numbers_in(doc, self.count, integers=self.integers) is None:
            return value
        return canonical_json(doc)

    def refusal(self, where: str) -> str:
        return f"is not {self.shape} ({where})"

    def parse(self, value: str, *, classes: Sequence[str], where: str) -> Answer:
        try:
            return super().parse(value, classes=classes, where=where)
        except NotAnAnswer:
            raise NotAnAnswer(f"{value!r} {self.refusal(where)}") from None

    def read_doc(self, doc: Any, *, classes: Sequence[str], where: str) -> Answer:
        numbers = numbers_in(doc, self.count, integers=self.integers)
        if numbers is None or not self.in_order(numbers):
            raise NotAnAnswer(self.refusal(where))
        return numbers

    def similarity(self, a: Answer, b: Answer) -> float:
        if isinstance(a, str) or isinstance(b, str):
            raise TypeError(f"a {self.name} answer is a sequence of coordinates")
        return self.overlap(a, b)
