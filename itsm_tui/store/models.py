"""SQLModel tables. The schema itself is created and upgraded only by Alembic migrations;
`tests/test_migrations.py` proves the migrations and these classes agree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlmodel import Field, SQLModel

from itsm_tui.store.types import UTCDateTime

# Naming convention so constraint names are stable across SQLite and PostgreSQL migrations.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _utc(nullable: bool = True, index: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    display_name: str = Field(sa_column=Column(String(200), nullable=False))
    email: str | None = Field(default=None, sa_column=Column(String(254)))
    role: str = Field(sa_column=Column(String(20), nullable=False))
    active: bool = Field(default=True)
    created_at: datetime = Field(sa_column=_utc(nullable=False))


class Group(SQLModel, table=True):
    __tablename__ = "groups"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(100), nullable=False, unique=True))
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    escalation_group_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("groups.id"), nullable=True)
    )
    created_at: datetime = Field(sa_column=_utc(nullable=False))


class GroupMembership(SQLModel, table=True):
    __tablename__ = "group_memberships"

    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    group_id: int = Field(
        sa_column=Column(Integer, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    )


class Service(SQLModel, table=True):
    __tablename__ = "services"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(100), nullable=False, unique=True))
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    criticality: str = Field(default="medium", sa_column=Column(String(20), nullable=False))
    created_at: datetime = Field(sa_column=_utc(nullable=False))


class ConfigItem(SQLModel, table=True):
    __tablename__ = "config_items"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(100), nullable=False, unique=True))
    ci_class: str = Field(default="server", sa_column=Column(String(40), nullable=False))
    service_id: int = Field(
        sa_column=Column(Integer, ForeignKey("services.id"), nullable=False, index=True)
    )
    created_at: datetime = Field(sa_column=_utc(nullable=False))
    # None: as critical as its service. Read by the change risk questionnaire.
    criticality: str | None = Field(default=None, sa_column=Column(String(20)))
    # Weekly maintenance windows: [weekday 0=Mon, "HH:MM", "HH:MM", zone]; changes to the CI
    # planned outside all of them are a conflict. None or empty: no constraint.
    maintenance: list[list[Any]] | None = Field(default=None, sa_column=Column(JSON))


class NumberSequence(SQLModel, table=True):
    """One row per record prefix (INC, CHG, PRB); numbers are taken by an atomic UPDATE so two
    writers never get the same number."""

    __tablename__ = "number_sequences"

    prefix: str = Field(sa_column=Column(String(8), primary_key=True))
    last_value: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))


OPEN_STATES_SQL = "state IN ('new', 'in_progress', 'on_hold')"
NO_SLA_DUE = datetime(9999, 12, 31, tzinfo=UTC)  # sorts after every real due time
_incident_version = Column("version", Integer, nullable=False)


class Incident(SQLModel, table=True):
    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_state_priority_opened", "state", "priority", "opened_at"),
        Index("ix_incidents_group_state", "group_id", "state"),
        Index("ix_incidents_assignee_state", "assignee_id", "state"),
        Index("ix_incidents_queue", "sla_due_at", "id"),
        # The open queue, the default view: closed incidents (most of a desk) share the
        # no-SLA sort value, and without this index paging past the running clocks would
        # walk them all. Queries must spell the states as literals for SQLite to use it.
        Index(
            "ix_incidents_queue_open",
            "sla_due_at",
            "id",
            sqlite_where=text(OPEN_STATES_SQL),
            postgresql_where=text(OPEN_STATES_SQL),
        ),
        Index("ix_incidents_assignee_queue", "assignee_id", "sla_due_at", "id"),
        Index("ix_incidents_group_queue", "group_id", "sla_due_at", "id"),
    )
    # SQLAlchemy bumps `version` on every UPDATE and refuses a stale one (optimistic locking).
    __mapper_args__ = {"version_id_col": _incident_version}

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(sa_column=Column(String(16), nullable=False, unique=True))
    title: str = Field(sa_column=Column(String(200), nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    caller: str | None = Field(default=None, sa_column=Column(String(200)))
    service_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("services.id"), index=True)
    )
    ci_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("config_items.id"), index=True)
    )
    category: str | None = Field(default=None, sa_column=Column(String(60)))
    impact: int = Field(sa_column=Column(Integer, nullable=False))
    urgency: int = Field(sa_column=Column(Integer, nullable=False))
    priority: int = Field(sa_column=Column(Integer, nullable=False, index=True))
    state: str = Field(sa_column=Column(String(20), nullable=False, index=True))
    hold_reason: str | None = Field(default=None, sa_column=Column(String(30)))
    assignee_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("users.id"), index=True)
    )
    group_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("groups.id"), index=True)
    )
    major: bool = Field(default=False)
    parent_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("incidents.id"), index=True)
    )
    opened_by_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("users.id"))
    )
    opened_at: datetime = Field(sa_column=_utc(nullable=False, index=True))
    updated_at: datetime = Field(sa_column=_utc(nullable=False))
    responded_at: datetime | None = Field(default=None, sa_column=_utc())
    resolved_at: datetime | None = Field(default=None, sa_column=_utc())
    closed_at: datetime | None = Field(default=None, sa_column=_utc())
    resolution_code: str | None = Field(default=None, sa_column=Column(String(30)))
    resolution_notes: str | None = Field(default=None, sa_column=Column(Text))
    version: int = Field(default=1, sa_column=_incident_version)
    # The queue's SLA summary, kept by `services.slas` with a plain UPDATE (no version bump:
    # a clock moving is not an edit). `sla_due_at` is the queue's sort key: the earliest due
    # time of a running clock, NO_SLA_DUE when nothing runs, so keyset paging needs no NULLs.
    sla_due_at: datetime = Field(default=NO_SLA_DUE, sa_column=_utc(nullable=False))
    sla_risk_at: datetime | None = Field(default=None, sa_column=_utc())
    sla_state: str = Field(
        default="none", sa_column=Column(String(10), nullable=False, server_default="none")
    )
    sla_left_seconds: int | None = Field(default=None, sa_column=Column(Integer))
    sla_breached: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    caused_by_change_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("changes.id"), index=True)
    )
    problem_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("problems.id"), index=True)
    )


_change_version = Column("version", Integer, nullable=False)


class Change(SQLModel, table=True):
    """A change request. Risk is the questionnaire's answer unless overridden with a reason;
    `version` is optimistic locking, as on incidents."""

    __tablename__ = "changes"
    __table_args__ = (
        Index("ix_changes_state_start", "state", "planned_start"),
        Index("ix_changes_window", "planned_start", "planned_end"),
    )
    __mapper_args__ = {"version_id_col": _change_version}

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(sa_column=Column(String(16), nullable=False, unique=True))
    title: str = Field(sa_column=Column(String(200), nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    justification: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    change_type: str = Field(sa_column=Column(String(20), nullable=False))
    state: str = Field(sa_column=Column(String(20), nullable=False, index=True))
    impact: int = Field(default=3, sa_column=Column(Integer, nullable=False))
    risk: str = Field(sa_column=Column(String(20), nullable=False))
    risk_override_reason: str | None = Field(default=None, sa_column=Column(Text))
    outage_expected: bool = Field(default=False)
    tested: bool = Field(default=True)
    backout_possible: bool = Field(default=True)
    service_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("services.id"), index=True)
    )
    planned_start: datetime | None = Field(default=None, sa_column=_utc())
    planned_end: datetime | None = Field(default=None, sa_column=_utc())
    implementation_plan: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    backout_plan: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    test_plan: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    requested_by_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("users.id"))
    )
    assignee_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("users.id"), index=True)
    )
    group_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("groups.id"), index=True)
    )
    outcome: str | None = Field(default=None, sa_column=Column(String(30)))
    review_notes: str | None = Field(default=None, sa_column=Column(Text))
    # Why an emergency change may run through a freeze window; without it a freeze blocks.
    freeze_justification: str | None = Field(default=None, sa_column=Column(Text))
    opened_at: datetime = Field(sa_column=_utc(nullable=False))
    updated_at: datetime = Field(sa_column=_utc(nullable=False))
    closed_at: datetime | None = Field(default=None, sa_column=_utc())
    version: int = Field(default=1, sa_column=_change_version)


class ChangeConfigItem(SQLModel, table=True):
    """The CIs a change touches (conflicts are found per CI)."""

    __tablename__ = "change_config_items"

    change_id: int = Field(
        sa_column=Column(Integer, ForeignKey("changes.id", ondelete="CASCADE"), primary_key=True)
    )
    ci_id: int = Field(
        sa_column=Column(Integer, ForeignKey("config_items.id"), primary_key=True, index=True)
    )


class ChangeApproval(SQLModel, table=True):
    """One requested approver of a change and their decision (pending until they vote)."""

    __tablename__ = "change_approvals"
    __table_args__ = (
        UniqueConstraint("change_id", "approver_id", name="uq_change_approvals_approver"),
    )

    id: int | None = Field(default=None, primary_key=True)
    change_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("changes.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    approver_id: int = Field(sa_column=Column(Integer, ForeignKey("users.id"), nullable=False))
    decision: str = Field(default="pending", sa_column=Column(String(20), nullable=False))
    comment: str | None = Field(default=None, sa_column=Column(Text))
    requested_at: datetime = Field(sa_column=_utc(nullable=False))
    decided_at: datetime | None = Field(default=None, sa_column=_utc())


class FreezeWindow(SQLModel, table=True):
    """No changes in this window (globally, or for one service) without a justified override."""

    __tablename__ = "freeze_windows"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(100), nullable=False, unique=True))
    service_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("services.id"), index=True)
    )
    starts_at: datetime = Field(sa_column=_utc(nullable=False, index=True))
    ends_at: datetime = Field(sa_column=_utc(nullable=False))
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_by_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("users.id"))
    )
    created_at: datetime = Field(sa_column=_utc(nullable=False))


class SavedView(SQLModel, table=True):
    """A user's named queue filter, recalled from a key or the command palette."""

    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_saved_views_user_name"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    name: str = Field(sa_column=Column(String(60), nullable=False))
    filters: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=_utc(nullable=False))


class JournalEntry(SQLModel, table=True):
    __tablename__ = "journal_entries"
    __table_args__ = (Index("ix_journal_entries_record", "record_type", "record_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    record_type: str = Field(sa_column=Column(String(20), nullable=False))
    record_id: int = Field(sa_column=Column(Integer, nullable=False))
    author_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("users.id")))
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=_utc(nullable=False))


class AuditEntry(SQLModel, table=True):
    """Append-only: one row per changed field. Nothing in the code updates or deletes these."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_record", "record_type", "record_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    record_type: str = Field(sa_column=Column(String(20), nullable=False))
    record_id: int = Field(sa_column=Column(Integer, nullable=False))
    actor_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("users.id")))
    field: str = Field(sa_column=Column(String(60), nullable=False))
    old_value: str | None = Field(default=None, sa_column=Column(Text))
    new_value: str | None = Field(default=None, sa_column=Column(Text))
    at: datetime = Field(sa_column=_utc(nullable=False))
    # The hash chain (domain/audit_chain.py): position, the previous entry's hash, this one's.
    chain_seq: int | None = Field(default=None, sa_column=Column(Integer, unique=True))
    prev_hash: str | None = Field(default=None, sa_column=Column(String(64)))
    entry_hash: str | None = Field(default=None, sa_column=Column(String(64)))


class AuditChainHead(SQLModel, table=True):
    """The one row that records where the audit chain ends.

    Every write locks it (SELECT ... FOR UPDATE) before appending audit entries or feed
    events, so on PostgreSQL both are numbered in commit order: a feed reader asking for
    `id > last_seen` can never miss an event that committed late with a smaller id.
    """

    __tablename__ = "audit_chain_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    entry_hash: str = Field(sa_column=Column(String(64), nullable=False))


class FeedEvent(SQLModel, table=True):
    """The change feed: clients remember the last id they saw and poll for newer ones."""

    __tablename__ = "feed_events"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int | None = Field(default=None, primary_key=True)
    record_type: str = Field(sa_column=Column(String(20), nullable=False))
    record_id: int = Field(sa_column=Column(Integer, nullable=False))
    # an INC/CHG/PRB number, or the name of a directory or SLA record
    record_number: str | None = Field(default=None, sa_column=Column(String(120)))
    action: str = Field(sa_column=Column(String(30), nullable=False))
    actor_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("users.id")))
    at: datetime = Field(sa_column=_utc(nullable=False))


class BusinessCalendarRow(SQLModel, table=True):
    """A business calendar; `intervals` holds [weekday, "HH:MM", "HH:MM"] triples."""

    __tablename__ = "business_calendars"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(100), nullable=False, unique=True))
    zone: str = Field(sa_column=Column(String(64), nullable=False))
    always_on: bool = Field(default=False)
    intervals: list[list[Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    holiday_country: str | None = Field(default=None, sa_column=Column(String(8)))
    holiday_subdivision: str | None = Field(default=None, sa_column=Column(String(16)))
    extra_dates: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=_utc(nullable=False))


class SlaPolicyRow(SQLModel, table=True):
    __tablename__ = "sla_policies"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(100), nullable=False, unique=True))
    priority: int = Field(sa_column=Column(Integer, nullable=False, index=True))
    service_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("services.id"), nullable=True)
    )
    calendar_id: int = Field(
        sa_column=Column(Integer, ForeignKey("business_calendars.id"), nullable=False)
    )
    response_seconds: int = Field(sa_column=Column(Integer, nullable=False))
    resolution_seconds: int = Field(sa_column=Column(Integer, nullable=False))
    # [{"state": "on_hold", "hold_reasons": ["awaiting_caller", ...] | null}]
    pause_rules: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    warnings: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # {"50": ["notify_assignee"], "100": [...]}
    actions: dict[str, list[str]] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    active: bool = Field(default=True)
    created_at: datetime = Field(sa_column=_utc(nullable=False))


class SlaClockRow(SQLModel, table=True):
    """One SLA clock of one incident. `due_at` and `next_check_at` change only on events
    (start, pause, resume, stop, threshold fired); percentages are computed on read."""

    __tablename__ = "sla_clocks"
    __table_args__ = (Index("ix_sla_clocks_incident_kind", "incident_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(
        sa_column=Column(Integer, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False)
    )
    policy_id: int = Field(sa_column=Column(Integer, ForeignKey("sla_policies.id"), nullable=False))
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    target_seconds: int = Field(sa_column=Column(Integer, nullable=False))
    started_at: datetime = Field(sa_column=_utc(nullable=False))
    paused_seconds: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    paused_since: datetime | None = Field(default=None, sa_column=_utc())
    stopped_at: datetime | None = Field(default=None, sa_column=_utc())
    due_at: datetime = Field(sa_column=_utc(nullable=False))
    stage: str = Field(sa_column=Column(String(20), nullable=False))
    fired: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    next_threshold: int | None = Field(default=None, sa_column=Column(Integer))
    next_check_at: datetime | None = Field(default=None, sa_column=_utc(index=True))
    created_at: datetime = Field(sa_column=_utc(nullable=False))


class Notification(SQLModel, table=True):
    """A per-user inbox entry, e.g. an SLA warning or breach escalated to them."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_read", "user_id", "read_at"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    incident_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("incidents.id", ondelete="CASCADE"))
    )
    kind: str = Field(sa_column=Column(String(30), nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=_utc(nullable=False))
    read_at: datetime | None = Field(default=None, sa_column=_utc())


class WorkerLease(SQLModel, table=True):
    """Who runs a background loop (the SLA evaluator) until when: one runner at a time."""

    __tablename__ = "worker_leases"

    name: str = Field(sa_column=Column(String(40), primary_key=True))
    holder: str = Field(sa_column=Column(String(200), nullable=False))
    expires_at: datetime = Field(sa_column=_utc(nullable=False))


__all__ = [
    "AuditEntry",
    "BusinessCalendarRow",
    "ConfigItem",
    "FeedEvent",
    "Group",
    "GroupMembership",
    "Incident",
    "JournalEntry",
    "Notification",
    "NumberSequence",
    "Service",
    "SlaClockRow",
    "SlaPolicyRow",
    "User",
    "WorkerLease",
]


_problem_version = Column("version", Integer, nullable=False)


class Problem(SQLModel, table=True):
    """The cause behind incidents. A known error once its root cause and workaround are
    written down; resolved by a fix change (or a recorded reason). Versioned like incidents."""

    __tablename__ = "problems"
    __table_args__ = (Index("ix_problems_state_priority", "state", "priority"),)
    __mapper_args__ = {"version_id_col": _problem_version}

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(sa_column=Column(String(16), nullable=False, unique=True))
    title: str = Field(sa_column=Column(String(200), nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    state: str = Field(sa_column=Column(String(30), nullable=False, index=True))
    impact: int = Field(default=3, sa_column=Column(Integer, nullable=False))
    urgency: int = Field(default=3, sa_column=Column(Integer, nullable=False))
    priority: int = Field(default=5, sa_column=Column(Integer, nullable=False))
    service_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("services.id"), index=True)
    )
    assignee_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("users.id"), index=True)
    )
    group_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("groups.id"), index=True)
    )
    root_cause: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    workaround: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    known_error: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false(), index=True)
    )
    fix_change_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("changes.id"), index=True)
    )
    resolution_notes: str | None = Field(default=None, sa_column=Column(Text))
    # Why it was resolved without a successful fix change (e.g. the vendor fixed it).
    resolution_reason: str | None = Field(default=None, sa_column=Column(Text))
    opened_by_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("users.id"))
    )
    opened_at: datetime = Field(sa_column=_utc(nullable=False))
    updated_at: datetime = Field(sa_column=_utc(nullable=False))
    resolved_at: datetime | None = Field(default=None, sa_column=_utc())
    closed_at: datetime | None = Field(default=None, sa_column=_utc())
    version: int = Field(default=1, sa_column=_problem_version)


class ProblemConfigItem(SQLModel, table=True):
    """The CIs a problem concerns (the known-error database is searched by CI)."""

    __tablename__ = "problem_config_items"

    problem_id: int = Field(
        sa_column=Column(Integer, ForeignKey("problems.id", ondelete="CASCADE"), primary_key=True)
    )
    ci_id: int = Field(
        sa_column=Column(Integer, ForeignKey("config_items.id"), primary_key=True, index=True)
    )


class CandidateDismissal(SQLModel, table=True):
    """A recurring-incident candidate someone said is not a problem. `key` names the cluster
    (what its incidents share); it comes back only when it grows past `incident_count`."""

    __tablename__ = "problem_candidate_dismissals"

    key: str = Field(sa_column=Column(String(300), primary_key=True))
    incident_count: int = Field(sa_column=Column(Integer, nullable=False))
    dismissed_by_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("users.id"))
    )
    dismissed_at: datetime = Field(sa_column=_utc(nullable=False))


class UserKey(SQLModel, table=True):
    """An SSH public key that lets its user log in to `itsm serve ssh` (issue 9). Only the
    public half is kept; the fingerprint names it in `itsm user key list/remove`."""

    __tablename__ = "user_keys"
    __table_args__ = (
        UniqueConstraint("user_id", "fingerprint", name="uq_user_keys_user_fingerprint"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    key_type: str = Field(sa_column=Column(String(64), nullable=False))
    key_data: str = Field(sa_column=Column(Text, nullable=False))  # base64 of the public blob
    comment: str = Field(default="", sa_column=Column(String(200), nullable=False, default=""))
    fingerprint: str = Field(sa_column=Column(String(80), nullable=False))
    added_at: datetime = Field(sa_column=_utc(nullable=False))
