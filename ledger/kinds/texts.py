"""Texts: a short free-text answer per item (the word in a cropped image, the answer to a
question). A label is the text itself, not JSON: 1 to 10,000 characters, not all whitespace,
stored in NFC as written (its case and punctuation kept for the buyer).

Two answers agree when their normalised forms are equal (similarity 1.0, else 0.0): a
normalised exact match, as QA and OCR word answers are scored, keeping more than SQuAD's (which
also drops articles and all punctuation). The normalised form of a text:
1. Unicode NFKC (full-width letters such as U+FF21 read as plain A, the ligature "ﬁ" as "fi"),
   then casefolded ("Straße" and "STRASSE" are one answer), then NFKC again (casefolding can
   undo it);
2. every run of whitespace made one space, and leading and trailing whitespace removed;
3. punctuation removed from both ends, with any whitespace it uncovers, so `"Paris."` and
   `(paris)` are one answer. Punctuation is Unicode general category P* (. , ; : ! ? ' " « » ( )
   [ ] - / ...) except the marks that are part of a value when they end or start one,
   `EDGE_KEPT` (% ‰ ‱ # & @ * § and the prime U+2032), so "5%" is not "5" nor "#1" "1".
   Inside the text all punctuation stays ("U.S.A." is "u.s.a", "don't" is not "dont"), and
   symbols (S*: $ + ° ...) stay everywhere, since "$5" and "5" are not one answer;
4. an answer of punctuation only ("?", "...") is compared as left by step 2, so "?" and "!"
   differ rather than both reading as nothing.

The default consensus is the most common answer by that match (every answer agreeing with
those it matches, ties to the earliest); a gold answer is graded by the same match, not by its
bytes (`exact` is False), since several spellings of one answer are all right."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from ledger.kinds.base import Answer, LabelKind, NotAnAnswer

#: Punctuation (P*) that says something about the value it ends or starts: kept at the edges.
EDGE_KEPT = frozenset("%‰‱#&@*§\u2032")


def _is_edge(ch: str) -> bool:
    """Whitespace, or punctuation stripped from the ends of an answer."""
    return ch.isspace() or (unicodedata.category(ch).startswith("P") and ch not in EDGE_KEPT)


def answer_key(text: str) -> str:
    """The text as two answers are compared (see the module docstring)."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    collapsed = " ".join(folded.split())
    start, end = 0, len(collapsed)
    while start < end and _is_edge(collapsed[start]):
        start += 1
    while end > start and _is_edge(collapsed[end - 1]):
        end -= 1
    return collapsed[start:end] or collapsed


class Texts(LabelKind):
    name = "texts"
    summary = "a short free-text answer per item (a word read in an image, a question's answer)"
    media = ("any",)
    measure = (
        "normalised exact match: equal after NFKC, casefolding, collapsing whitespace and "
        "stripping surrounding punctuation"
    )
    max_chars = 10_000

    def parse(self, value: str, *, classes: Sequence[str], where: str) -> Answer:
        if not value.strip():
            raise NotAnAnswer(
                f"a {self.name} label is the answer written out, 1 to {self.max_chars} "
                f"characters, not blank ({where})"
            )
        return value

    def similarity(self, a: Answer, b: Answer) -> float:
        return 1.0 if answer_key(a) == answer_key(b) else 0.0
