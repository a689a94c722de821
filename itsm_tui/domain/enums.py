"""Vocabulary shared by every layer. String enums store as their value, so the database and
JSON output stay readable and stable."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Impact(IntEnum):
    HIGH = 1
    MEDIUM = 2
    LOW = 3


class Urgency(IntEnum):
    HIGH = 1
    MEDIUM = 2
    LOW = 3


class Priority(IntEnum):
    CRITICAL = 1
    HIGH = 2
    MODERATE = 3
    LOW = 4
    PLANNING = 5

    @property
    def label(self) -> str:
        return f"P{self.value}"


class IncidentState(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"

    @property
    def is_open(self) -> bool:
        return self not in (IncidentState.RESOLVED, IncidentState.CLOSED, IncidentState.CANCELLED)


class HoldReason(StrEnum):
    AWAITING_CALLER = "awaiting_caller"
    AWAITING_CHANGE = "awaiting_change"
    AWAITING_PROBLEM = "awaiting_problem"
    AWAITING_VENDOR = "awaiting_vendor"


class ResolutionCode(StrEnum):
    SOLVED_PERMANENTLY = "solved_permanently"
    SOLVED_WORKAROUND = "solved_workaround"
    NOT_REPRODUCIBLE = "not_reproducible"
    DUPLICATE = "duplicate"
    RESOLVED_BY_CALLER = "resolved_by_caller"


class Role(StrEnum):
    VIEWER = "viewer"
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    CHANGE_MANAGER = "change_manager"
    ADMIN = "admin"


class JournalKind(StrEnum):
    WORK_NOTE = "work_note"
    COMMENT = "comment"
    SYSTEM = "system"


class Criticality(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class RecordType(StrEnum):
    INCIDENT = "incident"
    USER = "user"
    GROUP = "group"
    SERVICE = "service"
    CONFIG_ITEM = "config_item"
    CALENDAR = "calendar"
    SLA_POLICY = "sla_policy"
    CHANGE = "change"
    FREEZE_WINDOW = "freeze_window"
    PROBLEM = "problem"


class ChangeType(StrEnum):
    STANDARD = "standard"  # pre-approved from a template
    NORMAL = "normal"  # assessed and authorised by the change manager or CAB
    EMERGENCY = "emergency"  # expedited: one change manager approval


class ChangeState(StrEnum):
    NEW = "new"
    ASSESS = "assess"
    AUTHORIZE = "authorize"
    SCHEDULED = "scheduled"
    IMPLEMENT = "implement"
    REVIEW = "review"
    CLOSED = "closed"
    CANCELLED = "cancelled"

    @property
    def is_open(self) -> bool:
        return self not in (ChangeState.CLOSED, ChangeState.CANCELLED)


class ChangeRisk(StrEnum):
    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"


class ChangeOutcome(StrEnum):
    SUCCESSFUL = "successful"
    SUCCESSFUL_WITH_ISSUES = "successful_with_issues"
    FAILED = "failed"
    BACKED_OUT = "backed_out"


class ApprovalDecision(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ProblemState(StrEnum):
    NEW = "new"
    ASSESS = "assess"
    ROOT_CAUSE_ANALYSIS = "root_cause_analysis"
    FIX_IN_PROGRESS = "fix_in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"

    @property
    def is_open(self) -> bool:
        return self not in (ProblemState.RESOLVED, ProblemState.CLOSED, ProblemState.CANCELLED)
