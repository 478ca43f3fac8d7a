"""Ranking: an item shows a prompt and several model answers, `{"prompt": ..., "answers": {"A":
..., "B": ..., "C": ...}}`, and a label orders all of them, best first. The dataset's
label_classes are the answers' names (2 to 10); a label is the JSON list of every one of them
exactly once, e.g. `["B", "A", "C"]` (B best, C worst). The order is the label, so the list is
stored in the order given (canonical spelling only), never sorted.

Two rankings agree by (1 + tau) / 2, tau being Kendall's rank correlation: of the n (n - 1) / 2
pairs of answers, (concordant - discordant) / pairs, where a pair is concordant when both
rankings put the same answer of the two first. A full ranking has no ties, so Kendall's tau-a
and tau-b are the same. The measure is 1 for the same ranking, 0 for one the reverse of the
other, and 1 - d / pairs for rankings d adjacent swaps apart (d being the Kendall distance)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

from ledger.kinds.base import Answer, NotAnAnswer
from ledger.kinds.jsontext import NotJson, canonical_json, read_json
from ledger.kinds.structured import JsonKind
from ledger.kit.types import nfc

MIN_ANSWERS = 2
#: Beyond ten answers a person no longer ranks them reliably in one go (nor reads them).
MAX_ANSWERS = 10


def kendall_tau(a: Sequence[str], b: Sequence[str]) -> float:
    """Kendall's tau of two rankings of the same names (each a permutation, best first):
    (concordant - discordant) / pairs. ValueError when they do not rank the same names."""
    if len(a) != len(b) or set(a) != set(b) or len(set(a)) != len(a):
        raise ValueError(f"not two rankings of the same answers: {list(a)}, {list(b)}")
    if len(a) < 2:
        return 1.0
    place = {name: n for n, name in enumerate(a)}
    pairs = len(b) * (len(b) - 1) // 2
    # b lists each pair (x before y); it is concordant when a also puts x before y
    discordant = sum(1 for x, y in combinations(b, 2) if place[x] > place[y])
    return (pairs - 2 * discordant) / pairs


class Ranking(JsonKind):
    """Consensus is the base kind's: the ranking within the threshold of the most others, then,
    among those, the one with the highest summed similarity, i.e. the fewest summed adjacent
    swaps (Kendall distance) to all the rankings given. It is always a ranking an annotator gave,
    so the ledger pays exactly the labels matching it.

    Why not an aggregate ranking: Kemeny's (the ranking with the fewest summed swaps to all of
    them, over every possible ranking) is NP-hard in general and, like Borda's (answers ordered
    by their mean place), is often a ranking nobody gave: no label would match it exactly and
    nobody could be paid for it. The given ranking with the fewest summed swaps is never more
    than twice as far from the others as Kemeny's (by the triangle inequality of the Kendall
    distance), so choosing among the rankings given costs little."""

    name = "ranking"
    summary = "all of an item's answers ranked, best first"
    media = ("llm",)
    measure = "(1 + Kendall's tau) / 2 of the two rankings"
    needs_classes = True
    classes_are = f"the names of the answers ranked ({MIN_ANSWERS} to {MAX_ANSWERS})"
    shape = 'a JSON list of every answer\'s name once, best first, e.g. ["B", "A", "C"]'
    # ten names of up to 200 characters, even if every character is written as a \u escape
    max_chars = MAX_ANSWERS * (200 * 6 + 3) + 2

    def check_classes(self, classes: list[str]) -> list[str]:
        if not MIN_ANSWERS <= len(classes) <= MAX_ANSWERS:
            raise ValueError(
                f"a ranking dataset lists the names of the answers it ranks as label_classes: "
                f'{MIN_ANSWERS} to {MAX_ANSWERS} of them, e.g. ["A", "B", "C"]'
            )
        return classes

    def normalize(self, value: str) -> str:
        """The canonical spelling, names in NFC, order kept; a value that is not a list of
        names comes back as it is for `parse` to refuse."""
        try:
            doc = read_json(value)
        except NotJson:
            return value
        if not _names(doc):
            return value
        return canonical_json(doc)

    def read_doc(self, doc: Any, *, classes: Sequence[str], where: str) -> Answer:
        if not _names(doc):
            raise NotAnAnswer(self.refusal(where))
        names = [nfc(name) for name in doc]
        unknown = [name for name in names if name not in classes]
        if unknown:
            raise NotAnAnswer(
                f"{unknown[0]!r} is not an answer of {where}; answers: {', '.join(classes)}"
            )
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise NotAnAnswer(f"{twice[0]!r} is ranked twice; each answer once ({where})")
        missing = [name for name in classes if name not in names]
        if missing:
            raise NotAnAnswer(
                f"{', '.join(repr(m) for m in missing)} not ranked: a ranking lists every "
                f"answer of {where} once, best first"
            )
        return names

    def similarity(self, a: Answer, b: Answer) -> float:
        if isinstance(a, str) or isinstance(b, str):
            raise TypeError("a ranking answer is a list of the answers' names")
        return (1.0 + kendall_tau(a, b)) / 2.0


def _names(doc: Any) -> bool:
    """Whether `doc` is a JSON list of texts at most MAX_ANSWERS long: the shape of a ranking
    before the dataset's answers are known."""
    return (
        isinstance(doc, list)
        and len(doc) <= MAX_ANSWERS
        and all(isinstance(name, str) for name in doc)
    )
