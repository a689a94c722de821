"""Bytes a remote desk sends to its terminal: idle with ticking SLA clocks, and while scrolling,
at the default settings and with `--low-bandwidth`.

What it does and why:
- Loads the demo (`itsm demo --no-launch`, 300 incidents unless `--incidents`) into a SQLite
  file under a temporary directory, built with the real clock, so the queue's SLA countdowns
  and the header clock tick as they would on a live desk.
- Runs the desk (`python -m itsm_tui --db ... --user alex`, an agent) on a pseudo-terminal of
  80x24 with TERM=xterm-256color and COLORTERM=truecolor (what a modern terminal announces; an
  OpenSSH server passes COLORTERM with `AcceptEnv COLORTERM`), and counts the bytes read from
  the master side. Those are exactly the bytes an SSH channel or textual-serve's websocket
  carries for that session, before the transport's own framing, encryption and compression.
- Phases, one desk process per setting: the first paint (until the queue shows an incident
  number, plus two seconds for the rest of the screen and its first ticks), then idle for N
  seconds, then down/up arrows at 10 keys a second (twenty down, twenty up, so the cursor
  never parks at the end), then page-down/page-up at 2 keys a second (five each way). Keys go
  in as a terminal sends them (ESC [ B, ESC [ 6 ~).
The machine's load moves the scrolling figures (a busy desk coalesces more keys per frame);
the load average is printed.

    python benchmarks/ssh.py [--quick] [--seconds N] [--incidents N]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

COLUMNS, ROWS = 80, 24
USER = "alex"  # a demo agent (Service Desk)
SETTLE_S = 2.0  # after the first incident number shows, the rest of the first paint
STARTUP_TIMEOUT_S = 60.0
DOWN, UP = b"\x1b[B", b"\x1b[A"
PAGE_DOWN, PAGE_UP = b"\x1b[6~", b"\x1b[5~"
DESK = (sys.executable, "-m", "itsm_tui")
SETTINGS = {"default": [], "low_bandwidth": ["--low-bandwidth"]}


@dataclass
class Phase:
    name: str
    keys_per_s: float  # 0: idle
    keys: tuple[bytes, ...]  # sent in this order, round and round


def phases(seconds: float) -> list[tuple[Phase, float]]:
    return [
        (Phase("idle", 0.0, ()), seconds),
        (Phase("arrows", 10.0, (DOWN,) * 20 + (UP,) * 20), seconds),
        (Phase("page_keys", 2.0, (PAGE_DOWN,) * 5 + (PAGE_UP,) * 5), seconds),
    ]


def load_demo(workdir: Path, incidents: int) -> str:
    url = f"sqlite:///{workdir / 'demo.sqlite'}"
    subprocess.run(
        [*DESK, "--db", url, "--user", USER, "demo", "--no-launch", "--incidents", str(incidents)],
        check=True,
        env=_environment(workdir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return url


def _environment(workdir: Path) -> dict[str, str]:
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TEXTUAL", "ITSM_")) and key not in ("COLUMNS", "LINES")
    }
    environ.update(
        TERM="xterm-256color",
        COLORTERM="truecolor",
        XDG_DATA_HOME=str(workdir / "data"),  # no real config.toml or data dir is read
        XDG_CONFIG_HOME=str(workdir / "config"),
    )
    return environ


class Desk:
    """One desk process on a pty; `drain` reads whatever it sent, counting the bytes."""

    def __init__(self, url: str, flags: list[str], workdir: Path) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        self.process = subprocess.Popen(
            [*DESK, "--db", url, "--user", USER, *flags],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=_environment(workdir),
            start_new_session=True,  # its own session: the pty becomes its terminal
            close_fds=True,
        )
        os.close(slave)

    def drain(self, until: float) -> Iterator[bytes]:
        """What the desk sent, chunk by chunk, until the monotonic time `until`."""
        while (left := until - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], left)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # the desk exited
                return
            if not chunk:
                return
            yield chunk

    def first_paint(self) -> int:
        """Bytes until the queue shows an incident number, plus SETTLE_S for the rest of it."""
        seen, deadline = b"", time.monotonic() + STARTUP_TIMEOUT_S
        for chunk in self.drain(deadline):
            seen += chunk
            if b"INC0" in seen:
                break
        else:
            raise SystemExit(f"no queue on screen (exit {self.process.poll()}, {len(seen)} B)")
        return len(seen) + sum(map(len, self.drain(time.monotonic() + SETTLE_S)))

    def run(self, phase: Phase, seconds: float) -> int:
        start = time.monotonic()
        end = start + seconds
        total, sent = 0, 0
        while time.monotonic() < end:
            if phase.keys_per_s:
                due = start + sent / phase.keys_per_s
                if time.monotonic() >= due:
                    os.write(self.master, phase.keys[sent % len(phase.keys)])
                    sent += 1
                    due = start + sent / phase.keys_per_s
                total += sum(map(len, self.drain(min(due, end))))
            else:
                total += sum(map(len, self.drain(end)))
        if self.process.poll() is not None:
            raise SystemExit(f"the desk exited during {phase.name} ({self.process.returncode})")
        return total

    def close(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        os.close(self.master)


def measure(url: str, flags: list[str], seconds: float, workdir: Path) -> dict[str, float]:
    desk = Desk(url, flags, workdir)
    try:
        figures: dict[str, float] = {"first_paint_bytes": desk.first_paint()}
        for phase, length in phases(seconds):
            figures[f"{phase.name}_bytes_per_s"] = round(desk.run(phase, length) / length, 1)
        return figures
    finally:
        desk.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s per phase instead of 30 s")
    parser.add_argument("--seconds", type=float, help="seconds per phase")
    parser.add_argument("--incidents", type=int, default=300)
    args = parser.parse_args()
    seconds = args.seconds or (10.0 if args.quick else 30.0)
    with tempfile.TemporaryDirectory(prefix="itsm-ssh-bench-") as tmp:
        workdir = Path(tmp)
        print(f"Loading the demo ({args.incidents} incidents)…", file=sys.stderr, flush=True)
        url = load_demo(workdir, args.incidents)
        results = {}
        for name, flags in SETTINGS.items():
            print(f"Measuring {name} ({seconds:g} s per phase)…", file=sys.stderr, flush=True)
            results[name] = measure(url, flags, seconds, workdir)
    print(
        f"Desk on an {COLUMNS}x{ROWS} pty (TERM=xterm-256color, COLORTERM=truecolor), "
        f"{args.incidents} demo incidents, {seconds:g} s per phase; "
        f"load average {os.getloadavg()[0]:.2f}."
    )
    print("Bytes are what an SSH channel (or the web socket) carries, before transport overhead.")
    print()
    rows = [
        ("first paint + 2 s (bytes)", "first_paint_bytes"),
        ("idle, clocks ticking (B/s)", "idle_bytes_per_s"),
        ("arrows, 10 keys/s (B/s)", "arrows_bytes_per_s"),
        ("page up/down, 2 keys/s (B/s)", "page_keys_bytes_per_s"),
    ]
    print(f"{'':<30}{'default':>12}{'low-bandwidth':>15}{'ratio':>8}")
    figures: dict[str, float] = {}
    for label, key in rows:
        default, low = results["default"][key], results["low_bandwidth"][key]
        ratio = low / default if default else float("nan")
        print(f"{label:<30}{default:>12,.0f}{low:>15,.0f}{ratio:>8.2f}")
        figures[f"{key}_default"] = default
        figures[f"{key}_low_bandwidth"] = low
    figures["phase_s"] = seconds
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
