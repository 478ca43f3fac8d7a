"""Transcripts: what is said in an audio clip, written out. A label is the text itself, not JSON:
1 to 20,000 characters, not all whitespace, stored in NFC as written (case and punctuation kept
for the buyer).

Two transcripts are compared by their words, each transcript normalised first: lowercased
(`str.lower`, as jiwer's ToLowerCase), punctuation (Unicode general category P*, as jiwer's
RemovePunctuation) deleted rather than replaced by a space (so "don't" stays one word, "dont"),
and split on runs of whitespace. Their similarity is 1 - WER made symmetric: the word-level edit
distance (substitutions + deletions + insertions, by jiwer 4.0.0) over the longer of the two word
counts, subtracted from 1,

    similarity = 1 - edits / max(words in a, words in b),

so it lies in [0, 1] and does not depend on which transcript is taken as the reference (plain
WER divides by the reference's words and can exceed 1). Two transcripts with no words after
normalisation (e.g. "..." for silence) agree fully (1.0); one with words and one without, not
at all (0.0).

Consensus is the default one, which here is a ROVER-style choice without the word voting: the
transcript agreeing with the most others at the dataset's threshold, then the one with the
highest summed similarity, i.e. the transcript closest to all the others (the medoid). It is
always a transcript somebody wrote, so the ledger pays exactly the labels matching it; a
word-by-word ROVER merge would be a text nobody wrote."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import jiwer

from ledger.kinds.base import Answer, LabelKind, NotAnAnswer


@lru_cache(maxsize=64)
def transcript_words(text: str) -> tuple[str, ...]:
    """The words of a transcript as they are compared: lowercased, punctuation deleted, split on
    whitespace. Cached: the consensus of n transcripts compares each with every other."""
    kept = "".join(ch for ch in text.lower() if not unicodedata.category(ch).startswith("P"))
    return tuple(kept.split())


def word_edits(a: Sequence[str], b: Sequence[str]) -> int:
    """Word-level Levenshtein distance (substitutions, deletions and insertions each count 1),
    by jiwer's alignment of the two word sequences."""
    if not a or not b:
        return max(len(a), len(b))
    # the words hold no whitespace, so joining by one space and jiwer's default split (spaces)
    # give back exactly these words
    out = jiwer.process_words(" ".join(a), " ".join(b))
    return int(out.substitutions + out.deletions + out.insertions)


def transcript_similarity(a: str, b: str) -> float:
    """1 - word edits / the longer transcript's word count; 1.0 when neither has a word."""
    words_a, words_b = transcript_words(a), transcript_words(b)
    longest = max(len(words_a), len(words_b))
    if longest == 0:
        return 1.0
    return 1.0 - word_edits(words_a, words_b) / longest


class Transcripts(LabelKind):
    name = "transcripts"
    summary = "a transcript of the speech in an audio clip"
    media = ("audio",)
    measure = (
        "1 - word edit distance / the longer transcript's word count (symmetric WER), after "
        "lowercasing and deleting punctuation"
    )
    max_chars = 20_000

    def parse(self, value: str, *, classes: Sequence[str], where: str) -> Answer:
        if not value.strip():
            raise NotAnAnswer(
                f"a {self.name} label is the speech written out, 1 to {self.max_chars} "
                f"characters, not blank ({where})"
            )
        return value

    def similarity(self, a: Answer, b: Answer) -> float:
        return transcript_similarity(a, b)
