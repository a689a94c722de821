"""Database records as transfer rows, the one view export writes and import compares with.

`Index` holds every name <-> id of the reference tables and record numbers, loaded once, so an
export of thousands of records takes one query per table rather than one per reference; the
import keeps it current as it inserts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlmodel import Session, SQLModel, col, select

from itsm_tui.domain.enums import RecordType
from itsm_tui.services.directory import maintenance_labels
from itsm_tui.services.transfer_schema import (
    ROW_MODELS,
    ApprovalRow,
    ChangeRow,
    ConfigItemRow,
    FreezeWindowRow,
    GroupRow,
    IncidentRow,
    JournalRow,
    ProblemRow,
    ServiceRow,
    UserRow,
)
from itsm_tui.store.models import (
    Change,
    ChangeApproval,
    ChangeConfigItem,
    ConfigItem,
    FreezeWindow,
    Group,
    GroupMembership,
    Incident,
    JournalEntry,
    Problem,
    ProblemConfigItem,
    Service,
    User,
    UserKey,
)

# The stored model of each kind. A kind's row `KEY` (username, name or number) is also its
# model's unique column: the index reads names by it and the import finds a row's record by it.
STORE_MODELS: dict[str, type[SQLModel]] = {
    "users": User,
    "groups": Group,
    "services": Service,
    "cis": ConfigItem,
    "freeze_windows": FreezeWindow,
    "incidents": Incident,
    "changes": Change,
    "problems": Problem,
}


@dataclass
class Names:
    """One table's names by id and ids by name."""

    by_id: dict[int, str] = field(default_factory=dict)
    by_name: dict[str, int] = field(default_factory=dict)

    def add(self, row_id: int | None, name: str) -> None:
        assert row_id is not None
        self.by_id[row_id] = name
        self.by_name[name] = row_id

    def name(self, row_id: int | None) -> str | None:
        return self.by_id.get(row_id) if row_id is not None else None

    def id(self, name: str | None) -> int | None:
        return self.by_name[name] if name is not None else None


@dataclass
class Index:
    users: Names
    groups: Names
    services: Names
    cis: Names
    incidents: Names
    changes: Names
    problems: Names

    @classmethod
    def load(cls, session: Session) -> Index:
        def names(kind: str) -> Names:
            model = STORE_MODELS[kind]
            result = Names()
            query = select(model.id, getattr(model, ROW_MODELS[kind].KEY))  # type: ignore[attr-defined]
            for row_id, name in session.exec(query).all():
                result.add(row_id, name)
            return result

        return cls(
            users=names("users"),
            groups=names("groups"),
            services=names("services"),
            cis=names("cis"),
            incidents=names("incidents"),
            changes=names("changes"),
            problems=names("problems"),
        )


M = TypeVar("M", bound=BaseModel)


def build(model: type[M], **values: Any) -> M:
    """A row from stored values. A record the rules refuse (written before a rule existed,
    or by hand) is still exported as it is: the export never fails, and importing it back
    reports what is wrong with that row."""
    try:
        return model.model_validate(values)
    except ValidationError:
        return model.model_construct(**values)


# ---------------------------------------------------------------------------- related rows


def journals(
    session: Session, record_type: RecordType, index: Index, record_id: int | None = None
) -> dict[int, list[JournalRow]]:
    """Every journal of one record type (or of one record), oldest first, by record id."""
    result: dict[int, list[JournalRow]] = defaultdict(list)
    query = select(JournalEntry).where(JournalEntry.record_type == record_type.value)
    if record_id is not None:
        query = query.where(JournalEntry.record_id == record_id)
    entries = session.exec(
        query.order_by(
            col(JournalEntry.record_id), col(JournalEntry.created_at), col(JournalEntry.id)
        )
    ).all()
    for entry in entries:
        result[entry.record_id].append(
            build(
                JournalRow,
                kind=entry.kind,
                author=index.users.name(entry.author_id),
                body=entry.body,
                created_at=entry.created_at,
            )
        )
    return result


def names_by_owner(
    session: Session, owner: Any, target: Any, names: Names, only: int | None = None
) -> dict[int, list[str]]:
    """The `names` of each owner's targets, sorted, by owner id, from a link table's
    `owner` and `target` id columns (of every owner, or `only` that one). A user's groups and
    a change's or a problem's CIs are all such a link, read in one query for a whole export,
    or for one record when the import compares it."""
    result: dict[int, list[str]] = defaultdict(list)
    query = select(owner, target)
    if only is not None:
        query = query.where(owner == only)
    for owner_id, target_id in session.exec(query).all():
        result[owner_id].append(names.by_id[target_id])
    return {owner_id: sorted(found) for owner_id, found in result.items()}


def memberships(session: Session, index: Index, only: int | None = None) -> dict[int, list[str]]:
    """Group names by user id (of every user, or `only` that one)."""
    return names_by_owner(
        session, GroupMembership.user_id, GroupMembership.group_id, index.groups, only
    )


def ssh_keys(session: Session, only: int | None = None) -> dict[int, list[str]]:
    """Public key lines by user id (of every user, or `only` that one), in the order they were
    registered (the order `itsm user key list` shows)."""
    result: dict[int, list[str]] = defaultdict(list)
    query = select(UserKey)
    if only is not None:
        query = query.where(UserKey.user_id == only)
    for row in session.exec(query.order_by(col(UserKey.user_id), col(UserKey.id))).all():
        # `user_keys.key_line`, not imported: that module loads asyncssh (0.1 s).
        result[row.user_id].append(f"{row.key_type} {row.key_data} {row.comment}".strip())
    return dict(result)


def change_cis(session: Session, index: Index, only: int | None = None) -> dict[int, list[str]]:
    """CI names by change id (of every change, or `only` that one)."""
    return names_by_owner(
        session, ChangeConfigItem.change_id, ChangeConfigItem.ci_id, index.cis, only
    )


def problem_cis(session: Session, index: Index, only: int | None = None) -> dict[int, list[str]]:
    """CI names by problem id (of every problem, or `only` that one)."""
    return names_by_owner(
        session, ProblemConfigItem.problem_id, ProblemConfigItem.ci_id, index.cis, only
    )


def approvals(
    session: Session, index: Index, only: int | None = None
) -> dict[int, list[ApprovalRow]]:
    result: dict[int, list[ApprovalRow]] = defaultdict(list)
    query = select(ChangeApproval)
    if only is not None:
        query = query.where(ChangeApproval.change_id == only)
    for a in session.exec(query).all():
        result[a.change_id].append(
            build(
                ApprovalRow,
                approver=index.users.by_id[a.approver_id],
                decision=a.decision,
                comment=a.comment,
                requested_at=a.requested_at,
                decided_at=a.decided_at,
            )
        )
    return {k: sorted(v, key=lambda a: a.approver) for k, v in result.items()}


def problem_incidents(
    session: Session, index: Index, only: int | None = None
) -> dict[int, list[str]]:
    result: dict[int, list[str]] = defaultdict(list)
    query = select(Incident.number, Incident.problem_id)
    if only is not None:
        query = query.where(Incident.problem_id == only)
    else:
        query = query.where(col(Incident.problem_id).is_not(None))
    for number, problem_id in session.exec(query).all():
        result[problem_id].append(number)
    return {k: sorted(v) for k, v in result.items()}


# ---------------------------------------------------------------------------- one row


def user_row(user: User, groups: list[str], keys: list[str] | None = None) -> UserRow:
    """`keys` None: the keys are not part of this view (a non-admin's export)."""
    return build(
        UserRow,
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        role=user.role,
        active=user.active,
        groups=groups,
        ssh_keys=keys,
    )


def group_row(group: Group, index: Index) -> GroupRow:
    return build(
        GroupRow,
        name=group.name,
        description=group.description,
        escalates_to=index.groups.name(group.escalation_group_id),
    )


def service_row(service: Service) -> ServiceRow:
    return build(
        ServiceRow,
        name=service.name,
        description=service.description,
        criticality=service.criticality,
    )


def ci_row(ci: ConfigItem, index: Index) -> ConfigItemRow:
    return build(
        ConfigItemRow,
        name=ci.name,
        ci_class=ci.ci_class,
        service=index.services.by_id[ci.service_id],
        criticality=ci.criticality,
        maintenance=maintenance_labels(ci),
    )


def freeze_row(window: FreezeWindow, index: Index) -> FreezeWindowRow:
    return build(
        FreezeWindowRow,
        name=window.name,
        service=index.services.name(window.service_id),
        starts_at=window.starts_at,
        ends_at=window.ends_at,
        reason=window.reason,
        created_by=index.users.name(window.created_by_id),
    )


def incident_row(incident: Incident, index: Index, journal: list[JournalRow]) -> IncidentRow:
    return build(
        IncidentRow,
        number=incident.number,
        title=incident.title,
        description=incident.description,
        caller=incident.caller,
        service=index.services.name(incident.service_id),
        ci=index.cis.name(incident.ci_id),
        category=incident.category,
        impact=incident.impact,
        urgency=incident.urgency,
        priority=incident.priority,
        state=incident.state,
        hold_reason=incident.hold_reason,
        assignee=index.users.name(incident.assignee_id),
        group=index.groups.name(incident.group_id),
        major=incident.major,
        parent=index.incidents.name(incident.parent_id),
        opened_by=index.users.name(incident.opened_by_id),
        opened_at=incident.opened_at,
        updated_at=incident.updated_at,
        responded_at=incident.responded_at,
        resolved_at=incident.resolved_at,
        closed_at=incident.closed_at,
        resolution_code=incident.resolution_code,
        resolution_notes=incident.resolution_notes,
        caused_by=index.changes.name(incident.caused_by_change_id),
        problem=index.problems.name(incident.problem_id),
        journal=journal,
    )


def change_row(
    change: Change,
    index: Index,
    cis: list[str],
    approvals: list[ApprovalRow],
    journal: list[JournalRow],
) -> ChangeRow:
    return build(
        ChangeRow,
        number=change.number,
        title=change.title,
        change_type=change.change_type,
        state=change.state,
        impact=change.impact,
        risk=change.risk,
        risk_override_reason=change.risk_override_reason,
        outage_expected=change.outage_expected,
        tested=change.tested,
        backout_possible=change.backout_possible,
        service=index.services.name(change.service_id),
        cis=cis,
        planned_start=change.planned_start,
        planned_end=change.planned_end,
        description=change.description,
        justification=change.justification,
        implementation_plan=change.implementation_plan,
        backout_plan=change.backout_plan,
        test_plan=change.test_plan,
        requested_by=index.users.name(change.requested_by_id),
        assignee=index.users.name(change.assignee_id),
        group=index.groups.name(change.group_id),
        outcome=change.outcome,
        review_notes=change.review_notes,
        freeze_justification=change.freeze_justification,
        opened_at=change.opened_at,
        updated_at=change.updated_at,
        closed_at=change.closed_at,
        approvals=approvals,
        journal=journal,
    )


def problem_row(
    problem: Problem,
    index: Index,
    cis: list[str],
    incidents: list[str],
    journal: list[JournalRow],
) -> ProblemRow:
    return build(
        ProblemRow,
        number=problem.number,
        title=problem.title,
        description=problem.description,
        state=problem.state,
        impact=problem.impact,
        urgency=problem.urgency,
        priority=problem.priority,
        service=index.services.name(problem.service_id),
        cis=cis,
        assignee=index.users.name(problem.assignee_id),
        group=index.groups.name(problem.group_id),
        root_cause=problem.root_cause,
        workaround=problem.workaround,
        known_error=problem.known_error,
        fix_change=index.changes.name(problem.fix_change_id),
        resolution_notes=problem.resolution_notes,
        resolution_reason=problem.resolution_reason,
        opened_by=index.users.name(problem.opened_by_id),
        opened_at=problem.opened_at,
        updated_at=problem.updated_at,
        resolved_at=problem.resolved_at,
        closed_at=problem.closed_at,
        incidents=incidents,
        journal=journal,
    )
