"""The LLM-feedback kinds: pairwise preference, ranking, Likert ratings and written answers. Each
reads and refuses its own labels, stores them in one spelling, compares them by its measure
(checked against scipy or worked by hand), and its consensus of a noisy simulated crowd is right
more often than any one of the crowd."""

from __future__ import annotations

import random
from itertools import permutations

import pytest
from scipy.stats import kendalltau

from ledger.kinds.base import NotAnAnswer
from ledger.kinds.classes import Classes
from ledger.kinds.preference import Preference
from ledger.kinds.ranking import Ranking, kendall_tau
from ledger.kinds.ratings import Ratings
from ledger.kinds.written import Written
from ledger.quality.aggregation import dawid_skene, encode_labels, majority_vote, wawa

WHERE = "dataset 7"
ANSWERS = ["A", "B", "C"]
CRITERIA = ["helpfulness", "honesty", "harmlessness"]


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 (reproducible test data)


preference = Preference()
ranking = Ranking()
ratings = Ratings()
written = Written()


def test_each_kind_describes_itself_for_the_readme_and_the_api() -> None:
    for kind in (preference, ranking, ratings, written):
        assert kind.summary
        assert kind.measure
        assert kind.media == ("llm",)
    assert [k.name for k in (preference, ranking, ratings, written)] == [
        "preference",
        "ranking",
        "ratings",
        "written",
    ]
    flags = {
        k.name: (k.single_class, k.exact, k.reviewed_only)
        for k in (preference, ranking, ratings, written)
    }
    assert flags == {
        "preference": (True, True, False),
        "ranking": (False, False, False),
        "ratings": (False, False, False),
        "written": (False, False, True),
    }


# --- preference ---


def test_preference_is_a_classes_kind_so_the_class_aggregators_apply() -> None:
    assert isinstance(preference, Classes)
    assert preference.needs_classes


def test_preference_classes_default_to_a_b_tie_and_may_refuse_ties() -> None:
    assert preference.check_classes([]) == ["A", "B", "tie"]
    assert preference.check_classes(["A", "B", "tie"]) == ["A", "B", "tie"]
    assert preference.check_classes(["A", "B"]) == ["A", "B"]
    for wrong in (["A"], ["B", "A"], ["A", "B", "C"], ["a", "b"], ["A", "B", "tie", "both bad"]):
        with pytest.raises(ValueError, match=r'\["A", "B", "tie"\].*or \["A", "B"\] \(no ties\)'):
            preference.check_classes(wrong)


@pytest.mark.parametrize("value", ["A", "B", "tie"])
def test_preference_reads_a_b_or_tie(value: str) -> None:
    assert preference.parse(value, classes=["A", "B", "tie"], where=WHERE) == value
    assert preference.normalize(value) == value
    assert preference.from_delivered(preference.delivered(value)) == value


@pytest.mark.parametrize("value", ["C", "a", "Tie", " A", '"A"', "", "A or B"])
def test_preference_refuses_anything_else_and_says_what_a_label_is(value: str) -> None:
    with pytest.raises(
        NotAnAnswer,
        match=r'is not a preference: a label is "A", "B" or "tie".*'
        r"\(dataset 7\)",
    ):
        preference.parse(value, classes=["A", "B", "tie"], where=WHERE)


def test_a_dataset_without_ties_refuses_a_tie() -> None:
    with pytest.raises(NotAnAnswer, match=r'ties are not allowed\): a label is "A" or "B"'):
        preference.parse("tie", classes=["A", "B"], where=WHERE)


def test_preferences_agree_when_equal() -> None:
    assert preference.similarity("A", "A") == 1.0
    assert preference.similarity("A", "B") == preference.similarity("B", "A") == 0.0
    assert preference.similarity("tie", "A") == 0.0


def _preference_crowd(
    seed: int, items: int = 1000, annotators: int = 5
) -> tuple[list[str], list[list[str]]]:
    """True preferences (A and B as often, a tie one time in five) and five annotators, each
    right 70% of the time; a wrong annotator mostly flips the preference (read the answers the
    wrong way round), else calls a tie where there is a clear winner or a winner in a tie."""
    rng = seeded(seed)
    truths, crowds = [], []
    for _ in range(items):
        truth = rng.choices(["A", "B", "tie"], weights=[2, 2, 1])[0]
        answers = []
        for _ in range(annotators):
            if rng.random() < 0.7:
                answers.append(truth)
            elif truth == "tie":
                answers.append(rng.choice(["A", "B"]))
            else:
                flipped = "B" if truth == "A" else "A"
                answers.append(flipped if rng.random() < 0.7 else "tie")
        truths.append(truth)
        crowds.append(answers)
    return truths, crowds


def test_the_consensus_of_five_noisy_preferences_beats_one_annotator() -> None:
    truths, crowds = _preference_crowd(seed=11)
    single = sum(c[0] == t for t, c in zip(truths, crowds, strict=True)) / len(truths)
    picked = [c[preference.consensus(c, threshold=0.5).index] for c in crowds]
    together = sum(p == t for p, t in zip(picked, truths, strict=True)) / len(truths)
    # Five annotators right 70% of the time are at least three right with probability
    # C(5,3) .7^3 .3^2 + C(5,4) .7^4 .3 + .7^5 = .3087 + .36015 + .16807 = .83692; the plurality
    # also wins some items where two are right and the three wrong split (about .87 here).
    # That, not .9, is what five such annotators can do on a three-way choice.
    assert 0.65 < single < 0.75
    assert together >= 0.85
    assert together > single + 0.1


def test_the_class_aggregators_take_preferences_and_their_majority_beats_one_annotator() -> None:
    truths, crowds = _preference_crowd(seed=12)
    labels = [
        (item, annotator, answer)
        for item, answers in enumerate(crowds)
        for annotator, answer in enumerate(answers)
    ]
    matrix = encode_labels(labels, classes=preference.check_classes([]))
    single = sum(c[0] == t for t, c in zip(truths, crowds, strict=True)) / len(truths)
    for aggregate in (majority_vote(matrix), wawa(matrix), dawid_skene(matrix)):
        chosen = aggregate.labels()
        # an undecided item (a tie of votes) counts as wrong: it has no aggregate label; the
        # majority is right about as often as three of five are (.837, see above)
        right = sum(chosen[item].label == truth for item, truth in enumerate(truths))
        assert right / len(truths) >= 0.8
        assert right / len(truths) > single + 0.1


# --- ranking ---


def test_ranking_datasets_list_two_to_ten_answers() -> None:
    assert ranking.check_classes(["A", "B"]) == ["A", "B"]
    assert ranking.check_classes([str(n) for n in range(10)]) == [str(n) for n in range(10)]
    for wrong in ([], ["A"], [str(n) for n in range(11)]):
        with pytest.raises(ValueError, match="2 to 10"):
            ranking.check_classes(wrong)


def test_a_ranking_is_every_answer_once_best_first() -> None:
    assert ranking.parse('["B", "A", "C"]', classes=ANSWERS, where=WHERE) == ["B", "A", "C"]
    # a name in another Unicode form is the same answer
    assert ranking.parse('["cafe\u0301", "tea"]', classes=["café", "tea"], where=WHERE) == [
        "café",
        "tea",
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('["A", "B"]', r"'C' not ranked: a ranking lists every answer of dataset 7 once"),
        ('["A", "B", "B"]', r"'B' is ranked twice; each answer once \(dataset 7\)"),
        ('["A", "B", "C", "A"]', r"'A' is ranked twice"),
        ('["A", "B", "D"]', r"'D' is not an answer of dataset 7; answers: A, B, C"),
        ('["A", "B", 3]', r"not a JSON list of every answer's name once, best first"),
        ('{"A": 1, "B": 2, "C": 3}', r"not a JSON list of every answer's name once"),
        ('"A"', r"not a JSON list"),
        ("A > B > C", r"not a JSON list.*: not JSON \(dataset 7\)"),
        ("[]", r"'A', 'B', 'C' not ranked"),
        ('["A", "B", null]', r"not a JSON list"),
        (str([str(n) for n in range(11)]).replace("'", '"'), r"not a JSON list"),
    ],
)
def test_ranking_refuses_anything_else_and_says_why(value: str, message: str) -> None:
    with pytest.raises(NotAnAnswer, match=message):
        ranking.parse(value, classes=ANSWERS, where=WHERE)


def test_a_ranking_is_stored_in_one_spelling_and_its_order_kept() -> None:
    assert ranking.normalize('[ "C" ,"A",  "B" ]') == '["C","A","B"]'
    assert ranking.normalize('["\\u0043", "A", "B"]') == '["C","A","B"]'
    assert ranking.normalize('["cafe\u0301", "tea"]') == '["café","tea"]'
    for value in ('["C","A","B"]', '["B","A","C"]', '["café","tea"]'):
        assert ranking.normalize(value) == value
        assert ranking.normalize(ranking.normalize(value)) == ranking.normalize(value)
    for refused in ("A > B", '["A", 1]', '{"A": 1}', "[NaN]"):
        assert ranking.normalize(refused) == refused


def test_a_ranking_is_delivered_as_the_list_and_reads_back() -> None:
    value = ranking.normalize('["B", "A", "C"]')
    assert ranking.delivered(value) == ["B", "A", "C"]
    assert ranking.from_delivered(ranking.delivered(value)) == value
    assert ranking.from_delivered(value) == value


def test_kendall_tau_matches_scipy_on_random_permutations() -> None:
    rng = seeded(3)
    for _ in range(300):
        n = rng.randint(2, 10)
        names = [f"answer {k}" for k in range(n)]
        a, b = rng.sample(names, n), rng.sample(names, n)
        # scipy compares two score vectors: each answer's place in a and in b
        expected = kendalltau([a.index(x) for x in names], [b.index(x) for x in names]).statistic
        assert kendall_tau(a, b) == pytest.approx(expected, abs=1e-12)
        assert ranking.similarity(a, b) == pytest.approx((1 + expected) / 2, abs=1e-12)


def test_ranking_similarity_worked_by_hand() -> None:
    # ["A","B","C","D"] vs ["B","A","D","C"]: of the 6 pairs, (A,B) and (C,D) are discordant and
    # the 4 others concordant, so tau = (4 - 2) / 6 = 1/3 and the similarity (1 + 1/3) / 2 = 2/3
    assert ranking.similarity(["A", "B", "C", "D"], ["B", "A", "D", "C"]) == pytest.approx(2 / 3)
    # one adjacent swap of three: 1 of 3 pairs discordant, tau = (2 - 1) / 3, similarity 2/3
    assert ranking.similarity(["A", "B", "C"], ["A", "C", "B"]) == pytest.approx(2 / 3)
    # the reverse: every pair discordant, tau = -1, similarity 0
    assert ranking.similarity(["A", "B", "C"], ["C", "B", "A"]) == 0.0
    # one adjacent swap of five: 1 of 10 pairs, similarity 1 - 1/10
    assert ranking.similarity(list("ABCDE"), list("ABCED")) == pytest.approx(0.9)


def test_ranking_similarity_is_symmetric_and_one_for_the_same_ranking() -> None:
    for a in permutations(ANSWERS):
        assert ranking.similarity(list(a), list(a)) == 1.0
        for b in permutations(ANSWERS):
            assert ranking.similarity(list(a), list(b)) == ranking.similarity(list(b), list(a))
            assert 0.0 <= ranking.similarity(list(a), list(b)) <= 1.0
    with pytest.raises(ValueError, match="not two rankings of the same answers"):
        ranking.similarity(["A", "B"], ["A", "C"])
    with pytest.raises(TypeError):
        ranking.similarity("AB", ["A", "B"])


def _swapped(ranked: list[str], rng: random.Random) -> list[str]:
    """`ranked` with one or two pairs of neighbours swapped: an annotator torn between two
    answers of about the same quality."""
    ranked = list(ranked)
    for _ in range(rng.choice([1, 1, 2])):
        i = rng.randrange(len(ranked) - 1)
        ranked[i], ranked[i + 1] = ranked[i + 1], ranked[i]
    return ranked


def test_the_consensus_of_five_noisy_rankings_is_the_true_one_more_often_than_one_ranking() -> None:
    rng = seeded(5)
    names = list("ABCDE")
    items, single, together = 400, 0, 0
    for _ in range(items):
        truth = rng.sample(names, len(names))
        answers = [truth if rng.random() < 0.7 else _swapped(truth, rng) for _ in range(5)]
        single += answers[0] == truth
        together += answers[ranking.consensus(answers, threshold=0.8).index] == truth
    assert 0.6 < single / items < 0.8
    assert together / items >= 0.95
    assert together > single


# --- ratings ---


def test_ratings_datasets_list_one_to_twenty_criteria() -> None:
    assert ratings.check_classes(["helpfulness"]) == ["helpfulness"]
    assert ratings.check_classes(CRITERIA) == CRITERIA
    for wrong in ([], [f"criterion {n}" for n in range(21)]):
        with pytest.raises(ValueError, match="1 to 20"):
            ratings.check_classes(wrong)
    assert ratings.scale == (1, 5)


def test_ratings_rate_every_criterion_once() -> None:
    value = '{"helpfulness": 4, "honesty": 5, "harmlessness": 1}'
    assert ratings.parse(value, classes=CRITERIA, where=WHERE) == {
        "helpfulness": 4,
        "honesty": 5,
        "harmlessness": 1,
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"helpfulness": 4, "honesty": 5}', r"'harmlessness' not rated: a label rates every"),
        (
            '{"helpfulness": 4, "honesty": 5, "harmlessness": 5, "tone": 3}',
            r"'tone' is not a criterion of dataset 7; criteria: helpfulness, honesty",
        ),
        ('{"helpfulness": 0, "honesty": 5, "harmlessness": 5}', r"'helpfulness' is rated 0: "),
        ('{"helpfulness": 6, "honesty": 5, "harmlessness": 5}', r"rated 6: a rating is an integer"),
        ('{"helpfulness": 4.5, "honesty": 5, "harmlessness": 5}', r"rated 4.5"),
        ('{"helpfulness": 4.0, "honesty": 5, "harmlessness": 5}', r"rated 4.0: a rating is an int"),
        ('{"helpfulness": true, "honesty": 5, "harmlessness": 5}', r"rated true"),
        ('{"helpfulness": "4", "honesty": 5, "harmlessness": 5}', r'rated "4"'),
        ('{"helpfulness": null, "honesty": 5, "harmlessness": 5}', r"rated null"),
        ('{"helpfulness": [4], "honesty": 5, "harmlessness": 5}', r"rated \[4\]"),
        ('{"helpfulness": NaN, "honesty": 5, "harmlessness": 5}', r"NaN is not a number"),
        ("[4, 5, 5]", r"not a JSON object rating every criterion once.*\(dataset 7\)"),
        ("4", r"not a JSON object"),
        ("helpful", r"not a JSON object.*: not JSON"),
    ],
)
def test_ratings_refuse_anything_else_and_say_why(value: str, message: str) -> None:
    with pytest.raises(NotAnAnswer, match=message):
        ratings.parse(value, classes=CRITERIA, where=WHERE)


def test_a_criterion_written_in_another_unicode_form_is_the_same_criterion() -> None:
    assert ratings.parse('{"cafe\u0301": 3}', classes=["café"], where=WHERE) == {"café": 3}
    assert ratings.normalize('{"cafe\u0301": 3}') == '{"café":3}'
    with pytest.raises(NotAnAnswer, match="rated twice"):
        ratings.parse('{"cafe\u0301": 3, "café": 4}', classes=["café"], where=WHERE)


def test_ratings_are_stored_in_one_spelling_whatever_the_key_order() -> None:
    stored = '{"harmlessness":1,"helpfulness":4,"honesty":5}'
    for written_as in (
        '{"helpfulness": 4, "honesty": 5, "harmlessness": 1}',
        '{"honesty":5,"harmlessness":1,"helpfulness":4}',
        '{ "harmlessness" : 1 , "helpfulness" : 4 , "honesty" : 5 }',
    ):
        assert ratings.normalize(written_as) == stored
    assert ratings.normalize(stored) == stored
    # not integers: left as written for parse to refuse, never turned into a label
    for refused in ('{"helpfulness": 4.0}', '{"helpfulness": true}', "[4]", "good"):
        assert ratings.normalize(refused) == refused


def test_ratings_are_delivered_as_the_object_and_read_back() -> None:
    value = ratings.normalize('{"helpfulness": 4, "honesty": 5, "harmlessness": 1}')
    assert ratings.delivered(value) == {"helpfulness": 4, "honesty": 5, "harmlessness": 1}
    assert ratings.from_delivered(ratings.delivered(value)) == value
    assert ratings.from_delivered({"honesty": 5, "harmlessness": 1, "helpfulness": 4}) == value


def test_ratings_similarity_worked_by_hand() -> None:
    # differences 2 and 0: mean 1, similarity 1 - 1/4 = 0.75
    assert ratings.similarity({"h": 4, "o": 5}, {"h": 2, "o": 5}) == 0.75
    # differences 1, 0, 0: mean 1/3, similarity 1 - (1/3)/4 = 11/12
    a = {"helpfulness": 4, "honesty": 5, "harmlessness": 5}
    b = {"helpfulness": 5, "honesty": 5, "harmlessness": 5}
    assert ratings.similarity(a, b) == pytest.approx(11 / 12)
    # differences 4, 4: as far apart as the scale allows, similarity 0
    assert ratings.similarity({"h": 1, "o": 5}, {"h": 5, "o": 1}) == 0.0
    # differences 3, 1, 2, 2: mean 2, similarity 1 - 2/4 = 0.5
    assert (
        ratings.similarity({"w": 1, "x": 2, "y": 3, "z": 4}, {"w": 4, "x": 3, "y": 1, "z": 2})
        == 0.5
    )


def test_ratings_similarity_is_symmetric_and_one_for_the_same_ratings() -> None:
    rng = seeded(2)
    for _ in range(200):
        a = {c: rng.randint(1, 5) for c in CRITERIA}
        b = {c: rng.randint(1, 5) for c in CRITERIA}
        assert ratings.similarity(a, a) == 1.0
        assert ratings.similarity(a, b) == ratings.similarity(b, a)
        assert 0.0 <= ratings.similarity(a, b) <= 1.0
    with pytest.raises(ValueError, match="not two ratings of the same criteria"):
        ratings.similarity({"h": 1}, {"o": 1})
    with pytest.raises(TypeError):
        ratings.similarity("h", {"h": 1})


def _misrated(truth: dict[str, int], rng: random.Random) -> dict[str, int]:
    """`truth` one point off on one or two criteria (towards the middle at the scale's ends): an
    annotator a little harsher or kinder than the truth."""
    rated = dict(truth)
    for criterion in rng.sample(sorted(truth), rng.choice([1, 1, 2])):
        step = rng.choice([-1, 1])
        rated[criterion] = (
            rated[criterion] + step
            if 1 <= rated[criterion] + step <= 5
            else (rated[criterion] - step)
        )
    return rated


def test_the_consensus_of_five_noisy_ratings_is_the_true_one_more_often_than_one_rating() -> None:
    rng = seeded(9)
    items, single, together = 400, 0, 0
    for _ in range(items):
        truth = {c: rng.randint(1, 5) for c in CRITERIA}
        answers = [truth if rng.random() < 0.7 else _misrated(truth, rng) for _ in range(5)]
        single += answers[0] == truth
        together += answers[ratings.consensus(answers, threshold=0.8).index] == truth
    assert 0.6 < single / items < 0.8
    assert together / items >= 0.95
    assert together > single


# --- written ---


def test_written_answers_are_reviewed_only_and_take_no_classes() -> None:
    assert written.reviewed_only
    assert not written.needs_classes
    assert written.check_classes([]) == []
    with pytest.raises(ValueError, match="take no label_classes"):
        written.check_classes(["good"])


def test_a_written_answer_is_the_text_itself_in_nfc() -> None:
    text = "Paris is the capital of France.\n\nIt has been since 508, with interruptions."
    assert written.parse(text, classes=[], where=WHERE) == text
    assert written.normalize("cafe\u0301") == "café"
    assert written.normalize("café") == "café"
    # spaces and line breaks are part of the answer: normal form changes nothing else
    assert written.normalize("  two\n lines ") == "  two\n lines "
    assert written.parse("x", classes=[], where=WHERE) == "x"
    assert written.read("y" * 20_000, classes=[], where=WHERE) == "y" * 20_000


@pytest.mark.parametrize("value", ["", " ", "\n\t "])
def test_a_blank_written_answer_is_refused(value: str) -> None:
    with pytest.raises(
        NotAnAnswer, match=r"1 to 20000 characters of text, not blank \(dataset 7\)"
    ):
        written.read(value, classes=[], where=WHERE)


def test_a_written_answer_is_at_most_20000_characters() -> None:
    with pytest.raises(NotAnAnswer, match=r"at most 20000 characters; this one has 20001"):
        written.read("y" * 20_001, classes=[], where=WHERE)
    with pytest.raises(NotAnAnswer, match=r"at most 20000 characters; this one has 20001"):
        written.parse("y" * 20_001, classes=[], where=WHERE)


def test_a_written_answer_is_delivered_as_its_text_and_reads_back() -> None:
    value = written.normalize("Le cafe\u0301 est chaud.")
    assert written.delivered(value) == value
    assert written.from_delivered(written.delivered(value)) == value
    assert written.from_delivered("Le cafe\u0301 est chaud.") == value
    with pytest.raises(NotAnAnswer, match="must be a text"):
        written.from_delivered(["not", "a", "text"])


def test_written_similarity_only_says_whether_two_texts_are_the_same() -> None:
    assert written.similarity("An answer.", "An answer.") == 1.0
    assert written.similarity("  An answer.\n", "An answer.") == 1.0
    assert (
        written.similarity("café", "cafe\u0301") == written.similarity("cafe\u0301", "café") == 1.0
    )
    assert written.similarity("An answer.", "An answer!") == 0.0
    assert written.similarity("An answer.", "an answer.") == 0.0
