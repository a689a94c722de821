"""Every import row checked before anything is written: shape, then references.

A reference is good when the database has it or the file defines it (any row of the right
kind, wherever it sits in the file). Every problem is collected, so one run reports them all.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, select

from itsm_tui.domain.enums import IncidentState
from itsm_tui.services.transfer_read import Issue, SourceRow
from itsm_tui.services.transfer_rows import Index, memberships
from itsm_tui.services.transfer_schema import (
    KINDS,
    REFERENCES,
    ROW_MODELS,
    ConfigItemRow,
    IncidentRow,
    Row,
    UserRow,
    normalise,
)
from itsm_tui.store.models import ConfigItem


@dataclass
class Checked:
    """Rows that passed, per kind in file order, with their source."""

    rows: dict[str, list[tuple[SourceRow, Row]]] = field(
        default_factory=lambda: {kind: [] for kind in KINDS}
    )
    issues: list[Issue] = field(default_factory=list)


@dataclass
class Universe:
    """The names a row may refer to: the database's and the file's."""

    names: dict[str, set[str]]
    ci_service: dict[str, str]
    members: dict[str, set[str]]


def check(session: Session, source: list[SourceRow]) -> Checked:
    result = Checked()
    seen: dict[tuple[str, str], int | None] = {}
    invalid: list[SourceRow] = []
    for item in source:
        model = ROW_MODELS[item.kind]
        try:
            row = normalise(model.model_validate(item.values))
        except ValidationError as error:
            for problem in error.errors():
                where = ".".join(str(p) for p in problem["loc"])
                message = problem["msg"].removeprefix("Value error, ")
                text = f"{where}: {message}" if where else message
                result.issues.append(Issue(item.line, item.where, text))
            invalid.append(item)
            continue
        if (item.kind, row.key) in seen:
            first = seen[(item.kind, row.key)]
            again = f" (first at line {first})" if first is not None else ""
            result.issues.append(Issue(item.line, item.where, f"{row.key} appears twice{again}"))
            continue
        seen[(item.kind, row.key)] = item.line
        result.rows[item.kind].append((item, row))
    universe = _universe(session, result, invalid)
    for item in invalid:
        for message in references(item.values, universe):
            result.issues.append(Issue(item.line, item.where, message))
    for rows in result.rows.values():
        for item, row in rows:
            messages = references(row.model_dump(mode="json"), universe)
            if isinstance(row, IncidentRow):
                messages += _incident_rules(row, universe)
            for message in messages:
                result.issues.append(Issue(item.line, item.where, message))
    result.issues.sort(key=lambda i: i.line or 0)
    return result


def _universe(session: Session, checked: Checked, invalid: list[SourceRow]) -> Universe:
    index = Index.load(session)
    names = {
        "users": set(index.users.by_name),
        "groups": set(index.groups.by_name),
        "services": set(index.services.by_name),
        "cis": set(index.cis.by_name),
        "incidents": set(index.incidents.by_name),
        "changes": set(index.changes.by_name),
        "problems": set(index.problems.by_name),
        "freeze_windows": set(),
    }
    ci_service = {
        ci.name: index.services.by_id[ci.service_id] for ci in session.exec(select(ConfigItem))
    }
    members: dict[str, set[str]] = defaultdict(set)
    for user_id, groups in memberships(session, index).items():
        members[index.users.by_id[user_id]] = set(groups)
    universe = Universe(names=names, ci_service=ci_service, members=members)
    for item in invalid:  # refused already; their names are not reported again as unknown
        key = item.values.get(ROW_MODELS[item.kind].KEY)
        if isinstance(key, str):
            names[item.kind].add(key)
    for kind, rows in checked.rows.items():
        for _, row in rows:
            names[kind].add(row.key)
            if isinstance(row, ConfigItemRow):
                ci_service[row.name] = row.service
            elif isinstance(row, UserRow):
                members[row.username] = set(row.groups)
    return universe


# Lists of objects whose `key` field names a record of `kind`.
NESTED = {"approvals": ("approver", "users", "user"), "journal": ("author", "users", "user")}


def references(values: dict[str, Any], u: Universe) -> list[str]:
    """Unknown names in a row's values (checked or raw: an invalid row's references are
    reported too, so one run shows every problem)."""
    found = []

    def unknown(name: str, kind: str, what: str, value: object) -> None:
        if isinstance(value, str) and value not in u.names[kind]:
            found.append(f"{name}: unknown {what} '{value}' (not in the database or the file)")

    for name, value in values.items():
        if name in REFERENCES:
            reference = REFERENCES[name]
            for item in value if isinstance(value, list) else [value]:
                unknown(name, reference.kind, reference.what, item)
        elif name in NESTED and isinstance(value, list):
            key, kind, what = NESTED[name]
            for item in value:
                if isinstance(item, dict):
                    unknown(f"{name}.{key}", kind, what, item.get(key))
    return found


def _incident_rules(row: Row, u: Universe) -> list[str]:
    """What the incident services refuse beyond unknown names."""
    assert isinstance(row, IncidentRow)
    found = []
    owner = u.ci_service.get(row.ci or "")
    if row.ci and row.service and owner and owner != row.service:
        found.append(f"ci: CI '{row.ci}' does not belong to service '{row.service}'")
    # As the services refuse it on every write; history keeps whoever worked ended records.
    if (
        row.assignee
        and row.group
        and IncidentState(row.state).is_open
        and row.assignee in u.names["users"]
        and row.group not in u.members.get(row.assignee, set())
    ):
        found.append(f"assignee: '{row.assignee}' is not a member of group '{row.group}'")
    return found
