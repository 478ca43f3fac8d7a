"""What the coordinate kinds (boxes, spans) share: a label is the JSON text of a list of finite
numbers, stored in one canonical spelling."""

from __future__ import annotations

import json
import re
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, NoReturn

from ledger.kinds.base import Answer, LabelKind, NotAnAnswer


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a coordinate")


def json_numbers(value: str, count: int, *, integers: bool) -> list[Any] | None:
    """`value` read as a JSON list of `count` finite numbers (integers only when `integers`;
    never booleans, NaN or Infinity), else None."""
    try:
        numbers = json.loads(value, parse_constant=_no_constant)
    except ValueError:
        return None
    kinds = int if integers else int | float
    if (
        isinstance(numbers, list)
        and len(numbers) == count
        and all(isinstance(n, kinds) and not isinstance(n, bool) for n in numbers)
    ):
        return numbers
    return None


_EXPONENT = re.compile(r"e([+-])0*(\d)")


def _number(x: int | float) -> str:
    """One spelling per number: an integral value as an integer (1.0, 1e0 and 1 are "1"), else
    the shortest text that reads back as the same double, exponent without leading zeros."""
    if isinstance(x, int):
        return str(x)
    if x.is_integer() and abs(x) < 2**53:
        return str(int(x))
    return _EXPONENT.sub(r"e\1\2", repr(x))


def canonical(value: str, count: int, *, integers: bool) -> str:
    """The canonical text of a coordinate label, `[a,b,...]` without spaces, so that the label
    hash is the same whichever client wrote it; a value that is not one is returned as it is (its
    kind's `parse` refuses it)."""
    numbers = json_numbers(value, count, integers=integers)
    if numbers is None:
        return value
    return "[" + ",".join(_number(n) for n in numbers) + "]"


class CoordinateKind(LabelKind):
    """A kind whose label is the JSON text of `count` numbers (integers only when `integers`) in
    the order `in_order` checks, described to a client as `shape`."""

    count: ClassVar[int]
    integers: ClassVar[bool]
    shape: ClassVar[str]

    @abstractmethod
    def in_order(self, numbers: list[Any]) -> bool:
        """Whether the numbers make a well-formed label (e.g. a box's min before its max)."""

    @abstractmethod
    def overlap(self, a: Sequence[float], b: Sequence[float]) -> float:
        """The kind's measure of two parsed labels, in [0, 1]."""

    def normalize(self, value: str) -> str:
        return canonical(value, self.count, integers=self.integers)

    def similarity(self, a: Answer, b: Answer) -> float:
        if isinstance(a, str) or isinstance(b, str):
            raise TypeError(f"a {self.name} answer is a sequence of coordinates")
        return self.overlap(a, b)

    def parse(self, value: str, *, classes: Sequence[str], where: str) -> Answer:
        numbers = json_numbers(value, self.count, integers=self.integers)
        if numbers is None or not self.in_order(numbers):
            raise NotAnAnswer(f"{value!r} is not {self.shape} ({where})")
        return numbers
