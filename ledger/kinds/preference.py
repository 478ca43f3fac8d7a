"""Pairwise preference: an item shows a prompt and two model answers, `{"prompt": ..., "answers":
{"A": ..., "B": ...}}`, and a label says which answer is better. The label is the text "A", "B"
or "tie" (not JSON: a class name, as the classes kind stores it); two labels agree when equal.

A preference is a class from a fixed list, so the kind is the classes kind with its classes
decided here rather than by the buyer: "A", "B" and "tie", or "A" and "B" alone for a dataset
that refuses ties (forced choice, as in most RLHF preference sets). Being one class per label,
preferences are combined by the class aggregators (majority vote, Wawa, Dawid-Skene) and
reported with Fleiss' kappa and Krippendorff's alpha like any other classes."""

from __future__ import annotations

from collections.abc import Sequence

from ledger.kinds.base import Answer, NotAnAnswer
from ledger.kinds.classes import Classes

WITH_TIE = ["A", "B", "tie"]
WITHOUT_TIE = ["A", "B"]


class Preference(Classes):
    name = "preference"
    summary = 'which of two answers to a prompt is better: "A", "B" or "tie"'
    media = ("llm",)
    measure = 'equal choices agree ("A", "B" or "tie")'
    classes_are = 'the choices: ["A", "B", "tie"] (the default), or ["A", "B"] to refuse ties'

    def check_classes(self, classes: list[str]) -> list[str]:
        """No classes listed means ties allowed; the buyer may list the two choices alone to
        refuse ties. Any other list is refused: the labels must keep the names the annotators'
        screen and the buyer's download both use for the two answers."""
        if not classes:
            return list(WITH_TIE)
        if classes in (WITH_TIE, WITHOUT_TIE):
            return list(classes)
        raise ValueError(
            'preference label_classes are ["A", "B", "tie"] (ties allowed, the default when none '
            'are listed) or ["A", "B"] (no ties)'
        )

    def parse(self, value: str, *, classes: Sequence[str], where: str) -> Answer:
        if value not in classes:
            quoted = [f'"{c}"' for c in classes]
            choices = ", ".join(quoted[:-1]) + " or " + quoted[-1]
            refused = " (ties are not allowed)" if value == "tie" else ""
            raise NotAnAnswer(
                f"{value!r} is not a preference{refused}: a label is {choices}, naming the "
                f"better answer ({where})"
            )
        return value
