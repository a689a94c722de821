"""Human and JSON renderings of service records for the CLI.

User text can hold terminal escape sequences; in human output every control character except
newline and tab is shown as a visible escape (`\\x1b`) so a ticket title cannot drive the
reader's terminal. JSON output escapes everything non-ASCII by construction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from itsm_tui.display import printable

if TYPE_CHECKING:
    # Imported where used: `itsm --help` loads this module and must not pay for pydantic.
    from pydantic import BaseModel

    from itsm_tui.services.records import IncidentDetail, IncidentRecord

__all__ = ["incident_table", "incident_text", "printable", "table", "to_json"]


def to_json(value: BaseModel | Sequence[BaseModel] | dict[str, Any]) -> str:
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        data: Any = value.model_dump(mode="json")
    elif isinstance(value, dict):
        data = value
    else:
        data = [item.model_dump(mode="json") for item in value]
    return json.dumps(data, indent=2)


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines)


def incident_table(incidents: Sequence[IncidentRecord]) -> str:
    if not incidents:
        return "No incidents match."
    return table(
        ["NUMBER", "PRI", "STATE", "GROUP", "ASSIGNEE", "OPENED", "TITLE"],
        [
            [
                i.number,
                f"P{i.priority}" + ("!" if i.major else ""),
                i.state,
                i.group or "-",
                i.assignee or "-",
                when(i.opened_at),
                _clip(i.title, 60),
            ]
            for i in incidents
        ],
    )


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def incident_text(detail: IncidentDetail | IncidentRecord) -> str:
    from itsm_tui.services.records import IncidentDetail

    incident = detail.incident if isinstance(detail, IncidentDetail) else detail
    fields = [
        ("Title", incident.title),
        ("State", incident.state + (f" ({incident.hold_reason})" if incident.hold_reason else "")),
        (
            "Priority",
            f"P{incident.priority} (impact {incident.impact}, urgency {incident.urgency})",
        ),
        ("Major", "yes" if incident.major else "no"),
        ("Service", incident.service),
        ("CI", incident.ci),
        ("Category", incident.category),
        ("Caller", incident.caller),
        ("Group", incident.group),
        ("Assignee", incident.assignee),
        ("Opened", f"{when(incident.opened_at)} by {incident.opened_by or '-'}"),
        ("Responded", when(incident.responded_at)),
        ("Resolved", when(incident.resolved_at)),
        ("Closed", when(incident.closed_at)),
        ("Resolution", incident.resolution_code),
        ("Caused by", incident.caused_by),
        ("Problem", incident.problem),
        ("Version", str(incident.version)),
    ]
    lines = [f"{incident.number}"]
    lines += [f"  {label + ':':<12}{printable(value)}" for label, value in fields]
    if incident.description:
        lines += ["", "Description:", _indent(printable(incident.description, multiline=True))]
    if incident.resolution_notes:
        lines += [
            "",
            "Resolution notes:",
            _indent(printable(incident.resolution_notes, multiline=True)),
        ]
    if isinstance(detail, IncidentDetail) and detail.sla:
        lines += ["", "SLA:"]
        lines.append(
            "  "
            + table(
                ["KIND", "POLICY", "STAGE", "DUE", "USED", "PAUSED"],
                [
                    [
                        c.kind,
                        c.policy,
                        c.stage,
                        when(c.due_at),
                        f"{c.percent_used:.0f}%",
                        "yes" if c.paused else "no",
                    ]
                    for c in detail.sla
                ],
            ).replace("\n", "\n  ")
        )
    if isinstance(detail, IncidentDetail) and detail.journal:
        lines += ["", "Journal:"]
        for entry in detail.journal:
            lines.append(f"  {when(entry.created_at)}  {entry.kind:<9}  {printable(entry.author)}")
            lines.append(_indent(printable(entry.body, multiline=True), 4))
    return "\n".join(lines)


def _indent(text: str, spaces: int = 2) -> str:
    return "\n".join(" " * spaces + line for line in text.splitlines())


def model_line(record: BaseModel) -> str:
    return "  ".join(
        f"{key}={printable(', '.join(value) if isinstance(value, list) else str(value))}"
        for key, value in record.model_dump().items()
    )
