"""The image kinds beyond boxes: polygons, keypoints and masks. Each reads its labels, refuses
what is not one and says what one is, stores one canonical text per label, measures agreement
as its reference does (boxes' IoU and worked examples for polygons, COCO's OKS formula for
keypoints, pycocotools for masks), and lets a crowd's consensus find the truth more often than
one annotator does."""

# ruff: noqa: S311  (seeded random.Random draws simulated labels, never secrets)

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from ledger.kinds.base import LabelKind, NotAnAnswer
from ledger.kinds.boxes import box_iou
from ledger.kinds.keypoints import Keypoints
from ledger.kinds.masks import Masks
from ledger.kinds.polygons import Polygons, polygon_iou, polygon_iou_matrix, read_polygon

WHERE = "dataset 7"
CLASSES = ("roof", "tree")
SKELETON = ("nose", "left_eye", "right_eye", "left_ear", "right_ear")

polygons, keypoints, masks = Polygons(), Keypoints(), Masks()


def read(kind: LabelKind, value: str, classes: Sequence[str] = ()) -> Any:
    """What the service does with a label: store its canonical text, then read that."""
    return kind.read(kind.normalize(value), classes=classes, where=WHERE)


def refused(kind: LabelKind, value: str, classes: Sequence[str], says: str) -> str:
    """The refusal of `value`, checked to say `says` and to name the dataset; refused as well
    once stored in its canonical text."""
    with pytest.raises(NotAnAnswer) as refusal:
        kind.read(value, classes=classes, where=WHERE)
    with pytest.raises(NotAnAnswer):
        read(kind, value, classes)
    message = str(refusal.value)
    assert says in message
    assert WHERE in message
    return message


def crowd_rates(
    kind: LabelKind,
    truths: Sequence[str],
    answer: Callable[[str, bool], str],
    threshold: float,
    classes: Sequence[str] = (),
    rng: random.Random | None = None,
) -> tuple[float, float]:
    """Five annotators per item, each accurate (answer(truth, True)) with probability 0.7 and
    corrupted otherwise: the share of single answers agreeing with the truth, and the share of
    items whose consensus does."""
    rng = rng or random.Random(0)
    single = agreed = 0
    for truth_text in truths:
        truth = read(kind, truth_text, classes)
        answers = [read(kind, answer(truth_text, rng.random() < 0.7), classes) for _ in range(5)]
        single += sum(kind.agree(a, truth, threshold) for a in answers)
        chosen = answers[kind.consensus(answers, threshold).index]
        agreed += kind.agree(chosen, truth, threshold)
    return single / (5 * len(truths)), agreed / len(truths)


# --- polygons -------------------------------------------------------------------------------


def polygon_label(*objects: tuple[str, Sequence[Sequence[float]]]) -> str:
    return json.dumps([{"class": c, "points": [list(p) for p in points]} for c, points in objects])


def rectangle(box: Sequence[float]) -> list[list[float]]:
    x0, y0, x1, y1 = box
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


TRIANGLE = [[0, 0], [4, 0], [0, 4]]


def test_a_polygon_label_reads_as_classed_polygons() -> None:
    answer = read(
        polygons, polygon_label(("roof", TRIANGLE), ("tree", rectangle([1, 1, 3, 2]))), CLASSES
    )
    assert [(c, p.area) for c, p in answer] == [("roof", 8.0), ("tree", 2.0)]
    assert read(polygons, "[]", CLASSES) == []


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ('{"class": "roof", "points": [[0, 0], [4, 0], [0, 4]]}', "not a list of objects"),
        ('[{"class": "roof"}]', "not a list of objects"),
        ('[{"class": "roof", "points": [[0, 0], [4, 0], [0, 4]], "box": 1}]', "not a list"),
        ('[{"class": "dog", "points": [[0, 0], [4, 0], [0, 4]]}]', "'dog' is not a class"),
        ('[{"class": "roof", "points": [[0, 0], [4, 0]]}]', "3 to 1000 points; this one has 2"),
        (  # written closed: its last point is its first again, and it has two
            '[{"class": "roof", "points": [[0, 0], [4, 0], [0, 0]]}]',
            "3 to 1000 points; this one has 2",
        ),
        ('[{"class": "roof", "points": [[0, 0], [4, 4], [4, 0], [0, 4]]}]', "Self-intersection"),
        ('[{"class": "roof", "points": [[0, 0], [1, 1], [2, 2]]}]', "not a simple polygon"),
        ('[{"class": "roof", "points": [[0, 0], [4, 0], [4, 0]]}]', "nonzero area"),
        ('[{"class": "roof", "points": [[0, 0], [4, 0], [0, NaN]]}]', "NaN is not a number"),
        ('[{"class": "roof", "points": [[0, 0], [4, 0], [0, 1e400]]}]', "beyond the numbers"),
        ('[{"class": "roof", "points": [[0, 0], [4, 0], [0, true]]}]', "finite numbers"),
        ('[{"class": "roof", "points": [[0, 0], [4, 0], ["0", 4]]}]', "finite numbers"),
        ('[{"class": "roof", "points": [[0, 0, 0], [4, 0, 0], [0, 4, 0]]}]', "finite numbers"),
        ('[{"class": "roof", "points": "0,0 4,0 0,4"}]', "finite numbers"),
    ],
)
def test_polygons_refuse_what_is_not_a_simple_polygon_and_say_why(value: str, says: str) -> None:
    refused(polygons, value, CLASSES, says)


def test_polygons_refuse_too_many_points_or_polygons() -> None:
    circle = [
        [math.cos(t / 1001 * 2 * math.pi), math.sin(t / 1001 * 2 * math.pi)] for t in range(1001)
    ]
    with pytest.raises(NotAnAnswer, match="this one has 1001"):
        read(polygons, polygon_label(("roof", circle)), CLASSES)
    assert len(read(polygons, polygon_label(("roof", circle[:1000])), CLASSES)) == 1
    closed = polygon_label(("roof", [*circle[:1000], circle[0]]))
    assert len(read(polygons, closed, CLASSES)) == 1
    many = polygon_label(*[("roof", TRIANGLE)] * 101)
    with pytest.raises(NotAnAnswer, match="at most 100 objects"):
        polygons.parse(many, classes=CLASSES, where=WHERE)
    with pytest.raises(NotAnAnswer, match="at most 200000 characters"):
        polygons.read("[" + " " * 200_000 + "]", classes=CLASSES, where=WHERE)


def test_a_polygon_label_has_one_text_whatever_the_key_order_spelling_or_list_order() -> None:
    stored = (
        '[{"class":"roof","points":[[0,0],[4,0],[0,4]]},'
        '{"class":"tree","points":[[1,1],[3,1],[3,2.5],[1,2.5]]}]'
    )
    spellings = [
        '[{"class": "roof", "points": [[0, 0], [4, 0], [0, 4]]}, '
        '{"points": [[1, 1], [3, 1], [3, 2.5], [1, 2.5]], "class": "tree"}]',
        '[{"points": [[1.0, 1e0], [3, 1], [3, 2.50], [1, 25e-1]], "class": "tree"}, '
        '{"class": "roof", "points": [[0.0, -0.0], [4, 0], [0, 4]]}]',
        # the ring written closed, as GeoJSON and shapely write it, is stored open
        '[{"class": "roof", "points": [[0, 0], [4, 0], [0, 4], [0, 0]]}, '
        '{"class": "tree", "points": [[1, 1], [3, 1], [3, 2.5], [1, 2.5], [1, 1]]}]',
    ]
    for written in spellings:
        assert polygons.normalize(written) == stored
    assert polygons.normalize(stored) == stored
    # the ring keeps the order it was drawn in: another starting vertex is another text, the
    # same polygon
    turned = '[{"class":"roof","points":[[4,0],[0,4],[0,0]]}]'
    assert polygons.normalize(turned) == turned
    assert (
        polygons.similarity(read(polygons, turned, CLASSES), read(polygons, stored, CLASSES)[:1])
        == 1.0
    )
    drawn_the_other_way = read(polygons, '[{"class":"roof","points":[[0,4],[4,0],[0,0]]}]', CLASSES)
    assert polygons.similarity(drawn_the_other_way, read(polygons, turned, CLASSES)) == 1.0
    for not_a_label in ("[{]", '{"a": 1}', "[1, 2]", '[{"class": "roof", "points": 5}]'):
        once = polygons.normalize(not_a_label)
        assert polygons.normalize(once) == once


def test_a_delivered_polygon_label_reads_back_as_the_same_label() -> None:
    stored = polygons.normalize(
        polygon_label(("tree", rectangle([1, 1, 3, 2])), ("roof", TRIANGLE))
    )
    delivered = polygons.delivered(stored)
    assert delivered == [
        {"class": "roof", "points": TRIANGLE},
        {"class": "tree", "points": rectangle([1, 1, 3, 2])},
    ]
    assert polygons.from_delivered(delivered) == stored


def test_rectangles_as_polygons_have_the_iou_of_the_boxes() -> None:
    rng = random.Random(3)

    def box() -> list[float]:
        x0, y0 = rng.uniform(0, 40), rng.uniform(0, 40)
        return [x0, y0, x0 + rng.uniform(0.5, 30), y0 + rng.uniform(0.5, 30)]

    for _ in range(300):
        a, b = box(), box()
        assert polygon_iou(read_polygon(rectangle(a)), read_polygon(rectangle(b))) == pytest.approx(
            box_iou(a, b), abs=1e-12
        )
    # nested, touching and equal rectangles
    for a, b in (
        ([0, 0, 10, 10], [2, 2, 4, 4]),
        ([0, 0, 1, 1], [1, 0, 2, 1]),
        ([0, 0, 3, 2], [0, 0, 3, 2]),
    ):
        assert polygon_iou(read_polygon(rectangle(a)), read_polygon(rectangle(b))) == box_iou(a, b)


def test_polygon_iou_matrix_is_polygon_iou_for_every_pair() -> None:
    rng = random.Random(5)

    def shape() -> Any:
        x0, y0 = rng.uniform(0, 30), rng.uniform(0, 30)
        if rng.random() < 0.5:
            return read_polygon(
                rectangle([x0, y0, x0 + rng.uniform(1, 20), y0 + rng.uniform(1, 20)])
            )
        return read_polygon(
            [[x0, y0], [x0 + rng.uniform(1, 20), y0], [x0, y0 + rng.uniform(1, 20)]]
        )

    a, b = [shape() for _ in range(25)], [shape() for _ in range(30)]
    matrix = polygon_iou_matrix(a, b)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            assert matrix[i, j] == pytest.approx(polygon_iou(x, y), abs=1e-12)
    assert polygon_iou_matrix([], b).shape == (0, 30)


def test_polygon_iou_of_a_triangle_and_a_square_by_hand() -> None:
    # The triangle (0,0) (4,0) (0,4) has area 4 * 4 / 2 = 8; the square [1,3] x [1,3] area 4.
    # The line x + y = 4 cuts off the square's corner above it, the triangle (3,1) (3,3) (1,3)
    # of area 2 * 2 / 2 = 2, so the two share 4 - 2 = 2: IoU = 2 / (8 + 4 - 2) = 0.2.
    triangle, square = read_polygon(TRIANGLE), read_polygon(rectangle([1, 1, 3, 3]))
    assert polygon_iou(triangle, square) == pytest.approx(0.2)
    assert polygon_iou(square, triangle) == pytest.approx(0.2)
    # Shifted 1 right, the triangle (1,0) (5,0) (1,4) shares with the first the triangle
    # (1,0) (4,0) (1,3) of area 3 * 3 / 2 = 4.5: IoU = 4.5 / (8 + 8 - 4.5) = 4.5 / 11.5.
    shifted = read_polygon([[1, 0], [5, 0], [1, 4]])
    assert polygon_iou(triangle, shifted) == pytest.approx(4.5 / 11.5)
    assert polygon_iou(triangle, triangle) == 1.0


def test_polygon_labels_agree_by_the_f1_of_polygons_matched_within_a_class() -> None:
    truth = read(
        polygons, polygon_label(("roof", TRIANGLE), ("tree", rectangle([10, 10, 14, 14]))), CLASSES
    )
    # the roof shifted by 1 (IoU 4.5 / 11.5 = 0.39 < 0.5) matches nothing; by 0.5 it matches:
    # the triangle (0.5,0) (4,0) (0.5,3.5) shared, 3.5^2 / 2 = 6.125 / (16 - 6.125) = 0.62
    near = polygon_label(
        ("roof", [[0.5, 0], [4.5, 0], [0.5, 4]]), ("tree", rectangle([10, 10, 14, 14]))
    )
    far = polygon_label(("roof", [[1, 0], [5, 0], [1, 4]]), ("tree", rectangle([10, 10, 14, 14])))
    wrong_class = polygon_label(("tree", TRIANGLE), ("tree", rectangle([10, 10, 14, 14])))
    assert polygons.similarity(truth, read(polygons, near, CLASSES)) == 1.0
    assert polygons.similarity(truth, read(polygons, far, CLASSES)) == 0.5  # 2 * 1 / (2 + 2)
    assert polygons.similarity(truth, read(polygons, wrong_class, CLASSES)) == 0.5
    assert polygons.similarity(
        truth, read(polygons, polygon_label(("tree", rectangle([10, 10, 14, 14]))), CLASSES)
    ) == pytest.approx(2 / 3)
    assert polygons.similarity(truth, []) == 0.0
    assert polygons.similarity([], []) == 1.0


def star(
    rng: random.Random, cx: float, cy: float, radius: float, corners: int
) -> list[list[float]]:
    """A polygon star-shaped about its centre (angles increasing, radii positive): simple."""
    step = 2 * math.pi / corners
    points = []
    for i in range(corners):
        angle = (i + rng.uniform(-0.2, 0.2)) * step
        r = radius * rng.uniform(0.7, 1.0)
        points.append([round(cx + r * math.cos(angle), 2), round(cy + r * math.sin(angle), 2)])
    return points


def test_polygon_similarity_is_symmetric_and_one_for_the_same_label() -> None:
    rng = random.Random(5)
    labels = []
    for _ in range(20):
        objects = [
            (
                rng.choice(CLASSES),
                star(
                    rng,
                    rng.uniform(0, 60),
                    rng.uniform(0, 60),
                    rng.uniform(5, 20),
                    rng.randint(3, 9),
                ),
            )
            for _ in range(rng.randint(0, 4))
        ]
        labels.append(read(polygons, polygon_label(*objects), CLASSES))
    for a in labels:
        assert polygons.similarity(a, a) == 1.0
        for b in labels:
            assert polygons.similarity(a, b) == polygons.similarity(b, a)
            assert 0.0 <= polygons.similarity(a, b) <= 1.0


def test_a_crowd_of_polygon_annotators_finds_the_truth_more_often_than_one() -> None:
    rng = random.Random(11)
    shapes: dict[str, list[tuple[str, float, float, float, int]]] = {}

    def truth() -> str:
        objects = [
            (
                rng.choice(CLASSES),
                rng.uniform(30, 170),
                rng.uniform(30, 170),
                rng.uniform(15, 30),
                rng.randint(5, 10),
            )
            for _ in range(rng.randint(1, 3))
        ]
        text = polygon_label(*[(c, star(rng, x, y, r, n)) for c, x, y, r, n in objects])
        shapes[text] = objects
        return text

    def answer(truth_text: str, accurate: bool) -> str:
        objects = list(shapes[truth_text])
        if not accurate:
            n = rng.randrange(len(objects))
            c, x, y, r, k = objects[n]
            fault = rng.choice(["miss", "shift", "class", "extra"])
            if fault == "miss":
                del objects[n]
            elif fault == "shift":
                objects[n] = (c, x + rng.choice([-1, 1]) * 2.5 * r, y, r, k)
            elif fault == "class":
                objects[n] = ("tree" if c == "roof" else "roof", x, y, r, k)
            else:
                objects.append((c, x + 60, y - 60, r, k))
        # every annotator draws each outline anew, a pixel or two off the truth's centre
        return polygon_label(
            *[
                (c, star(rng, x + rng.gauss(0, 1), y + rng.gauss(0, 1), r, k))
                for c, x, y, r, k in objects
            ]
        )

    single, agreed = crowd_rates(polygons, [truth() for _ in range(150)], answer, 0.9, CLASSES, rng)
    assert agreed >= 0.9
    assert agreed > single


# --- keypoints ------------------------------------------------------------------------------


def skeleton(**points: Sequence[float] | None) -> str:
    return json.dumps({name: points.get(name) for name in SKELETON})


def test_a_keypoint_label_names_each_keypoint_with_a_point_or_null() -> None:
    answer = read(keypoints, skeleton(nose=[1, 2], left_eye=[3.5, 4]), SKELETON)
    assert answer == {
        "nose": (1.0, 2.0),
        "left_eye": (3.5, 4.0),
        "right_eye": None,
        "left_ear": None,
        "right_ear": None,
    }
    assert keypoints.check_classes(list(SKELETON)) == list(SKELETON)
    with pytest.raises(ValueError, match=r"needs label_classes: the keypoints of the skeleton"):
        keypoints.check_classes([])


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("[[1, 2]]", "not an object"),
        ('{"nose": [1, 2]}', "missing: left_eye, right_eye, left_ear, right_ear"),
        (
            '{"nose": [1, 2], "left_eye": null, "right_eye": null, "left_ear": null, '
            '"right_ear": null, "tail": [0, 0]}',
            "not a keypoint of it: tail",
        ),
        (skeleton(nose=[1]), "keypoint 'nose': [x, y] of finite numbers, or null"),
        (skeleton(nose=[1, 2, 3]), "keypoint 'nose'"),
        (skeleton(nose=[True, 2]), "keypoint 'nose'"),
        (skeleton(nose=["1", 2]), "keypoint 'nose'"),
        (skeleton(nose={"x": 1, "y": 2}), "keypoint 'nose'"),
        (skeleton(nose=[1, 2]).replace("[1, 2]", "[1e400, 2]"), "beyond the numbers"),
        (skeleton(nose=[1, 2]).replace("[1, 2]", "[NaN, 2]"), "NaN is not a number"),
        (skeleton(nose=[-1e300, -1e300], left_eye=[1e300, 1e300]), "no finite area"),
    ],
)
def test_keypoints_refuse_what_is_not_a_skeleton_and_say_why(value: str, says: str) -> None:
    refused(keypoints, value, SKELETON, says)


def test_a_keypoint_label_has_one_text_whatever_the_key_order_or_spelling() -> None:
    stored = (
        '{"left_ear":null,"left_eye":[3.5,4],"nose":[1,2],"right_ear":null,"right_eye":[0.1,0]}'
    )
    for written in (
        skeleton(nose=[1, 2], left_eye=[3.5, 4], right_eye=[0.1, 0]),
        '{"right_eye": [1e-1, -0.0], "nose": [1.0, 2e0], "left_ear": null, "right_ear": null, '
        '"left_eye": [3.50, 4]}',
    ):
        assert keypoints.normalize(written) == stored
    assert keypoints.normalize(stored) == stored
    assert keypoints.from_delivered(keypoints.delivered(stored)) == stored
    # keypoint names are read in NFC, as the dataset's classes are stored
    decomposed = '{"cafe\\u0301": [1, 2]}'
    assert keypoints.parse(decomposed, classes=["café"], where=WHERE) == {"café": (1.0, 2.0)}


def test_keypoint_similarity_by_hand() -> None:
    a = read(keypoints, skeleton(nose=[0, 0], left_eye=[10, 0], right_eye=[0, 10]), SKELETON)
    b = read(keypoints, skeleton(nose=[1, 0], left_eye=[10, 0], left_ear=[5, 5]), SKELETON)
    # Visible in either: nose, left_eye, right_eye, left_ear (right_ear in neither): 4.
    # a's visible box is [0, 10] x [0, 10], 100; b's [1, 10] x [0, 5], 45: s^2 = 72.5 and
    # 2 s^2 k^2 = 2 * 72.5 * 0.01 = 1.45. nose: d^2 = 1, exp(-1 / 1.45); left_eye: d = 0, 1;
    # right_eye and left_ear, each marked by one only: 0.
    expected = (math.exp(-1 / 1.45) + 1 + 0 + 0) / 4
    assert keypoints.similarity(a, b) == pytest.approx(expected)
    assert expected == pytest.approx(0.37544, abs=1e-5)
    # One visible point each: boxes of area 0, s^2 floored at 1, 2 s^2 k^2 = 0.02; d^2 = 0.01.
    one = read(keypoints, skeleton(nose=[5, 5]), SKELETON)
    near = read(keypoints, skeleton(nose=[5.1, 5]), SKELETON)
    assert keypoints.similarity(one, near) == pytest.approx(math.exp(-0.01 / 0.02))
    nothing = read(keypoints, skeleton(), SKELETON)
    assert keypoints.similarity(nothing, nothing) == 1.0
    assert keypoints.similarity(nothing, one) == 0.0
    assert Keypoints.falloff == 0.1


def coco_oks(a: np.ndarray, b: np.ndarray, k: float) -> float:
    """COCO's computeOks (pycocotools/cocoeval.py) for one pair, made symmetric as the kind is:
    `a`, `b` are (n, 3) arrays of x, y, visibility. COCO writes vars = (2 sigma)^2, which is k^2,
    e = d^2 / vars / (area + eps) / 2, and averages exp(-e) over the ground truth's visible
    keypoints; here the area is the mean of both labels' visible boxes and the average runs over
    the keypoints visible in either, those visible in one only scoring 0."""
    variances = np.full(len(a), k**2)
    va, vb = a[:, 2] > 0, b[:, 2] > 0
    either, both = va | vb, va & vb
    if not either.any():
        return 1.0

    def box_area(points: np.ndarray, visible: np.ndarray) -> float:
        if not visible.any():
            return 0.0
        xs, ys = points[visible, 0], points[visible, 1]
        return float((xs.max() - xs.min()) * (ys.max() - ys.min()))

    area = max(1.0, (box_area(a, va) + box_area(b, vb)) / 2)
    dx, dy = a[:, 0] - b[:, 0], a[:, 1] - b[:, 1]
    e = (dx**2 + dy**2) / variances / (area + np.spacing(1)) / 2
    return float(np.exp(-e)[both].sum() / either.sum())


def test_keypoint_similarity_is_cocos_oks_formula() -> None:
    rng = np.random.default_rng(17)
    for _ in range(400):
        n = len(SKELETON)
        a = np.column_stack([rng.uniform(0, 200, (n, 2)), rng.random(n) < 0.8])
        b = a.copy()
        b[:, :2] += rng.normal(0, rng.choice([0.5, 3, 15]), (n, 2))
        b[:, 2] = np.where(rng.random(n) < 0.15, 1 - b[:, 2], b[:, 2])  # visibility disagrees

        def text(points: np.ndarray) -> str:
            return skeleton(
                **{
                    name: list(p[:2]) if p[2] else None
                    for name, p in zip(SKELETON, points, strict=True)
                }
            )

        ours = keypoints.similarity(
            read(keypoints, text(a), SKELETON), read(keypoints, text(b), SKELETON)
        )
        assert ours == pytest.approx(coco_oks(a, b, 0.1), rel=1e-9, abs=1e-12)
        assert ours == keypoints.similarity(
            read(keypoints, text(b), SKELETON), read(keypoints, text(a), SKELETON)
        )
        assert (
            keypoints.similarity(
                read(keypoints, text(a), SKELETON), read(keypoints, text(a), SKELETON)
            )
            == 1.0
        )


def test_a_crowd_of_keypoint_annotators_finds_the_truth_more_often_than_one() -> None:
    rng = random.Random(23)

    def truth() -> str:
        return skeleton(
            **{
                name: None
                if rng.random() < 0.15
                else [round(rng.uniform(0, 100), 1), round(rng.uniform(0, 100), 1)]
                for name in SKELETON
            }
        )

    def answer(truth_text: str, accurate: bool) -> str:
        points = json.loads(truth_text)
        if not accurate:
            fault = rng.choice(["swap", "shift", "miss", "guess"])
            if fault == "swap":  # left for right, the classic pose mistake
                for left, right in (("left_eye", "right_eye"), ("left_ear", "right_ear")):
                    points[left], points[right] = points[right], points[left]
            elif fault == "shift":
                dx, dy = rng.uniform(30, 60), rng.uniform(-60, 60)
                points = {n: p and [p[0] + dx, p[1] + dy] for n, p in points.items()}
            elif fault == "miss":
                points = {n: p if rng.random() < 0.4 else None for n, p in points.items()}
            else:
                points = {n: [rng.uniform(0, 100), rng.uniform(0, 100)] for n in points}
        jittered = {
            n: p and [p[0] + rng.gauss(0, 1.5), p[1] + rng.gauss(0, 1.5)] for n, p in points.items()
        }
        return json.dumps(jittered)

    single, agreed = crowd_rates(
        keypoints, [truth() for _ in range(300)], answer, 0.75, SKELETON, rng
    )
    assert agreed >= 0.9
    assert agreed > single


# --- masks ----------------------------------------------------------------------------------


def runs_of_mask(mask: np.ndarray) -> list[int]:
    """COCO's uncompressed RLE counts of a boolean mask, independently of the kind: the column-
    major pixels' runs, starting with the (possibly empty) run outside."""
    flat = mask.flatten(order="F").astype(np.int8)
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    runs = np.diff(bounds).tolist()
    return [0, *runs] if flat[0] else runs


def rle(mask: np.ndarray, counts: list[int] | None = None) -> str:
    return json.dumps(
        {"size": list(mask.shape), "counts": runs_of_mask(mask) if counts is None else counts}
    )


def coco(text: str) -> dict[str, Any]:
    doc = json.loads(text)
    return coco_mask.frPyObjects(doc, *doc["size"])


def respelled(runs: list[int], rng: random.Random) -> list[int]:
    """Other counts of the same mask: runs split around empty runs, empty runs before and after."""
    out: list[int] = [0, 0] if rng.random() < 0.3 else []
    for n in runs:
        if n > 1 and rng.random() < 0.3:
            cut = rng.randint(0, n)
            out += [cut, 0, n - cut]
        else:
            out.append(n)
    return out + [0] * rng.randint(0, 2)


def ellipse(height: int, width: int, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.asarray(((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1)


def test_a_mask_label_reads_and_stores_the_runs_of_its_mask() -> None:
    # 2 x 3 pixels, column-major: [1, 0, 2, 3] is 1 outside, 0 inside, 2 outside, 3 inside,
    # i.e. [3, 3]: pixels 3, 4, 5 (the second row's middle, the last column) inside
    assert (
        masks.normalize('{"counts": [1, 0, 2, 3], "size": [2, 3]}')
        == '{"counts":[3,3],"size":[2,3]}'
    )
    assert (
        masks.normalize('{"size": [2.0, 3], "counts": [0, 0, 0, 6, 0]}')
        == '{"counts":[0,6],"size":[2,3]}'
    )
    assert masks.normalize('{"size": [2, 3], "counts": [6]}') == '{"counts":[6],"size":[2,3]}'
    stored = '{"counts":[0,2,1,3],"size":[2,3]}'
    assert masks.normalize(stored) == stored
    assert masks.from_delivered(masks.delivered(stored)) == stored
    assert masks.delivered(stored) == {"size": [2, 3], "counts": [0, 2, 1, 3]}
    answer = read(masks, stored)
    assert (answer.height, answer.width, answer.area) == (2, 3, 5)
    for not_a_label in ('{"size": [2, 3], "counts": [1, 2]}', "[1]", "{"):
        once = masks.normalize(not_a_label)
        assert masks.normalize(once) == once


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("[6]", 'the keys "size" and "counts"'),
        ('{"size": [2, 3]}', 'the keys "size" and "counts"'),
        ('{"size": [2, 3], "counts": [6], "class": "x"}', 'the keys "size" and "counts"'),
        ('{"size": [0, 3], "counts": []}', "size: [height, width], whole numbers from 1 to 4096"),
        ('{"size": [4097, 1], "counts": [4097]}', "whole numbers from 1 to 4096"),
        ('{"size": [2, 3, 1], "counts": [6]}', "whole numbers from 1 to 4096"),
        ('{"size": [2, true], "counts": [2]}', "whole numbers from 1 to 4096"),
        ('{"size": [2, 1.5], "counts": [3]}', "whole numbers from 1 to 4096"),
        ('{"size": "2x3", "counts": [6]}', "whole numbers from 1 to 4096"),
        ('{"size": [2, 3], "counts": [1, 2]}', "the runs sum to 3, not height * width = 6"),
        ('{"size": [2, 3], "counts": [7, -1]}', "whole numbers >= 0"),
        ('{"size": [2, 3], "counts": [3, 2.5, 0.5]}', "whole numbers >= 0"),
        ('{"size": [2, 3], "counts": [3, false, 3]}', "whole numbers >= 0"),
        ('{"size": [2, 3], "counts": "33"}', "not a compressed string"),
        ('{"size": [2, 3], "counts": 6}', "a list of run lengths"),
    ],
)
def test_masks_refuse_what_is_not_an_rle_and_say_what_one_is(value: str, says: str) -> None:
    assert "a masks label is COCO uncompressed RLE" in refused(masks, value, (), says)


def test_masks_refuse_a_run_beyond_the_numbers_a_label_holds() -> None:
    with pytest.raises(NotAnAnswer, match=r"1e400 is beyond the numbers .*\(dataset"):
        masks.parse('{"size": [2, 3], "counts": [3, 1e400]}', classes=(), where=WHERE)


def test_masks_refuse_too_many_runs() -> None:
    value = json.dumps({"size": [4096, 4096], "counts": [1] * 200_001})
    with pytest.raises(NotAnAnswer, match="at most 200000 runs"):
        masks.parse(value, classes=(), where=WHERE)
    assert masks.max_chars == 1_000_000


def test_mask_iou_by_hand() -> None:
    # 2 x 3 pixels, numbered column-major 0..5. [1, 0, 2, 3] has 3, 4, 5 inside; [2, 2, 2] has
    # 2, 3: one pixel (3) inside both, four (2, 3, 4, 5) inside either: IoU 1 / 4.
    a = read(masks, '{"size": [2, 3], "counts": [1, 0, 2, 3]}')
    b = read(masks, '{"size": [2, 3], "counts": [2, 2, 2]}')
    assert masks.similarity(a, b) == 0.25
    empty = read(masks, '{"size": [2, 3], "counts": [6]}')
    assert masks.similarity(empty, empty) == 1.0
    assert masks.similarity(empty, a) == 0.0
    # another size shares no pixel, even empty with empty
    assert masks.similarity(read(masks, '{"size": [3, 2], "counts": [1, 0, 2, 3]}'), a) == 0.0
    assert masks.similarity(read(masks, '{"size": [3, 2], "counts": [6]}'), empty) == 0.0


# pycocotools 2.0.11's decode asks numpy 2 for a copy-free array, and numpy warns
@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")
def test_masks_match_pycocotools_encoding_decoding_and_iou() -> None:
    rng = random.Random(29)
    np_rng = np.random.default_rng(29)
    for _ in range(150):
        height, width = rng.randint(1, 40), rng.randint(1, 40)
        kind_of_mask = rng.choice(["noise", "blob", "empty", "full"])
        if kind_of_mask == "noise":
            a = np_rng.random((height, width)) < rng.uniform(0.05, 0.95)
        elif kind_of_mask == "blob":
            a = ellipse(
                height,
                width,
                *(rng.uniform(0, s) for s in (height, width)),
                *(rng.uniform(1, s) for s in (height, width)),
            )
        else:
            a = np.full((height, width), kind_of_mask == "full")
        b = a ^ (np_rng.random((height, width)) < rng.uniform(0, 0.3))

        written = rle(a, respelled(runs_of_mask(a), rng))
        stored = masks.normalize(written)
        decoded = coco_mask.decode(coco(written))
        assert np.array_equal(decoded, a)
        # our canonical counts are pycocotools' own encoding of the decoded mask
        assert coco(stored)["counts"] == coco_mask.encode(np.asfortranarray(decoded))["counts"]
        assert json.loads(stored)["counts"] == runs_of_mask(a)
        assert np.array_equal(coco_mask.decode(coco(stored)), a)

        ours = masks.similarity(read(masks, written), read(masks, rle(b)))
        if a.any() or b.any():
            theirs = coco_mask.iou([coco(written)], [coco(rle(b))], [0])[0][0]
            assert ours == pytest.approx(theirs, rel=1e-12)
        else:
            assert ours == 1.0  # pycocotools says 0 for two empty masks; they are one mask
        assert ours == masks.similarity(read(masks, rle(b)), read(masks, written))
        assert masks.similarity(read(masks, written), read(masks, stored)) == 1.0


def test_a_crowd_of_mask_annotators_finds_the_truth_more_often_than_one() -> None:
    rng = random.Random(31)
    height, width = 48, 64
    shapes: dict[str, tuple[float, float, float, float]] = {}

    def truth() -> str:
        blob = (rng.uniform(12, 36), rng.uniform(16, 48), rng.uniform(6, 12), rng.uniform(6, 16))
        text = rle(ellipse(height, width, *blob))
        shapes[text] = blob
        return text

    def answer(truth_text: str, accurate: bool) -> str:
        cy, cx, ry, rx = shapes[truth_text]
        if not accurate:
            fault = rng.choice(["miss", "shift", "box", "other"])
            if fault == "miss":
                return rle(np.zeros((height, width), dtype=bool))
            if fault == "shift":
                cx += rng.choice([-1, 1]) * 1.5 * rx
            elif fault == "box":  # the bounding box painted instead of the outline, and loosely
                ry, rx = ry * 2, rx * 2
            else:
                cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        # the brush strays a pixel or so
        blob = (
            cy + rng.gauss(0, 0.7),
            cx + rng.gauss(0, 0.7),
            ry + rng.gauss(0, 0.5),
            rx + rng.gauss(0, 0.5),
        )
        return rle(ellipse(height, width, *blob))

    single, agreed = crowd_rates(masks, [truth() for _ in range(300)], answer, 0.7, (), rng)
    assert agreed >= 0.9
    assert agreed > single
