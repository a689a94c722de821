"""What an edit does to a change's approval: which fields are material, and per state and type
whether a material edit is free, restarts the votes, sends the change back, or is refused.

An approval is given to one plan: its type, risk (and the questionnaire and impact behind
it), service, CIs, window, implementation, backout and test plans, and an emergency change's
freeze justification (`MATERIAL_FIELDS`).
Changing any of them after the approvers agreed would carry out something nobody approved,
so, as in ServiceNow:

- new, assess: nothing is approved yet; edits are free.
- authorize: votes may be partly in; the same approvers are asked again (`RESTART_VOTES`).
- scheduled (normal, emergency): approved. A material edit sends the change back to
  authorize with its votes cleared (`SEND_BACK`): the service does that in the edit's own
  transaction, journaled and audited, so the change is never booked on an old approval.
- scheduled (standard): a standard change has no CAB vote; its template is the approval. The
  template lets a change be booked where it fits, so moving its window stays free (conflicts
  are still checked), but its plans, CIs, service, risk and type are the template's: they are
  refused (`MaterialEditRefused`). Turning it into a normal change instead would be a silent
  change of process; the honest way is to cancel it and request a normal change, which the
  message says. (The type is fixed once any change leaves new anyway.)
- implement and later: refused. The change is in flight (or done): rewinding it to authorize
  would say "awaiting approval" about work that is half carried out on the systems and take
  the implementer's review step away, which is the less safe of the two. What differs from
  the plan goes in a work note; a different plan is a new change.

Who may edit is `permissions`' part, with one rule from here: a standard change's plan runs
without a vote, so making a change standard or changing a standard change's plan, in any
state, is a change manager's (`standard_plan_edits`); moving its window is anyone's who works
the change.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from itsm_tui.domain.enums import ChangeState, ChangeType
from itsm_tui.domain.workflow import TransitionRefused

# Field names as the change service and its records spell them.
MATERIAL_FIELDS = frozenset(
    {
        "change_type",
        "risk",
        "impact",
        "outage_expected",
        "tested",
        "backout_possible",
        "service",
        "cis",
        "planned_start",
        "planned_end",
        "implementation_plan",
        "backout_plan",
        "test_plan",
        # An emergency change's licence to run through a freeze: whoever approved it must
        # have seen why, or the requester could write one after the vote and schedule it.
        "freeze_justification",
    }
)
WINDOW_FIELDS = frozenset({"planned_start", "planned_end"})
# The material fields that name other records (compared by name, not as columns).
REFERENCE_FIELDS = frozenset({"service", "cis"})
# What a standard change's template leaves open once it is scheduled: when it runs.
STANDARD_ALLOWANCES = WINDOW_FIELDS
_IN_FLIGHT = frozenset({ChangeState.IMPLEMENT, ChangeState.REVIEW})
_ENDED = frozenset({ChangeState.CLOSED, ChangeState.CANCELLED})


class EditEffect(StrEnum):
    NONE = "none"  # nothing approved is touched (or nothing is approved yet)
    RESTART_VOTES = "restart_votes"  # in authorize: the votes given so far go back to pending
    SEND_BACK = "send_back"  # approved: back to authorize, votes cleared


class MaterialEditRefused(TransitionRefused):
    """A material edit this change's state or type does not allow at all."""


def material(changed: Iterable[str]) -> frozenset[str]:
    return frozenset(changed) & MATERIAL_FIELDS


def material_edit_effect(
    kind: ChangeType, state: ChangeState, changed: Iterable[str]
) -> EditEffect:
    """What changing the fields `changed` (names of fields whose value really changes) does
    to a `kind` change in `state`; raises `MaterialEditRefused` when it may not happen."""
    touched = material(changed)
    if not touched:
        return EditEffect.NONE
    listed = ", ".join(sorted(touched))
    if state in _ENDED:
        raise MaterialEditRefused(f"the change is {state.value}; it can no longer change")
    if state in _IN_FLIGHT:
        raise MaterialEditRefused(
            f"the change is in {state.value}: what was approved ({listed}) cannot change while "
            "it is carried out; note what differs in a work note, or raise a new change"
        )
    if state is ChangeState.AUTHORIZE:
        return EditEffect.RESTART_VOTES
    if state is ChangeState.SCHEDULED:
        if kind is not ChangeType.STANDARD:
            return EditEffect.SEND_BACK
        beyond = touched - STANDARD_ALLOWANCES
        if beyond:
            raise MaterialEditRefused(
                "a standard change runs its template as approved: only its window can move "
                f"once scheduled, not {', '.join(sorted(beyond))}; cancel it and request a "
                "normal change instead"
            )
    return EditEffect.NONE


def standard_plan_edits(
    before: ChangeType, after: ChangeType, changed: Iterable[str]
) -> frozenset[str]:
    """The fields `changed` by an edit that decide what a standard change runs, which nobody
    votes on: making a change standard at all, or on one that stays standard anything material
    but its window. Empty when the edit leaves no standard plan changed (turning a standard
    change normal is not counted: that only adds the CAB)."""
    if after is not ChangeType.STANDARD:
        return frozenset()
    if before is not ChangeType.STANDARD:
        return frozenset({"change_type"})
    return material(changed) - STANDARD_ALLOWANCES
