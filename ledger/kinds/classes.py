"""Classes: a label is one of the dataset's class names, compared in Unicode NFC; two agree when
equal."""

from __future__ import annotations

from collections.abc import Sequence

from ledger.kinds.base import Answer, LabelKind, NotAnAnswer
from ledger.kit.types import nfc


class Classes(LabelKind):
    name = "classes"
    takes_classes = True
    exact = True

    def normalize(self, value: str) -> str:
        # the classes themselves are stored in NFC, so "café" typed either way is the class café
        return nfc(value)

    def parse(self, value: str, *, classes: Sequence[str], where: str) -> Answer:
        if value not in classes:
            raise NotAnAnswer(f"{value!r} is not a class of {where}; classes: {', '.join(classes)}")
        return value

    def similarity(self, a: Answer, b: Answer) -> float:
        return 1.0 if a == b else 0.0
