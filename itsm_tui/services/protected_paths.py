"""Paths the desk must never write over: the live database, its companions, the config.

One rule for every command that writes a file the user names (`itsm backup`, `itsm export
--output`, the desk's report export). SQLite keeps a database in up to four files: the
database itself and, beside it, `-wal` and `-shm` (WAL mode) or `-journal` (rollback mode).
Overwriting any of them breaks every new connection (issue 16: `itsm backup TARGET --force`
onto the `-wal` did). The config directory holds what decides which database and user the
desk runs as, so a report export has no business there either.

A path is compared after `~`, `..` and symlinks are resolved (`os.path.realpath` follows a
dangling link too, so a link to a `-wal` that does not exist yet is caught), and an existing
file is also compared by inode, so a hard link to the database is caught as well.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from itsm_tui.config import config_dir
from itsm_tui.services.errors import ValidationFailed
from itsm_tui.store.database import sqlite_file

# The files SQLite keeps beside a database (WAL index, WAL, rollback journal).
COMPANION_SUFFIXES = ("-wal", "-shm", "-journal")


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path.expanduser()))


def database_files(database_url: str) -> list[Path]:
    """The database file and its companions, as named and as resolved; none for a server."""
    named = sqlite_file(database_url)
    if named is None:
        return []
    files: list[Path] = []
    for base in dict.fromkeys([named.expanduser().absolute(), _real(named)]):
        files += [base, *(base.with_name(base.name + suffix) for suffix in COMPANION_SUFFIXES)]
    return files


def protected_reason(
    target: Path | str, *, database_url: str | None, guard_config: bool = True
) -> str | None:
    """Why writing `target` is refused, or None when it may be written."""
    chosen = Path(target)
    real = _real(chosen)
    for protected in database_files(database_url) if database_url else []:
        if real == _real(protected) or _same_file(chosen, protected):
            what = _describe(protected)
            return f"{chosen} is {what}; writing it would break the desk; choose another path"
    if guard_config:
        for folder in _config_dirs():
            if real == folder or folder in real.parents:
                return (
                    f"{chosen} is inside the configuration directory {folder}; "
                    "choose a path outside it"
                )
    return None


def refuse_protected(
    target: Path | str, *, database_url: str | None, guard_config: bool = True
) -> None:
    """Raise `ValidationFailed` (exit 2) with the reason when `target` is protected."""
    reason = protected_reason(target, database_url=database_url, guard_config=guard_config)
    if reason is not None:
        raise ValidationFailed(reason)


def _describe(protected: Path) -> str:
    for suffix in COMPANION_SUFFIXES:
        if protected.name.endswith(suffix):
            return f"the live database's {suffix} file"
    return "the live database"


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a.expanduser(), b)
    except OSError:  # either is missing: nothing to alias
        return False


def _config_dirs() -> Iterable[Path]:
    folder = config_dir()
    return dict.fromkeys([folder.absolute(), _real(folder)])
