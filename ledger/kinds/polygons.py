"""Polygons: any number of outlined regions per image, each with a class (every building, every
leaf). A label is the JSON list `[{"class": "roof", "points": [[x, y], [x, y], [x, y], ...]},
...]`, possibly empty (nothing to outline): each polygon's points are the vertices of its outer
ring in drawing order, 3 to 1000 of them, finite numbers, drawing a simple polygon (its edges
neither cross nor touch each other, and it encloses an area); at most 100 polygons.

The list is a set, stored sorted; the points keep the order they were drawn in. A ring written
closed (its last point repeating its first, as GeoJSON and shapely write it) is stored open, as
COCO and most annotation tools write it, so the two spellings are one label.

Two labels agree by the F1 of their polygons paired by the Hungarian assignment on polygon IoU
(area of intersection over area of union, computed by shapely/GEOS), a pair counting when of one
class with IoU >= 0.5: the objects kind's rule, with outlines instead of boxes."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import Polygon
from shapely.validation import explain_validity

from ledger.kinds.base import overlap_ratio
from ledger.kinds.coordinates import read_point
from ledger.kinds.structured import ClassedSetKind

MIN_POINTS = 3
MAX_POINTS = 1000


def open_ring(points: Any) -> Any:
    """`points` without a last point repeating the first (a ring written closed); anything
    else as it is, for `read_polygon` to judge."""
    if isinstance(points, list) and len(points) > 1 and points[-1] == points[0]:
        return points[:-1]
    return points


def read_polygon(raw: Any) -> Polygon:
    """The polygon whose ring is `raw`, a list of 3 to 1000 points `[x, y]` drawing a simple
    polygon of nonzero, finite area; ValueError saying what is wrong."""
    points = open_ring(raw)
    if not isinstance(points, list):
        raise ValueError("points: a list of points [x, y] of finite numbers")
    if not MIN_POINTS <= len(points) <= MAX_POINTS:
        raise ValueError(
            f"points: a polygon has {MIN_POINTS} to {MAX_POINTS} points; this one has {len(points)}"
        )
    ring = [read_point(p) for p in points]
    if any(p is None for p in ring):
        raise ValueError("points: a list of points [x, y] of finite numbers")
    polygon = Polygon(ring)
    if not polygon.is_valid or polygon.area <= 0:
        # explain_validity names the first crossing, e.g. "Self-intersection[5 5]"
        why = explain_validity(polygon) if not polygon.is_valid else "no area"
        raise ValueError(
            "points: not a simple polygon (its edges may neither cross nor touch, and it must "
            f"enclose a nonzero area): {why}"
        )
    if not math.isfinite(polygon.area):
        raise ValueError("points: the polygon's area overflows; coordinates are pixels")
    return polygon


def polygon_iou(a: Polygon, b: Polygon) -> float:
    """Area of intersection over area of union. Polygons that only touch share no area: IoU 0.
    The union is the two areas less the intersection, which is the area shapely's union gives
    up to rounding, and keeps the ratio in [0, 1] without a second overlay."""
    a_min_x, a_min_y, a_max_x, a_max_y = a.bounds
    b_min_x, b_min_y, b_max_x, b_max_y = b.bounds
    if a_max_x <= b_min_x or b_max_x <= a_min_x or a_max_y <= b_min_y or b_max_y <= a_min_y:
        return 0.0  # apart: no overlay needed, the common case among an image's objects
    intersection = float(a.intersection(b).area)
    union = float(a.area) + float(b.area) - intersection
    if union <= 0:  # not a polygon `read_polygon` gives, which has an area
        return overlap_ratio(intersection, union, a.equals(b))
    return min(1.0, max(0.0, intersection / union))


class Polygons(ClassedSetKind):
    name = "polygons"
    summary = "any number of polygons per image, each with a class"
    media = ("image",)
    measure = (
        "F1 of polygons paired by Hungarian assignment on polygon IoU, a pair of one class at "
        "IoU >= 0.5"
    )
    classes_are = "the classes of the objects"
    shape = 'a list of objects {"class": c, "points": [[x, y], [x, y], [x, y], ...]}'
    fields = ("points",)
    # The similarity overlays every pair of one class whose bounding boxes meet, and an item's
    # consensus compares its labels pairwise while a submission waits: 100 polygons a side, all
    # stacked on one another, keep three labels' consensus within a second on one core
    # (scripts/bench-kinds; 500 took 8 s).
    max_objects = 100
    # Room for 100 polygons of about 100 points (~20 characters a point); the overlays' cost
    # grows with the points, so the label's size also bounds it.
    max_chars = 200_000

    def ordered(self, doc: Any) -> Any:
        if isinstance(doc, list):
            doc = [
                {**obj, "points": open_ring(obj["points"])}
                if isinstance(obj, dict) and "points" in obj
                else obj
                for obj in doc
            ]
        return super().ordered(doc)

    def read_geometry(self, obj: Mapping[str, Any]) -> Any:
        return read_polygon(obj["points"])

    def overlap(self, a: Any, b: Any) -> float:
        return polygon_iou(a, b)

    def overlap_matrix(self, a: Sequence[Any], b: Sequence[Any]) -> npt.NDArray[np.float64]:
        """The overlays done at once by shapely's vectorised GEOS calls, and only for the pairs
        whose bounding boxes overlap (the others share no area)."""
        return polygon_iou_matrix(a, b)


def polygon_iou_matrix(a: Sequence[Polygon], b: Sequence[Polygon]) -> npt.NDArray[np.float64]:
    """`polygon_iou` of every pair, `a` by rows and `b` by columns."""
    scores = np.zeros((len(a), len(b)), dtype=np.float64)
    if not a or not b:
        return scores
    left, right = np.array(a, dtype=object), np.array(b, dtype=object)
    box_a, box_b = shapely.bounds(left), shapely.bounds(right)
    touching = (
        (box_a[:, None, 0] < box_b[None, :, 2])
        & (box_b[None, :, 0] < box_a[:, None, 2])
        & (box_a[:, None, 1] < box_b[None, :, 3])
        & (box_b[None, :, 1] < box_a[:, None, 3])
    )
    rows, cols = np.nonzero(touching)
    if rows.size == 0:
        return scores
    shared = shapely.area(shapely.intersection(left[rows], right[cols]))
    union = shapely.area(left[rows]) + shapely.area(right[cols]) - shared
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(union > 0, shared / union, 0.0)
    scores[rows, cols] = np.clip(ratio, 0.0, 1.0)
    return scores
