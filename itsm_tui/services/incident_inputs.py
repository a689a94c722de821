"""What incident use cases accept, validated at the edge (CLI, TUI, import) by pydantic."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from itsm_tui.domain.enums import (
    HoldReason,
    Impact,
    IncidentState,
    Priority,
    ResolutionCode,
    Urgency,
)
from itsm_tui.services.validation import (
    Input,
    LongText,
    Name,
    RequiredLongText,
    ShortText,
    Title,
)

MAX_LIST_LIMIT = 1000
UNASSIGNED = "none"  # --assignee none: clear / filter unassigned
MYSELF = "me"  # --assignee me: the acting user

Category = Annotated[ShortText, Field(max_length=60)]


class IncidentCreate(Input):
    title: Title
    impact: Impact
    urgency: Urgency
    description: LongText = ""
    caller: ShortText | None = None
    service: Name | None = None
    ci: Name | None = None
    category: Category | None = None
    group: Name | None = None
    assignee: Name | None = None


class IncidentChanges(Input):
    """Everything `update` may change in one go; None means leave as is.

    `assignee="none"` clears the assignee and `caused_by="none"` the causing change.
    `reason` is journaled and is required for a reopen.
    """

    title: Title | None = None
    description: LongText | None = None
    caller: ShortText | None = None
    service: Name | None = None
    ci: Name | None = None
    category: Category | None = None
    impact: Impact | None = None
    urgency: Urgency | None = None
    state: IncidentState | None = None
    hold_reason: HoldReason | None = None
    resolution_code: ResolutionCode | None = None
    resolution_notes: LongText | None = None
    assignee: Name | None = None
    group: Name | None = None
    major: bool | None = None
    caused_by: Name | None = None  # change number; "none" clears the link
    reason: LongText | None = None


class NoteInput(Input):
    text: RequiredLongText
    comment: bool = False


class EscalationInput(Input):
    reason: RequiredLongText
    to_group: Name | None = None


class IncidentQuery(Input):
    states: tuple[IncidentState, ...] = ()
    priorities: tuple[Priority, ...] = ()
    group: Name | None = None
    assignee: Name | None = None  # a username, "me" or "none"
    search: ShortText | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_LIST_LIMIT)] = 50
