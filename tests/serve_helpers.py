"""Starting `itsm serve ssh|web` in tests: wait for the server's own readiness signal (its
`--ready-file`), whatever else it prints, and never for a guessed length of time."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

READY_TIMEOUT_S = 60.0  # generous: a loaded machine is slow, a healthy start is well under


def wait_until_ready(
    ready_file: Path, process: subprocess.Popen[bytes], log: Path, timeout: float = READY_TIMEOUT_S
) -> str:
    """The URL the server wrote to `ready_file` once listening. Fails at once, with the
    server's output, if it exits first."""
    deadline = time.monotonic() + timeout
    while not ready_file.exists():
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}: {_tail(log)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"not ready within {timeout} s: {_tail(log)}")
        time.sleep(0.02)
    return ready_file.read_text(encoding="utf-8").strip()


def _tail(log: Path) -> str:
    return repr(log.read_text(encoding="utf-8", errors="replace")[-3000:])


def children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid` and that still run (the desks a server spawned)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # ended meanwhile
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found
