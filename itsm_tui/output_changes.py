"""Human and JSON renderings of changes, conflicts and freeze windows for the CLI.

The change service returns dataclasses rather than pydantic records, so JSON goes through a
pydantic `TypeAdapter`: the same ISO 8601 times and field names as the incident commands.
Times in human output are UTC, as in every other command, and as in conflict details.
User text goes through `printable` like the incident renderings.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from itsm_tui.display import printable
from itsm_tui.output import table, when

if TYPE_CHECKING:
    # Types only: the CLI loads this module to build its parser, before any command runs.
    from pydantic import TypeAdapter

    from itsm_tui.domain.conflicts import Conflict
    from itsm_tui.services.changes import ChangeRecord
    from itsm_tui.services.freeze_windows import FreezeRecord
    from itsm_tui.services.records import JournalRecord


@cache
def _adapter(kind: type) -> TypeAdapter[Any]:
    from pydantic import TypeAdapter

    return TypeAdapter(kind)


def data(value: object) -> Any:
    """A dataclass (or a list of them) as plain JSON-ready values."""
    if isinstance(value, list):
        return [data(item) for item in value]
    return _adapter(type(value)).dump_python(value, mode="json")


def to_json(value: Any) -> str:
    """Formatted like `output.to_json`, so every command's JSON looks alike."""
    return json.dumps(value, indent=2)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _window(record: ChangeRecord) -> str:
    if record.planned_start is None or record.planned_end is None:
        return "-"
    return f"{when(record.planned_start)} to {when(record.planned_end)}"


def change_table(records: Sequence[ChangeRecord]) -> str:
    if not records:
        return "No changes match."
    return table(
        ["NUMBER", "TYPE", "STATE", "RISK", "START", "END", "GROUP", "ASSIGNEE", "TITLE"],
        [
            [
                c.number,
                c.change_type,
                c.state,
                c.risk,
                when(c.planned_start),
                when(c.planned_end),
                c.group or "-",
                c.assignee or "-",
                _clip(c.title, 50),
            ]
            for c in records
        ],
    )


def conflict_table(found: Sequence[Conflict]) -> str:
    if not found:
        return "No conflicts."
    return table(
        ["KIND", "WITH", "SHARED WINDOW", "DETAIL"],
        [
            [
                c.kind.value,
                c.with_record or "-",
                c.window.describe() if c.window is not None else "-",
                c.detail,
            ]
            for c in found
        ],
    )


def freeze_table(records: Sequence[FreezeRecord]) -> str:
    if not records:
        return "No freeze windows."
    return table(
        ["FREEZE", "START", "END", "SERVICE", "REASON"],
        [
            [f.name, when(f.starts_at), when(f.ends_at), f.service or "(all)", f.reason or "-"]
            for f in records
        ],
    )


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def change_text(
    record: ChangeRecord, found: Sequence[Conflict], journal: Sequence[JournalRecord] = ()
) -> str:
    """Every field, then the approvals, the incidents it caused, what conflicts with it and
    the journal (votes, overrides with their reasons, notes)."""
    risk = record.risk + (
        f" (override: {record.risk_override_reason})" if record.risk_override_reason else ""
    )
    fields = [
        ("Title", record.title),
        ("Type", record.change_type),
        ("State", record.state),
        ("Risk", risk),
        ("Impact", str(record.impact)),
        ("Service", record.service),
        ("CIs", ", ".join(record.cis) or None),
        ("Window", _window(record)),
        ("Group", record.group),
        ("Assignee", record.assignee),
        ("Requested", record.requested_by),
        (
            "Questions",
            f"outage expected {_yes(record.outage_expected)}, tested {_yes(record.tested)}, "
            f"backout possible {_yes(record.backout_possible)}",
        ),
        ("Outcome", record.outcome),
        ("Opened", when(record.opened_at)),
        ("Updated", when(record.updated_at)),
        ("Closed", when(record.closed_at)),
        ("Version", str(record.version)),
    ]
    lines = [record.number]
    lines += [f"  {label + ':':<12}{printable(value)}" for label, value in fields]
    for label, text in (
        ("Description", record.description),
        ("Justification", record.justification),
        ("Implementation plan", record.implementation_plan),
        ("Backout plan", record.backout_plan),
        ("Test plan", record.test_plan),
        ("Freeze justification", record.freeze_justification),
        ("Review notes", record.review_notes),
    ):
        if text:
            lines += ["", f"{label}:", _indent(printable(text, multiline=True))]
    if record.approvals:
        lines += ["", "Approvals:"]
        lines.append(
            _indent(
                table(
                    ["APPROVER", "ROLE", "DECISION", "WHEN", "COMMENT"],
                    [
                        [a.approver, a.role, a.decision, when(a.decided_at), a.comment or "-"]
                        for a in record.approvals
                    ],
                )
            )
        )
    if record.caused_incidents:
        lines += ["", "Caused incidents:"]
        lines.append(
            _indent(
                table(
                    ["NUMBER", "PRI", "STATE", "OPENED", "TITLE"],
                    [
                        [i.number, f"P{i.priority}", i.state, when(i.opened_at), _clip(i.title, 50)]
                        for i in record.caused_incidents
                    ],
                )
            )
        )
    lines += ["", "Conflicts:" if found else "Conflicts: none"]
    if found:
        lines.append(_indent(conflict_table(found)))
    if journal:
        lines += ["", "Journal:"]
        for entry in journal:
            lines.append(f"  {when(entry.created_at)}  {entry.kind:<9}  {printable(entry.author)}")
            lines.append(_indent(printable(entry.body, multiline=True), 4))
    return "\n".join(lines)


def _indent(text: str, spaces: int = 2) -> str:
    return "\n".join(" " * spaces + line for line in text.splitlines())
