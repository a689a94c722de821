"""Writing checked import rows, inside the caller's one transaction.

Each row is matched on its key (number or name). A new one is inserted; an existing one whose
fields equal the row's is left alone and counted unchanged; one that differs is updated to the
row's values (the file wins), audited field by field (old -> new) with action `import` and
announced on the feed like any write. Journals are append-only: entries of the file missing
from the record are added, none is removed. Lists (a user's groups and SSH keys, a change's
CIs and approvals, a problem's CIs) are replaced by the file's; a user row without
`ssh_keys` (null) leaves the user's keys alone. A problem's incident list is
informational: links come from each incident's `problem` field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, SQLModel, col, select

from itsm_tui.domain.enums import IncidentState, JournalKind
from itsm_tui.services.errors import ValidationFailed
from itsm_tui.services.history import journal, record_write
from itsm_tui.services.slas import sync_clocks
from itsm_tui.services.transfer_rows import (
    STORE_MODELS,
    Index,
    ci_row,
    freeze_row,
    group_row,
    incident_row,
    journals,
    problem_row,
    service_row,
    user_row,
)
from itsm_tui.services.transfer_rows import approvals as approvals_of
from itsm_tui.services.transfer_rows import change_cis as change_cis_of
from itsm_tui.services.transfer_rows import change_row as change_row_of
from itsm_tui.services.transfer_rows import memberships as memberships_of
from itsm_tui.services.transfer_rows import problem_cis as problem_cis_of
from itsm_tui.services.transfer_rows import problem_incidents as problem_incidents_of
from itsm_tui.services.transfer_rows import ssh_keys as ssh_keys_of
from itsm_tui.services.transfer_schema import (
    KINDS,
    REFERENCES,
    ChangeRow,
    ConfigItemRow,
    FreezeWindowRow,
    GroupRow,
    IncidentRow,
    JournalRow,
    ProblemRow,
    Row,
    ServiceRow,
    UserRow,
)
from itsm_tui.store.models import (
    ChangeApproval,
    ChangeConfigItem,
    ConfigItem,
    FreezeWindow,
    Group,
    GroupMembership,
    Incident,
    NumberSequence,
    ProblemConfigItem,
    Service,
    User,
    UserKey,
)

ACTION = "import"
PREFIXES = {"incidents": "INC", "changes": "CHG", "problems": "PRB"}


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class Writer:
    """Writes checked rows kind by kind, in dependency order, counting what it did."""

    session: Session
    actor: User
    now: datetime
    index: Index = field(init=False)
    counts: dict[str, Counts] = field(init=False)

    def __post_init__(self) -> None:
        self.index = Index.load(self.session)
        self.counts = {kind: Counts() for kind in KINDS}

    def write(self, rows: dict[str, list[Row]]) -> dict[str, Counts]:
        self._groups([r for r in rows["groups"] if isinstance(r, GroupRow)])
        for kind in ("users", "services", "cis", "freeze_windows", "changes", "problems"):
            for row in rows[kind]:
                self._one(row)
        incidents = [r for r in rows["incidents"] if isinstance(r, IncidentRow)]
        for row in _parents_first(incidents):
            self._one(row)
        for kind, prefix in PREFIXES.items():
            self._advance_counter(prefix, [row.key for row in rows[kind]])
        return {kind: counts for kind, counts in self.counts.items() if kind in rows}

    # ------------------------------------------------------------------ the common path

    def _one(self, row: Row, *, new: bool | None = None) -> None:
        kind = row.KIND
        record = _find(self.session, row)
        is_new = record is None if new is None else new
        before = {} if is_new or record is None else self._current(row, record).fields()
        after = row.fields()
        notes = self._missing_notes(row, record)
        if not is_new and before == after and not notes:
            self.counts[kind].unchanged += 1
            return
        if record is None:
            record = _NEW[kind](self)
        self._apply(row, record)
        self.session.add(record)
        self.session.flush()
        assert record.id is not None
        names = getattr(self.index, kind, None)
        if names is not None:
            names.add(record.id, row.key)
        self._extras(row, record)
        changes = {
            name: (_text(before.get(name)), _text(value))
            for name, value in after.items()
            if before.get(name) != value
        }
        record_write(
            self.session,
            record_type=row.RECORD_TYPE,
            record_id=record.id,
            # Only records have numbers; names may not fit the feed's 16-character column.
            number=row.key if row.KIND in PREFIXES else None,
            action=ACTION,
            actor=self.actor,
            at=self.now,
            changes=changes,
        )
        for entry in notes:
            journal(
                self.session,
                record_type=row.RECORD_TYPE,
                record_id=record.id,
                author=self._user(entry.author),
                kind=JournalKind(entry.kind),
                body=entry.body,
                at=entry.created_at,
            )
        if isinstance(record, Incident) and record.state not in _NO_CLOCKS:
            sync_clocks(self.session, record, self.now)
        counts = self.counts[kind]
        if is_new:
            counts.created += 1
        else:
            counts.updated += 1

    def _user(self, name: str | None) -> User | None:
        user_id = self.index.users.id(name)
        return self.session.get(User, user_id) if user_id is not None else None

    def _missing_notes(self, row: Row, record: Any) -> list[JournalRow]:
        entries: list[JournalRow] = getattr(row, "journal", [])
        if not entries:
            return []
        if record is None:
            return list(entries)
        have = {_note_key(e) for e in self._journal_of(row, record)}
        return [e for e in entries if _note_key(e) not in have]

    def _journal_of(self, row: Row, record: Any) -> list[JournalRow]:
        return journals(self.session, row.RECORD_TYPE, self.index, record.id).get(record.id, [])

    def _current(self, row: Row, record: Any) -> Row:
        """The record as the export shows it, to compare with the row."""
        s, index, rid = self.session, self.index, record.id
        match row:
            case UserRow():
                groups = memberships_of(s, index, rid).get(rid, [])
                keys = None if row.ssh_keys is None else ssh_keys_of(s, rid).get(rid, [])
                return user_row(record, groups, keys)
            case GroupRow():
                return group_row(record, index)
            case ServiceRow():
                return service_row(record)
            case ConfigItemRow():
                return ci_row(record, index)
            case FreezeWindowRow():
                return freeze_row(record, index)
            case IncidentRow():
                return incident_row(record, index, [])
            case ChangeRow():
                return change_row_of(
                    record,
                    index,
                    change_cis_of(s, index, rid).get(rid, []),
                    approvals_of(s, index, rid).get(rid, []),
                    [],
                )
            case ProblemRow():
                return problem_row(
                    record,
                    index,
                    problem_cis_of(s, index, rid).get(rid, []),
                    problem_incidents_of(s, index, rid).get(rid, []),
                    [],
                )
        raise AssertionError(row)

    # ------------------------------------------------------------------ per kind

    def _groups(self, rows: list[GroupRow]) -> None:
        """Groups escalate to each other (cycles too): insert the new ones bare first, so
        every escalation target exists, then write each like any row."""
        new = {row.name for row in rows if row.name not in self.index.groups.by_name}
        for row in rows:
            if row.name in new:
                group = Group(name=row.name, description="", created_at=self.now)
                self.session.add(group)
                self.session.flush()
                self.index.groups.add(group.id, group.name)
        for row in rows:
            self._one(row, new=row.name in new)

    def _apply(self, row: Row, record: Any) -> None:
        ids = self.index
        match row:
            case UserRow():
                own = record.id is not None and record.id == self.actor.id
                if own and (row.role.value, row.active) != (record.role, record.active):
                    raise ValidationFailed(
                        f"the file changes your own account ({row.username}: role "
                        f"{row.role.value}, active {row.active}); ask another admin"
                    )
                record.username, record.display_name = row.username, row.display_name
                record.email, record.role, record.active = row.email, row.role.value, row.active
            case GroupRow():
                record.name, record.description = row.name, row.description
                record.escalation_group_id = ids.groups.id(row.escalates_to)
            case ServiceRow():
                record.name, record.description = row.name, row.description
                record.criticality = row.criticality.value
            case ConfigItemRow():
                from itsm_tui.domain.conflicts import MaintenanceWindow

                record.name, record.ci_class = row.name, row.ci_class
                record.service_id = ids.services.id(row.service)
                record.criticality = row.criticality.value if row.criticality else None
                windows = [MaintenanceWindow.parse(row.name, t).as_row() for t in row.maintenance]
                record.maintenance = windows or None
            case FreezeWindowRow():
                record.name, record.service_id = row.name, ids.services.id(row.service)
                record.starts_at, record.ends_at = row.starts_at, row.ends_at
                record.reason, record.created_by_id = row.reason, ids.users.id(row.created_by)
            case IncidentRow() | ChangeRow() | ProblemRow():
                _apply_record(row, record, ids)

    def _extras(self, row: Row, record: Any) -> None:
        """The lists a row carries, replaced by the file's."""
        s, ids, rid = self.session, self.index, record.id
        match row:
            case UserRow():
                links = [
                    GroupMembership(user_id=rid, group_id=ids.groups.id(n)) for n in row.groups
                ]
                _replace_links(s, GroupMembership.user_id, rid, links)
                if row.ssh_keys is not None:
                    self._replace_keys(rid, row.ssh_keys)
            case ChangeRow():
                cis = [ChangeConfigItem(change_id=rid, ci_id=ids.cis.id(n)) for n in row.cis]
                _replace_links(s, ChangeConfigItem.change_id, rid, cis)
                votes = [
                    ChangeApproval(
                        change_id=rid,
                        approver_id=ids.users.id(a.approver),
                        decision=a.decision.value,
                        comment=a.comment,
                        requested_at=a.requested_at,
                        decided_at=a.decided_at,
                    )
                    for a in row.approvals
                ]
                _replace_links(s, ChangeApproval.change_id, rid, votes)
            case ProblemRow():
                cis = [ProblemConfigItem(problem_id=rid, ci_id=ids.cis.id(n)) for n in row.cis]
                _replace_links(s, ProblemConfigItem.problem_id, rid, cis)
        s.flush()

    def _replace_keys(self, user_id: int, lines: list[str]) -> None:
        """A user's SSH keys become the file's, in its order. Untouched when they already
        are; a key the user had keeps the time it was added."""
        if ssh_keys_of(self.session, user_id).get(user_id, []) == lines:
            return
        import asyncssh  # 0.1 s to load: only for files that carry keys

        from itsm_tui.services.user_keys import fingerprint_of, stored_parts

        had = self.session.exec(select(UserKey).where(UserKey.user_id == user_id)).all()
        added = {row.fingerprint: row.added_at for row in had}
        self.session.execute(delete(UserKey).where(col(UserKey.user_id) == user_id))
        for line in lines:
            key = asyncssh.import_public_key(line)
            key_type, key_data, comment = stored_parts(key)
            fingerprint = fingerprint_of(key)
            self.session.add(
                UserKey(
                    user_id=user_id,
                    key_type=key_type,
                    key_data=key_data,
                    comment=comment,
                    fingerprint=fingerprint,
                    added_at=added.get(fingerprint, self.now),
                )
            )

    def _advance_counter(self, prefix: str, numbers: Iterable[str]) -> None:
        """The next `incident new` must not take an imported number."""
        highest = max((int(n[len(prefix) :]) for n in numbers), default=0)
        if not highest:
            return
        sequence = self.session.get(NumberSequence, prefix)
        if sequence is None:
            self.session.add(NumberSequence(prefix=prefix, last_value=highest))
        elif sequence.last_value < highest:
            sequence.last_value = highest
            self.session.add(sequence)
        self.session.flush()


# ---------------------------------------------------------------------------- helpers

_NO_CLOCKS = frozenset({IncidentState.CLOSED.value, IncidentState.CANCELLED.value})


def _find(session: Session, row: Row) -> Any:
    model = STORE_MODELS[row.KIND]
    return session.exec(select(model).where(getattr(model, row.KEY) == row.key)).first()


def _new(kind: str) -> Any:
    def make(writer: Writer) -> Any:
        model = STORE_MODELS[kind]
        record = model()
        if model in (User, Group, Service, ConfigItem, FreezeWindow):
            record.created_at = writer.now
        return record

    return make


_NEW = {kind: _new(kind) for kind in STORE_MODELS}

# Row fields copied as they are onto the record (enums by value); references are mapped.
_LISTS = frozenset({"journal", "cis", "approvals", "incidents"})


def _apply_record(row: Row, record: Any, index: Index) -> None:
    for name in type(row).model_fields:
        if name in _LISTS:
            continue
        value = getattr(row, name)
        reference = REFERENCES.get(name)
        if reference is not None:
            assert reference.column is not None  # lists were passed over above
            setattr(record, reference.column, getattr(index, reference.kind).id(value))
        else:
            setattr(record, name, value.value if hasattr(value, "value") else value)


def _replace_links(session: Session, owner: Any, owner_id: int, links: Sequence[SQLModel]) -> None:
    """A record's rows in a link table (`owner` is the table's column naming the record)
    replaced by `links`: a user's groups and a change's or a problem's CIs and approvals are
    the file's lists, not a merge with what the database had."""
    session.execute(delete(owner.class_).where(owner == owner_id))
    session.add_all(links)


def _text(value: Any) -> Any:
    """Audit rows hold text: lists and objects as compact JSON."""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


def _note_key(entry: JournalRow) -> tuple[str, str | None, str, datetime]:
    return (entry.kind.value, entry.author, entry.body, entry.created_at)


def _parents_first(rows: list[IncidentRow]) -> list[IncidentRow]:
    """Incidents ordered so a parent in the file is written before its children."""
    by_number = {row.number: row for row in rows}
    ordered: list[IncidentRow] = []
    done: set[str] = set()
    for row in rows:
        chain: list[IncidentRow] = []
        current: IncidentRow | None = row
        while current is not None and current.number not in done:
            chain.append(current)
            done.add(current.number)
            current = by_number.get(current.parent) if current.parent else None
        ordered.extend(reversed(chain))
    return ordered
