"""Files the desk writes for one person: created owner-only (0600), whatever the umask.

Exports and backups hold the desk's records (callers' names, incident text); with the usual
umask of 022 they were world-readable (issue 16). These helpers create the file with mode
0600 from the first byte rather than chmod-ing after the fact, when another account could
already have opened it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def write_replacing(target: Path, data: str) -> None:
    """Write `data` (UTF-8) to `target` through a 0600 temporary file beside it, renamed into
    place: a reader never sees half a file, and a failed write leaves `target` as it was."""
    fd, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:  # mkstemp creates the file 0600
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(data)
        os.replace(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def create_new(target: Path, data: str) -> None:
    """Write `data` to `target`, which must not exist yet (`FileExistsError` otherwise); never
    follows a symlink planted at `target`."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(target, flags, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(data)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def reserve(target: Path) -> None:
    """Create `target` empty with mode 0600 (`FileExistsError` if it is there): for files
    another library fills in, such as SQLite, which keeps an existing file's mode."""
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
