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

- Then the same through `itsm serve ssh` (one server per setting, the benchmark's key in an
  authorized-keys directory) with asyncssh's client on an 80x24 PTY, through a loopback relay
  that counts the bytes sent to the client: the network's figure, with encryption, MACs and
  packet framing, without compression (OpenSSH's default) and with zlib@openssh.com (`ssh -C`).
  Its first paint includes the SSH handshake and login.

    python benchmarks/ssh.py [--quick] [--seconds N] [--incidents N] [--no-ssh]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python benchmarks/ssh.py`, this folder heads sys.path and benchmarks/queue.py would
# shadow the standard library's `queue` module (asyncio's thread pool imports it).
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import asyncio
import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import tempfile
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass

COLUMNS, ROWS = 80, 24
USER = "alex"  # a demo agent (Service Desk)
SETTLE_S = 2.0  # after the first incident number shows, the rest of the first paint
STARTUP_TIMEOUT_S = 60.0
DOWN, UP = b"\x1b[B", b"\x1b[A"
PAGE_DOWN, PAGE_UP = b"\x1b[6~", b"\x1b[5~"
DESK = (sys.executable, "-m", "itsm_tui")
Figures = dict[str, float]
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


# ---------------------------------------------------------------------------- through SSH


class CountingProxy:
    """A loopback TCP relay in front of the SSH server that counts the bytes going to the
    client: what the network carries, encryption, MACs and packet framing included."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.to_client = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pipe(
            source: asyncio.StreamReader, sink: asyncio.StreamWriter, counted: bool
        ) -> None:
            while data := await source.read(65536):
                if counted:
                    self.to_client += len(data)
                sink.write(data)
                await sink.drain()
            sink.close()

        try:
            await asyncio.gather(
                pipe(client_r, server_w, False),
                pipe(server_r, client_w, True),
                return_exceptions=True,
            )
        except asyncio.CancelledError:  # the measurement is over: just hang up
            server_w.close()
            client_w.close()


def start_ssh_server(url: str, flags: list[str], workdir: Path) -> tuple[subprocess.Popen, int]:
    """`itsm serve ssh` on a free loopback port, accepting the benchmark's key for USER."""
    import asyncssh

    keys = workdir / "authorized"
    keys.mkdir(exist_ok=True)
    key_file = workdir / "client_key"
    if not key_file.exists():
        key = asyncssh.generate_private_key("ssh-ed25519")
        key.write_private_key(str(key_file))
        (keys / f"{USER}.pub").write_bytes(key.export_public_key())
    log = workdir / f"serve-ssh-{len(flags)}.log"
    files = ["--host-key", str(workdir / "host_key"), "--authorized-keys", str(keys)]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*DESK, "--db", url, "--user", USER, *flags, "serve", "ssh", "--port", "0", *files],
            env=_environment(workdir),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        found = re.search(r"listening on 127\.0\.0\.1:(\d+)", log.read_text())
        if found:
            return process, int(found.group(1))
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"itsm serve ssh did not start: {log.read_text()[-2000:]}")


async def measure_ssh(port: int, seconds: float, workdir: Path, compression: str) -> Figures:
    """One SSH session with an 80x24 PTY through the counting relay; wire bytes per phase."""
    import asyncssh

    proxy = CountingProxy(port)
    relay_port = await proxy.start()
    channel = 0
    seen = bytearray()
    async with asyncssh.connect(
        "127.0.0.1",
        relay_port,
        username=USER,
        client_keys=[str(workdir / "client_key")],
        known_hosts=None,
        agent_path=None,
        config=[],
        compression_algs=[compression],
    ) as conn:
        process = await conn.create_process(
            term_type="xterm-256color",
            term_size=(COLUMNS, ROWS),
            encoding=None,
            env={"COLORTERM": "truecolor"},
        )

        async def read() -> None:
            nonlocal channel
            while data := await process.stdout.read(65536):
                channel += len(data)
                if len(seen) < 1_000_000:
                    seen.extend(data)

        reader = asyncio.create_task(read())
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(STARTUP_TIMEOUT_S):
            while b"INC0" not in seen:
                await asyncio.sleep(0.05)
        await asyncio.sleep(SETTLE_S)
        figures: Figures = {"first_paint_bytes": proxy.to_client}
        for phase, length in phases(seconds):
            start, before = loop.time(), proxy.to_client
            sent = 0
            while phase.keys_per_s and (due := start + sent / phase.keys_per_s) < start + length:
                await asyncio.sleep(max(0.0, due - loop.time()))
                process.stdin.write(phase.keys[sent % len(phase.keys)])
                sent += 1
            await asyncio.sleep(max(0.0, start + length - loop.time()))
            figures[f"{phase.name}_bytes_per_s"] = round((proxy.to_client - before) / length, 1)
        process.close()
        reader.cancel()
    proxy.server.close()
    return figures


def ssh_figures(url: str, seconds: float, workdir: Path) -> dict[str, Figures]:
    results: dict[str, Figures] = {}
    for name, flags in SETTINGS.items():
        server, port = start_ssh_server(url, flags, workdir)
        try:
            for compression in ("none", "zlib@openssh.com"):
                label = f"ssh {name} ({compression})"
                print(f"Measuring {label}…", file=sys.stderr, flush=True)
                results[f"{name}/{compression}"] = asyncio.run(
                    measure_ssh(port, seconds, workdir, compression)
                )
        finally:
            server.terminate()
            server.wait(timeout=15)
    return results


# ---------------------------------------------------------------------------- report

ROWS_SHOWN = [
    ("first paint + 2 s (bytes)", "first_paint_bytes"),
    ("idle, clocks ticking (B/s)", "idle_bytes_per_s"),
    ("arrows, 10 keys/s (B/s)", "arrows_bytes_per_s"),
    ("page up/down, 2 keys/s (B/s)", "page_keys_bytes_per_s"),
]


def table(title: str, default: Figures, low: Figures, prefix: str, figures: Figures) -> None:
    print(title)
    print(f"{'':<30}{'default':>12}{'low-bandwidth':>15}{'ratio':>8}")
    for label, key in ROWS_SHOWN:
        ratio = low[key] / default[key] if default[key] else float("nan")
        print(f"{label:<30}{default[key]:>12,.0f}{low[key]:>15,.0f}{ratio:>8.2f}")
        figures[f"{prefix}{key}_default"] = default[key]
        figures[f"{prefix}{key}_low_bandwidth"] = low[key]
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s per phase instead of 30 s")
    parser.add_argument("--seconds", type=float, help="seconds per phase")
    parser.add_argument("--incidents", type=int, default=300)
    parser.add_argument("--no-ssh", action="store_true", help="only the pty figures")
    args = parser.parse_args()
    seconds = args.seconds or (10.0 if args.quick else 30.0)
    with tempfile.TemporaryDirectory(prefix="itsm-ssh-bench-") as tmp:
        workdir = Path(tmp)
        print(f"Loading the demo ({args.incidents} incidents)…", file=sys.stderr, flush=True)
        url = load_demo(workdir, args.incidents)
        results = {}
        for name, flags in SETTINGS.items():
            print(f"Measuring pty {name} ({seconds:g} s per phase)…", file=sys.stderr, flush=True)
            results[name] = measure(url, flags, seconds, workdir)
        ssh = {} if args.no_ssh else ssh_figures(url, seconds, workdir)
    print(
        f"Desk at {COLUMNS}x{ROWS} (TERM=xterm-256color, COLORTERM=truecolor), "
        f"{args.incidents} demo incidents, {seconds:g} s per phase; "
        f"load average {os.getloadavg()[0]:.2f}."
    )
    print()
    figures: Figures = {}
    table(
        "On a pty: the bytes an SSH channel or the browser's websocket carries (payload only)",
        results["default"],
        results["low_bandwidth"],
        "",
        figures,
    )
    for compression, prefix in (("none", "ssh_"), ("zlib@openssh.com", "ssh_zlib_")):
        if ssh:
            table(
                f"Through itsm serve ssh, bytes on the wire to the client (compression "
                f"{compression}; encryption and framing included)",
                ssh[f"default/{compression}"],
                ssh[f"low_bandwidth/{compression}"],
                prefix,
                figures,
            )
    figures["phase_s"] = seconds
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
