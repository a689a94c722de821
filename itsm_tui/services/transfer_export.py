"""`itsm export`: the desk as one JSON document or one CSV file per kind.

Output is deterministic (records by number, reference data by name, journals oldest first,
times in UTC ISO 8601, no export timestamp), so exporting an imported export gives the same
bytes and two exports can be diffed. Any active user may export, viewers included: they may
read every record on the desk already, and an export holds nothing a read does not show.
Users' SSH public keys are the one exception made visible to admins only (as `itsm user key
list` is): a non-admin's export writes them as null, which an import reads as "left alone".
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlmodel import Session, col, select

from itsm_tui.domain.enums import RecordType, Role
from itsm_tui.domain.permissions import may_manage_directory
from itsm_tui.services.actors import reload_actor
from itsm_tui.services.errors import ValidationFailed
from itsm_tui.services.transfer_rows import (
    Index,
    approvals,
    change_cis,
    change_row,
    ci_row,
    freeze_row,
    group_row,
    incident_row,
    journals,
    memberships,
    problem_cis,
    problem_incidents,
    problem_row,
    service_row,
    ssh_keys,
    user_row,
)
from itsm_tui.services.transfer_schema import (
    FORMAT_NAME,
    FORMAT_VERSION,
    KIND_ALIASES,
    KINDS,
    ROW_MODELS,
    Row,
)
from itsm_tui.store.models import (
    Change,
    ConfigItem,
    FreezeWindow,
    Group,
    Incident,
    Problem,
    Service,
    User,
)

FORMATS = ("json", "csv")


def parse_kinds(spec: str | None) -> list[str]:
    """`--what incidents,changes` -> kinds in dependency order; None or "all" is every kind."""
    if spec is None or spec.strip().lower() == "all":
        return list(KINDS)
    asked = []
    for part in spec.split(","):
        name = part.strip().lower().replace("-", "_")
        if not name:
            continue
        name = KIND_ALIASES.get(name, name)
        if name not in ROW_MODELS:
            raise ValidationFailed(
                f"unknown kind '{part.strip()}' for --what; choose from {', '.join(KINDS)} or all"
            )
        asked.append(name)
    if not asked:
        raise ValidationFailed(f"--what needs at least one of {', '.join(KINDS)}")
    return [kind for kind in KINDS if kind in asked]


def export_rows(session: Session, actor: User, kinds: Sequence[str]) -> dict[str, list[Row]]:
    """The rows of each asked kind, in their canonical order; one read snapshot. Users' SSH
    public keys only in an admin's export: only admins see (and manage) other users' keys."""
    actor = reload_actor(session, actor)
    index = Index.load(session)
    with_keys = may_manage_directory(Role(actor.role))
    readers = {**_READERS, "users": lambda s, i: _users(s, i, with_keys)}
    return {kind: readers[kind](session, index) for kind in kinds}


def render_json(rows: dict[str, list[Row]]) -> str:
    document: dict[str, Any] = {"format": FORMAT_NAME, "version": FORMAT_VERSION}
    for kind, items in rows.items():
        document[kind] = [item.model_dump(mode="json", warnings=False) for item in items]
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def render_csv(kind: str, items: Sequence[Row]) -> str:
    """One kind as CSV: the model's fields as columns, lists as one JSON array per cell."""
    model = ROW_MODELS[kind]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(model.columns())
    for item in items:
        values = item.model_dump(mode="json", warnings=False)
        writer.writerow([csv_cell(values[column]) for column in model.columns()])
    return buffer.getvalue()


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def check_format(kinds: Sequence[str], fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValidationFailed(f"unknown format '{fmt}'; choose json or csv")
    if fmt == "csv" and len(kinds) != 1:
        raise ValidationFailed(
            "CSV holds one kind per file: give --what with exactly one of "
            f"{', '.join(KINDS)} (or use --format json for several)"
        )


def render(rows: dict[str, list[Row]], fmt: str) -> str:
    check_format(list(rows), fmt)
    if fmt == "json":
        return render_json(rows)
    [(kind, items)] = rows.items()
    return render_csv(kind, items)


# ---------------------------------------------------------------------------- per kind


def _users(session: Session, index: Index, with_keys: bool) -> list[Row]:
    groups = memberships(session, index)
    keys = ssh_keys(session) if with_keys else {}
    users = session.exec(select(User).order_by(col(User.username))).all()
    return [
        user_row(u, groups.get(u.id or 0, []), keys.get(u.id or 0, []) if with_keys else None)
        for u in users
    ]


def _groups(session: Session, index: Index) -> list[Row]:
    return [group_row(g, index) for g in session.exec(select(Group).order_by(col(Group.name)))]


def _services(session: Session, index: Index) -> list[Row]:
    return [service_row(s) for s in session.exec(select(Service).order_by(col(Service.name)))]


def _cis(session: Session, index: Index) -> list[Row]:
    items = session.exec(select(ConfigItem).order_by(col(ConfigItem.name))).all()
    return [ci_row(ci, index) for ci in items]


def _freezes(session: Session, index: Index) -> list[Row]:
    windows = session.exec(select(FreezeWindow).order_by(col(FreezeWindow.name))).all()
    return [freeze_row(w, index) for w in windows]


def _records(
    session: Session,
    index: Index,
    model: type[Incident | Change | Problem],
    record_type: RecordType,
    row_of: Callable[..., Row],
    lists: Sequence[dict[int, list[Any]]] = (),
) -> list[Row]:
    """Every record of one kind by number, as `row_of(record, index, *its lists, journal)`.
    Incidents, changes and problems are all exported so: each list and the journals are read
    in one query for the whole kind (not one per record) and handed to each row."""
    notes = journals(session, record_type, index)
    items = session.exec(select(model).order_by(col(model.number))).all()
    return [
        row_of(
            item,
            index,
            *(by_id.get(item.id or 0, []) for by_id in lists),
            notes.get(item.id or 0, []),
        )
        for item in items
    ]


def _incidents(session: Session, index: Index) -> list[Row]:
    return _records(session, index, Incident, RecordType.INCIDENT, incident_row)


def _changes(session: Session, index: Index) -> list[Row]:
    lists = [change_cis(session, index), approvals(session, index)]
    return _records(session, index, Change, RecordType.CHANGE, change_row, lists)


def _problems(session: Session, index: Index) -> list[Row]:
    lists = [problem_cis(session, index), problem_incidents(session, index)]
    return _records(session, index, Problem, RecordType.PROBLEM, problem_row, lists)


_READERS: dict[str, Callable[[Session, Index], list[Row]]] = {
    "groups": _groups,
    "services": _services,
    "cis": _cis,
    "freeze_windows": _freezes,
    "incidents": _incidents,
    "changes": _changes,
    "problems": _problems,
}
