"""`itsm import`: a whole file checked first, then written in one transaction, or not at all.

Only admins import (reference data and history are rewritten). Every row is validated before
anything is written; any problem, anywhere, refuses the whole file with every problem listed
(`ImportRefused`, exit 2). `dry_run` does the whole import, counts what it would create,
update and leave unchanged, and rolls it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from itsm_tui.clock import Clock
from itsm_tui.domain.enums import Role
from itsm_tui.services.actors import reload_actor
from itsm_tui.services.errors import PermissionDenied, ValidationFailed
from itsm_tui.services.transfer_check import check
from itsm_tui.services.transfer_mapping import Mapping
from itsm_tui.services.transfer_read import Issue, decode, detect_format, read_csv, read_json
from itsm_tui.services.transfer_schema import KINDS
from itsm_tui.services.transfer_write import Counts, Writer
from itsm_tui.services.tx import transaction
from itsm_tui.store.models import User


class ImportRefused(ValidationFailed):
    """The file has problems; nothing was written. `issues` holds every one of them."""

    def __init__(self, source: str, issues: list[Issue]) -> None:
        self.issues = issues
        count = f"{len(issues)} problem{'s' if len(issues) != 1 else ''}"
        self.summary = f"{source}: {count}, nothing was written"
        details = "; ".join(issue.text(source) for issue in issues)
        super().__init__(f"{self.summary}: {details}")


@dataclass(frozen=True)
class ImportReport:
    source: str
    format: str
    dry_run: bool
    counts: dict[str, Counts]

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "format": self.format,
            "dry_run": self.dry_run,
            "counts": {kind: vars(counts) for kind, counts in self.counts.items()},
        }


class _DryRun(Exception):
    def __init__(self, counts: dict[str, Counts]) -> None:
        self.counts = counts


def read_import_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ValidationFailed(f"no file {path}") from None
    except IsADirectoryError:
        raise ValidationFailed(f"{path} is a directory, not a file") from None


def import_data(
    session: Session,
    actor: User,
    clock: Clock,
    data: bytes,
    *,
    source: str,
    fmt: str | None = None,
    mapping: Mapping | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Import the file's bytes (`source` names it in messages)."""
    _require_admin(reload_actor(session, actor))
    text, issues = decode(data)
    if text is None:
        raise ImportRefused(source, issues)
    fmt = detect_format(source, text, fmt)
    if fmt not in ("json", "csv"):
        raise ValidationFailed(f"unknown format '{fmt}'; choose json or csv")
    if mapping is not None and fmt != "csv":
        raise ValidationFailed("a mapping file applies to CSV files only")
    parsed = read_json(text) if fmt == "json" else read_csv(text, mapping)
    now = clock.now()
    try:
        with transaction(session):
            actor = reload_actor(session, actor)
            _require_admin(actor)
            checked = check(session, parsed.rows)
            issues = sorted([*parsed.issues, *checked.issues], key=lambda i: i.line or 0)
            if issues:
                raise ImportRefused(source, issues)
            rows = {kind: [row for _, row in checked.rows[kind]] for kind in KINDS}
            written = Writer(session, actor, now).write(rows)
            counts = {kind: written[kind] for kind in KINDS if rows[kind]}
            if dry_run:
                raise _DryRun(counts)
    except _DryRun as rehearsal:
        counts = rehearsal.counts
    return ImportReport(source=source, format=fmt, dry_run=dry_run, counts=counts)


def _require_admin(actor: User) -> None:
    if actor.role != Role.ADMIN.value:
        raise PermissionDenied(
            f"importing needs the admin role; '{actor.username}' is {actor.role}"
        )
