"""Objects: many boxes per image, each with a class (every car, every person). A label is the
JSON list `[{"class": "car", "box": [x_min, y_min, x_max, y_max]}, ...]`, possibly empty (nothing
to mark); two labels agree by the F1 of their boxes paired by the Hungarian assignment on IoU,
a pair counting when of one class with IoU >= 0.5 (the PASCAL VOC / COCO AP50 match)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ledger.kinds.boxes import box_iou, box_iou_matrix
from ledger.kinds.coordinates import numbers_in
from ledger.kinds.structured import ClassedSetKind


def read_box(raw: Any) -> list[float]:
    """A box `[x_min, y_min, x_max, y_max]` of finite numbers, min before max; ValueError."""
    box = numbers_in(raw, 4, integers=False)
    if box is None or not (box[0] <= box[2] and box[1] <= box[3]):
        raise ValueError("box: [x_min, y_min, x_max, y_max] with x_min <= x_max, y_min <= y_max")
    return box


class Objects(ClassedSetKind):
    name = "objects"
    summary = "any number of boxes per image, each with a class"
    media = ("image",)
    measure = "F1 of boxes paired by Hungarian assignment on IoU, a pair of one class at IoU >= 0.5"
    classes_are = "the classes of the objects"
    shape = 'a list of objects {"class": c, "box": [x_min, y_min, x_max, y_max]}'
    fields = ("box",)

    def read_geometry(self, obj: Mapping[str, Any]) -> Any:
        return read_box(obj["box"])

    def overlap(self, a: Any, b: Any) -> float:
        return box_iou(a, b)

    def overlap_matrix(self, a: Sequence[Any], b: Sequence[Any]) -> npt.NDArray[np.float64]:
        """All pairs at once (500 boxes a side make 250,000 pairs)."""
        boxes_a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
        boxes_b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
        return np.asarray(box_iou_matrix(boxes_a, boxes_b), dtype=np.float64)
