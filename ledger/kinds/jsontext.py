"""Labels written as JSON: read without NaN or Infinity, and written back in one canonical
spelling (keys sorted, no spaces, one text per number, strings in NFC), so that a label's hash is
the same whichever client wrote it and however it ordered its keys or spelled its numbers."""

from __future__ import annotations

import json
import math
import re
from typing import Any, NoReturn

from ledger.kit.types import nfc

#: Deeper than any kind's document: a label nested deeper is refused before it is walked.
MAX_DEPTH = 8


class NotJson(ValueError):
    """The text is not a JSON document a label can be."""


def _no_constant(name: str) -> NoReturn:
    raise NotJson(f"{name} is not a number a label may hold")


#: The largest integer every client reads exactly: a JSON number is a double in JavaScript.
MAX_SAFE_INTEGER = 2**53 - 1


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # "1e400" reads as infinity
        raise NotJson(f"{text} is beyond the numbers a label may hold")
    return number


def _safe_int(text: str) -> int:
    number = int(text)
    if abs(number) > MAX_SAFE_INTEGER:
        raise NotJson(f"{text} is beyond the integers every client reads exactly (2^53 - 1)")
    return number


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise NotJson(f"the key {key!r} appears twice")
        found[key] = value
    return found


def read_json(value: str) -> Any:
    """`value` as JSON; NotJson for text that is not JSON, holds NaN or Infinity, a number beyond
    the doubles (1e400) or an integer beyond 2^53 - 1 (which a JavaScript client rounds), a key
    twice (which one would count is the parser's whim), or is nested deeper than MAX_DEPTH."""
    try:
        doc = json.loads(
            value,
            parse_constant=_no_constant,
            parse_float=_finite_float,
            parse_int=_safe_int,
            object_pairs_hook=_unique_keys,
        )
    except NotJson:
        raise
    except (ValueError, RecursionError):
        raise NotJson("not JSON") from None
    if _depth(doc) > MAX_DEPTH:
        raise NotJson(f"nested more than {MAX_DEPTH} levels deep")
    return doc


def _depth(doc: Any) -> int:
    deepest, stack = 0, [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        if isinstance(value, dict):
            stack.extend((inner, depth + 1) for inner in value.values())
        elif isinstance(value, list):
            stack.extend((inner, depth + 1) for inner in value)
    return deepest


def is_number(value: Any) -> bool:
    """A JSON number: an int or a finite float, never a boolean."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or math.isfinite(value)


_EXPONENT = re.compile(r"e([+-])0*(\d)")


def number_text(x: int | float) -> str:
    """One spelling per number: an integral value as an integer (1.0, 1e0 and 1 are "1"), else
    the shortest text that reads back as the same double, exponent without leading zeros."""
    if isinstance(x, int):
        return str(x)
    if x.is_integer() and abs(x) < 2**53:
        return str(int(x))
    return _EXPONENT.sub(r"e\1\2", repr(x))


def canonical_json(doc: Any) -> str:
    """`doc` written canonically: objects with their keys sorted, no spaces, numbers by
    `number_text`, strings in NFC. Lists keep their order: a kind whose label is a set sorts it
    first."""
    if doc is None or isinstance(doc, bool):
        return json.dumps(doc)
    if isinstance(doc, int | float):
        return number_text(doc)
    if isinstance(doc, str):
        return json.dumps(nfc(doc), ensure_ascii=False)
    if isinstance(doc, list | tuple):
        return "[" + ",".join(canonical_json(v) for v in doc) + "]"
    if isinstance(doc, dict):
        items = sorted(((nfc(str(k)), v) for k, v in doc.items()), key=lambda kv: kv[0])
        return "{" + ",".join(f"{canonical_json(k)}:{canonical_json(v)}" for k, v in items) + "}"
    raise TypeError(f"{type(doc).__name__} is not JSON")
