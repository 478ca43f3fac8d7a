"""Segments: classed stretches of an audio or video recording (who speaks when, where the music
plays). A label is the JSON list `[{"class": "speech", "start": 1.2, "end": 3.4}, ...]` of times
in seconds, finite, 0 <= start < end, at most 500 segments, possibly empty (nothing to mark).
Two segments overlap by their temporal IoU: the time in both over the time in either; two labels
agree by the F1 of their segments paired by the Hungarian assignment on temporal IoU, a pair
counting when of one class with tIoU >= 0.5 (the ActivityNet / THUMOS detection match)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ledger.kinds.jsontext import is_number
from ledger.kinds.structured import ClassedSetKind

SEGMENT = "[start, end] in seconds, finite, with 0 <= start < end"


def finite_number(raw: Any) -> float | None:
    """`raw` as a float if it is a JSON number a float can hold (not a boolean, not NaN, not
    beyond the float range: JSON reads "1e400" as infinity and 10**400 as an integer no float
    holds), else None."""
    if not is_number(raw):
        return None
    try:
        number = float(raw)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def temporal_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Time in both `[start, end]` intervals over time in either. Overlapping intervals are
    covered by one stretch, so the union is the last end less the first start (which, unlike the
    sum of the lengths, never overflows for times a float holds); disjoint or touching intervals
    share nothing: 0. Each interval has start < end, so an interval matches itself (1.0)."""
    intersection = min(a[1], b[1]) - max(a[0], b[0])
    if intersection <= 0:
        return 0.0
    return intersection / (max(a[1], b[1]) - min(a[0], b[0]))


def temporal_iou_matrix(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]]) -> Any:
    """`temporal_iou` of every interval of `a` with every interval of `b`, as a matrix (the
    same arithmetic, element by element)."""
    x = np.asarray(a, dtype=np.float64).reshape(-1, 2)[:, None, :]
    y = np.asarray(b, dtype=np.float64).reshape(-1, 2)[None, :, :]
    intersection = np.minimum(x[..., 1], y[..., 1]) - np.maximum(x[..., 0], y[..., 0])
    union = np.maximum(x[..., 1], y[..., 1]) - np.minimum(x[..., 0], y[..., 0])
    overlapping = intersection > 0
    return np.where(overlapping, intersection / np.where(overlapping, union, 1.0), 0.0)


class Segments(ClassedSetKind):
    name = "segments"
    summary = "any number of classed time segments per recording: start and end in seconds"
    media = ("audio", "video")
    measure = (
        "F1 of segments paired by Hungarian assignment on temporal IoU, a pair of one class at "
        "tIoU >= 0.5"
    )
    classes_are = "the classes of the segments"
    shape = 'a list of segments {"class": c, "start": seconds, "end": seconds}, 0 <= start < end'
    fields = ("start", "end")
    # The Hungarian assignment of segments all overlapping one another grows steeply: 2000 a
    # side took 5 s, 1000 half a second, 500 60 ms (scripts/bench-kinds), and an item's
    # consensus makes three while a submission waits.
    max_objects = 500
    # room for 500 segments with long class names and times at full float precision
    max_chars = 100_000

    def read_geometry(self, obj: Mapping[str, Any]) -> Any:
        start, end = finite_number(obj["start"]), finite_number(obj["end"])
        if start is None or end is None or not 0 <= start < end:
            raise ValueError(f"a segment is {SEGMENT}")
        return (start, end)

    def overlap(self, a: Any, b: Any) -> float:
        return temporal_iou(a, b)

    def overlap_matrix(self, a: Sequence[Any], b: Sequence[Any]) -> npt.NDArray[np.float64]:
        """All pairs at once (2000 segments a side make four million pairs)."""
        return np.asarray(temporal_iou_matrix(a, b), dtype=np.float64).reshape(len(a), len(b))
