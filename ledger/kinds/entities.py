"""Named entities: every mention of a person, an organisation, a place... in an item's text, each
with its class. A label is the JSON list
`[{"class": "PER", "span": [start, end]}, ...]` of character offsets into the item's text, end
excluded, integers with 0 <= start < end; at most 1000 entities, none listed twice (the same
class and span), possibly empty (no entity in the text). Entities of different classes may
overlap or nest. Two labels agree by strict entity F1, as CoNLL and seqeval's strict mode score
NER: an entity matches only one of the same class with exactly the same offsets, and
F1 = 2 * matched / (entities in one + entities in the other); two empty labels agree (1.0)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ledger.kinds.base import Answer, NotAnAnswer
from ledger.kinds.coordinates import numbers_in
from ledger.kinds.jsontext import NotJson, canonical_json, read_json
from ledger.kinds.structured import ClassedSetKind

SPAN = "span: [start, end] of integer character offsets with 0 <= start < end"


def read_span(raw: Any) -> tuple[int, int]:
    """A span `[start, end]` of integer offsets, not empty; ValueError saying what one is."""
    span = numbers_in(raw, 2, integers=True)
    if span is None or not 0 <= span[0] < span[1]:
        raise ValueError(SPAN)
    return (span[0], span[1])


def has_float_offset(doc: Any) -> bool:
    """Whether a document's entities have a span offset written as a float (5.0, 5e0)."""
    if not isinstance(doc, list):
        return False
    return any(
        isinstance(obj, dict)
        and isinstance(obj.get("span"), list)
        and any(isinstance(x, float) for x in obj["span"])
        for obj in doc
    )


class Entities(ClassedSetKind):
    """Strict F1 is `matched_f1` with an overlap of 1 for identical spans and 0 otherwise,
    matching at 1.0 (`overlap`, `match_at`). `similarity` counts those matches directly: an
    entity can only pair with an identical one, so the best assignment pairs as many as the two
    lists share (their multiset intersection), which the Hungarian assignment over an n x m table
    (1000 x 1000 at most, a third of a second a pair) would only find more slowly."""

    name = "entities"
    summary = "named entities in a text: any number of classed character spans"
    media = ("text",)
    measure = (
        "strict entity F1 (CoNLL / seqeval strict): an entity matches only one of the same class "
        "and exactly the same offsets"
    )
    classes_are = "the entity classes (PER, ORG, LOC...)"
    shape = 'a list of entities {"class": c, "span": [start, end]} with 0 <= start < end'
    fields = ("span",)
    max_objects = 1000
    match_at = 1.0

    def normalize(self, value: str) -> str:
        # a float offset is left as written for `parse` to refuse, as the spans kind does: [0, 5.0]
        # does not quietly become the span [0,5]
        try:
            doc = read_json(value)
        except NotJson:
            return value
        if has_float_offset(doc):
            return value
        return canonical_json(self.ordered(doc))

    def from_delivered(self, answer: Any) -> str:
        if has_float_offset(answer):
            raise NotAnAnswer(f"a {self.name} label is {self.shape}: offsets are integers")
        return super().from_delivered(answer)

    def read_geometry(self, obj: Mapping[str, Any]) -> Any:
        return read_span(obj["span"])

    def read_doc(self, doc: Any, *, classes: Sequence[str], where: str) -> Answer:
        entities: list[tuple[str, tuple[int, int]]] = super().read_doc(
            doc, classes=classes, where=where
        )
        seen: set[tuple[str, tuple[int, int]]] = set()
        for entity in entities:
            if entity in seen:
                cls, (start, end) = entity
                raise NotAnAnswer(
                    f"entity {{{cls!r}, [{start}, {end}]}} is listed twice: a {self.name} label "
                    f"marks each entity once ({where})"
                )
            seen.add(entity)
        return entities

    def overlap(self, a: Any, b: Any) -> float:
        return 1.0 if tuple(a) == tuple(b) else 0.0

    def similarity(self, a: Answer, b: Answer) -> float:
        if not a and not b:
            return 1.0
        left = Counter((cls, tuple(span)) for cls, span in a)
        right = Counter((cls, tuple(span)) for cls, span in b)
        return 2 * (left & right).total() / (len(a) + len(b))
