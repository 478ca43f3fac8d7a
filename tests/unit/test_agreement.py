"""Label agreement by kind on hand-computed cases, and dataset agreement against statsmodels'
Fleiss' kappa and the krippendorff package's alpha."""

from __future__ import annotations

import dataclasses

import krippendorff
import numpy as np
import pytest
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss_kappa

from ledger.kinds import Answer, LabelKind, kind_named
from ledger.kinds.boxes import box_iou
from ledger.kinds.spans import span_overlap
from ledger.quality.aggregation import dawid_skene, encode_labels, majority_vote
from ledger.quality.agreement import (
    DEFAULT_OVERLAP_THRESHOLD,
    agreement_report,
    consensus,
    fleiss_kappa,
    krippendorff_alpha_nominal,
)
from tests.crowds import honest, simulate_crowd, spammer

BOX, SPAN, CLASS = kind_named("boxes"), kind_named("spans"), kind_named("classes")


def labels_agree(
    a: Answer, b: Answer, kind: LabelKind, threshold: float = DEFAULT_OVERLAP_THRESHOLD
) -> bool:
    return kind.similarity(a, b) >= threshold


# --- boxes ---


def test_box_iou_of_overlapping_boxes() -> None:
    # 10x10 boxes offset by 5 on x: intersection 50, union 150
    assert box_iou([0, 0, 10, 10], [5, 0, 15, 10]) == pytest.approx(1 / 3)
    assert box_iou([0, 0, 10, 10], [0, 0, 10, 10]) == 1.0
    assert box_iou([0, 0, 10, 10], [2, 2, 8, 8]) == pytest.approx(36 / 100)  # nested


def test_box_iou_of_touching_and_disjoint_boxes_is_zero() -> None:
    assert box_iou([0, 0, 10, 10], [10, 0, 20, 10]) == 0.0  # shared edge
    assert box_iou([0, 0, 10, 10], [10, 10, 20, 20]) == 0.0  # shared corner
    assert box_iou([0, 0, 1, 1], [5, 5, 6, 6]) == 0.0


def test_box_iou_of_zero_area_boxes() -> None:
    assert box_iou([3, 3, 3, 3], [3, 3, 3, 3]) == 1.0  # the same point matches itself
    assert box_iou([3, 3, 3, 8], [3, 3, 3, 8]) == 1.0  # the same line too
    assert box_iou([3, 3, 3, 3], [4, 4, 4, 4]) == 0.0
    assert box_iou([5, 5, 5, 5], [0, 0, 10, 10]) == 0.0  # a point inside a box covers nothing


def test_box_iou_rejects_inverted_boxes() -> None:
    with pytest.raises(ValueError, match="not a box"):
        box_iou([10, 0, 0, 10], [0, 0, 10, 10])
    with pytest.raises(ValueError, match="not a box"):
        box_iou([0, 0, 10], [0, 0, 10, 10])


def test_boxes_agree_from_the_threshold_on() -> None:
    # intersection 60, union 140: IoU 3/7 ~ 0.43
    a, b = [0, 0, 10, 10], [4, 0, 14, 10]
    assert not labels_agree(a, b, BOX)
    assert labels_agree(a, b, BOX, threshold=0.4)
    # intersection 100 / union 200 is exactly 0.5: agrees at the default threshold
    assert labels_agree([0, 0, 10, 10], [0, 0, 20, 10], BOX)


# --- spans ---


def test_span_overlap_of_character_ranges() -> None:
    assert span_overlap([0, 10], [5, 15]) == pytest.approx(5 / 15)
    assert span_overlap([0, 10], [0, 10]) == 1.0
    assert span_overlap([0, 10], [10, 20]) == 0.0  # half-open: adjacent spans share nothing
    assert span_overlap([2, 4], [0, 10]) == pytest.approx(2 / 10)


def test_span_overlap_of_empty_spans() -> None:
    assert span_overlap([4, 4], [4, 4]) == 1.0
    assert span_overlap([4, 4], [5, 5]) == 0.0
    assert span_overlap([4, 4], [0, 10]) == 0.0
    with pytest.raises(ValueError, match="not a span"):
        span_overlap([5, 4], [0, 10])


def test_spans_and_classes_agree_by_their_own_rule() -> None:
    assert labels_agree([0, 10], [0, 20], SPAN)  # exactly 0.5
    assert not labels_agree([0, 10], [0, 21], SPAN)
    assert labels_agree("cat", "cat", CLASS)
    assert not labels_agree("cat", "dog", CLASS)
    with pytest.raises(TypeError):
        labels_agree("cat", [0, 1], SPAN)
    with pytest.raises(TypeError, match="integers"):
        labels_agree([0.5, 3], [0, 1], SPAN)


# --- consensus beyond classes ---


def test_consensus_box_is_the_one_most_others_agree_with() -> None:
    boxes = [[50, 50, 60, 60], [0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 11]]
    result = consensus(boxes, BOX.similarity)
    # each of the three near the origin agrees with all three; [0, 0, 10, 11] overlaps the
    # other two most (IoU 10/11 and 3/4, against 10/11 and 81/119 for [0, 0, 10, 10])
    assert result.index == 3
    assert (result.supporters, result.total) == (3, 4)
    assert result.support == 0.75


def test_consensus_tie_goes_to_higher_overlap_then_to_the_first() -> None:
    # two clusters of two spans each; the second cluster overlaps more tightly
    spans = [[0, 10], [0, 16], [100, 110], [100, 111]]
    assert consensus(spans, SPAN.similarity).index == 2
    assert consensus([[0, 10], [50, 60]], SPAN.similarity).index == 0


def test_consensus_of_classes_is_the_majority() -> None:
    result = consensus(["dog", "cat", "cat"], CLASS.similarity)
    assert (result.index, result.supporters) == (1, 2)
    with pytest.raises(ValueError, match="no answers"):
        consensus([], CLASS.similarity)


# --- chance-corrected agreement against the reference implementations ---


@pytest.mark.parametrize("seed", range(5))
def test_fleiss_kappa_equals_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_classes = int(rng.integers(2, 6))
    shares = rng.dirichlet(np.ones(n_classes))
    table = rng.multinomial(int(rng.integers(2, 8)), shares, size=int(rng.integers(5, 80)))
    assert fleiss_kappa(table) == pytest.approx(statsmodels_fleiss_kappa(table), abs=1e-9)


def test_fleiss_kappa_on_fleiss_1971_style_hand_case() -> None:
    # two raters, two items, perfect agreement on different classes: kappa 1
    assert fleiss_kappa(np.array([[2, 0], [0, 2]])) == pytest.approx(1.0)
    assert fleiss_kappa(np.array([[2, 0], [2, 0]])) is None  # one class only: undefined


def test_fleiss_kappa_with_unequal_raters_uses_each_items_own_pairs() -> None:
    """Items with one rater drop out; the rest use the generalised form, which on equal
    numbers of raters is statsmodels' value."""
    table = np.array([[3, 0, 0], [0, 2, 1], [1, 1, 1], [0, 3, 0]])
    with_extra = np.vstack([table, [[0, 0, 1]], [[2, 2, 0]]])
    n_i = with_extra.sum(axis=1)
    kept = with_extra[n_i >= 2]
    observed = np.mean([(r * (r - 1)).sum() / (r.sum() * (r.sum() - 1)) for r in kept])
    shares = kept.sum(axis=0) / kept.sum()
    expected = (shares**2).sum()
    assert fleiss_kappa(with_extra) == pytest.approx((observed - expected) / (1 - expected))
    assert fleiss_kappa(table) == pytest.approx(statsmodels_fleiss_kappa(table), abs=1e-9)


def to_counts(reliability: np.ndarray, n_classes: int) -> np.ndarray:
    """krippendorff's (raters x units) matrix with NaN for missing, as our (units x classes)."""
    counts = np.zeros((reliability.shape[1], n_classes))
    for values in reliability:
        present = ~np.isnan(values)
        np.add.at(counts, (np.flatnonzero(present), values[present].astype(int)), 1)
    return counts


@pytest.mark.parametrize("seed", range(5))
def test_krippendorff_alpha_equals_the_krippendorff_package_with_missing_values(
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    n_classes = int(rng.integers(2, 6))
    truth = rng.integers(n_classes, size=60)
    reliability = np.where(
        rng.random((6, 60)) < 0.6, truth, rng.integers(n_classes, size=(6, 60))
    ).astype(float)
    reliability[rng.random(reliability.shape) < 0.35] = np.nan
    expected = krippendorff.alpha(reliability_data=reliability, level_of_measurement="nominal")
    ours = krippendorff_alpha_nominal(to_counts(reliability, n_classes))
    assert ours == pytest.approx(expected, abs=1e-9)


def test_krippendorff_alpha_ignores_units_with_a_single_value() -> None:
    counts = np.array([[2, 0], [0, 2], [1, 1]])
    assert krippendorff_alpha_nominal(np.vstack([counts, [[1, 0]]])) == pytest.approx(
        krippendorff_alpha_nominal(counts)
    )
    assert krippendorff_alpha_nominal(np.array([[3, 0], [2, 0]])) is None


# --- the dataset report ---


def test_agreement_report_counts_confusion_and_gold() -> None:
    labels = [
        ("i1", "a", "cat"),
        ("i1", "b", "cat"),
        ("i1", "c", "dog"),
        ("i2", "a", "dog"),
        ("i2", "b", "dog"),
        ("i2", "c", "dog"),
    ]
    aggregate = majority_vote(encode_labels(labels, ("cat", "dog", "bird")))
    report = agreement_report(aggregate, gold={"i1": "dog", "i9": "cat"})
    assert report.classes == ["cat", "dog", "bird"]
    assert (report.items, report.labels) == (2, 6)
    assert report.confusion == [[2, 1, 0], [0, 3, 0], [0, 0, 0]]
    by_name = {a.annotator: a for a in report.annotators}
    assert by_name["c"].agreed == 1
    assert by_name["c"].agreement_with_aggregate == 0.5
    assert (by_name["c"].gold_answered, by_name["c"].gold_correct) == (1, 1)
    assert by_name["a"].gold_accuracy == 0.0
    assert report.fleiss_kappa == pytest.approx(
        statsmodels_fleiss_kappa(np.array([[2, 1, 0], [0, 3, 0]])), abs=1e-9
    )
    dataclasses.asdict(report)  # plain data all the way down, for the API


def test_a_tied_item_counts_in_no_confusion_and_nobodys_agreement() -> None:
    """The class listed first, cat, is also the common one; a cat/dog tie used to be taken as
    cat, crediting whoever said cat and marking whoever said dog as disagreeing."""
    labels = [
        *((f"c{n}", who, "cat") for n in range(3) for who in ("a", "b")),
        ("tie", "a", "cat"),
        ("tie", "b", "dog"),
    ]
    report = agreement_report(majority_vote(encode_labels(labels, ("cat", "dog"))))
    assert (report.items, report.undecided_items, report.labels) == (4, 1, 8)
    assert report.confusion == [[6, 0], [0, 0]]
    for annotator in report.annotators:
        assert (annotator.labels, annotator.compared, annotator.agreed) == (4, 3, 3)
        assert annotator.agreement_with_aggregate == 1.0


def test_agreement_report_without_gold_or_labels() -> None:
    report = agreement_report(majority_vote(encode_labels([], ("cat", "dog"))))
    assert report.fleiss_kappa is None
    assert report.krippendorff_alpha is None
    assert report.annotators == []
    assert report.confusion == [[0, 0], [0, 0]]


def test_agreement_report_on_a_crowd_tells_spammers_from_honest_annotators() -> None:
    annotators = [honest("h0", 0.9), honest("h1", 0.8), honest("h2", 0.85), spammer("s0")]
    crowd = simulate_crowd(
        seed=3, n_items=400, n_classes=3, annotators=annotators, labels_per_item=3
    )
    gold = {item: crowd.truth[item] for item in list(crowd.truth)[:100]}
    report = agreement_report(dawid_skene(encode_labels(crowd.labels, crowd.classes)), gold)
    by_name = {a.annotator: a for a in report.annotators}
    for annotator in annotators[:3]:
        assert by_name[annotator.name].gold_accuracy == pytest.approx(annotator.accuracy, abs=0.1)
    assert by_name["s0"].gold_accuracy == pytest.approx(1 / 3, abs=0.12)
    assert by_name["s0"].agreement_with_aggregate == pytest.approx(1 / 3, abs=0.08)
    assert report.fleiss_kappa is not None
    assert 0.3 < report.fleiss_kappa < 0.8
