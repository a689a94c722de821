"""What services hand back: plain pydantic records, detached from the ORM, ready for JSON."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class UserRecord(Record):
    username: str
    display_name: str
    email: str | None
    role: str
    active: bool
    groups: list[str]


class GroupRecord(Record):
    name: str
    description: str
    escalates_to: str | None
    members: list[str]


class ServiceRecord(Record):
    name: str
    description: str
    criticality: str


class ConfigItemRecord(Record):
    name: str
    ci_class: str
    service: str
    criticality: str | None = None  # None: as critical as its service
    maintenance: list[str] = []  # weekly windows, e.g. "Sun 02:00-06:00 UTC"


class IncidentRecord(Record):
    number: str
    title: str
    description: str
    caller: str | None
    service: str | None
    ci: str | None
    category: str | None
    impact: int
    urgency: int
    priority: int
    state: str
    hold_reason: str | None
    assignee: str | None
    assignee_name: str | None
    group: str | None
    major: bool
    parent: str | None
    opened_by: str | None
    opened_at: datetime
    updated_at: datetime
    responded_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    resolution_code: str | None
    resolution_notes: str | None
    caused_by: str | None = None  # the change that caused it (CHG number)
    problem: str | None = None  # the problem it is linked to (PRB number)
    version: int


class JournalRecord(Record):
    kind: str
    author: str | None
    body: str
    created_at: datetime


class AuditRecord(Record):
    field: str
    old_value: str | None
    new_value: str | None
    actor: str | None
    at: datetime


class SlaClockRecord(Record):
    kind: str
    policy: str
    stage: str
    due_at: datetime
    percent_used: float
    paused: bool
    target_seconds: int


class IncidentDetail(Record):
    incident: IncidentRecord
    journal: list[JournalRecord]
    audit: list[AuditRecord]
    sla: list[SlaClockRecord] = []


class NotificationRecord(Record):
    id: int
    kind: str
    incident: str | None
    body: str
    created_at: datetime
    read: bool
