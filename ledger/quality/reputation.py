"""An annotator's standing on one dataset: one score from their evidence, a reward tier, whether
they still receive the dataset's items, and whether they passed the gold warm-up.

The score is a Bayesian-smoothed weighted mean of three kinds of evidence, each a count of
successes out of trials:

    score = (w_g * gold_correct + w_a * agreed + w_r * accepted + s * m)
            / (w_g * gold_answered + w_a * compared + w_r * decided + s)

- gold: answers on gold items that matched the gold answer (ground truth, so it weighs most);
- agreement: labels equal to the item's aggregate (Dawid-Skene over the other annotators too);
- acceptance: labels the verification accepted, out of those it decided.

Default weights: w_g = 2, w_a = w_r = 1 (a gold answer is worth two labels compared with the
aggregate). The prior is `s` pseudo-observations at mean `m` (default 20 at 0.5): a new
annotator starts in the middle, one wrong gold answer only takes them to 10/22 = 0.45, twenty
weighted observations move the score at most half way, and with hundreds of labels the
prior fades and the score is the weighted success rate, which for an honest annotator is close
to their accuracy. The score is a float; rewards use integer basis points, so a payment stays an
integer number of base units.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ledger.quality.agreement import AnnotatorAgreement

BASIS_POINTS = 10_000


@dataclass(frozen=True)
class ReputationEvidence:
    """An annotator's counts on one dataset. `compared` counts labels whose item has an
    aggregate; `decided` counts labels the verification accepted or rejected."""

    gold_answered: int = 0
    gold_correct: int = 0
    compared: int = 0
    agreed: int = 0
    decided: int = 0
    accepted: int = 0

    def __post_init__(self) -> None:
        for successes, trials in (
            (self.gold_correct, self.gold_answered),
            (self.agreed, self.compared),
            (self.accepted, self.decided),
        ):
            if not 0 <= successes <= trials:
                raise ValueError(f"successes {successes} must lie in [0, trials {trials}]")


def evidence_from_agreement(
    agreement: AnnotatorAgreement, *, decided: int, accepted: int
) -> ReputationEvidence:
    """Evidence from an agreement report's counts plus the verification's decisions, which the
    report cannot know (under consensus verification they are `compared` and `agreed`)."""
    return ReputationEvidence(
        gold_answered=agreement.gold_answered,
        gold_correct=agreement.gold_correct,
        compared=agreement.compared,
        agreed=agreement.agreed,
        decided=decided,
        accepted=accepted,
    )


@dataclass(frozen=True)
class Tier:
    """Scores from `min_score` up to the next tier's earn `multiplier_bps` / 10 000 of the base
    reward."""

    name: str
    min_score: float
    multiplier_bps: int


DEFAULT_TIERS = (
    Tier("probation", 0.0, 5_000),
    Tier("standard", 0.45, 10_000),
    Tier("trusted", 0.75, 12_500),
    Tier("expert", 0.9, 15_000),
)
"""0.5x to 1.5x. A new annotator (score 0.5) is standard; 0.45 leaves room for a few early
mistakes before the pay drops."""


@dataclass(frozen=True)
class ReputationPolicy:
    """A dataset's reputation rules. `cutoff` is the score below which an annotator stops
    receiving the dataset's items; it must lie above chance, 1/#classes, to cut off spammers
    (the default 0.4 suits three classes or more; a yes/no dataset needs about 0.6). Nobody is
    cut off before `min_trials` weighted observations (40: about twenty labels under consensus
    verification, where each label counts once as agreement and once as acceptance), because
    the first aggregates of a dataset rest on a few items and can be wrong about anybody."""

    gold_weight: float = 2.0
    agreement_weight: float = 1.0
    acceptance_weight: float = 1.0
    prior_mean: float = 0.5
    prior_strength: float = 20.0
    cutoff: float = 0.4
    min_trials: float = 40.0
    tiers: tuple[Tier, ...] = DEFAULT_TIERS

    def __post_init__(self) -> None:
        if not self.tiers or self.tiers[0].min_score > 0.0:
            raise ValueError("the first tier must start at score 0")
        if any(
            b.min_score <= a.min_score for a, b in zip(self.tiers, self.tiers[1:], strict=False)
        ):
            raise ValueError("tiers must be in increasing order of min_score")
        if any(t.multiplier_bps < 0 for t in self.tiers):
            raise ValueError("a multiplier cannot be negative")
        if self.min_trials < 0:
            raise ValueError("min_trials cannot be negative")
        if self.prior_strength <= 0 or not 0.0 <= self.prior_mean <= 1.0:
            raise ValueError("the prior needs a positive strength and a mean in [0, 1]")


DEFAULT_POLICY = ReputationPolicy()


def weighted_trials(
    evidence: ReputationEvidence, policy: ReputationPolicy = DEFAULT_POLICY
) -> float:
    """The score's evidence without the prior: w_g * gold_answered + w_a * compared
    + w_r * decided."""
    return (
        policy.gold_weight * evidence.gold_answered
        + policy.agreement_weight * evidence.compared
        + policy.acceptance_weight * evidence.decided
    )


def reputation_score(
    evidence: ReputationEvidence, policy: ReputationPolicy = DEFAULT_POLICY
) -> float:
    """The smoothed weighted success rate in [0, 1] (formula in the module docstring)."""
    successes = (
        policy.gold_weight * evidence.gold_correct
        + policy.agreement_weight * evidence.agreed
        + policy.acceptance_weight * evidence.accepted
    )
    prior = policy.prior_strength
    return (successes + prior * policy.prior_mean) / (weighted_trials(evidence, policy) + prior)


def tier_for(score: float, policy: ReputationPolicy = DEFAULT_POLICY) -> Tier:
    """The highest tier whose `min_score` the score reaches."""
    reached = [tier for tier in policy.tiers if score >= tier.min_score]
    return reached[-1] if reached else policy.tiers[0]


def apply_multiplier(base_units: int, multiplier_bps: int) -> int:
    """A reward scaled by a tier's multiplier, rounded down: the ledger never pays a fraction of
    a base unit, and rounding down cannot overdraw the escrow."""
    return base_units * multiplier_bps // BASIS_POINTS


def receives_items(evidence: ReputationEvidence, policy: ReputationPolicy = DEFAULT_POLICY) -> bool:
    """Whether the annotator still gets the dataset's items: their score reaches the cutoff, or
    there is not yet `min_trials` of evidence to judge them by."""
    if weighted_trials(evidence, policy) < policy.min_trials:
        return True
    return reputation_score(evidence, policy) >= policy.cutoff


@dataclass(frozen=True)
class Standing:
    """Everything the assignment and settlement need about one annotator on one dataset."""

    score: float
    tier: str
    multiplier_bps: int
    receives_items: bool


def standing(evidence: ReputationEvidence, policy: ReputationPolicy = DEFAULT_POLICY) -> Standing:
    score = reputation_score(evidence, policy)
    tier = tier_for(score, policy)
    return Standing(score, tier.name, tier.multiplier_bps, receives_items(evidence, policy))


class Qualification(StrEnum):
    pending = "pending"  # fewer than the required warm-up gold items answered
    passed = "passed"
    failed = "failed"


def qualification(
    *, gold_answered: int, gold_correct: int, min_items: int, min_accuracy: float
) -> Qualification:
    """The gold warm-up: passed once at least `min_items` gold items are answered with accuracy
    >= `min_accuracy` over all of them, failed if that many are answered below it, pending before.
    Accuracy is compared as correct / answered, which for a decimal threshold like 0.7 and 7 of
    10 gives the same double on both sides, so an exact hit passes."""
    if not 0 <= gold_correct <= gold_answered:
        raise ValueError("gold_correct must lie in [0, gold_answered]")
    if min_items < 1:
        raise ValueError("the warm-up needs at least one gold item")
    if gold_answered < min_items:
        return Qualification.pending
    passed = gold_correct / gold_answered >= min_accuracy
    return Qualification.passed if passed else Qualification.failed
