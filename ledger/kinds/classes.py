"""Classes: a label is one of the dataset's class names, compared in Unicode NFC (the base
kind's normal form, as the classes themselves are stored: "café" typed either way is the class
café); two agree when equal."""

from __future__ import annotations

from collections.abc import Sequence

from ledger.kinds.base import Answer, LabelKind, NotAnAnswer


class Classes(LabelKind):
    name = "classes"
    summary = "one of the dataset's classes per item"
    media = ("any",)
    measure = "equal classes agree"
    needs_classes = True
    single_class = True
    exact = True

    def parse(self, value: str, *, classes: Sequence[str], where: str) -> Answer:
        if value not in classes:
            raise NotAnAnswer(f"{value!r} is not a class of {where}; classes: {', '.join(classes)}")
        return value

    def similarity(self, a: Answer, b: Answer) -> float:
        return 1.0 if a == b else 0.0
