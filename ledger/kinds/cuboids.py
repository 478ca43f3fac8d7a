"""Cuboids: every object of a 3D point cloud (a lidar sweep) as a box standing upright and turned
about the vertical axis, with a class. A label is the JSON list
`[{"class": "car", "center": [x, y, z], "size": [length, width, height], "yaw": radians}, ...]`,
possibly empty (nothing to mark), at most 200 cuboids, every number finite and every size > 0:
the box's length lies along its heading, which is `yaw` radians counterclockwise from the x axis
in the x-y plane, its width across it, its height along z, centred on `center`. Yaw is any
finite number and is stored as written (3.2 is not turned into 3.2 - 2 pi): the canonical text
changes only a number's spelling, never its value.

Two cuboids overlap by their 3D IoU: the area shared by their footprints (rotated rectangles in
the x-y plane, intersected as shapely polygons) times the overlap of their z ranges, over the
volume in either; two labels agree by the F1 of their cuboids paired by the Hungarian assignment
on 3D IoU, a pair counting when of one class at IoU >= 0.5."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import shapely

from ledger.kinds.segments import finite_number
from ledger.kinds.structured import ClassedSetKind


class Cuboid(NamedTuple):
    x: float
    y: float
    z: float
    length: float
    width: float
    height: float
    yaw: float


def cuboid_ious(first: Sequence[Cuboid], second: Sequence[Cuboid]) -> Any:
    """The 3D IoU of each pair `(first[k], second[k])`, as an array.

    IoU does not change when both boxes move, turn or grow together, so each pair is compared
    in the frame of its larger box (the larger largest side; the lexicographically larger
    numbers on a tie, so a pair gives the same float either way round): that box centred at
    the origin, axis-aligned, its largest side 1. The numbers are then near 1 whatever the
    scene's units (a map's coordinates, millimetres), no volume overflows or vanishes, and the
    smaller box's footprint is clipped by the larger's rectangle with `shapely.clip_by_rect`,
    vectorised over every pair sharing that rectangle. Boxes whose z ranges, or whose
    footprints' circumscribed circles, do not meet share nothing and are not clipped; equal
    boxes are 1.0 without arithmetic."""
    a = np.array(first, dtype=np.float64).reshape(-1, 7)
    b = np.array(second, dtype=np.float64).reshape(-1, 7)
    ious = np.zeros(len(a))
    equal = (a == b).all(axis=1)
    ious[equal] = 1.0
    key_a = np.column_stack([a[:, 3:6].max(axis=1), a])
    key_b = np.column_stack([b[:, 3:6].max(axis=1), b])
    differs = key_a != key_b
    first_difference = differs.argmax(axis=1)
    pairs = np.arange(len(a))
    b_larger = key_b[pairs, first_difference] > key_a[pairs, first_difference]
    big = np.where(b_larger[:, None], b, a)
    small = np.where(b_larger[:, None], a, b)
    with np.errstate(over="ignore"):  # centres 2e308 apart are apart, overflow or not
        offset = small[:, :3] - big[:, :3]
        reach = np.hypot(big[:, 3], big[:, 4]) / 2 + np.hypot(small[:, 3], small[:, 4]) / 2
        apart = (np.abs(offset[:, 2]) >= big[:, 5] / 2 + small[:, 5] / 2) | (
            np.hypot(offset[:, 0], offset[:, 1]) >= reach
        )
    near = np.flatnonzero(~equal & ~apart)
    if len(near) == 0:
        return ious
    big, small, offset = big[near], small[near], offset[near]
    unit = big[:, 3:6].max(axis=1)
    x, y, z = (offset / unit[:, None]).T
    length, width, height = (big[:, 3:6] / unit[:, None]).T
    small_length, small_width, small_height = (small[:, 3:6] / unit[:, None]).T
    cos_big, sin_big = np.cos(big[:, 6]), np.sin(big[:, 6])
    cos_small, sin_small = np.cos(small[:, 6]), np.sin(small[:, 6])
    # the small box's centre and heading in the big box's frame (the angle of the difference
    # by its sine and cosine: the difference of two yaws near 1e308 would overflow)
    u, v = cos_big * x + sin_big * y, cos_big * y - sin_big * x
    cos_turn = cos_small * cos_big + sin_small * sin_big
    sin_turn = sin_small * cos_big - cos_small * sin_big
    corners = []
    for along, across in ((1, 1), (-1, 1), (-1, -1), (1, -1), (1, 1)):
        dx, dy = along * small_length / 2, across * small_width / 2
        corners.append(
            np.column_stack([u + cos_turn * dx - sin_turn * dy, v + sin_turn * dx + cos_turn * dy])
        )
    footprints = shapely.polygons(np.stack(corners, axis=1))
    shared_area = np.empty(len(near))
    rectangles, which = np.unique(np.column_stack([length, width]), axis=0, return_inverse=True)
    for n, (rectangle_length, rectangle_width) in enumerate(rectangles):
        group = np.flatnonzero(which == n)
        half_length, half_width = rectangle_length / 2, rectangle_width / 2
        clipped = shapely.clip_by_rect(
            footprints[group], -half_length, -half_width, half_length, half_width
        )
        shared_area[group] = shapely.area(clipped)
    top = np.minimum(height / 2, z + small_height / 2)
    bottom = np.maximum(-height / 2, z - small_height / 2)
    intersection = shared_area * np.maximum(top - bottom, 0.0)
    union = length * width * height + small_length * small_width * small_height - intersection
    positive = union > 0
    ratio = np.where(positive, intersection / np.where(positive, union, 1.0), 0.0)
    ious[near] = np.clip(ratio, 0.0, 1.0)
    return ious


def cuboid_iou(a: Cuboid, b: Cuboid) -> float:
    """Volume in both cuboids over volume in either (see `cuboid_ious`)."""
    return float(cuboid_ious([a], [b])[0])


def _numbers(raw: Any, count: int) -> list[float] | None:
    if not isinstance(raw, list) or len(raw) != count:
        return None
    numbers = [finite_number(x) for x in raw]
    return None if None in numbers else [x for x in numbers if x is not None]


class Cuboids(ClassedSetKind):
    name = "cuboids"
    summary = "any number of classed 3D boxes per point cloud, turned about the vertical axis"
    media = ("3d",)
    measure = (
        "F1 of cuboids paired by Hungarian assignment on 3D IoU (footprint intersection times "
        "z overlap over union volume), a pair of one class at IoU >= 0.5"
    )
    classes_are = "the classes of the objects"
    shape = (
        'a list of cuboids {"class": c, "center": [x, y, z], "size": [length, width, height], '
        '"yaw": radians}, sizes > 0'
    )
    fields = ("center", "size", "yaw")
    # 500 cuboids a side are 250,000 oriented overlays, 1.8 s a comparison (scripts/bench-kinds);
    # 200 keep an item's consensus of three labels within a second.
    max_objects = 200

    def read_geometry(self, obj: Mapping[str, Any]) -> Any:
        center, size = _numbers(obj["center"], 3), _numbers(obj["size"], 3)
        yaw = finite_number(obj["yaw"])
        if center is None:
            raise ValueError("center: [x, y, z], finite numbers")
        if size is None or not all(side > 0 for side in size):
            raise ValueError("size: [length, width, height], finite numbers > 0")
        if yaw is None:
            raise ValueError("yaw: a finite number of radians")
        (x, y, z), (length, width, height) = center, size
        return Cuboid(x, y, z, length, width, height, yaw)

    def overlap(self, a: Any, b: Any) -> float:
        return cuboid_iou(a, b)

    def overlap_matrix(self, a: Sequence[Any], b: Sequence[Any]) -> npt.NDArray[np.float64]:
        """All pairs at once (500 cuboids a side make 250,000 pairs, which one shapely
        intersection at a time takes tens of seconds over)."""
        scores = np.zeros((len(a), len(b)), dtype=np.float64)
        rows, cols = np.indices((len(a), len(b))).reshape(2, -1)
        if rows.size:
            scores[rows, cols] = cuboid_ious([a[i] for i in rows], [b[j] for j in cols])
        return scores
