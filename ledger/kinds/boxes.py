"""Boxes: a label is the JSON text `[x_min, y_min, x_max, y_max]`; two agree when their area of
intersection over union reaches the dataset's threshold."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ledger.kinds.base import overlap_ratio
from ledger.kinds.coordinates import CoordinateKind

SHAPE = "a box [x_min, y_min, x_max, y_max] with x_min <= x_max and y_min <= y_max"


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Area of intersection over area of union. Touching boxes share no area: IoU 0."""
    for box in (a, b):
        if len(box) != 4 or box[2] < box[0] or box[3] < box[1]:
            raise ValueError(f"not a box [x_min, y_min, x_max, y_max]: {list(box)}")
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    intersection = width * height
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    return overlap_ratio(intersection, area_a + area_b - intersection, list(a) == list(b))


def box_iou_matrix(a: Any, b: Any) -> Any:
    """`box_iou` of every box (row) of `a` with every box of `b`, as a matrix (the same
    arithmetic, element by element, zero-area boxes included)."""
    width = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    height = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    intersection = np.maximum(width, 0.0) * np.maximum(height, 0.0)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - intersection
    identical = (a[:, None, :] == b[None, :, :]).all(axis=2)
    positive = union > 0
    return np.where(positive, intersection / np.where(positive, union, 1.0), identical * 1.0)


class Boxes(CoordinateKind):
    name = "boxes"
    count = 4
    integers = False
    shape = SHAPE
    summary = "one box per item: [x_min, y_min, x_max, y_max] in pixels"
    media = ("image", "video")
    measure = "intersection over union (IoU) of the two boxes"

    def in_order(self, numbers: list[Any]) -> bool:
        return bool(numbers[0] <= numbers[2] and numbers[1] <= numbers[3])  # False for NaN too

    def overlap(self, a: Sequence[float], b: Sequence[float]) -> float:
        return box_iou(a, b)
