"""The text and audio kinds: multilabel (a set of classes, Jaccard), entities (classed character
spans, strict entity F1), texts (a free answer, normalised exact match) and transcripts (speech
written out, 1 - symmetric WER). Each measure is checked against hand-worked arithmetic and an
independent reimplementation, and each kind's consensus against a simulated crowd."""

from __future__ import annotations

import json
import random
import unicodedata
from collections.abc import Callable, Sequence
from importlib.metadata import version
from typing import Any

import pytest

from ledger.kinds.base import LabelKind, NotAnAnswer
from ledger.kinds.entities import Entities
from ledger.kinds.multilabel import MultiLabel
from ledger.kinds.structured import matched_f1
from ledger.kinds.texts import Texts, answer_key
from ledger.kinds.transcripts import Transcripts, transcript_words, word_edits

WHERE = "dataset 7"
TOPICS = ("a", "b", "c", "café", "sport")
NER = ("PER", "ORG", "LOC", "MISC")

multilabel = MultiLabel()
entities = Entities()
texts = Texts()
transcripts = Transcripts()


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 (reproducible test data)


def read(kind: LabelKind, value: str, classes: Sequence[str] = ()) -> Any:
    """A value as the service reads it: normalised, then parsed (with the size limit)."""
    return kind.read(kind.normalize(value), classes=classes, where=WHERE)


def crowd_rates(
    kind: LabelKind,
    truth_of: Callable[[random.Random], str],
    corrupt: Callable[[random.Random, str], str],
    right: Callable[[str, str], bool],
    threshold: float,
    classes: Sequence[str] = (),
    trials: int = 300,
    annotators: int = 5,
    accurate: float = 0.7,
    respell: Callable[[random.Random, str], str] | None = None,
) -> tuple[float, float]:
    """(share of items whose consensus is right, share of single labels that are right) over
    simulated items: each annotator gives the true label with probability `accurate` (spelled
    their own way by `respell`, if given), else a plausibly corrupted one."""
    rng = seeded(20240607)
    consensus_right = single_right = labels = 0
    for _ in range(trials):
        truth = truth_of(rng)
        given = [
            (respell(rng, truth) if respell else truth)
            if rng.random() < accurate
            else corrupt(rng, truth)
            for _ in range(annotators)
        ]
        values = [kind.normalize(v) for v in given]
        answers = [kind.read(v, classes=classes, where=WHERE) for v in values]
        chosen = kind.consensus(answers, threshold)
        consensus_right += right(values[chosen.index], truth)
        single_right += sum(right(v, truth) for v in values)
        labels += len(values)
    return consensus_right / trials, single_right / labels


# --- multilabel ---


@pytest.mark.parametrize(
    ("value", "answer"),
    [
        ('["a", "c"]', {"a", "c"}),
        ("[]", set()),
        ('["sport"]', {"sport"}),
        ('["cafe\u0301", "a"]', {"café", "a"}),
    ],
)
def test_multilabel_reads_a_set_of_the_datasets_classes(value: str, answer: set[str]) -> None:
    assert read(multilabel, value, TOPICS) == frozenset(answer)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"a"', r"not a list of distinct classes.*\(dataset 7\)"),
        ('{"a": 1}', r"not a list of distinct classes.*\(dataset 7\)"),
        ("a", r"not a list of distinct classes.*: not JSON \(dataset 7\)"),
        ("[1]", r"item 0: not a list of distinct classes"),
        ('["a", true]', r"item 1: not a list of distinct classes"),
        ('["a", null]', r"item 1: not a list of distinct classes"),
        ('[["a"]]', r"item 0: not a list of distinct classes"),
        ("[NaN]", r"NaN is not a number a label may hold"),
        ('["dog"]', r"'dog' is not a class of dataset 7; classes: a, b, c, café, sport"),
        ('["A"]', r"'A' is not a class of dataset 7"),
        ('["a", "a"]', r"'a' is listed twice.*\(dataset 7\)"),
        ('["café", "cafe\u0301"]', r"'café' is listed twice"),
    ],
)
def test_multilabel_refuses_anything_but_distinct_listed_classes(value: str, message: str) -> None:
    with pytest.raises(NotAnAnswer, match=message):
        read(multilabel, value, TOPICS)


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ('["c", "a"]', '["a","c"]'),
        ('[ "a" ,\n "c" ]', '["a","c"]'),
        ('["sport", "cafe\u0301", "b"]', '["b","café","sport"]'),
        ("[ ]", "[]"),
        # by code point: upper case before lower, accented after
        ('["é", "b", "B", "a"]', '["B","a","b","é"]'),
    ],
)
def test_multilabel_is_stored_sorted_in_one_spelling(written: str, stored: str) -> None:
    assert multilabel.normalize(written) == stored
    assert multilabel.normalize(stored) == stored  # idempotent


def test_multilabel_order_never_changes_the_stored_text() -> None:
    rng = seeded(3)
    for _ in range(50):
        chosen = rng.sample(TOPICS, rng.randint(0, len(TOPICS)))
        shuffled = chosen[:]
        rng.shuffle(shuffled)
        assert multilabel.normalize(json.dumps(chosen)) == multilabel.normalize(
            json.dumps(shuffled, indent=2)
        )


def test_multilabel_leaves_a_non_answer_for_parse_to_refuse() -> None:
    assert multilabel.normalize("a, c") == "a, c"
    assert multilabel.normalize('["a", [1]]') == '["a",[1]]'  # unsorted: not a list of names


def test_multilabel_is_delivered_as_the_json_list_and_reads_back() -> None:
    value = multilabel.normalize('["c", "a"]')
    assert multilabel.delivered(value) == ["a", "c"]
    assert multilabel.from_delivered(multilabel.delivered(value)) == value
    assert multilabel.from_delivered(["c", "a"]) == value
    assert multilabel.from_delivered([]) == "[]"


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # {a,b} vs {b,c}: shared {b} = 1, either {a,b,c} = 3 -> 1/3
        ({"a", "b"}, {"b", "c"}, 1 / 3),
        # {a} vs {a,b,c}: 1 / 3
        ({"a"}, {"a", "b", "c"}, 1 / 3),
        # {a,b} vs {a,b,c,café}: 2 / 4
        ({"a", "b"}, {"a", "b", "c", "café"}, 0.5),
        # {a,b,c} vs {c,b,a}: 3 / 3
        ({"a", "b", "c"}, {"c", "b", "a"}, 1.0),
        # nothing shared, 2 classes in either: 0 over 2
        ({"a"}, {"b"}, 0.0),
        # both say "none": 1 by definition; none against something: 0 / 1
        (set(), set(), 1.0),
        (set(), {"a"}, 0.0),
    ],
)
def test_multilabel_jaccard_worked_examples(a: set[str], b: set[str], expected: float) -> None:
    fa, fb = frozenset(a), frozenset(b)
    assert multilabel.similarity(fa, fb) == pytest.approx(expected)
    assert multilabel.similarity(fb, fa) == pytest.approx(expected)


def test_multilabel_jaccard_matches_a_count_over_the_classes_on_random_sets() -> None:
    rng = seeded(11)
    for _ in range(500):
        a = rng.sample(TOPICS, rng.randint(0, len(TOPICS)))
        b = rng.sample(TOPICS, rng.randint(0, len(TOPICS)))
        both = sum(1 for c in TOPICS if c in a and c in b)
        either = sum(1 for c in TOPICS if c in a or c in b)
        expected = both / either if either else 1.0
        pa, pb = read(multilabel, json.dumps(a), TOPICS), read(multilabel, json.dumps(b), TOPICS)
        assert multilabel.similarity(pa, pb) == pytest.approx(expected)
        assert multilabel.similarity(pa, pb) == multilabel.similarity(pb, pa)
        assert multilabel.similarity(pa, pa) == 1.0
        assert 0.0 <= multilabel.similarity(pa, pb) <= 1.0


def test_multilabel_crowd_consensus_beats_a_single_annotator() -> None:
    def truth_of(rng: random.Random) -> str:
        return json.dumps(rng.sample(TOPICS, rng.randint(1, 3)))

    def corrupt(rng: random.Random, truth: str) -> str:
        labels = set(json.loads(truth))
        missing = [c for c in TOPICS if c not in labels]
        move = rng.choice(["drop", "add", "swap"])
        if move in ("drop", "swap") and labels:
            labels.discard(rng.choice(sorted(labels)))
        if move in ("add", "swap") and missing:
            labels.add(rng.choice(missing))
        return json.dumps(sorted(labels))

    def right(value: str, truth: str) -> bool:
        return set(json.loads(value)) == set(json.loads(truth))

    together, alone = crowd_rates(multilabel, truth_of, corrupt, right, 0.5, TOPICS)
    assert alone < 0.8
    assert together >= 0.9
    assert together > alone


# --- entities ---

PER_ORG = '[{"class": "PER", "span": [0, 5]}, {"class": "ORG", "span": [10, 16]}]'


def entity_list(*items: tuple[str, int, int]) -> list[tuple[str, tuple[int, int]]]:
    return [(c, (s, e)) for c, s, e in items]


def test_entities_read_classed_spans() -> None:
    assert sorted(read(entities, PER_ORG, NER)) == entity_list(("ORG", 10, 16), ("PER", 0, 5))
    assert read(entities, "[]", NER) == []
    # nested and overlapping entities of different classes, and one span under two classes
    nested = (
        '[{"class": "ORG", "span": [0, 20]}, {"class": "LOC", "span": [10, 20]},'
        ' {"class": "MISC", "span": [10, 20]}]'
    )
    assert len(read(entities, nested, NER)) == 3


def one(span: str, cls: str = "PER") -> str:
    return f'[{{"class": "{cls}", "span": {span}}}]'


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"class": "PER", "span": [0, 5]}', r"^not a list of entities .*\(dataset 7\)$"),
        ("PER 0 5", r"not a list of entities .*: not JSON \(dataset 7\)"),
        ("[[0, 5]]", r"object 0: not a list of entities"),
        ('[{"class": "PER"}]', r"object 0: not a list of entities"),
        ('[{"class": "PER", "span": [0, 5], "text": "Alice"}]', r"object 0: not a list"),
        ('[{"label": "PER", "span": [0, 5]}]', r"object 0: not a list"),
        (one("[0, 5]", "PERSON"), r"'PERSON' is not a class of dataset 7; classes: PER, ORG"),
        (one("[5, 5]"), r"object 0: span: \[start, end\].*0 <= start < end \(dataset 7\)"),
        (one("[6, 5]"), r"0 <= start < end"),
        (one("[-1, 5]"), r"0 <= start < end"),
        (one("[0.5, 5]"), r"integer character offsets"),
        (one("[true, 5]"), r"integer character offsets"),
        (one('["0", 5]'), r"integer character offsets"),
        (one("[0, 5, 9]"), r"integer character offsets"),
        (one("[0, NaN]"), r"NaN is not a number a label may hold"),
        (one("[0, Infinity]"), r"Infinity is not a number a label may hold"),
        (
            '[{"class": "PER", "span": [0, 5]}, {"span": [0, 5], "class": "PER"}]',
            r"entity \{'PER', \[0, 5\]\} is listed twice.*\(dataset 7\)",
        ),
    ],
)
def test_entities_refuse_anything_else_and_say_what_an_entity_is(value: str, message: str) -> None:
    with pytest.raises(NotAnAnswer, match=message):
        read(entities, value, NER)


def test_entities_are_at_most_a_thousand() -> None:
    many = [{"class": "PER", "span": [i, i + 1]} for i in range(1001)]
    with pytest.raises(NotAnAnswer, match=r"at most 1000 objects per entities label \(dataset 7\)"):
        read(entities, json.dumps(many), NER)
    assert len(read(entities, json.dumps(many[:1000]), NER)) == 1000


def test_entities_are_stored_in_one_spelling_whatever_the_order() -> None:
    stored = entities.normalize(PER_ORG)
    assert stored == '[{"class":"ORG","span":[10,16]},{"class":"PER","span":[0,5]}]'
    reordered = '[ {"span": [10, 16], "class": "ORG"},\n {"span": [0, 5], "class": "PER"} ]'
    assert entities.normalize(reordered) == stored
    assert entities.normalize(stored) == stored  # idempotent
    # left as written for parse to refuse: not JSON, and offsets written as floats (as spans)
    for refused in ("PER 0 5", '[{"class": "PER", "span": [0, 5.0]}]', one("[1e1, 12]")):
        assert entities.normalize(refused) == refused
        with pytest.raises(NotAnAnswer):
            read(entities, refused, NER)
    with pytest.raises(NotAnAnswer, match="offsets are integers"):
        entities.from_delivered([{"class": "PER", "span": [0, 5.0]}])


def test_entities_are_delivered_as_the_json_list_and_read_back() -> None:
    stored = entities.normalize(PER_ORG)
    assert entities.delivered(stored) == [
        {"class": "ORG", "span": [10, 16]},
        {"class": "PER", "span": [0, 5]},
    ]
    assert entities.from_delivered(entities.delivered(stored)) == stored
    assert entities.from_delivered(json.loads(PER_ORG)) == stored


def test_strict_entity_f1_worked_examples() -> None:
    gold = entity_list(("PER", 0, 5), ("ORG", 10, 16), ("LOC", 20, 26))
    # 2 of the 3 found exactly, plus 2 more: one boundary off by one, one extra entity
    found = entity_list(("PER", 0, 5), ("ORG", 10, 16), ("LOC", 20, 27), ("MISC", 30, 33))
    # F1 = 2 * 2 matched / (3 + 4) = 4/7 (P = 2/4, R = 2/3, 2PR/(P+R) = (2/3)/(7/6) = 4/7)
    assert entities.similarity(gold, found) == pytest.approx(4 / 7)
    assert entities.similarity(found, gold) == pytest.approx(4 / 7)
    # the right span under the wrong class matches nothing: 2 * 0 / (1 + 1)
    assert entities.similarity(entity_list(("PER", 0, 5)), entity_list(("ORG", 0, 5))) == 0.0
    # a span one character short matches nothing either (strict, not partial)
    assert entities.similarity(entity_list(("PER", 0, 5)), entity_list(("PER", 0, 4))) == 0.0
    # 1 of 1 against 1 of 2: 2 * 1 / (1 + 2) = 2/3
    assert entities.similarity(
        entity_list(("PER", 0, 5)), entity_list(("PER", 0, 5), ("PER", 7, 9))
    ) == pytest.approx(2 / 3)
    # no entity against no entity agrees; against one, does not
    assert entities.similarity([], []) == 1.0
    assert entities.similarity([], entity_list(("PER", 0, 5))) == 0.0
    assert entities.similarity(gold, gold) == 1.0


def random_entities(rng: random.Random) -> str:
    spans = set()
    for _ in range(rng.randint(0, 8)):
        start = rng.randint(0, 12)
        spans.add((rng.choice(NER[:2]), start, start + rng.randint(1, 3)))
    return json.dumps([{"class": c, "span": [s, e]} for c, s, e in spans])


def test_strict_entity_f1_is_matched_f1_and_seqevals_count_on_random_labels() -> None:
    rng = seeded(5)
    for _ in range(400):
        a = read(entities, random_entities(rng), NER)
        b = read(entities, random_entities(rng), NER)
        # the brief's definition: the Hungarian matching of identical (class, span) at 1.0
        hungarian = matched_f1(
            a, b, lambda x, y: entities.overlap(x[1], y[1]) if x[0] == y[0] else 0.0, 1.0
        )
        # seqeval strict: true positives are the entities in both; F1 from precision and recall
        tp = len(set(a) & set(b))
        if not a and not b:
            seqeval = 1.0
        elif tp == 0:
            seqeval = 0.0
        else:
            precision, recall = tp / len(b), tp / len(a)
            seqeval = 2 * precision * recall / (precision + recall)
        assert entities.similarity(a, b) == pytest.approx(hungarian)
        assert entities.similarity(a, b) == pytest.approx(seqeval)
        assert entities.similarity(a, b) == entities.similarity(b, a)
        assert entities.similarity(a, a) == 1.0


def test_entities_crowd_consensus_beats_a_single_annotator() -> None:
    def truth_of(rng: random.Random) -> str:
        # 1 to 5 entities, apart from each other, in a text of about 200 characters
        starts = sorted(rng.sample(range(0, 200, 12), rng.randint(1, 5)))
        return json.dumps(
            [{"class": rng.choice(NER), "span": [s, s + rng.randint(2, 10)]} for s in starts]
        )

    def corrupt(rng: random.Random, truth: str) -> str:
        marked = json.loads(truth)
        n = rng.randrange(len(marked))
        move = rng.choice(["miss", "shift", "class", "extra"])
        if move == "miss":
            del marked[n]
        elif move == "shift":  # a boundary one character off
            end = rng.randrange(2)
            marked[n]["span"][end] += 1 if end else rng.choice([-1, 1])
            marked[n]["span"][0] = max(0, marked[n]["span"][0])
        elif move == "class":
            marked[n]["class"] = rng.choice([c for c in NER if c != marked[n]["class"]])
        else:
            marked.append({"class": rng.choice(NER), "span": [205, 209]})
        return json.dumps(marked)

    def right(value: str, truth: str) -> bool:
        return bool(value == entities.normalize(truth))

    together, alone = crowd_rates(entities, truth_of, corrupt, right, 0.5, NER)
    assert alone < 0.8
    assert together >= 0.9
    assert together > alone


# --- texts ---


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Paris", "paris", True),
        ("Paris", "  PARIS  ", True),
        ("Paris", '"Paris."', True),
        ("Paris", "(paris)!", True),
        ("Paris", "« Paris »", True),
        ("New York", "new   york", True),
        ("New York", "new\tyork\n", True),
        ("\uff21\uff22\uff23", "abc", True),  # NFKC: full-width letters
        ("ﬁsh", "fish", True),  # NFKC: the ligature
        ("Straße", "STRASSE", True),  # casefolding, not lower()
        ("café", "cafe\u0301", True),
        ("U.S.A.", "u.s.a", True),  # trailing period stripped, inner ones kept
        ("- hello -", "hello", True),
        ("Paris", "Pariss", False),
        ("New York", "NewYork", False),  # inner whitespace is collapsed, not removed
        ("U.S.A.", "USA", False),
        ("don't", "dont", False),
        ("$5", "5", False),  # a symbol is not punctuation
        ("5%", "5", False),  # % is punctuation (Po), but part of the value: kept
        ("#1", "1", False),
        ("A*", "A", False),
        ("1/2", "1/2.", True),
        ("5 %", "5%", False),
        ("café", "cafe", False),  # accents are kept
        ("?", "!", False),  # punctuation only: compared as it is
        ("?", " ? ", True),
        ("...", "…", True),  # NFKC: the ellipsis is three periods
    ],
)
def test_texts_match_after_normalisation(a: str, b: str, same: bool) -> None:
    expected = 1.0 if same else 0.0
    pa, pb = read(texts, a), read(texts, b)
    assert texts.similarity(pa, pb) == expected
    assert texts.similarity(pb, pa) == expected
    assert texts.similarity(pa, pa) == 1.0


def test_texts_normal_form_is_what_the_docstring_says() -> None:
    assert answer_key('  "The  Eiffel\u00a0Tower." ') == "the eiffel tower"
    assert answer_key("...") == "..."
    assert answer_key("ǅ") == "dž"  # casefolding the titlecase digraph, then NFKC


def test_texts_are_stored_in_nfc_as_written() -> None:
    assert texts.normalize("Cafe\u0301 au lait.") == "Café au lait."
    for value in ("Café au lait.", "  two  spaces ", '["not", "json"]'):
        assert texts.normalize(value) == value
        assert texts.normalize(texts.normalize(value)) == texts.normalize(value)
        assert texts.delivered(value) == value
        assert texts.from_delivered(texts.delivered(value)) == value
    with pytest.raises(NotAnAnswer, match="must be a text"):
        texts.from_delivered(["Paris"])


@pytest.mark.parametrize("value", ["", " ", "\n\t "])
def test_texts_refuse_a_blank_answer(value: str) -> None:
    with pytest.raises(NotAnAnswer, match=r"1 to 10000 characters, not blank \(dataset 7\)"):
        read(texts, value)


def test_texts_are_at_most_ten_thousand_characters() -> None:
    assert read(texts, "x" * 10_000) == "x" * 10_000
    with pytest.raises(NotAnAnswer, match=r"at most 10000 characters; this one has 10001"):
        read(texts, "x" * 10_001)


def test_texts_consensus_is_the_most_common_answer_and_gold_is_graded_by_the_match() -> None:
    answers = [read(texts, v) for v in ("London", "Paris", "paris.", " PARIS ", "London")]
    chosen = texts.consensus(answers, 0.5)
    assert (chosen.index, chosen.supporters, chosen.total) == (1, 3, 5)
    tied = texts.consensus([read(texts, v) for v in ("Rome", "Paris", "paris", "rome")], 1.0)
    assert (tied.index, tied.supporters) == (0, 2)  # a tie goes to the earliest answer
    assert not texts.exact
    for threshold in (0.1, 0.5, 1.0):
        assert texts.graded_right("paris!", "Paris", threshold)
        assert not texts.graded_right("Pariss", "Paris", threshold)


WORDS = [
    *("apple", "river", "stone", "castle", "window", "orange", "garden", "silver", "thunder"),
    *("pencil", "market", "violet", "harbour", "lantern", "meadow", "copper", "falcon"),
    *("island", "velvet", "summit"),
]


def test_texts_crowd_consensus_beats_a_single_annotator() -> None:
    def truth_of(rng: random.Random) -> str:
        return " ".join(rng.sample(WORDS, rng.randint(1, 2)))

    def respell(rng: random.Random, truth: str) -> str:
        """The right answer as people write it: case, spaces, a final period or quotes."""
        text = rng.choice([truth, truth.upper(), truth.title()])
        return rng.choice(["{}", "{}.", " {} ", '"{}"', "{}!"]).format(text)

    def corrupt(rng: random.Random, truth: str) -> str:
        if rng.random() < 0.5:  # a typo: one letter replaced
            i = rng.randrange(len(truth))
            letter = rng.choice([c for c in "aeioulnrst" if c != truth[i]])
            return truth[:i] + letter + truth[i + 1 :]
        return rng.choice(WORDS)  # another answer altogether

    def right(value: str, truth: str) -> bool:
        return answer_key(value) == answer_key(truth)

    together, alone = crowd_rates(texts, truth_of, corrupt, right, 0.5, respell=respell)
    assert alone < 0.8
    assert together >= 0.9
    assert together > alone


# --- transcripts ---


def dp_word_edits(a: Sequence[str], b: Sequence[str]) -> int:
    """Levenshtein distance over words by the textbook table: d[i][j] edits turn a[:i] into
    b[:j]."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(
                d[i - 1][j] + 1,  # delete a[i-1]
                d[i][j - 1] + 1,  # insert b[j-1]
                d[i - 1][j - 1] + (a[i - 1] != b[j - 1]),  # keep or substitute
            )
    return d[len(a)][len(b)]


def test_transcripts_use_jiwer_4() -> None:
    assert version("jiwer") == "4.0.0"


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # 1 insertion ("down") over max(3, 4) = 4 words: 1 - 1/4
        ("the cat sat", "the cat sat down", 0.75),
        # case and punctuation do not count: 0 edits
        ("The cat, sat.", "the cat sat", 1.0),
        # "a b c d" -> "a x c": substitute b->x, delete d = 2 edits over 4 words: 1 - 2/4
        ("a b c d", "a x c", 0.5),
        # nothing in common, 2 words each: 2 substitutions over 2 words
        ("hello world", "goodbye moon", 0.0),
        # "don't" loses its apostrophe, one word "dont"; 1 substitution (dont->do) over 2
        ("don't go", "do go", 0.5),
        # whitespace of any kind and amount is one boundary
        ("one\ttwo\n three", "one two three", 1.0),
        # no words on either side (silence written as punctuation): 1 by definition
        ("...", "?", 1.0),
        # words against none: 2 deletions over 2 words
        ("two words", "—", 0.0),
    ],
)
def test_transcript_similarity_worked_examples(a: str, b: str, expected: float) -> None:
    pa, pb = read(transcripts, a), read(transcripts, b)
    assert transcripts.similarity(pa, pb) == pytest.approx(expected)
    assert transcripts.similarity(pb, pa) == pytest.approx(expected)


def test_transcript_words_are_lowercased_without_punctuation() -> None:
    assert transcript_words("  Hello, World! It's   «fine»—really.\n") == (
        "hello",
        "world",
        "its",
        "finereally",
    )
    assert transcript_words("$5 + 3%") == ("$5", "+", "3")  # symbols (S*) are words' letters


def test_transcript_edit_distance_matches_a_dynamic_programme_on_random_sentences() -> None:
    rng = seeded(9)
    vocabulary = WORDS[:6]  # few words, so sentences share many and align in several ways
    for _ in range(400):
        a = [rng.choice(vocabulary) for _ in range(rng.randint(0, 12))]
        b = [rng.choice(vocabulary) for _ in range(rng.randint(0, 12))]
        edits = dp_word_edits(a, b)
        assert word_edits(a, b) == edits
        assert word_edits(b, a) == edits
        ta, tb = " ".join(a) or ".", " ".join(b) or "."
        longest = max(len(a), len(b))
        expected = 1.0 - edits / longest if longest else 1.0
        similarity = transcripts.similarity(read(transcripts, ta), read(transcripts, tb))
        assert similarity == pytest.approx(expected)
        assert 0.0 <= similarity <= 1.0
        assert similarity == transcripts.similarity(tb, ta)
        assert transcripts.similarity(ta, ta) == 1.0


def test_transcripts_are_stored_in_nfc_as_written_and_delivered_as_text() -> None:
    written = "Cafe\u0301, s'il vous plaît."
    assert transcripts.normalize(written) == unicodedata.normalize("NFC", written)
    stored = transcripts.normalize(written)
    assert transcripts.normalize(stored) == stored
    assert transcripts.delivered(stored) == stored
    assert transcripts.from_delivered(transcripts.delivered(stored)) == stored


@pytest.mark.parametrize("value", ["", "   ", "\n"])
def test_transcripts_refuse_a_blank_transcript(value: str) -> None:
    with pytest.raises(NotAnAnswer, match=r"1 to 20000 characters, not blank \(dataset 7\)"):
        read(transcripts, value)


def test_transcripts_are_at_most_twenty_thousand_characters() -> None:
    long = ("word " * 4000)[:20_000]
    assert read(transcripts, long) == long
    with pytest.raises(NotAnAnswer, match=r"at most 20000 characters; this one has 20001"):
        read(transcripts, long + "x")


def test_transcripts_crowd_consensus_beats_a_single_annotator() -> None:
    def truth_of(rng: random.Random) -> str:
        words = [rng.choice(WORDS) for _ in range(rng.randint(8, 15))]
        return (" ".join(words) + ".").capitalize()

    def corrupt(rng: random.Random, truth: str) -> str:
        words = truth.split()
        for _ in range(rng.randint(1, 3)):
            n = rng.randrange(len(words))
            if rng.random() < 0.5 and len(words) > 1:
                del words[n]  # a word not heard
            else:
                words[n] = rng.choice(WORDS)  # a word misheard
        return " ".join(words)

    def right(value: str, truth: str) -> bool:
        return transcripts.similarity(value, truth) == 1.0

    together, alone = crowd_rates(transcripts, truth_of, corrupt, right, 0.8)
    assert alone < 0.8
    assert together >= 0.9
    assert together > alone
