"""How `itsm serve ssh|web` tell a supervisor, a script or a test that they are listening.

Two ways, both only once the socket accepts connections: a line on stderr with a fixed prefix
(`itsm serve ssh: listening on HOST:PORT`), to be searched for among whatever else a library
prints, and `--ready-file PATH`, which receives the server's URL (`ssh://HOST:PORT`,
`http://HOST:PORT`) in one atomic rename, so a reader never sees half a file. The file is
removed before the server starts and again when it stops, so one left by an earlier run never
passes for this one.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path


def listening_line(command: str, host: str, port: int) -> str:
    """`itsm serve ssh: listening on 127.0.0.1:2222` (the format scripts already parse)."""
    return f"itsm serve {command}: listening on {host}:{port}"


def url(scheme: str, host: str, port: int) -> str:
    """`ssh://127.0.0.1:2222`; an IPv6 address goes in brackets."""
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def announce(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def clear(path: Path | None) -> None:
    """Remove a ready file (one from an earlier run, or ours when stopping)."""
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def write(path: Path | None, text: str) -> None:
    """Write `text` and a newline to `path` atomically: a temporary file in the same directory,
    flushed to disk, then renamed over `path`."""
    if path is None:
        return
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
