"""Reputation: the score's formula, tiers and integer rewards, the gold warm-up, and on
simulated crowds: honest scores converge to the true accuracy and spammers are cut off."""

from __future__ import annotations

from collections import Counter

import pytest

from ledger.quality.aggregation import dawid_skene, encode_labels
from ledger.quality.agreement import AnnotatorAgreement, agreement_report
from ledger.quality.reputation import (
    DEFAULT_POLICY,
    DEFAULT_TIERS,
    Qualification,
    ReputationEvidence,
    ReputationPolicy,
    Tier,
    apply_multiplier,
    evidence_from_agreement,
    qualification,
    receives_items,
    reputation_score,
    standing,
    tier_for,
)
from tests.crowds import CrowdStream, adversary, honest, simulate_crowd, spammer


def evidence_from(agreement: AnnotatorAgreement) -> ReputationEvidence:
    """Consensus verification: a label is accepted exactly when it matches the aggregate."""
    return evidence_from_agreement(agreement, decided=agreement.labels, accepted=agreement.agreed)


# --- the formula ---


def test_a_new_annotator_starts_in_the_middle_at_the_standard_rate() -> None:
    fresh = standing(ReputationEvidence())
    assert fresh.score == 0.5
    assert (fresh.tier, fresh.multiplier_bps, fresh.receives_items) == ("standard", 10_000, True)


def test_score_is_the_smoothed_weighted_success_rate() -> None:
    evidence = ReputationEvidence(
        gold_answered=10, gold_correct=9, compared=40, agreed=30, decided=20, accepted=15
    )
    expected = (2 * 9 + 30 + 15 + 20 * 0.5) / (2 * 10 + 40 + 20 + 20)
    assert reputation_score(evidence) == pytest.approx(expected)
    assert expected == pytest.approx(0.73)
    unweighted = ReputationPolicy(gold_weight=1, prior_strength=1, prior_mean=0.0)
    assert reputation_score(evidence, unweighted) == pytest.approx((9 + 30 + 15) / (70 + 1))


def test_few_observations_move_the_score_little() -> None:
    assert reputation_score(ReputationEvidence(gold_answered=1)) == pytest.approx(10 / 22)
    assert reputation_score(ReputationEvidence(compared=5, decided=5)) == pytest.approx(10 / 30)


def test_nobody_is_cut_off_before_min_trials() -> None:
    nineteen_wrong = ReputationEvidence(compared=19, decided=19)  # 38 weighted trials
    assert reputation_score(nineteen_wrong) < DEFAULT_POLICY.cutoff
    assert receives_items(nineteen_wrong)
    twenty_wrong = ReputationEvidence(compared=20, decided=20)
    assert reputation_score(twenty_wrong) == pytest.approx(10 / 60)
    assert not receives_items(twenty_wrong)
    assert not standing(twenty_wrong).receives_items
    enough_and_good = ReputationEvidence(compared=20, agreed=12, decided=20, accepted=12)
    assert receives_items(enough_and_good)  # (24 + 10) / 60 = 0.57


def test_evidence_rejects_more_successes_than_trials() -> None:
    with pytest.raises(ValueError, match="successes"):
        ReputationEvidence(gold_answered=1, gold_correct=2)
    with pytest.raises(ValueError, match="successes"):
        ReputationEvidence(compared=3, agreed=-1)


# --- tiers and rewards ---


@pytest.mark.parametrize(
    ("score", "tier", "multiplier_bps"),
    [
        (0.0, "probation", 5_000),
        (0.449, "probation", 5_000),
        (0.45, "standard", 10_000),
        (0.75, "trusted", 12_500),
        (0.9, "expert", 15_000),
        (1.0, "expert", 15_000),
    ],
)
def test_tier_boundaries(score: float, tier: str, multiplier_bps: int) -> None:
    assert tier_for(score) == Tier(tier, tier_for(score).min_score, multiplier_bps)


def test_multipliers_stay_within_half_and_one_and_a_half() -> None:
    assert all(5_000 <= tier.multiplier_bps <= 15_000 for tier in DEFAULT_TIERS)


def test_apply_multiplier_is_integer_and_rounds_down() -> None:
    assert apply_multiplier(1_000_000, 15_000) == 1_500_000
    assert apply_multiplier(3, 5_000) == 1  # 1.5 base units: the ledger pays 1
    assert apply_multiplier(2**200, 12_500) == 2**200 * 5 // 4  # exact at uint256 scale


def test_policy_rejects_bad_tiers_and_priors() -> None:
    with pytest.raises(ValueError, match="score 0"):
        ReputationPolicy(tiers=(Tier("only", 0.2, 10_000),))
    with pytest.raises(ValueError, match="increasing"):
        ReputationPolicy(tiers=(Tier("a", 0.0, 5_000), Tier("b", 0.0, 6_000)))
    with pytest.raises(ValueError, match="negative"):
        ReputationPolicy(tiers=(Tier("a", 0.0, -1),))
    with pytest.raises(ValueError, match="prior"):
        ReputationPolicy(prior_strength=0.0)
    with pytest.raises(ValueError, match="min_trials"):
        ReputationPolicy(min_trials=-1)


# --- the gold warm-up ---


def test_qualification_needs_enough_gold_items_at_the_accuracy() -> None:
    def status(answered: int, correct: int) -> Qualification:
        return qualification(
            gold_answered=answered, gold_correct=correct, min_items=10, min_accuracy=0.7
        )

    assert status(9, 9) is Qualification.pending
    assert status(10, 7) is Qualification.passed  # exactly at the threshold
    assert status(10, 6) is Qualification.failed
    assert status(20, 14) is Qualification.passed
    with pytest.raises(ValueError, match="gold_correct"):
        status(3, 4)
    with pytest.raises(ValueError, match="at least one"):
        qualification(gold_answered=1, gold_correct=1, min_items=0, min_accuracy=0.5)


# --- simulated crowds ---


def test_honest_reputation_converges_to_true_accuracy() -> None:
    """After about 400 labels each (a tenth of items gold), |score - accuracy| <= 0.05."""
    accuracies = (0.6, 0.7, 0.8, 0.9, 0.95)
    annotators = [honest(f"h{i}", a) for i, a in enumerate(accuracies)]
    crowd = simulate_crowd(
        seed=11, n_items=670, n_classes=4, annotators=annotators, labels_per_item=3
    )
    gold = {item: crowd.truth[item] for item in list(crowd.truth)[::10]}
    report = agreement_report(dawid_skene(encode_labels(crowd.labels, crowd.classes)), gold)
    for agreement in report.annotators:
        accuracy = accuracies[int(str(agreement.annotator)[1:])]
        assert agreement.labels >= 350
        assert reputation_score(evidence_from(agreement)) == pytest.approx(accuracy, abs=0.05)


@pytest.mark.parametrize("seed", [5, 6])  # on seed 6 an honest annotator starts badly
def test_spammers_and_the_adversary_are_cut_off_within_sixty_labels(seed: int) -> None:
    """Items arrive 20 at a time, three labels each, a tenth of them gold. After each batch the
    whole dataset is re-aggregated with Dawid-Skene and every annotator's standing updated;
    whoever falls below the cutoff gets no more items. Spammers and the adversary are cut off
    after at most 60 labels; no honest annotator ever is, and each cut-off annotator earns under
    5% of the average honest annotator's pay (one unit per label matching the aggregate, times
    the tier's multiplier at that batch)."""
    annotators = [
        *(honest(f"h{i}", a) for i, a in enumerate((0.65, 0.75, 0.8, 0.9))),
        *(spammer(f"s{i}") for i in range(3)),
        adversary("adv", fixed_class=0),
    ]
    stream = CrowdStream(seed=seed, n_classes=4, annotators=annotators)
    active = [a.name for a in annotators]
    labels: list[tuple[str, str, str]] = []
    labels_when_cut: dict[str, int] = {}
    earnings: Counter[str] = Counter()
    for _ in range(60):
        labels += stream.label_items(20, labels_per_item=3, active=active)
        gold = {item: stream.truth[item] for item in list(stream.truth)[::10]}
        aggregate = dawid_skene(encode_labels(labels, stream.classes))
        paid = Counter(a for (_, a, _), ok in zip(labels, aggregate.agrees(), strict=True) if ok)
        for agreement in agreement_report(aggregate, gold).annotators:
            name = str(agreement.annotator)
            if name not in active:
                continue
            now = standing(evidence_from(agreement), DEFAULT_POLICY)
            earnings[name] = apply_multiplier(paid[name] * 1_000, now.multiplier_bps)
            if not now.receives_items:
                active.remove(name)
                labels_when_cut[name] = agreement.labels

    assert set(labels_when_cut) == {"s0", "s1", "s2", "adv"}
    assert max(labels_when_cut.values()) <= 60
    honest_pay = sum(earnings[f"h{i}"] for i in range(4)) / 4
    for name in labels_when_cut:
        assert earnings[name] < 0.05 * honest_pay
