"""Who must approve a change, who may, and when the votes add up.

Standard changes are pre-approved. An emergency change needs one change manager. A normal
change needs the change manager, and from moderate risk up a quorum of CAB members too
(configurable per desk). Any rejection sends the change back. Agents and viewers never
approve, and nobody approves a change they requested or will implement; the other way
round, nobody who approved a change becomes its implementer (`check_not_an_approver`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from itsm_tui.domain.enums import ApprovalDecision, ChangeRisk, ChangeType, Role
from itsm_tui.domain.workflow import TransitionRefused

APPROVER_ROLES = frozenset({Role.CHANGE_MANAGER, Role.SUPERVISOR, Role.ADMIN})


class ApprovalRefused(TransitionRefused):
    """This person may not approve or reject this change."""


@dataclass(frozen=True)
class CabPolicy:
    """CAB approvals needed besides the change manager's, per risk."""

    moderate_quorum: int = 1
    high_quorum: int = 2

    def __post_init__(self) -> None:
        if self.moderate_quorum < 0 or self.high_quorum < self.moderate_quorum:
            raise ValueError("quorums are >= 0 and high needs at least as many as moderate")


@dataclass(frozen=True)
class ApprovalRule:
    change_manager: bool  # one approval from someone with the change_manager role
    cab_quorum: int  # approvals from CAB members other than that change manager

    @property
    def needs_approval(self) -> bool:
        return self.change_manager or self.cab_quorum > 0


@dataclass(frozen=True)
class Vote:
    approver: str
    role: Role
    decision: ApprovalDecision


def approval_rule(kind: ChangeType, risk: ChangeRisk, policy: CabPolicy) -> ApprovalRule:
    if kind is ChangeType.STANDARD:
        return ApprovalRule(change_manager=False, cab_quorum=0)
    if kind is ChangeType.EMERGENCY:
        return ApprovalRule(change_manager=True, cab_quorum=0)
    quorum = {
        ChangeRisk.LOW: 0,
        ChangeRisk.MODERATE: policy.moderate_quorum,
        ChangeRisk.HIGH: policy.high_quorum,
    }[risk]
    return ApprovalRule(change_manager=True, cab_quorum=quorum)


def check_may_vote(
    voter: str, role: Role, *, requested_by: str | None, assignee: str | None
) -> None:
    """Raise `ApprovalRefused` unless `voter` may approve or reject this change."""
    if role not in APPROVER_ROLES:
        raise ApprovalRefused(f"{role.value}s cannot approve changes")
    if voter in {requested_by, assignee} - {None}:
        raise ApprovalRefused("nobody approves a change they requested or will implement")


def check_not_an_approver(person: str, approved_by: Iterable[str], *, doing: str) -> None:
    """Raise `ApprovalRefused` when `person` approved the change and would now `doing` it.

    Separation of duties (ServiceNow, ITIL): the approval is a second pair of eyes on someone
    else's plan. An approver who then takes the change (as assignee) or starts or completes
    its implementation would be approving their own work. `approved_by` holds the current
    approvals only: a change sent back for approval has its votes cleared, and whoever is
    assigned then can no longer vote on it (`check_may_vote`).
    """
    if person in set(approved_by):
        raise ApprovalRefused(
            f"{person} approved this change and may not {doing} it: whoever approves a change "
            "does not implement it"
        )


def outcome(rule: ApprovalRule, votes: Iterable[Vote]) -> ApprovalDecision:
    """APPROVED once the rule is met, REJECTED on any rejection, else PENDING.

    Each person counts once (their latest vote); the change manager's approval does not also
    count toward the CAB quorum, so a moderate change needs two different people.
    """
    latest: dict[str, Vote] = {}
    for vote in votes:
        latest[vote.approver] = vote
    if any(v.decision is ApprovalDecision.REJECTED for v in latest.values()):
        return ApprovalDecision.REJECTED
    approvals = [v for v in latest.values() if v.decision is ApprovalDecision.APPROVED]
    managers = [v for v in approvals if v.role is Role.CHANGE_MANAGER]
    if rule.change_manager and not managers:
        return ApprovalDecision.PENDING
    counted_manager = managers[0].approver if rule.change_manager else None
    cab = [v for v in approvals if v.approver != counted_manager]
    if len(cab) < rule.cab_quorum:
        return ApprovalDecision.PENDING
    return ApprovalDecision.APPROVED
