"""Change risk from a short questionnaire, overridable only with a reason.

The questionnaire is the one change managers actually ask: how critical is what we touch,
do we expect an outage, was it tested, can we back it out. Each answer adds weight; the
total decides the risk, and touching a critical CI with an expected outage is always high.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsm_tui.domain.enums import ChangeRisk, Criticality
from itsm_tui.domain.workflow import TransitionRefused

CRITICALITY_WEIGHT = {
    Criticality.LOW: 0,
    Criticality.MEDIUM: 1,
    Criticality.HIGH: 2,
    Criticality.CRITICAL: 3,
}
OUTAGE_WEIGHT = 2
UNTESTED_WEIGHT = 2
NO_BACKOUT_WEIGHT = 2
MODERATE_FROM = 2  # scores below are low
HIGH_FROM = 4  # scores from here are high


class RiskOverrideRefused(TransitionRefused):
    """An override that does not say why."""


@dataclass(frozen=True)
class RiskAnswers:
    ci_criticality: Criticality = Criticality.LOW
    outage_expected: bool = False
    tested: bool = True
    backout_possible: bool = True


def risk_score(answers: RiskAnswers) -> int:
    return (
        CRITICALITY_WEIGHT[answers.ci_criticality]
        + (OUTAGE_WEIGHT if answers.outage_expected else 0)
        + (0 if answers.tested else UNTESTED_WEIGHT)
        + (0 if answers.backout_possible else NO_BACKOUT_WEIGHT)
    )


def computed_risk(answers: RiskAnswers) -> ChangeRisk:
    if answers.ci_criticality is Criticality.CRITICAL and answers.outage_expected:
        return ChangeRisk.HIGH
    score = risk_score(answers)
    if score >= HIGH_FROM:
        return ChangeRisk.HIGH
    if score >= MODERATE_FROM:
        return ChangeRisk.MODERATE
    return ChangeRisk.LOW


def effective_risk(
    answers: RiskAnswers, override: ChangeRisk | None = None, reason: str = ""
) -> ChangeRisk:
    """The computed risk, or an override that differs from it and says why."""
    computed = computed_risk(answers)
    if override is None or override is computed:
        return computed
    if not reason.strip():
        raise RiskOverrideRefused(
            f"the questionnaire gives {computed.value} risk; overriding it to "
            f"{override.value} needs a reason"
        )
    return override
