"""What the structured kinds share: a label is a JSON document, stored in its canonical spelling
(`jsontext.canonical_json`), delivered to the buyer as the JSON value itself; and for the kinds
whose label is a set of classed objects (boxes, polygons, segments, tracks, cuboids, entities),
how two such sets agree: objects paired one to one by the Hungarian assignment on the kind's
overlap, a pair matching when of one class and overlapping at least `match_at`, and the two sets
agreeing by the F1 of those matches."""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import numpy as np
from scipy.optimize import linear_sum_assignment

from ledger.kinds.base import Answer, LabelKind, NotAnAnswer
from ledger.kinds.jsontext import NotJson, canonical_json, read_json

T = TypeVar("T")


class JsonKind(LabelKind):
    """A kind whose label is a JSON document. `shape` tells a client what one looks like (the
    refusal messages quote it)."""

    shape: ClassVar[str]
    max_chars = 100_000

    def ordered(self, doc: Any) -> Any:
        """The document in its canonical order (a kind whose label is a set sorts it)."""
        return doc

    def normalize(self, value: str) -> str:
        try:
            doc = read_json(value)
        except NotJson:
            return value
        return canonical_json(self.ordered(doc))

    def parse(self, value: str, *, classes: Sequence[str], where: str) -> Answer:
        try:
            doc = read_json(value)
        except NotJson as wrong:
            raise NotAnAnswer(f"not {self.shape}: {wrong} ({where})") from None
        return self.read_doc(doc, classes=classes, where=where)

    def refusal(self, where: str) -> str:
        return f"not {self.shape} ({where})"

    @abstractmethod
    def read_doc(self, doc: Any, *, classes: Sequence[str], where: str) -> Answer:
        """The parsed answer of a JSON document; NotAnAnswer (see `refusal`) if it is not one."""

    def delivered(self, value: str) -> Any:
        try:
            return read_json(value)
        except NotJson:
            return value  # stored before this kind read JSON: delivered as it was stored

    def from_delivered(self, answer: Any) -> str:
        if isinstance(answer, str):
            return self.normalize(answer)
        # written as JSON text and normalised as any client's text is, so that the value's
        # own rules (a span's 4.0 is not an offset) hold for a delivered answer too
        try:
            return self.normalize(json.dumps(answer, allow_nan=False))
        except (TypeError, ValueError):
            raise NotAnAnswer(f"a {self.name} label is {self.shape}") from None


def matched_f1(
    a: Sequence[T], b: Sequence[T], overlap: Callable[[T, T], float], match_at: float
) -> float:
    """F1 of the pairs matched between two sets: the Hungarian assignment maximising the summed
    overlap (`overlap` is 0 for two objects that may not match, e.g. of different classes), of
    which the pairs overlapping at least `match_at` count. Two empty sets agree (1.0)."""
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    scores = np.array([[overlap(x, y) for y in b] for x in a], dtype=np.float64)
    rows, cols = linear_sum_assignment(scores, maximize=True)
    matched = int((scores[rows, cols] >= match_at).sum())
    return 2 * matched / (len(a) + len(b))


class ClassedSetKind(JsonKind):
    """A label is a list of objects, each `{"class": one of the dataset's classes, <geometry>}`,
    at most `max_objects` of them; the list is a set (stored sorted, so its order never changes
    its hash). Two labels agree by `matched_f1` of `overlap` at `match_at`."""

    needs_classes = True
    max_objects: ClassVar[int] = 500
    match_at: ClassVar[float] = 0.5
    #: The keys of an object besides "class", e.g. ("box",).
    fields: ClassVar[tuple[str, ...]]

    @abstractmethod
    def read_geometry(self, obj: Mapping[str, Any]) -> Any:
        """The geometry of one object (its `fields`); ValueError saying what is wrong."""

    @abstractmethod
    def overlap(self, a: Any, b: Any) -> float:
        """How much two geometries overlap, in [0, 1]."""

    def ordered(self, doc: Any) -> Any:
        if isinstance(doc, list):
            return sorted(doc, key=canonical_json)
        return doc

    def read_doc(self, doc: Any, *, classes: Sequence[str], where: str) -> Answer:
        if not isinstance(doc, list):
            raise NotAnAnswer(self.refusal(where))
        if len(doc) > self.max_objects:
            raise NotAnAnswer(f"at most {self.max_objects} objects per {self.name} label ({where})")
        keys = {"class", *self.fields}
        objects: list[tuple[str, Any]] = []
        for n, obj in enumerate(doc):
            if not isinstance(obj, dict) or set(obj) != keys:
                raise NotAnAnswer(f"object {n}: {self.refusal(where)}")
            if obj["class"] not in classes:
                raise NotAnAnswer(
                    f"object {n}: {obj['class']!r} is not a class of {where}; "
                    f"classes: {', '.join(classes)}"
                )
            try:
                geometry = self.read_geometry(obj)
            except ValueError as wrong:
                raise NotAnAnswer(f"object {n}: {wrong} ({where})") from None
            objects.append((obj["class"], geometry))
        return objects

    def similarity(self, a: Answer, b: Answer) -> float:
        def pair(x: tuple[str, Any], y: tuple[str, Any]) -> float:
            return self.overlap(x[1], y[1]) if x[0] == y[0] else 0.0

        return matched_f1(a, b, pair, self.match_at)
