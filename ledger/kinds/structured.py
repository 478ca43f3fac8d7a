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
import numpy.typing as npt

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
    scores = np.array([[overlap(x, y) for y in b] for x in a], dtype=np.float64)
    return matched_f1_of(scores.reshape(len(a), len(b)), match_at)


def matched_f1_of(scores: npt.NDArray[np.float64], match_at: float) -> float:
    """`matched_f1` of the overlaps already computed, `scores[i, j]` of the i-th object of one
    set and the j-th of the other."""
    size_a, size_b = int(scores.shape[0]), int(scores.shape[1])
    if size_a == 0 and size_b == 0:
        return 1.0
    if size_a == 0 or size_b == 0:
        return 0.0
    # Imported here: scipy.optimize costs ~0.5 s at import, paid by every start of the command
    # (serve, worker, audit, each CLI call), while only agreement on structured kinds needs it.
    from scipy.optimize import linear_sum_assignment  # noqa: PLC0415

    rows, cols = linear_sum_assignment(scores, maximize=True)
    matched = int((scores[rows, cols] >= match_at).sum())
    return 2 * matched / (size_a + size_b)


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

    def overlap_matrix(self, a: Sequence[Any], b: Sequence[Any]) -> npt.NDArray[np.float64]:
        """`overlap` of every geometry of `a` (rows) with every one of `b` (columns). A kind
        whose labels hold thousands of objects computes it at once (numpy, shapely's vectorised
        calls) rather than one Python call per pair."""
        scores = np.zeros((len(a), len(b)), dtype=np.float64)
        for i, x in enumerate(a):
            for j, y in enumerate(b):
                scores[i, j] = self.overlap(x, y)
        return scores

    def similarity(self, a: Answer, b: Answer) -> float:
        scores = self.overlap_matrix([g for _, g in a], [g for _, g in b])
        scores[~same_class([c for c, _ in a], [c for c, _ in b])] = 0.0
        return matched_f1_of(scores, self.match_at)


def same_class(a: Sequence[str], b: Sequence[str]) -> npt.NDArray[np.bool_]:
    """The boolean matrix of which class of `a` equals which of `b`, compared as small integers
    rather than as millions of strings."""
    codes = {name: n for n, name in enumerate({*a, *b})}
    x = np.array([codes[name] for name in a], dtype=np.int64).reshape(-1)
    y = np.array([codes[name] for name in b], dtype=np.int64).reshape(-1)
    return np.equal(x[:, None], y[None, :])
