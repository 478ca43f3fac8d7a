"""What the coordinate kinds (boxes, spans) share: a label is the JSON text of a list of finite
numbers, stored in one canonical spelling."""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn


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
