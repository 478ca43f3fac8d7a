"""Text spans: a label is the JSON text `[start, end]` of character offsets, end excluded; two
agree when their shared characters over the characters in either reach the dataset's
threshold."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger.kinds.base import overlap_ratio
from ledger.kinds.coordinates import CoordinateKind

SHAPE = "a span [start, end] of character offsets with 0 <= start <= end"


def span_overlap(a: Sequence[int], b: Sequence[int]) -> float:
    """Shared characters over characters in either half-open range `[start, end)`."""
    for span in (a, b):
        if len(span) != 2 or span[1] < span[0]:
            raise ValueError(f"not a span [start, end): {list(span)}")
    intersection = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - intersection
    return overlap_ratio(intersection, union, list(a) == list(b))


class Spans(CoordinateKind):
    name = "spans"
    count = 2
    integers = True
    shape = SHAPE
    summary = "one text span per item: [start, end) character offsets"
    media = ("text",)
    measure = "shared characters over the characters in either (span IoU)"

    def in_order(self, numbers: list[Any]) -> bool:
        return bool(0 <= numbers[0] <= numbers[1])

    def overlap(self, a: Sequence[float], b: Sequence[float]) -> float:
        offsets = [*a, *b]
        if not all(isinstance(x, int) for x in offsets):
            raise TypeError(f"span offsets are character positions, integers: {offsets}")
        return span_overlap([int(x) for x in a], [int(x) for x in b])
