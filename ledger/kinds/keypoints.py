"""Keypoints: one skeleton per item (a pose, a face's landmarks, a hand), its keypoints named by
the dataset's `label_classes`. A label is the JSON object `{"nose": [x, y], "left_eye": [x, y],
"right_eye": null, ...}` with every keypoint the dataset lists as a key and no other key: a
point of finite pixel coordinates, or null where the keypoint is not visible (or not marked).
Naming each keypoint, rather than listing them in the dataset's order, keeps a label readable on
its own and its canonical text free of any list order.

Two labels agree by their object keypoint similarity (OKS, COCO's keypoint measure, made
symmetric): over the keypoints visible in at least one of the two labels, each scores
exp(-d^2 / (2 s^2 k^2)) when visible in both, d the distance between its two points, and 0 when
visible in only one; the similarity is their mean, 1.0 when no keypoint is visible in either.
s^2, the skeleton's scale, is the mean of the two labels' areas of the bounding box of their
visible points (at least 1 pixel^2), standing in for COCO's object area, which a label here does
not carry. k is 0.1 for every keypoint (see `Keypoints.falloff`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from ledger.kinds.base import Answer, NotAnAnswer
from ledger.kinds.coordinates import read_point
from ledger.kinds.structured import JsonKind
from ledger.kit.types import nfc

Point = tuple[float, float]
Skeleton = Mapping[str, Point | None]


def visible_box_area(skeleton: Skeleton) -> float:
    """The area of the bounding box of the skeleton's visible points; 0 with fewer than two."""
    points = [p for p in skeleton.values() if p is not None]
    if not points:
        return 0.0
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return (max(xs) - min(xs)) * (max(ys) - min(ys))


def keypoint_similarity(a: Skeleton, b: Skeleton, falloff: float) -> float:
    """The symmetric OKS of two skeletons with one falloff constant k for every keypoint."""
    # s^2; halved before adding, so two finite areas (parse refuses others) have a finite mean
    scale = max(1.0, visible_box_area(a) / 2 + visible_box_area(b) / 2)
    scores: list[float] = []
    for name in a.keys() | b.keys():
        p, q = a.get(name), b.get(name)
        if p is None and q is None:
            continue  # unseen by both: neither agrees nor disagrees
        if p is None or q is None:
            scores.append(0.0)
            continue
        # may be infinite for points 1e300 apart, which scores exp(-inf) = 0, as it should
        dx, dy = p[0] - q[0], p[1] - q[1]
        squared = dx * dx + dy * dy  # not ** 2, which raises OverflowError instead
        scores.append(math.exp(-squared / (2 * scale * falloff * falloff)))
    if not scores:
        return 1.0
    # fsum: exactly rounded whatever the order of the names, so a, b and b, a give one number
    return min(1.0, max(0.0, math.fsum(scores) / len(scores)))


class Keypoints(JsonKind):
    name = "keypoints"
    summary = "one skeleton per item: each listed keypoint at [x, y], or null when not visible"
    media = ("image",)
    measure = (
        "object keypoint similarity (OKS): mean over keypoints visible in either of "
        "exp(-d^2 / (2 s^2 k^2)), 0 where visible in one only; s^2 the mean visible-box area, "
        "k = 0.1"
    )
    needs_classes = True
    classes_are = "the keypoints of the skeleton, e.g. nose, left_eye"
    shape = 'an object {"<keypoint>": [x, y] or null, ...} naming every keypoint of the dataset'
    #: COCO's k per keypoint (twice its sigma) is fitted to people marking people: 0.05 for
    #: the eyes, 0.07 the ears, 0.12 to 0.16 the wrists, elbows and shoulders, up to 0.21 the
    #: hips. A dataset's skeleton here is its buyer's own, so every keypoint takes one k, near
    #: the middle of that range: a point off by a tenth of the skeleton's scale s scores
    #: exp(-1/2), about 0.61.
    falloff: ClassVar[float] = 0.1

    def read_doc(self, doc: Any, *, classes: Sequence[str], where: str) -> Answer:
        if not isinstance(doc, dict):
            raise NotAnAnswer(self.refusal(where))
        skeleton = {nfc(name): raw for name, raw in doc.items()}
        missing = [name for name in classes if name not in skeleton]
        unknown = sorted(name for name in skeleton if name not in classes)
        if missing or unknown or len(skeleton) != len(doc):
            said = [f"missing: {', '.join(missing)}"] if missing else []
            said += [f"not a keypoint of it: {', '.join(unknown)}"] if unknown else []
            raise NotAnAnswer(
                f"a {self.name} label names every keypoint of {where}, null where not visible "
                f"({'; '.join(said) or 'a keypoint named twice'}); keypoints: {', '.join(classes)}"
            )
        points: dict[str, Point | None] = {}
        for name, raw in skeleton.items():
            if raw is None:
                points[name] = None
                continue
            point = read_point(raw)
            if point is None:
                raise NotAnAnswer(
                    f"keypoint {name!r}: [x, y] of finite numbers, or null when not visible "
                    f"({where})"
                )
            points[name] = point
        if not math.isfinite(visible_box_area(points)):
            raise NotAnAnswer(
                f"the visible keypoints' bounding box has no finite area; coordinates are pixels "
                f"({where})"
            )
        return points

    def similarity(self, a: Answer, b: Answer) -> float:
        return keypoint_similarity(a, b, self.falloff)
