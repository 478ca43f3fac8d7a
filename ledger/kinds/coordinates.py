"""What the coordinate kinds (boxes, spans) share: a label is the JSON text of a list of
numbers."""

from __future__ import annotations

import json
from typing import Any


def json_numbers(value: str, count: int, *, integers: bool) -> list[Any] | None:
    """`value` read as a JSON list of `count` numbers (integers only when `integers`; never
    booleans), else None."""
    try:
        numbers = json.loads(value)
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
