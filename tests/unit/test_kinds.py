"""The registry of label kinds: each kind reads, refuses, normalises and compares its own labels,
and nothing outside `ledger/kinds/` needs to know which kind a dataset has."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.kinds import KINDS, NotAnAnswer, kind_named
from ledger.kinds.table import BEGIN, END, markdown
from tests.integration.test_kinds_loop import EXAMPLES

CLASSES = ("cat", "café")


def parse(kind: str, value: str) -> object:
    return kind_named(kind).parse(value, classes=CLASSES, where="dataset 7")


def test_the_registry_holds_each_kind_under_its_name_with_its_description() -> None:
    assert {"boxes", "classes", "spans", "objects"} <= set(KINDS)
    for name, kind in KINDS.items():
        assert kind.name == name
        assert kind.summary
        assert kind.measure
        assert kind.media
    with pytest.raises(KeyError):
        kind_named("no such kind")


def test_only_classes_are_one_class_per_label_and_agree_by_equality() -> None:
    kinds = {name: KINDS[name] for name in ("classes", "boxes", "spans", "objects")}
    assert {n: (k.needs_classes, k.single_class, k.exact) for n, k in kinds.items()} == {
        "classes": (True, True, True),
        "boxes": (False, False, False),
        "spans": (False, False, False),
        "objects": (True, False, False),
    }


def test_classes_read_a_listed_class_in_nfc_and_refuse_the_rest() -> None:
    classes = kind_named("classes")
    decomposed = "cafe\u0301"
    assert classes.normalize(decomposed) == "café"
    assert parse("classes", classes.normalize(decomposed)) == "café"
    with pytest.raises(NotAnAnswer, match=r"'dog' is not a class of dataset 7; classes: cat, café"):
        parse("classes", "dog")
    assert classes.similarity("cat", "cat") == 1.0
    assert classes.similarity("cat", "café") == 0.0


@pytest.mark.parametrize("value", ["[0, 0, 10, 10]", "[0.5, 1, 0.5, 2.25]", "[-3, -3, 0, 0]"])
def test_boxes_read_json_corners_in_order(value: str) -> None:
    box = parse("boxes", value)
    assert isinstance(box, list)
    assert len(box) == 4


@pytest.mark.parametrize(
    "value",
    ["[10, 0, 0, 10]", "[0, 10, 10, 0]", "[0, 0, 10]", "[0, 0, 10, true]", "cat", '["0", 0, 1, 1]'],
)
def test_boxes_refuse_anything_else_and_say_what_a_box_is(value: str) -> None:
    with pytest.raises(
        NotAnAnswer, match=r"is not a box \[x_min, y_min, x_max, y_max\].*dataset 7"
    ):
        parse("boxes", value)


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("[0, 0, 10, 10]", "[0,0,10,10]"),
        ("[0.0, -0.0, 1e1, 10.00]", "[0,0,10,10]"),
        ("[ 0.50 , 1, 5e-1, 2.250]", "[0.5,1,0.5,2.25]"),
        ("[1e-7, 0, 1.5e20, 3]", "[1e-7,0,1.5e+20,3]"),
        ("[0.1, 0.2, 0.30000000000000004, 1]", "[0.1,0.2,0.30000000000000004,1]"),
    ],
)
def test_a_box_is_stored_in_one_spelling_whichever_client_wrote_it(
    written: str, stored: str
) -> None:
    boxes = kind_named("boxes")
    assert boxes.normalize(written) == stored
    assert boxes.normalize(stored) == stored
    assert parse("boxes", stored) == parse("boxes", written)


def test_a_span_is_stored_in_one_spelling_and_a_non_answer_is_left_for_parse_to_refuse() -> None:
    spans = kind_named("spans")
    assert spans.normalize(" [ 4 ,  9 ] ") == "[4,9]"
    for refused in ("[4.0, 9]", "cat", "[NaN, 1]"):
        assert spans.normalize(refused) == refused


@pytest.mark.parametrize("value", ["[NaN, 0, 1, 1]", "[0, 0, Infinity, 1]", "[-Infinity, 0, 1, 1]"])
def test_boxes_refuse_numbers_that_are_not_finite(value: str) -> None:
    with pytest.raises(NotAnAnswer, match="is not a box"):
        parse("boxes", value)


@pytest.mark.parametrize("value", ["[0, 0]", "[3, 17]"])
def test_spans_read_integer_offsets(value: str) -> None:
    assert parse("spans", value) == [int(x) for x in value.strip("[]").split(",")]


@pytest.mark.parametrize("value", ["[5, 4]", "[-1, 4]", "[0.5, 4]", "[0, 1, 2]", "[false, 1]"])
def test_spans_refuse_anything_else_and_say_what_a_span_is(value: str) -> None:
    with pytest.raises(NotAnAnswer, match=r"is not a span \[start, end\].*dataset 7"):
        parse("spans", value)


def test_each_kind_compares_by_its_own_measure() -> None:
    assert kind_named("boxes").similarity([0, 0, 10, 10], [5, 0, 15, 10]) == pytest.approx(1 / 3)
    assert kind_named("spans").similarity([0, 10], [5, 15]) == pytest.approx(5 / 15)
    with pytest.raises(TypeError):
        kind_named("boxes").similarity("cat", [0, 0, 1, 1])


def test_the_readme_lists_every_kind_as_the_registry_describes_it() -> None:
    """README's table of label kinds is `python -m ledger.kinds.table`'s output, so a kind added
    or a measure reworded shows in the documentation (regenerate it with that command)."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    start, end = readme.index(BEGIN), readme.index(END) + len(END)
    assert readme[start:end] == markdown()
    for name in KINDS:
        assert f"| `{name}` |" in readme[start:end]


@pytest.mark.parametrize("name", [name for name, kind in KINDS.items() if not kind.reviewed_only])
def test_every_similarity_is_symmetric_and_one_for_a_label_and_itself(name: str) -> None:
    """Consensus compares each pair of an item's labels once and takes a label's agreement with
    itself as 1 (quality.agreement.consensus): every kind's similarity must allow it."""
    kind, example = kind_named(name), EXAMPLES[name]

    def read(value: object) -> object:
        text = value if isinstance(value, str) else json.dumps(value)
        classes = kind.check_classes(example.classes)  # the dataset's, defaults filled in
        return kind.read(kind.normalize(text), classes=classes, where="a test")

    answers = [read(v) for v in (example.right, example.near, example.wrong)]
    for a in answers:
        assert kind.similarity(a, a) == 1.0
        for b in answers:
            assert kind.similarity(a, b) == kind.similarity(b, a)
