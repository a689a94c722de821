"""The rows `itsm export` writes and `itsm import` reads: one pydantic model per kind.

The same model is the export's shape (field order is the CSV column order and the JSON key
order) and the import's edge validation, with the rules the services apply: priorities from
impact x urgency, known states, a hold reason only on hold, resolution details only once
resolved. References (users, groups, services, CIs, record numbers) are checked against the
database and the file together by `transfer_check`, since a row cannot see them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from types import UnionType
from typing import Annotated, Any, ClassVar, Self, Union, get_args, get_origin

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from itsm_tui.domain.enums import (
    ApprovalDecision,
    ChangeOutcome,
    ChangeRisk,
    ChangeState,
    ChangeType,
    Criticality,
    HoldReason,
    Impact,
    IncidentState,
    JournalKind,
    Priority,
    ProblemState,
    RecordType,
    ResolutionCode,
    Role,
    Urgency,
)
from itsm_tui.domain.priority import priority_for
from itsm_tui.services.directory import MaintenanceText, Username
from itsm_tui.services.validation import (
    PLANNING_RANGE,
    Input,
    LongText,
    Name,
    ShortText,
    Title,
    in_utc_range,
)

FORMAT_NAME = "itsm-tui-export"
FORMAT_VERSION = 1


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give a time zone (e.g. 2026-03-02T09:00:00Z)")
    earliest, latest = PLANNING_RANGE
    if not earliest <= in_utc_range(value) < latest:
        # SLA due times and conflict checks compute days around a record's times: far out
        # they overflow, so imported times keep to the range typed plans keep to.
        raise ValueError(f"give a time between the years {earliest.year} and {latest.year - 1}")
    return value.astimezone(UTC)


# An instant, stored and written in UTC: `2026-03-02T09:00:00Z`.
UtcTime = Annotated[datetime, AfterValidator(_utc)]
IncidentNumber = Annotated[str, StringConstraints(pattern=r"^INC\d{7,12}$")]
ChangeNumber = Annotated[str, StringConstraints(pattern=r"^CHG\d{7,12}$")]
ProblemNumber = Annotated[str, StringConstraints(pattern=r"^PRB\d{7,12}$")]
Category = Annotated[ShortText, Field(max_length=60)]
CiClass = Annotated[ShortText, Field(min_length=1, max_length=40)]


class Row(Input):
    """One record of one kind; `KEY` is the field re-imports match on."""

    KIND: ClassVar[str]
    KEY: ClassVar[str]
    RECORD_TYPE: ClassVar[RecordType]
    # Fields an import does not compare with the record: the append-only journal, and lists
    # only informational on import.
    NOT_COMPARED: ClassVar[frozenset[str]] = frozenset({"journal"})

    @property
    def key(self) -> str:
        return str(getattr(self, self.KEY))

    @classmethod
    def columns(cls) -> list[str]:
        return list(cls.model_fields)

    @classmethod
    def required_columns(cls) -> set[str]:
        return {name for name, info in cls.model_fields.items() if info.is_required()}

    @classmethod
    def nested_columns(cls) -> set[str]:
        """Columns holding lists (or nothing): one JSON array per CSV cell."""

        def holds_list(annotation: Any) -> bool:
            annotation = _unwrap(annotation)
            if get_origin(annotation) is list:
                return True
            return get_origin(annotation) in (Union, UnionType) and any(
                holds_list(a) for a in get_args(annotation)
            )

        return {name for name, info in cls.model_fields.items() if holds_list(info.annotation)}

    @classmethod
    def time_columns(cls) -> set[str]:
        def holds_time(annotation: Any) -> bool:
            annotation = _unwrap(annotation)
            return annotation is datetime or any(holds_time(a) for a in get_args(annotation))

        return {name for name, info in cls.model_fields.items() if holds_time(info.annotation)}

    def fields(self) -> dict[str, Any]:
        """The comparable view: JSON values, without the `NOT_COMPARED` fields."""
        return self.model_dump(mode="json", exclude=set(self.NOT_COMPARED), warnings=False)


def _unwrap(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


class JournalRow(Input):
    kind: JournalKind
    author: Name | None = None
    body: LongText
    created_at: UtcTime


def _ssh_key(value: str) -> str:
    # The rules of `itsm user key add`; asyncssh (0.1 s to load) only when a file has keys.
    from itsm_tui.services.user_keys import canonical_key_line

    return canonical_key_line(value)


# One OpenSSH public key line, as the desk stores it: `ssh-ed25519 AAAA... comment`.
SshKeyLine = Annotated[str, AfterValidator(_ssh_key)]


class UserRow(Row):
    KIND: ClassVar[str] = "users"
    KEY: ClassVar[str] = "username"
    RECORD_TYPE: ClassVar[RecordType] = RecordType.USER

    username: Username
    display_name: ShortText | None = None
    email: Annotated[ShortText | None, Field(max_length=254)] = None
    role: Role
    active: bool = True
    groups: list[Name] = []
    # Public keys that may log in to `itsm serve ssh`, in registration order. None: not in
    # the file (a non-admin's export, an older file), so the user's keys are left alone;
    # a list (even empty) replaces them.
    ssh_keys: list[SshKeyLine] | None = None

    @model_validator(mode="after")
    def _keys_once(self) -> Self:
        blobs = [line.split()[1] for line in self.ssh_keys or []]
        if len(set(blobs)) != len(blobs):
            raise ValueError("ssh_keys: a key appears twice (one key, one entry)")
        return self

    def normalised(self) -> Self:
        groups = sorted(dict.fromkeys(self.groups))
        return self.model_copy(
            update={"display_name": self.display_name or self.username, "groups": groups}
        )


class GroupRow(Row):
    KIND: ClassVar[str] = "groups"
    KEY: ClassVar[str] = "name"
    RECORD_TYPE: ClassVar[RecordType] = RecordType.GROUP

    name: Name
    description: ShortText = ""
    escalates_to: Name | None = None

    @model_validator(mode="after")
    def _not_itself(self) -> Self:
        if self.escalates_to == self.name:
            raise ValueError("a group cannot escalate to itself")
        return self


class ServiceRow(Row):
    KIND: ClassVar[str] = "services"
    KEY: ClassVar[str] = "name"
    RECORD_TYPE: ClassVar[RecordType] = RecordType.SERVICE

    name: Name
    description: ShortText = ""
    criticality: Criticality = Criticality.MEDIUM


class ConfigItemRow(Row):
    KIND: ClassVar[str] = "cis"
    KEY: ClassVar[str] = "name"
    RECORD_TYPE: ClassVar[RecordType] = RecordType.CONFIG_ITEM

    name: Name
    ci_class: CiClass = "server"
    service: Name
    criticality: Criticality | None = None  # None: as critical as its service
    maintenance: list[MaintenanceText] = []  # "Sun 02:00-06:00 UTC"

    def normalised(self) -> Self:
        return self.model_copy(update={"maintenance": list(dict.fromkeys(self.maintenance))})


class FreezeWindowRow(Row):
    KIND: ClassVar[str] = "freeze_windows"
    KEY: ClassVar[str] = "name"
    RECORD_TYPE: ClassVar[RecordType] = RecordType.FREEZE_WINDOW

    name: Name
    service: Name | None = None  # None: every service
    starts_at: UtcTime
    ends_at: UtcTime
    reason: LongText = ""
    created_by: Name | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.starts_at < self.ends_at:
            raise ValueError("a freeze window must start before it ends")
        return self


def _after(earlier: datetime | None, later: datetime | None, what: str) -> None:
    if earlier is not None and later is not None and later < earlier:
        raise ValueError(what)


def _check_priority(impact: Impact, urgency: Urgency, priority: Priority | None) -> None:
    """Incidents and problems derive priority from impact x urgency, as the services do: a
    file may leave it out, but one it gives must be the derived one."""
    expected = priority_for(impact, urgency)
    if priority is not None and priority != expected:
        raise ValueError(
            f"priority {int(priority)} does not match impact {int(impact)} x "
            f"urgency {int(urgency)} (that is P{int(expected)})"
        )


class IncidentRow(Row):
    KIND: ClassVar[str] = "incidents"
    KEY: ClassVar[str] = "number"
    RECORD_TYPE: ClassVar[RecordType] = RecordType.INCIDENT

    number: IncidentNumber
    title: Title
    description: LongText = ""
    caller: ShortText | None = None
    service: Name | None = None
    ci: Name | None = None
    category: Category | None = None
    impact: Impact
    urgency: Urgency
    priority: Priority | None = None  # derived from impact x urgency; checked when given
    state: IncidentState = IncidentState.NEW
    hold_reason: HoldReason | None = None
    assignee: Name | None = None
    group: Name | None = None
    major: bool = False
    parent: IncidentNumber | None = None
    opened_by: Name | None = None
    opened_at: UtcTime
    updated_at: UtcTime | None = None  # default: opened_at
    responded_at: UtcTime | None = None
    resolved_at: UtcTime | None = None
    closed_at: UtcTime | None = None
    resolution_code: ResolutionCode | None = None
    resolution_notes: LongText | None = None
    caused_by: ChangeNumber | None = None
    problem: ProblemNumber | None = None
    journal: list[JournalRow] = []

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_priority(self.impact, self.urgency, self.priority)
        state = self.state
        if (state is IncidentState.ON_HOLD) != (self.hold_reason is not None):
            raise ValueError("a hold reason is required on hold and only allowed on hold")
        ended = state in (IncidentState.RESOLVED, IncidentState.CLOSED)
        if ended and (self.resolution_code is None or self.resolved_at is None):
            raise ValueError(f"a {state.value} incident needs resolution_code and resolved_at")
        if not ended and (self.resolution_code or self.resolution_notes or self.resolved_at):
            raise ValueError("resolution code, notes and time only apply once resolved")
        if (state is IncidentState.CLOSED) != (self.closed_at is not None):
            raise ValueError("closed_at is required when closed and only allowed then")
        if self.parent == self.number:
            raise ValueError("an incident cannot be its own parent")
        for name in ("updated_at", "responded_at", "resolved_at", "closed_at"):
            _after(self.opened_at, getattr(self, name), f"{name} is before opened_at")
        _after(self.resolved_at, self.closed_at, "closed_at is before resolved_at")
        return self

    def normalised(self) -> Self:
        return self.model_copy(
            update={
                "priority": priority_for(self.impact, self.urgency),
                "updated_at": self.updated_at or self.opened_at,
            }
        )


class ApprovalRow(Input):
    approver: Name
    decision: ApprovalDecision = ApprovalDecision.PENDING
    comment: LongText | None = None
    requested_at: UtcTime
    decided_at: UtcTime | None = None

    @model_validator(mode="after")
    def _decided(self) -> Self:
        if (self.decision is ApprovalDecision.PENDING) != (self.decided_at is None):
            raise ValueError("decided_at is required once decided and only allowed then")
        return self


class ChangeRow(Row):
    KIND: ClassVar[str] = "changes"
    KEY: ClassVar[str] = "number"
    RECORD_TYPE: ClassVar[RecordType] = RecordType.CHANGE

    number: ChangeNumber
    title: Title
    change_type: ChangeType = ChangeType.NORMAL
    state: ChangeState = ChangeState.NEW
    impact: Impact = Impact.LOW
    risk: ChangeRisk = ChangeRisk.LOW
    risk_override_reason: LongText | None = None
    outage_expected: bool = False
    tested: bool = True
    backout_possible: bool = True
    service: Name | None = None
    cis: list[Name] = []
    planned_start: UtcTime | None = None
    planned_end: UtcTime | None = None
    description: LongText = ""
    justification: LongText = ""
    implementation_plan: LongText = ""
    backout_plan: LongText = ""
    test_plan: LongText = ""
    requested_by: Name | None = None
    assignee: Name | None = None
    group: Name | None = None
    outcome: ChangeOutcome | None = None
    review_notes: LongText | None = None
    freeze_justification: LongText | None = None
    opened_at: UtcTime
    updated_at: UtcTime | None = None
    closed_at: UtcTime | None = None
    approvals: list[ApprovalRow] = []
    journal: list[JournalRow] = []

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.planned_start is None) != (self.planned_end is None):
            raise ValueError("give both planned_start and planned_end, or neither")
        if self.planned_start and self.planned_end and not self.planned_start < self.planned_end:
            raise ValueError("planned_start must be before planned_end")
        booked = (ChangeState.SCHEDULED, ChangeState.IMPLEMENT, ChangeState.REVIEW)
        if self.state in booked and self.planned_start is None:
            raise ValueError(f"a {self.state.value} change needs planned_start and planned_end")
        if self.outcome is not None and self.state not in (ChangeState.REVIEW, ChangeState.CLOSED):
            raise ValueError("an outcome only applies in review or closed")
        approvers = [a.approver for a in self.approvals]
        if len(set(approvers)) != len(approvers):
            raise ValueError("each approver may appear once")
        for name in ("updated_at", "closed_at"):
            _after(self.opened_at, getattr(self, name), f"{name} is before opened_at")
        return self

    def normalised(self) -> Self:
        return self.model_copy(
            update={
                "updated_at": self.updated_at or self.opened_at,
                "cis": sorted(dict.fromkeys(self.cis)),
                "approvals": sorted(self.approvals, key=lambda a: a.approver),
            }
        )


class ProblemRow(Row):
    KIND: ClassVar[str] = "problems"
    KEY: ClassVar[str] = "number"
    RECORD_TYPE: ClassVar[RecordType] = RecordType.PROBLEM
    NOT_COMPARED: ClassVar[frozenset[str]] = frozenset({"journal", "incidents"})

    number: ProblemNumber
    title: Title
    description: LongText = ""
    state: ProblemState = ProblemState.NEW
    impact: Impact = Impact.LOW
    urgency: Urgency = Urgency.LOW
    priority: Priority | None = None
    service: Name | None = None
    cis: list[Name] = []
    assignee: Name | None = None
    group: Name | None = None
    root_cause: LongText = ""
    workaround: LongText = ""
    known_error: bool = False
    fix_change: ChangeNumber | None = None
    resolution_notes: LongText | None = None
    resolution_reason: LongText | None = None
    opened_by: Name | None = None
    opened_at: UtcTime
    updated_at: UtcTime | None = None
    resolved_at: UtcTime | None = None
    closed_at: UtcTime | None = None
    # Linked incidents, as exported. Informational on import: a link is imported from the
    # incident's own `problem` field, so problems and incidents import in either file order.
    incidents: list[IncidentNumber] = []
    journal: list[JournalRow] = []

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_priority(self.impact, self.urgency, self.priority)
        if self.known_error and not (self.root_cause.strip() and self.workaround.strip()):
            raise ValueError("a known error needs a root cause and a workaround")
        ended = self.state in (ProblemState.CLOSED, ProblemState.CANCELLED)
        if ended != (self.closed_at is not None):
            raise ValueError("closed_at is required when closed or cancelled, and only then")
        for name in ("updated_at", "resolved_at", "closed_at"):
            _after(self.opened_at, getattr(self, name), f"{name} is before opened_at")
        return self

    def normalised(self) -> Self:
        return self.model_copy(
            update={
                "priority": priority_for(self.impact, self.urgency),
                "updated_at": self.updated_at or self.opened_at,
                "cis": sorted(dict.fromkeys(self.cis)),
                "incidents": sorted(dict.fromkeys(self.incidents)),
            }
        )


@dataclass(frozen=True)
class Reference:
    """A row field that names a record of another kind. The import checks the name exists
    (in the database or the file) and writes the named record's id to `column`."""

    kind: str  # the kind it names
    what: str  # how a message calls it
    column: str | None = None  # the stored id column; None for a list, written as link rows


# Every reference field of every row model.
REFERENCES = {
    "service": Reference("services", "service", "service_id"),
    "ci": Reference("cis", "CI", "ci_id"),
    "cis": Reference("cis", "CI"),
    "groups": Reference("groups", "group"),
    "group": Reference("groups", "group", "group_id"),
    "escalates_to": Reference("groups", "group", "escalation_group_id"),
    "assignee": Reference("users", "user", "assignee_id"),
    "opened_by": Reference("users", "user", "opened_by_id"),
    "requested_by": Reference("users", "user", "requested_by_id"),
    "created_by": Reference("users", "user", "created_by_id"),
    "parent": Reference("incidents", "incident", "parent_id"),
    "caused_by": Reference("changes", "change", "caused_by_change_id"),
    "fix_change": Reference("changes", "change", "fix_change_id"),
    "problem": Reference("problems", "problem", "problem_id"),
}

# Dependency order: a kind refers only to kinds before it (incidents name their problem;
# problems list incidents too, applied once both are written).
ROW_MODELS: dict[str, type[Row]] = {
    model.KIND: model
    for model in (
        GroupRow,
        UserRow,
        ServiceRow,
        ConfigItemRow,
        FreezeWindowRow,
        ChangeRow,
        ProblemRow,
        IncidentRow,
    )
}
KINDS: tuple[str, ...] = tuple(ROW_MODELS)
# `--what` also takes the singular and a few everyday names.
KIND_ALIASES = {
    "user": "users",
    "group": "groups",
    "service": "services",
    "ci": "cis",
    "config_items": "cis",
    "freeze": "freeze_windows",
    "freezes": "freeze_windows",
    "freeze_window": "freeze_windows",
    "incident": "incidents",
    "change": "changes",
    "problem": "problems",
}


def normalise(row: Row) -> Row:
    """Fill derived fields and put lists in their canonical order, so a row compares equal to
    the export of the record it produced."""
    method = getattr(row, "normalised", None)
    return method() if method is not None else row
