"""Written answers: an item shows a prompt, `{"prompt": ...}`, and an annotator writes the ideal
response to it. A label is the text itself (not JSON), 1 to 20,000 characters, not blank, stored
in Unicode NFC and otherwise exactly as written (its spaces and line breaks are part of it).

No measure says whether two written answers agree: two good answers to one prompt rarely share
their words, and a text metric (BLEU, embeddings) would pay the fluent copy over the careful
answer. So the kind is `reviewed_only`: its datasets are verified by their reviewers, and take
neither consensus nor gold items (the dataset schema refuses any other verification). The
service never asks `similarity`; it is there to satisfy the interface and says only whether two
texts are the same answer: 1.0 when equal in NFC once stripped of surrounding white space, else
0.0."""

from __future__ import annotations

from collections.abc import Sequence

from ledger.kinds.base import Answer, LabelKind, NotAnAnswer
from ledger.kit.types import nfc


class Written(LabelKind):
    name = "written"
    summary = "the ideal response to a prompt, written by the annotator"
    media = ("llm",)
    measure = "none: reviewed only (equal texts are the same answer)"
    reviewed_only = True
    max_chars = 20_000

    def parse(self, value: str, *, classes: Sequence[str], where: str) -> Answer:
        text = nfc(value)
        if not text.strip():
            raise NotAnAnswer(
                f"a written answer is 1 to {self.max_chars} characters of text, not blank ({where})"
            )
        if len(text) > self.max_chars:
            raise NotAnAnswer(
                f"a written answer is at most {self.max_chars} characters; this one has "
                f"{len(text)} ({where})"
            )
        return text

    def similarity(self, a: Answer, b: Answer) -> float:
        if not isinstance(a, str) or not isinstance(b, str):
            raise TypeError("a written answer is a text")
        return 1.0 if nfc(a).strip() == nfc(b).strip() else 0.0
