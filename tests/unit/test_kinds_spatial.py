"""The time, video and 3D kinds (segments, tracks, cuboids): their measures on hand-worked cases
and against plain references (the per-pair definition, `box_iou`, a Monte-Carlo volume), what
they refuse, one stored text per label, and a simulated crowd whose consensus finds the truth
more often than any one annotator does."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from shapely.geometry import Polygon

from ledger.kinds.base import LabelKind, NotAnAnswer
from ledger.kinds.boxes import box_iou, box_iou_matrix
from ledger.kinds.cuboids import Cuboid, Cuboids, cuboid_iou, cuboid_ious
from ledger.kinds.segments import Segments, temporal_iou, temporal_iou_matrix
from ledger.kinds.structured import ClassedSetKind
from ledger.kinds.tracks import Tracks, track_overlap

CLASSES = ("speech", "music", "car", "person", "café")
SEGMENTS, TRACKS, CUBOIDS = Segments(), Tracks(), Cuboids()


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 (reproducible test data)


def parse(kind: LabelKind, value: Any) -> Any:
    text = value if isinstance(value, str) else json.dumps(value)
    return kind.read(kind.normalize(text), classes=CLASSES, where="dataset 7")


def refused(kind: LabelKind, value: Any, match: str) -> None:
    """Refused as written, with the message `match`es, and refused once normalised too."""
    text = value if isinstance(value, str) else json.dumps(value)
    with pytest.raises(NotAnAnswer, match=match) as refusal:
        kind.read(text, classes=CLASSES, where="dataset 7")
    assert "dataset 7" in str(refusal.value)
    with pytest.raises(NotAnAnswer):
        parse(kind, text)


def per_pair(kind: ClassedSetKind, a: Any, b: Any) -> float:
    """The classed set kinds' definition: `matched_f1` of `overlap`, one pair at a time."""
    return ClassedSetKind.similarity(kind, a, b)


# --- segments ---


def segment(cls: str, start: Any, end: Any) -> dict[str, Any]:
    return {"class": cls, "start": start, "end": end}


@pytest.mark.parametrize(
    ("a", "b", "iou"),
    [
        ((0, 10), (5, 15), 5 / 15),  # both 5..10 = 5 s; either 0..15 = 15 s
        ((0, 10), (2, 4), 2 / 10),  # 2..4 inside 0..10
        ((1.2, 3.4), (1.2, 3.4), 1.0),
        ((0, 2), (2, 4), 0.0),  # touching: no time in both
        ((0, 2), (3, 4), 0.0),
        ((0.5, 1.5), (1.0, 3.0), 0.5 / 2.5),  # both 1.0..1.5; either 0.5..3.0
        ((0, 1.7e308), (0, 1.7e308), 1.0),  # the lengths' sum would overflow; the span does not
    ],
)
def test_temporal_iou_by_hand(a: tuple[float, float], b: tuple[float, float], iou: float) -> None:
    assert temporal_iou(a, b) == pytest.approx(iou)
    assert temporal_iou(b, a) == pytest.approx(iou)
    assert temporal_iou_matrix([a], [b])[0, 0] == pytest.approx(iou)


def test_segments_agree_by_the_f1_of_segments_matched_within_a_class() -> None:
    truth = parse(SEGMENTS, [segment("speech", 0, 10), segment("music", 10, 20)])
    # speech 1..10 against 0..10: tIoU 9/10, a match; music 10..13 against 10..20: 3/10, none;
    # one match among 2 + 2 segments: F1 = 2 * 1 / 4
    half = parse(SEGMENTS, [segment("speech", 1, 10), segment("music", 10, 13)])
    assert SEGMENTS.similarity(truth, half) == pytest.approx(0.5)
    # the same times under swapped classes match nothing
    swapped = parse(SEGMENTS, [segment("music", 0, 10), segment("speech", 10, 20)])
    assert SEGMENTS.similarity(truth, swapped) == 0.0
    # a missed segment: 1 match among 2 + 1: F1 = 2/3
    assert SEGMENTS.similarity(truth, truth[:1]) == pytest.approx(2 / 3)
    assert SEGMENTS.similarity([], []) == 1.0
    assert SEGMENTS.similarity(truth, []) == 0.0


def random_segments(rng: random.Random, n: int) -> list[tuple[str, tuple[float, float]]]:
    out = []
    for _ in range(n):
        start = rng.uniform(0, 20)
        out.append((rng.choice(CLASSES[:2]), (start, start + rng.uniform(0.1, 5))))
    return out


def test_segment_similarity_is_the_per_pair_definition_computed_at_once() -> None:
    rng = seeded(11)
    for _ in range(200):
        a, b = random_segments(rng, rng.randrange(0, 12)), random_segments(rng, rng.randrange(12))
        assert SEGMENTS.similarity(a, b) == pytest.approx(per_pair(SEGMENTS, a, b))
        assert SEGMENTS.similarity(a, b) == SEGMENTS.similarity(b, a)
        assert SEGMENTS.similarity(a, a) == 1.0


NOT_A_SEGMENT = r"object 0: a segment is \[start, end\] in seconds, finite"


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ({"class": "speech", "start": 1, "end": 2}, "not a list of segments"),
        ([segment("speech", 2, 2)], NOT_A_SEGMENT),
        ([segment("speech", 3, 2)], NOT_A_SEGMENT),
        ([segment("speech", -1, 2)], NOT_A_SEGMENT),
        ([segment("speech", True, 2)], NOT_A_SEGMENT),
        ([segment("speech", "1", 2)], NOT_A_SEGMENT),
        ([segment("speech", None, 2)], NOT_A_SEGMENT),
        ('[{"class": "speech", "start": 0, "end": 1e400}]', "beyond the numbers"),
        ('[{"class": "speech", "start": 0, "end": 1' + "0" * 400 + "}]", "integers every client"),
        ('[{"class": "speech", "start": NaN, "end": 1}]', "not a list of segments"),
        ('[{"class": "speech", "start": 0, "end": Infinity}]', "not a list of segments"),
        ([{"class": "speech", "start": 0}], "not a list of segments"),
        ([{**segment("speech", 0, 1), "speaker": "A"}], "not a list of segments"),
        ([segment("dog", 0, 1)], "'dog' is not a class of dataset 7"),
        ([segment("speech", n, n + 1) for n in range(501)], "at most 500 objects"),
        ([segment("s" * 100_000, 0, 1)], "at most 100000 characters"),
    ],
)
def test_segments_refuse_what_is_not_a_segment_label(value: Any, match: str) -> None:
    refused(SEGMENTS, value, match)


def test_a_segment_label_has_one_stored_text() -> None:
    written = (
        '[ {"end": 3.40, "start": 1.2e0, "class": "cafe\u0301"}, '
        '{"class":"speech","start":0,"end":1.0}]'
    )
    stored = '[{"class":"café","end":3.4,"start":1.2},{"class":"speech","end":1,"start":0}]'
    assert SEGMENTS.normalize(written) == stored
    assert SEGMENTS.normalize(stored) == stored
    reordered = '[{"class":"speech","start":0.0,"end":1},{"start":1.2,"end":3.4,"class":"café"}]'
    assert SEGMENTS.normalize(reordered) == stored
    assert SEGMENTS.from_delivered(SEGMENTS.delivered(stored)) == stored
    assert SEGMENTS.from_delivered(json.loads(written)) == stored
    assert parse(SEGMENTS, written) == parse(SEGMENTS, reordered)
    for not_a_label in ("speech", "[1, 2", "[NaN]"):
        assert SEGMENTS.normalize(not_a_label) == not_a_label


# --- tracks ---


def track(cls: str, frames: dict[int, Any]) -> dict[str, Any]:
    return {"class": cls, "frames": {str(f): box for f, box in frames.items()}}


def test_track_overlap_by_hand() -> None:
    a = {"0": [0, 0, 10, 10], "1": [0, 0, 10, 10]}
    b = {"0": [0, 0, 10, 10], "1": [5, 0, 15, 10], "2": [5, 0, 15, 10]}
    # frame 0: IoU 1; frame 1: 50 / 150 = 1/3; frame 2 only in b: 0; over 3 frames
    assert track_overlap(a, b) == pytest.approx((1 + 1 / 3) / 3)
    # sparse keyframes: frames 0 and 10 shared and equal, 5 only in a: 2/3
    assert track_overlap(
        {"0": [0, 0, 1, 1], "5": [1, 1, 2, 2], "10": [2, 2, 3, 3]},
        {"0": [0, 0, 1, 1], "10": [2, 2, 3, 3]},
    ) == pytest.approx(2 / 3)
    assert track_overlap({"3": [0, 0, 1, 1]}, {"4": [0, 0, 1, 1]}) == 0.0


def test_tracks_agree_by_the_f1_of_tracks_matched_within_a_class() -> None:
    car = {0: [0, 0, 10, 10], 1: [1, 0, 11, 10], 2: [2, 0, 12, 10]}
    person = {0: [50, 50, 60, 80], 1: [50, 50, 60, 80]}
    truth = parse(TRACKS, [track("car", car), track("person", person)])
    # the car followed for one frame of three: overlap 1/3, no match; the person exactly: 1
    # match among 2 + 2 tracks: F1 = 1/2
    early = parse(TRACKS, [track("car", {0: car[0]}), track("person", person)])
    assert TRACKS.similarity(truth, early) == pytest.approx(0.5)
    # the car's frames 0 and 1 only: overlap 2/3, a match: F1 = 1
    most = parse(TRACKS, [track("car", {0: car[0], 1: car[1]}), track("person", person)])
    assert TRACKS.similarity(truth, most) == 1.0
    assert TRACKS.similarity(truth, parse(TRACKS, [track("person", car)])) == 0.0


def random_box(rng: random.Random) -> list[float]:
    x, y = rng.choice([rng.uniform(0, 20), float(rng.randrange(5))]), rng.uniform(0, 20)
    # one box in six has no area: box_iou's zero-union rule must hold in the matrix too
    w, h = (0.0, 0.0) if rng.random() < 1 / 6 else (rng.uniform(0, 15), rng.uniform(1, 15))
    return [x, y, x + w, y + h]


def random_tracks(rng: random.Random, n: int) -> list[tuple[str, dict[str, list[float]]]]:
    return [
        (
            rng.choice(CLASSES[2:4]),
            {str(f): random_box(rng) for f in rng.sample(range(8), rng.randrange(1, 8))},
        )
        for _ in range(n)
    ]


def test_box_iou_matrix_is_box_iou_for_every_pair() -> None:
    rng = seeded(5)
    a, b = [random_box(rng) for _ in range(40)], [random_box(rng) for _ in range(30)]
    a.append(b[0])  # identical boxes, with area or without
    b.append([3.0, 3.0, 3.0, 3.0])
    a.append([3.0, 3.0, 3.0, 3.0])
    matrix = box_iou_matrix(np.array(a), np.array(b))
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            assert matrix[i, j] == pytest.approx(box_iou(x, y), abs=1e-12)


def test_track_similarity_is_the_per_pair_definition_computed_at_once() -> None:
    rng = seeded(7)
    for _ in range(200):
        a, b = random_tracks(rng, rng.randrange(0, 7)), random_tracks(rng, rng.randrange(7))
        assert TRACKS.similarity(a, b) == pytest.approx(per_pair(TRACKS, a, b))
        assert TRACKS.similarity(a, b) == TRACKS.similarity(b, a)
        assert TRACKS.similarity(a, a) == 1.0


@pytest.mark.parametrize(
    ("frames", "match"),
    [
        ({"05": [0, 0, 1, 1]}, "frame '05': a frame is numbered 0, 1, 2"),
        ({"-1": [0, 0, 1, 1]}, "frame '-1'"),
        ({"x": [0, 0, 1, 1]}, "frame 'x'"),
        ({"": [0, 0, 1, 1]}, "frame ''"),
        ({"1.0": [0, 0, 1, 1]}, "frame '1.0'"),
        ({" 1": [0, 0, 1, 1]}, "frame ' 1'"),
        ({"1\n": [0, 0, 1, 1]}, "frame '1\\\\n'"),
        ({"\u0663": [0, 0, 1, 1]}, "a frame is numbered"),  # Arabic-Indic three
        ({}, "1 to 10000 frames"),
        ({str(f): [0, 0, 1, 1] for f in range(10_001)}, "1 to 10000 frames"),
        ([[0, 0, 1, 1]], "1 to 10000 frames"),
        ({"0": [1, 0, 0, 1]}, "frame 0: box: .x_min, y_min, x_max, y_max."),
        ({"0": [0, 0, 1]}, "frame 0: box"),
        ({"0": [0, 0, True, 1]}, "frame 0: box"),
        ({"0": [-1e308, 0, 1e308, 1]}, "frame 0: a box's corners and area are finite"),
    ],
)
def test_tracks_refuse_bad_frames(frames: Any, match: str) -> None:
    refused(TRACKS, [{"class": "car", "frames": frames}], match)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ('[{"class": "car", "frames": {"0": [0, 0, 1e400, 1]}}]', "beyond the numbers"),
        ('[{"class": "car", "frames": {"0": [0, 0, NaN, 1]}}]', "not a list of tracks"),
        ([{"class": "car", "frames": {"0": [0, 0, 1, 1]}, "id": 3}], "not a list of tracks"),
        ([{"class": "dog", "frames": {"0": [0, 0, 1, 1]}}], "'dog' is not a class"),
        ([track("car", {0: [0, 0, 1, 1]})] * 201, "at most 200 objects"),
        ([track("c" * 1_000_000, {0: [0, 0, 1, 1]})], "at most 1000000 characters"),
    ],
)
def test_tracks_refuse_what_is_not_a_track_label(value: Any, match: str) -> None:
    refused(TRACKS, value, match)


def test_a_track_label_has_one_stored_text_its_frames_in_text_order() -> None:
    written = '[{"frames": {"9": [0, 0, 1.0, 1], "10": [1e0, 1, 2, 2.50]}, "class": "car"}]'
    stored = '[{"class":"car","frames":{"10":[1,1,2,2.5],"9":[0,0,1,1]}}]'
    assert TRACKS.normalize(written) == stored
    assert TRACKS.normalize(stored) == stored
    two = [track("person", {0: [0, 0, 1, 1]}), track("car", {3: [0, 0, 2, 2]})]
    assert TRACKS.normalize(json.dumps(two)) == TRACKS.normalize(json.dumps(two[::-1]))
    assert TRACKS.from_delivered(TRACKS.delivered(stored)) == stored
    assert parse(TRACKS, written) == parse(TRACKS, stored)


# --- cuboids ---


def cuboid(cls: str, center: list[Any], size: list[Any], yaw: Any = 0.0) -> dict[str, Any]:
    return {"class": cls, "center": center, "size": size, "yaw": yaw}


def box3(x: float, y: float, z: float, l: float, w: float, h: float, yaw: float = 0.0) -> Cuboid:  # noqa: E741
    return Cuboid(x, y, z, l, w, h, yaw)


@pytest.mark.parametrize(
    ("a", "b", "iou"),
    [
        # 2x2x2 cubes shifted 1 along x: both 1x2x2 = 4; either 8 + 8 - 4 = 12
        (box3(0, 0, 0, 2, 2, 2), box3(1, 0, 0, 2, 2, 2), 4 / 12),
        # shifted 1 along z (the vertical): the same 4 / 12
        (box3(0, 0, 0, 2, 2, 2), box3(0, 0, 1, 2, 2, 2), 4 / 12),
        # shifted 1 along each axis: both 1x1x1; either 16 - 1 = 15
        (box3(0, 0, 0, 2, 2, 2), box3(1, 1, 1, 2, 2, 2), 1 / 15),
        # a unit cube inside a 2-cube: 1 / 8
        (box3(0, 0, 0, 2, 2, 2), box3(0.2, -0.3, 0.1, 1, 1, 1), 1 / 8),
        # 4x2x1 car and the same 2 longer: both 4x2x1 = 8; either 12
        (box3(0, 0, 0, 4, 2, 1), box3(1, 0, 0, 6, 2, 1), 8 / 12),
        # touching faces, apart: nothing shared
        (box3(0, 0, 0, 2, 2, 2), box3(2, 0, 0, 2, 2, 2), 0.0),
        (box3(0, 0, 0, 2, 2, 2), box3(0, 0, 5, 2, 2, 2), 0.0),
        (box3(0, 0, 0, 2, 2, 2), box3(9, 9, 0, 2, 2, 2), 0.0),
        # a 2x2 square and itself turned 45 degrees share a regular octagon of area
        # 2 s^2 (sqrt 2 - 1) = 8 (sqrt 2 - 1); both heights 2: IoU = 16 (sqrt 2 - 1) /
        # (16 - 16 (sqrt 2 - 1)) = (sqrt 2 - 1) / (2 - sqrt 2) = 1 / sqrt 2
        (box3(0, 0, 0, 2, 2, 2), box3(0, 0, 0, 2, 2, 2, math.pi / 4), 1 / math.sqrt(2)),
        # a 4x2 footprint and itself turned 90 degrees: a 2x2 cross; 4 / (8 + 8 - 4), times 1
        (box3(0, 0, 0, 4, 2, 1), box3(0, 0, 0, 4, 2, 1, math.pi / 2), 4 / 12),
    ],
)
def test_cuboid_iou_by_hand(a: Cuboid, b: Cuboid, iou: float) -> None:
    assert cuboid_iou(a, b) == pytest.approx(iou, abs=1e-12)
    assert cuboid_iou(b, a) == cuboid_iou(a, b)


def random_cuboid(rng: random.Random, near: Cuboid | None = None) -> Cuboid:
    x, y, z = near[:3] if near else (0.0, 0.0, 0.0)
    return Cuboid(
        x + rng.uniform(-2, 2),
        y + rng.uniform(-2, 2),
        z + rng.uniform(-0.5, 0.5),
        rng.uniform(0.5, 5),
        rng.uniform(0.5, 3),
        rng.uniform(0.5, 2),
        rng.uniform(-10, 10),
    )


def reference_iou(a: Cuboid, b: Cuboid) -> float:
    """3D IoU in the plainest words: the two footprints as shapely polygons where they stand,
    intersected, times the z overlap, over the union volume."""

    def footprint(c: Cuboid) -> Polygon:
        cos, sin = math.cos(c.yaw), math.sin(c.yaw)
        half = [
            (c.length / 2 * u, c.width / 2 * v) for u, v in ((1, 1), (-1, 1), (-1, -1), (1, -1))
        ]
        return Polygon([(c.x + cos * dx - sin * dy, c.y + sin * dx + cos * dy) for dx, dy in half])

    z_overlap = min(a.z + a.height / 2, b.z + b.height / 2) - max(
        a.z - a.height / 2, b.z - b.height / 2
    )
    both = footprint(a).intersection(footprint(b)).area * max(0.0, z_overlap)
    volume = a.length * a.width * a.height + b.length * b.width * b.height
    return float(both / (volume - both))


def test_cuboid_iou_is_the_plain_polygon_intersection() -> None:
    rng = seeded(2)
    pairs = []
    for _ in range(300):
        a = random_cuboid(rng)
        pairs.append((a, random_cuboid(rng, near=a)))
    cube = box3(1, 2, 0, 2, 2, 2, 0.3)
    pairs += [
        (cube, cube._replace(height=1.0)),  # one footprint, edges on edges
        (cube, cube._replace(yaw=0.3 + math.pi / 2)),  # a square turned a quarter: itself
        (cube, cube._replace(yaw=0.3 + 2 * math.pi)),
        (cube, cube._replace(length=1.0, width=0.5)),  # inside, sharing a centre
        (cube, cube._replace(length=8.0, width=8.0, yaw=1.0)),  # the cube's footprint inside
        (cube, cube._replace(x=3.0)),  # touching along a turned edge? no: shifted along x
        (box3(0, 0, 0, 2, 2, 2), box3(2, 0, 0, 2, 2, 2)),  # touching faces
        (box3(0, 0, 0, 4, 1, 1), box3(0, 0, 0, 4, 1, 1, 1e-9)),
    ]
    kind = [cuboid_iou(a, b) for a, b in pairs]
    assert kind == pytest.approx([reference_iou(a, b) for a, b in pairs], abs=1e-9)
    first, second = zip(*pairs, strict=True)
    assert list(cuboid_ious(first, second)) == kind
    assert list(cuboid_ious(second, first)) == kind  # the same floats either way round


def turned(c: Cuboid, angle: float) -> Cuboid:
    cos, sin = math.cos(angle), math.sin(angle)
    return c._replace(x=cos * c.x - sin * c.y, y=sin * c.x + cos * c.y, yaw=c.yaw + angle)


def test_cuboid_iou_does_not_change_when_both_turn_about_the_origin() -> None:
    rng = seeded(3)
    for _ in range(200):
        a = random_cuboid(rng)
        b = random_cuboid(rng, near=a)
        angle = rng.uniform(-7, 7)
        assert cuboid_iou(turned(a, angle), turned(b, angle)) == pytest.approx(
            cuboid_iou(a, b), abs=1e-9
        )


def test_a_quarter_turn_is_length_and_width_swapped_and_a_half_turn_is_nothing() -> None:
    rng = seeded(4)
    for _ in range(200):
        a = random_cuboid(rng)._replace(yaw=0.0)
        b = random_cuboid(rng, near=a)
        swapped = a._replace(length=a.width, width=a.length)
        assert cuboid_iou(a._replace(yaw=math.pi / 2), b) == pytest.approx(
            cuboid_iou(swapped, b), abs=1e-9
        )
        assert cuboid_iou(a._replace(yaw=math.pi), b) == pytest.approx(cuboid_iou(a, b), abs=1e-9)


def inside(c: Cuboid, points: Any) -> Any:
    """Which points lie in the cuboid: each brought into the box's own frame."""
    dx, dy = points[:, 0] - c.x, points[:, 1] - c.y
    along = math.cos(c.yaw) * dx + math.sin(c.yaw) * dy
    across = -math.sin(c.yaw) * dx + math.cos(c.yaw) * dy
    return (
        (np.abs(along) <= c.length / 2)
        & (np.abs(across) <= c.width / 2)
        & (np.abs(points[:, 2] - c.z) <= c.height / 2)
    )


def test_cuboid_iou_matches_a_monte_carlo_estimate() -> None:
    rng = seeded(8)
    points_rng = np.random.default_rng(8)
    overlapping = 0
    for _ in range(25):
        a = random_cuboid(rng)
        b = random_cuboid(rng, near=a)
        # a cube holding both boxes: each fits in a ball of its half diagonal
        reach = max(math.hypot(c.length, c.width, c.height) / 2 for c in (a, b)) + 2.5
        points = points_rng.uniform(-reach, reach, size=(400_000, 3)) + np.array([a.x, a.y, a.z])
        in_a, in_b = inside(a, points), inside(b, points)
        estimate = (in_a & in_b).sum() / (in_a | in_b).sum()
        assert cuboid_iou(a, b) == pytest.approx(estimate, abs=0.02)
        overlapping += estimate > 0.05
    assert overlapping >= 10  # the check is not won on pairs sharing nothing


def test_cuboid_iou_is_the_same_in_any_units_and_anywhere() -> None:
    rng = seeded(9)
    for _ in range(50):
        a = random_cuboid(rng)
        b = random_cuboid(rng, near=a)
        iou = cuboid_iou(a, b)
        for scale in (1e-200, 1e-3, 1e3, 1e200):
            grown = [Cuboid._make([*(v * scale for v in c[:6]), c.yaw]) for c in (a, b)]
            assert cuboid_iou(*grown) == pytest.approx(iou, abs=1e-9)
        # map coordinates (UTM northing) move both boxes together
        moved = [c._replace(x=c.x + 500_000.0, y=c.y + 5_400_000.0) for c in (a, b)]
        assert cuboid_iou(*moved) == pytest.approx(iou, abs=1e-6)
    tiny = Cuboid(0, 0, 0, 1e-300, 1e-300, 1e-300, 0)
    assert cuboid_iou(tiny, tiny._replace(yaw=2 * math.pi)) == pytest.approx(1.0)
    huge = Cuboid(0, 0, 0, 1e300, 1e300, 1e300, 0)
    assert cuboid_iou(huge, huge._replace(x=5e299)) == pytest.approx(0.5 / 1.5)
    assert cuboid_iou(huge, tiny) == 0.0
    far = Cuboid(1.7e308, 0, 0, 1, 1, 1, 0)
    assert cuboid_iou(far, far._replace(x=-1.7e308)) == 0.0


def test_cuboids_agree_by_the_f1_of_cuboids_matched_within_a_class() -> None:
    truth = parse(
        CUBOIDS,
        [cuboid("car", [0, 0, 0], [2, 2, 2]), cuboid("person", [10, 0, 0], [1, 1, 2])],
    )
    # the car shifted 1 (IoU 1/3, no match) and the person exact: 1 match of 2 + 2: F1 = 1/2
    shifted = parse(
        CUBOIDS,
        [cuboid("car", [1, 0, 0], [2, 2, 2]), cuboid("person", [10, 0, 0], [1, 1, 2])],
    )
    assert CUBOIDS.similarity(truth, shifted) == pytest.approx(0.5)
    assert CUBOIDS.similarity(truth, truth) == 1.0
    assert CUBOIDS.similarity(truth, parse(CUBOIDS, [cuboid("person", [0, 0, 0], [2, 2, 2])])) == 0
    rng = seeded(10)
    for _ in range(50):
        a = [(rng.choice(CLASSES[2:4]), random_cuboid(rng)) for _ in range(rng.randrange(6))]
        b = [(rng.choice(CLASSES[2:4]), random_cuboid(rng)) for _ in range(rng.randrange(6))]
        assert CUBOIDS.similarity(a, b) == CUBOIDS.similarity(b, a)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (
            [cuboid("car", [0, 0, 0], [0, 1, 1])],
            "size: .length, width, height., finite numbers > 0",
        ),
        ([cuboid("car", [0, 0, 0], [1, -1, 1])], "size"),
        ([cuboid("car", [0, 0, 0], [1, 1])], "size"),
        ([cuboid("car", [0, 0, 0], [1, 1, True])], "size"),
        ([cuboid("car", [0, 0], [1, 1, 1])], r"center: \[x, y, z\]"),
        ([cuboid("car", [0, 0, "1"], [1, 1, 1])], "center"),
        ([cuboid("car", [0, 0, 0], [1, 1, 1], "0.5")], "yaw: a finite number"),
        ([cuboid("car", [0, 0, 0], [1, 1, 1], True)], "yaw"),
        ('[{"class":"car","center":[0,0,0],"size":[1,1,1],"yaw":1e999}]', "yaw"),
        ('[{"class":"car","center":[0,0,0],"size":[1,1,1],"yaw":NaN}]', "not a list of cuboids"),
        ([{"class": "car", "center": [0, 0, 0], "size": [1, 1, 1]}], "not a list of cuboids"),
        ([{**cuboid("car", [0, 0, 0], [1, 1, 1]), "pitch": 0}], "not a list of cuboids"),
        ([cuboid("dog", [0, 0, 0], [1, 1, 1])], "'dog' is not a class"),
        ([cuboid("car", [n, 0, 0], [1, 1, 1]) for n in range(201)], "at most 200 objects"),
    ],
)
def test_cuboids_refuse_what_is_not_a_cuboid_label(value: Any, match: str) -> None:
    refused(CUBOIDS, value, match)


def test_a_cuboid_label_has_one_stored_text_and_its_yaw_keeps_its_value() -> None:
    written = (
        '[{"yaw": 7.0, "size": [4.50, 1.8, 1.5e0], "center": [1, -2.0, 0.25], "class": "car"}]'
    )
    stored = '[{"center":[1,-2,0.25],"class":"car","size":[4.5,1.8,1.5],"yaw":7}]'
    assert CUBOIDS.normalize(written) == stored
    assert CUBOIDS.normalize(stored) == stored
    two = [cuboid("person", [0, 0, 0], [1, 1, 2], 3.2), cuboid("car", [5, 5, 0], [4, 2, 1.5])]
    assert CUBOIDS.normalize(json.dumps(two)) == CUBOIDS.normalize(json.dumps(two[::-1]))
    assert '"yaw":3.2' in CUBOIDS.normalize(json.dumps(two))
    assert CUBOIDS.from_delivered(CUBOIDS.delivered(stored)) == stored
    assert parse(CUBOIDS, written) == parse(CUBOIDS, stored)


# --- simulated crowds ---

AGREE_AT = 0.9  # every object matched (one miss among 3 + 2 is F1 0.8)


def crowd_rates(
    kind: LabelKind,
    truth_of: Callable[[random.Random], list[dict[str, Any]]],
    jittered: Callable[[random.Random, dict[str, Any]], dict[str, Any]],
    corrupted: Callable[[random.Random, dict[str, Any]], dict[str, Any] | None],
    seed: int,
    items: int = 150,
) -> tuple[float, float]:
    """How often the consensus of five annotators, and how often one annotator, agrees with the
    truth. Each annotator is right 70% of the time (every object, a little off); otherwise one
    object is corrupted (missed, moved, misclassed...) and the rest a little off."""
    rng = seeded(seed)
    consensus_right = single_right = 0
    for _ in range(items):
        truth_doc = truth_of(rng)
        truth = parse(kind, truth_doc)
        answers = []
        for _ in range(5):
            doc = [jittered(rng, obj) for obj in truth_doc]
            if rng.random() >= 0.7:
                n = rng.randrange(len(doc))
                wrong = corrupted(rng, truth_doc[n])
                doc = doc[:n] + ([wrong] if wrong else []) + doc[n + 1 :]
            answers.append(parse(kind, kind.normalize(json.dumps(doc))))
        chosen = answers[kind.consensus(answers, AGREE_AT).index]
        consensus_right += kind.agree(chosen, truth, AGREE_AT)
        single_right += kind.agree(answers[0], truth, AGREE_AT)
    return consensus_right / items, single_right / items


def other_class(obj: dict[str, Any], pool: tuple[str, ...]) -> str:
    return next(c for c in pool if c != obj["class"])


def test_the_consensus_of_a_crowd_finds_the_true_segments() -> None:
    def truth_of(rng: random.Random) -> list[dict[str, Any]]:
        ends = sorted(rng.sample(range(1, 60), 2 * rng.randrange(1, 5)))
        return [
            segment(rng.choice(CLASSES[:2]), float(start), float(end))
            for start, end in zip(ends[::2], ends[1::2], strict=True)
        ]

    def jittered(rng: random.Random, s: dict[str, Any]) -> dict[str, Any]:
        start = max(0.0, s["start"] + rng.gauss(0, 0.05))
        return {**s, "start": start, "end": max(start + 0.1, s["end"] + rng.gauss(0, 0.05))}

    def corrupted(rng: random.Random, s: dict[str, Any]) -> dict[str, Any] | None:
        way = rng.choice(["missed", "moved", "class"])
        if way == "missed":
            return None
        if way == "moved":  # slid past itself
            length = s["end"] - s["start"]
            return {**s, "start": s["end"] + 0.5, "end": s["end"] + 0.5 + length}
        return {**s, "class": other_class(s, CLASSES[:2])}

    crowd, single = crowd_rates(SEGMENTS, truth_of, jittered, corrupted, seed=21)
    assert crowd >= 0.9
    assert crowd > single + 0.15


def test_the_consensus_of_a_crowd_finds_the_true_tracks() -> None:
    def truth_of(rng: random.Random) -> list[dict[str, Any]]:
        tracks = []
        for _ in range(rng.randrange(1, 4)):
            first, x, y = rng.randrange(30), rng.uniform(0, 500), rng.uniform(0, 500)
            vx, vy = rng.uniform(-5, 5), rng.uniform(-5, 5)
            w, h = rng.uniform(30, 80), rng.uniform(30, 80)
            frames = {
                f: [x + vx * f, y + vy * f, x + vx * f + w, y + vy * f + h]
                for f in range(first, first + rng.randrange(5, 40), rng.choice([1, 5]))
            }
            tracks.append(track(rng.choice(CLASSES[2:4]), frames))
        return tracks

    def jittered(rng: random.Random, t: dict[str, Any]) -> dict[str, Any]:
        def shaken(box: list[float]) -> list[float]:
            x0, y0, x1, y1 = (v + rng.gauss(0, 1) for v in box)
            return [min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)]

        return {**t, "frames": {f: shaken(box) for f, box in t["frames"].items()}}

    def corrupted(rng: random.Random, t: dict[str, Any]) -> dict[str, Any] | None:
        way = rng.choice(["missed", "lost", "moved", "class"])
        frames = dict(t["frames"])
        if way == "missed":
            return None
        if way == "lost":  # followed for its first frame only, then dropped
            return {**t, "frames": dict(list(frames.items())[:1])} if len(frames) > 2 else None
        if way == "moved":  # another object's boxes: a box width off in every frame
            width = next(iter(frames.values()))[2] - next(iter(frames.values()))[0]
            moved = {f: [b[0] + width, b[1], b[2] + width, b[3]] for f, b in frames.items()}
            return {**t, "frames": moved}
        return {**t, "class": other_class(t, CLASSES[2:4])}

    crowd, single = crowd_rates(TRACKS, truth_of, jittered, corrupted, seed=22)
    assert crowd >= 0.9
    assert crowd > single + 0.15


def test_the_consensus_of_a_crowd_finds_the_true_cuboids() -> None:
    def truth_of(rng: random.Random) -> list[dict[str, Any]]:
        spots = rng.sample(range(25), rng.randrange(1, 6))  # a 5x5 grid of 10 m parking spaces
        return [
            cuboid(
                rng.choice(CLASSES[2:4]),
                [10.0 * (s % 5) + rng.uniform(-1, 1), 10.0 * (s // 5) + rng.uniform(-1, 1), 0.8],
                [rng.uniform(3.5, 5.5), rng.uniform(1.6, 2.1), rng.uniform(1.3, 1.9)],
                rng.uniform(-math.pi, math.pi),
            )
            for s in spots
        ]

    def jittered(rng: random.Random, c: dict[str, Any]) -> dict[str, Any]:
        return {
            **c,
            "center": [v + rng.gauss(0, 0.05) for v in c["center"]],
            "size": [v * (1 + rng.gauss(0, 0.02)) for v in c["size"]],
            "yaw": c["yaw"] + rng.gauss(0, 0.02),
        }

    def corrupted(rng: random.Random, c: dict[str, Any]) -> dict[str, Any] | None:
        way = rng.choice(["missed", "moved", "turned", "class"])
        if way == "missed":
            return None
        if way == "moved":  # 2.5 m along its heading
            x, y, z = c["center"]
            step = [2.5 * math.cos(c["yaw"]), 2.5 * math.sin(c["yaw"])]
            return {**c, "center": [x + step[0], y + step[1], z]}
        if way == "turned":  # heading read across the car
            return {**c, "yaw": c["yaw"] + math.pi / 2}
        return {**c, "class": other_class(c, CLASSES[2:4])}

    crowd, single = crowd_rates(CUBOIDS, truth_of, jittered, corrupted, seed=23)
    assert crowd >= 0.9
    assert crowd > single + 0.15
