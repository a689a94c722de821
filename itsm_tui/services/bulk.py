"""Bulk actions on marked incidents: one transaction per incident, and a report of each.

A supervisor reassigning forty tickets must not lose thirty-nine because one was closed in the
meantime, so each incident is its own use case; the summary says what succeeded and what was
refused, and why, in the words the single action would have used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from itsm_tui.clock import Clock
from itsm_tui.domain.enums import IncidentState, Role
from itsm_tui.domain.permissions import may_change_incidents
from itsm_tui.services import incidents
from itsm_tui.services.actors import reload_actor
from itsm_tui.services.errors import PermissionDenied, ServiceError, ValidationFailed
from itsm_tui.services.tx import transaction
from itsm_tui.store.models import User

MAX_BULK = 1000


@dataclass(frozen=True)
class BulkAssign:
    assignee: str | None = None  # a username, or "none" to unassign
    group: str | None = None


@dataclass(frozen=True)
class BulkState:
    state: str
    hold_reason: str | None = None
    resolution_code: str | None = None
    resolution_notes: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class BulkNote:
    text: str
    comment: bool = False


BulkAction = BulkAssign | BulkState | BulkNote


@dataclass(frozen=True)
class BulkOutcome:
    number: str
    ok: bool
    message: str  # what was done, or why it was refused


@dataclass(frozen=True)
class BulkResult:
    outcomes: list[BulkOutcome]

    @property
    def succeeded(self) -> list[BulkOutcome]:
        return [o for o in self.outcomes if o.ok]

    @property
    def refused(self) -> list[BulkOutcome]:
        return [o for o in self.outcomes if not o.ok]


def apply(
    session: Session,
    actor: User,
    clock: Clock,
    numbers: Sequence[str],
    action: BulkAction,
) -> BulkResult:
    if not numbers:
        raise ValidationFailed("mark at least one incident first")
    if len(numbers) > MAX_BULK:
        raise ValidationFailed(f"at most {MAX_BULK} incidents at once; {len(numbers)} marked")
    with transaction(session):
        # Refused outright, not once per incident: a viewer or a deactivated user can do none
        # of it. Agents outside an incident's group still get that one refused in the summary.
        actor = reload_actor(session, actor)
        if not may_change_incidents(Role(actor.role)):
            raise PermissionDenied(
                f"'{actor.username}' ({actor.role}) may not change incidents: "
                "viewers have read-only access"
            )
    run = _runner(action)
    outcomes = []
    for number in dict.fromkeys(numbers):  # each once, in the order marked
        try:
            outcomes.append(BulkOutcome(number, True, run(session, actor, clock, number)))
        except ServiceError as error:
            outcomes.append(BulkOutcome(number, False, str(error)))
        except SQLAlchemyError as error:  # the database failed: say so, keep going
            session.rollback()
            outcomes.append(
                BulkOutcome(number, False, f"database error: {error.__class__.__name__}")
            )
    return BulkResult(outcomes)


Runner = Callable[[Session, User, Clock, str], str]


def _runner(action: BulkAction) -> Runner:
    if isinstance(action, BulkAssign):
        return lambda s, a, c, n: _assign(s, a, c, n, action)
    if isinstance(action, BulkState):
        return lambda s, a, c, n: _transition(s, a, c, n, action)
    return lambda s, a, c, n: _note(s, a, c, n, action)


def _assign(session: Session, actor: User, clock: Clock, number: str, action: BulkAssign) -> str:
    record = incidents.assign(
        session, actor, clock, number, assignee=action.assignee, group=action.group
    )
    return f"assigned to {record.assignee or '(nobody)'} in {record.group or '(no group)'}"


def _transition(session: Session, actor: User, clock: Clock, number: str, action: BulkState) -> str:
    current = incidents.get_incident(session, number)
    if current.state == IncidentState.RESOLVED.value and action.state == "in_progress":
        record = incidents.reopen(session, actor, clock, number, reason=action.reason or "")
    else:
        record = incidents.transition(
            session,
            actor,
            clock,
            number,
            action.state,
            hold_reason=action.hold_reason,
            resolution_code=action.resolution_code,
            resolution_notes=action.resolution_notes,
            reason=action.reason,
        )
    return f"now {record.state}"


def _note(session: Session, actor: User, clock: Clock, number: str, action: BulkNote) -> str:
    incidents.add_note(session, actor, clock, number, action.text, comment=action.comment)
    return "comment added" if action.comment else "work note added"
