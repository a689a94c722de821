"""Human and JSON renderings of problems and their linked incidents for the CLI.

JSON goes through the change renderings' `data` (a pydantic `TypeAdapter` over the service's
dataclasses), plus the incident counts a problem record computes, so scripts need not count:
`incident_count`, `open_incident_count` and `breached_incident_count` (the SLA impact).
Times in human output are UTC and user text goes through `printable`, as everywhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from itsm_tui import output_changes
from itsm_tui.display import printable
from itsm_tui.output import table, when
from itsm_tui.output_changes import _clip, _indent, to_json

if TYPE_CHECKING:
    # Types only: the CLI loads this module to build its parser, before any command runs.
    from itsm_tui.domain.patterns import Candidate
    from itsm_tui.services.bulk import BulkResult
    from itsm_tui.services.known_errors import KnownErrorHit
    from itsm_tui.services.problems import ProblemRecord
    from itsm_tui.services.records import JournalRecord

__all__ = [
    "candidate_data",
    "candidate_table",
    "data",
    "known_error_text",
    "problem_table",
    "problem_text",
    "resolution_text",
    "to_json",
]


def data(value: ProblemRecord | Sequence[ProblemRecord]) -> Any:
    """A problem (or a list of them) as plain JSON-ready values, with its incident counts."""
    from itsm_tui.services.problems import ProblemRecord

    if not isinstance(value, ProblemRecord):
        return [data(item) for item in value]
    payload: dict[str, Any] = output_changes.data(value)
    payload["incident_count"] = value.incident_count
    payload["open_incident_count"] = value.open_incident_count
    payload["breached_incident_count"] = value.breached_incident_count
    return payload


def _incidents(record: ProblemRecord) -> str:
    """'3 (2 open, 1 breached SLA)': how much the problem has cost so far."""
    if not record.incidents:
        return "0"
    return (
        f"{record.incident_count} ({record.open_incident_count} open, "
        f"{record.breached_incident_count} breached SLA)"
    )


def _fix(record: ProblemRecord) -> str | None:
    if record.fix_change is None:
        return None
    status = ", ".join(s for s in (record.fix_change_state, record.fix_change_outcome) if s)
    return f"{record.fix_change} ({status})" if status else record.fix_change


def problem_table(records: Sequence[ProblemRecord]) -> str:
    if not records:
        return "No problems match."
    return table(
        ["NUMBER", "PRI", "STATE", "KNOWN", "INCIDENTS", "SERVICE", "ASSIGNEE", "TITLE"],
        [
            [
                p.number,
                f"P{p.priority}",
                p.state,
                "yes" if p.known_error else "-",
                f"{p.incident_count} ({p.open_incident_count} open)",
                p.service or "-",
                p.assignee or "-",
                _clip(p.title, 50),
            ]
            for p in records
        ],
    )


def problem_text(record: ProblemRecord, journal: Sequence[JournalRecord] = ()) -> str:
    """Every field, the root cause and workaround, the linked incidents with their counts,
    then the journal (moves with their reasons)."""
    fields = [
        ("Title", record.title),
        ("State", record.state),
        (
            "Priority",
            f"P{record.priority} (impact {record.impact}, urgency {record.urgency})",
        ),
        ("Service", record.service),
        ("CIs", ", ".join(record.cis) or None),
        ("Group", record.group),
        ("Assignee", record.assignee),
        ("Fix change", _fix(record)),
        ("Incidents", _incidents(record)),
        ("Opened", f"{when(record.opened_at)} by {record.opened_by or '-'}"),
        ("Updated", when(record.updated_at)),
        ("Resolved", when(record.resolved_at)),
        ("Closed", when(record.closed_at)),
        ("Version", str(record.version)),
    ]
    mark = "  [known error]" if record.known_error else ""
    lines = [record.number + mark]
    lines += [f"  {label + ':':<12}{printable(value)}" for label, value in fields]
    for label, text in (
        ("Description", record.description),
        ("Root cause", record.root_cause),
        ("Workaround", record.workaround),
        ("Resolution notes", record.resolution_notes),
        ("Resolution reason", record.resolution_reason),
    ):
        if text:
            lines += ["", f"{label}:", _indent(printable(text, multiline=True))]
    lines += ["", "Incidents:" if record.incidents else "Incidents: none"]
    if record.incidents:
        lines.append(
            _indent(
                table(
                    ["NUMBER", "PRI", "STATE", "OPENED", "RESOLVED", "SLA", "TITLE"],
                    [
                        [
                            i.number,
                            f"P{i.priority}",
                            i.state,
                            when(i.opened_at),
                            when(i.resolved_at),
                            "breached" if i.sla_breached else "-",
                            _clip(i.title, 50),
                        ]
                        for i in record.incidents
                    ],
                )
            )
        )
    if journal:
        lines += ["", "Journal:"]
        for entry in journal:
            lines.append(f"  {when(entry.created_at)}  {entry.kind:<9}  {printable(entry.author)}")
            lines.append(_indent(printable(entry.body, multiline=True), 4))
    return "\n".join(lines)


def resolution_text(number: str, result: BulkResult) -> str:
    """What `resolve-incidents` did to each incident, refusals with the reason."""
    total = len(result.outcomes)
    lines = [f"Resolved {len(result.succeeded)} of {total} open incident(s) linked to {number}."]
    lines.append(
        _indent(
            table(
                ["INCIDENT", "RESULT", "DETAIL"],
                [[o.number, "resolved" if o.ok else "refused", o.message] for o in result.outcomes],
            )
        )
    )
    return "\n".join(lines)


def candidate_data(found: Sequence[Candidate]) -> list[dict[str, Any]]:
    """Candidates as JSON, with the size and frequency they compute (per week, 1 decimal)."""
    rows = []
    for candidate in found:
        row: dict[str, Any] = output_changes.data(candidate)
        row["size"] = candidate.size
        row["per_week"] = round(candidate.per_week, 1)
        rows.append(row)
    return rows


def candidate_table(found: Sequence[Candidate]) -> str:
    if not found:
        return "No recurring-incident candidates."
    return table(
        ["KEY", "SIZE", "FIRST SEEN", "LAST SEEN", "PER WEEK", "SHARED", "INCIDENTS"],
        [
            [
                c.key,
                str(c.size),
                when(c.first_seen),
                when(c.last_seen),
                f"{c.per_week:.1f}",
                _clip(c.label, 40),
                ", ".join(c.members),
            ]
            for c in found
        ],
    )


def known_error_text(hits: Sequence[KnownErrorHit]) -> str:
    """One block per known error: what it is, where, why it matched, and the workaround the
    reader came for."""
    if not hits:
        return "No known errors match."
    blocks = []
    for hit in hits:
        where = ", ".join(p for p in (hit.service, ", ".join(hit.cis)) if p) or "-"
        lines = [
            f"{hit.number}  P{hit.priority}  {hit.state}  {printable(where)}"
            + (f"  ({printable(hit.why)})" if hit.reasons else ""),
            _indent(printable(hit.title)),
            "  Root cause:",
            _indent(printable(hit.root_cause, multiline=True), 4),
            "  Workaround:",
            _indent(printable(hit.workaround, multiline=True), 4),
        ]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
