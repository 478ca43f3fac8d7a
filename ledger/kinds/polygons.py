"""Polygons: any number of outlined regions per image, each with a class (every building, every
leaf). A label is the JSON list `[{"class": "roof", "points": [[x, y], [x, y], [x, y], ...]},
...]`, possibly empty (nothing to outline): each polygon's points are the vertices of its outer
ring in drawing order, 3 to 1000 of them, finite numbers, drawing a simple polygon (its edges
neither cross nor touch each other, and it encloses an area); at most 500 polygons.

The list is a set, stored sorted; the points keep the order they were drawn in. A ring written
closed (its last point repeating its first, as GeoJSON and shapely write it) is stored open, as
COCO and most annotation tools write it, so the two spellings are one label.

Two labels agree by the F1 of their polygons paired by the Hungarian assignment on polygon IoU
(area of intersection over area of union, computed by shapely/GEOS), a pair counting when of one
class with IoU >= 0.5: the objects kind's rule, with outlines instead of boxes."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from shapely.geometry import Polygon
from shapely.validation import explain_validity

from ledger.kinds.base import overlap_ratio
from ledger.kinds.coordinates import numbers_in
from ledger.kinds.structured import ClassedSetKind

MIN_POINTS = 3
MAX_POINTS = 1000


def open_ring(points: Any) -> Any:
    """`points` without a last point repeating the first (a ring written closed); anything
    else as it is, for `read_polygon` to judge."""
    if isinstance(points, list) and len(points) > 1 and points[-1] == points[0]:
        return points[:-1]
    return points


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
    max_objects = 500
    # Room for 500 polygons of 20 points at full float precision (~30 characters a point); the
    # similarity overlays pairs of polygons, so the label's size also bounds its cost.
    max_chars = 300_000

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
