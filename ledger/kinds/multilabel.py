"""Multi-label: every class of the dataset that applies to the item, none or several (the topics
of an article, the attributes of a photo). A label is the JSON list of those classes, e.g.
`["a", "c"]`, each class at most once, possibly empty (none applies); it is a set, so it is
stored sorted (by code point, in NFC) and its hash does not depend on the order it was written
in. Two labels agree by their Jaccard index, the classes in both over the classes in either
(len(A & B) / len(A | B)); two empty labels agree fully (1.0)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger.kinds.base import Answer, NotAnAnswer
from ledger.kinds.structured import JsonKind
from ledger.kit.types import nfc


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Shared classes over classes in either; 1.0 for two empty sets (both say "none")."""
    union = len(a | b)
    if union == 0:
        return 1.0
    return len(a & b) / union


class MultiLabel(JsonKind):
    name = "multilabel"
    summary = "any number of the dataset's classes per item, or none"
    media = ("any",)
    measure = "Jaccard index: classes in both labels over classes in either (both empty: 1)"
    needs_classes = True
    classes_are = "the classes an item may carry"
    shape = 'a list of distinct classes, e.g. ["a", "c"], or [] for none'

    def ordered(self, doc: Any) -> Any:
        """A list of class names sorted by code point of their NFC, so the set is one text;
        anything else is left as it is for `parse` to refuse."""
        if isinstance(doc, list) and all(isinstance(c, str) for c in doc):
            return sorted(nfc(c) for c in doc)
        return doc

    def read_doc(self, doc: Any, *, classes: Sequence[str], where: str) -> Answer:
        if not isinstance(doc, list):
            raise NotAnAnswer(self.refusal(where))
        seen: set[str] = set()
        for n, raw in enumerate(doc):
            if not isinstance(raw, str):
                raise NotAnAnswer(f"item {n}: {self.refusal(where)}")
            name = nfc(raw)
            if name not in classes:
                raise NotAnAnswer(
                    f"{name!r} is not a class of {where}; classes: {', '.join(classes)}"
                )
            if name in seen:
                raise NotAnAnswer(
                    f"{name!r} is listed twice: a {self.name} label names each class once ({where})"
                )
            seen.add(name)
        return frozenset(seen)

    def similarity(self, a: Answer, b: Answer) -> float:
        return jaccard(frozenset(a), frozenset(b))
