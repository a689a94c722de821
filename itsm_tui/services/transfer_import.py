"""`itsm import`: a whole file checked first, then written in one transaction, or not at all.

Only admins import (reference data and history are rewritten). Every row is validated before
anything is written; any problem, anywhere, refuses the whole file with every problem listed
(`ImportRefused`, exit 2). `dry_run` does the whole import, counts what it would create,
update and leave unchanged, and rolls it back. The file is read up to a size limit
(`read_import_file`), so an endless input is refused instead of exhausting memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from itsm_tui.clock import Clock
from itsm_tui.services.actors import reload_actor
from itsm_tui.services.directory import require_admin
from itsm_tui.services.errors import ValidationFailed
from itsm_tui.services.transfer_check import check
from itsm_tui.services.transfer_mapping import Mapping
from itsm_tui.services.transfer_read import (
    Issue,
    decode,
    detect_format,
    read_bounded,
    read_csv,
    read_json,
)
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


# The whole file is held, then parsed (JSON and its line map need all of it), so its size
# bounds the import's memory: the demo desk's export (3,043 incidents) is 4.0 MB, so 256 MB
# leaves room for desks sixty times bigger, and `--max-size` raises it. Refusing /dev/zero at
# this limit peaks at 323 MB resident (67 MB with --max-size 1); before, 5.4 GB and a crash.
DEFAULT_MAX_MB = 256


def read_import_file(path: Path, max_mb: int = DEFAULT_MAX_MB) -> bytes:
    """The file's bytes; refused past `max_mb` megabytes with a hint to raise the limit."""
    if max_mb < 1:
        raise ValidationFailed(f"--max-size must be at least 1 (MB), not {max_mb}")
    return read_bounded(path, max_mb << 20, "an import (raise it with --max-size MB)")


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
    kind: str | None = None,
) -> ImportReport:
    """Import the file's bytes (`source` names it in messages). `kind` says what a CSV file
    holds when its header alone cannot (`name,description` fits groups and services)."""
    require_admin(reload_actor(session, actor), "importing")
    text, issues = decode(data)
    if text is None:
        raise ImportRefused(source, issues)
    fmt = detect_format(source, text, fmt)
    if fmt not in ("json", "csv"):
        raise ValidationFailed(f"unknown format '{fmt}'; choose json or csv")
    if mapping is not None and fmt != "csv":
        raise ValidationFailed("a mapping file applies to CSV files only")
    _check_kind(kind, fmt, mapping)
    parsed = read_json(text) if fmt == "json" else read_csv(text, mapping, kind)
    now = clock.now()
    try:
        with transaction(session):
            actor = reload_actor(session, actor)
            require_admin(actor, "importing")
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


def _check_kind(kind: str | None, fmt: str, mapping: Mapping | None) -> None:
    if kind is None:
        return
    if kind not in KINDS:
        raise ValidationFailed(f"unknown kind '{kind}' for --kind; choose from {', '.join(KINDS)}")
    if fmt != "csv":
        raise ValidationFailed("--kind applies to CSV files only (a JSON export names its kinds)")
    if mapping is not None and mapping.kind != kind:
        raise ValidationFailed(f"--kind {kind} disagrees with the mapping's kind {mapping.kind}")
