"""`itsm backup PATH`: a consistent copy of a live SQLite desk, or the pg_dump line for Postgres.

SQLite's online backup API copies pages from one read snapshot while other clients go on
writing (WAL mode), so the copy is a committed state, never a torn file. The copy goes to a
temporary file beside PATH and is renamed into place when complete, so PATH is never half
written. PostgreSQL has its own tool for this (pg_dump, consistent by MVCC); the command says
how to run it instead of reimplementing it.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from itsm_tui.services import private_files, protected_paths
from itsm_tui.services.errors import ValidationFailed


@dataclass(frozen=True)
class BackupResult:
    path: str
    bytes: int
    pages: int


class UseToolInstead(ValidationFailed):
    """The engine has its own backup tool; the message gives the command line."""


def backup(database_url: str, target: Path, *, force: bool = False) -> BackupResult:
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        raise UseToolInstead(pg_dump_hint(database_url, target))
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise ValidationFailed(
            "itsm backup copies SQLite database files and PostgreSQL via pg_dump"
        )
    source = Path(url.database)
    if not source.is_file():
        raise ValidationFailed(f"no database file {source}")
    # Before anything else, --force included: the database or a companion file as the target
    # would break every connection (issue 16), whatever the link or `..` that names it.
    protected_paths.refuse_protected(target, database_url=database_url, guard_config=False)
    if target.exists() and not force:
        raise ValidationFailed(f"{target} exists; give --force to replace it")
    if target.exists() and target.is_dir():
        raise ValidationFailed(f"{target} is a directory; give a file path")
    if not target.parent.is_dir():
        raise ValidationFailed(f"no directory {target.parent}")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        # 0600 before SQLite opens it: SQLite keeps the file's mode (and gives its journal
        # the same), so the copy of the desk is never readable by other accounts.
        partial.unlink(missing_ok=True)  # left by a crashed run of the same process id
        private_files.reserve(partial)
        with (
            closing(sqlite3.connect(source)) as origin,
            closing(sqlite3.connect(partial)) as copy,
        ):
            origin.execute("PRAGMA busy_timeout = 10000")
            origin.backup(copy)  # all pages in one step: one snapshot of the source
            pages = copy.execute("PRAGMA page_count").fetchone()[0]
            copy.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(path=str(target), bytes=target.stat().st_size, pages=pages)


def pg_dump_hint(database_url: str, target: Path) -> str:
    """The pg_dump and pg_restore lines, without the password: it is printed, and goes
    through PGPASSWORD or ~/.pgpass instead. (`URL.set(password=None)` keeps the password,
    as `set` ignores None; issue 16 found it printed twice.)"""
    given = make_url(database_url)
    url = URL.create(
        drivername="postgresql",
        username=given.username,
        host=given.host,
        port=given.port,
        database=given.database,
        query=given.query,
    )
    plain = url.render_as_string(hide_password=False)
    command = shlex.join(["pg_dump", "--format=custom", f"--file={target}", f"--dbname={plain}"])
    restore = shlex.join(["pg_restore", "--clean", "--if-exists", f"--dbname={plain}", str(target)])
    return (
        "PostgreSQL is backed up with its own tool, consistent while clients write: run "
        f"`{command}` (the password through PGPASSWORD or ~/.pgpass); restore with `{restore}`"
    )
