"""`itsm serve ssh`: an SSH server where every session runs its own desk process on a pty.

Authentication is by public key only, checked against the database (`itsm user key add`)
and an optional authorized-keys directory, both read afresh at each login. The SSH login name
is the ITSM user, who must exist and be active. Limits (sessions overall and per user) and the
idle timeout are enforced here; logins and logouts go to the audit trail.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from itsm_tui.clock import Clock
from itsm_tui.remote import ready, session_kind
from itsm_tui.remote.keys import directory_keys, load_or_create_host_key
from itsm_tui.remote.pty_session import PtyChild
from itsm_tui.services import ssh_sessions, user_keys
from itsm_tui.store.database import Database

FINGERPRINT_INFO = "itsm_key_fingerprint"
EXIT_REFUSED = 1
# What the child must not inherit from the server's own environment: it acts for the SSH
# user (given with --user) on the server's database (--db), nothing else.
_DROPPED_ENV = ("ITSM_USER", "ITSM_DATABASE_URL", "TERM", "COLORTERM", "LINES", "COLUMNS")


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 2222
    host_key: Path | None = None
    authorized_keys: Path | None = None
    idle_timeout: float = 1800.0  # seconds without input; 0 = never
    max_sessions: int = 50
    max_sessions_per_user: int = 3
    low_bandwidth: bool = False
    grace: float = 2.0  # between SIGHUP, SIGTERM and SIGKILL for a left session


@dataclass
class Sessions:
    """Who is connected now, to enforce the overall and per-user limits."""

    limit: int
    per_user: int
    by_user: Counter[str] = field(default_factory=Counter)

    def admit(self, username: str) -> str | None:
        """Take a place for `username`, or say why not."""
        if sum(self.by_user.values()) >= self.limit:
            return f"the desk is full ({self.limit} sessions); try again later"
        if self.by_user[username] >= self.per_user:
            sessions = "session" if self.per_user == 1 else "sessions"
            return f"'{username}' already has {self.per_user} {sessions} open; close one first"
        self.by_user[username] += 1
        return None

    def release(self, username: str) -> None:
        self.by_user[username] -= 1
        if self.by_user[username] <= 0:
            del self.by_user[username]


class DeskServer:
    """The state shared by all connections: options, database, clock, open sessions."""

    def __init__(
        self, options: ServeOptions, database: Database, database_url: str, clock: Clock
    ) -> None:
        self.options = options
        self.database = database
        self.database_url = database_url
        self.clock = clock
        self.sessions = Sessions(options.max_sessions, options.max_sessions_per_user)
        self.children: set[PtyChild] = set()
        self._handlers: set[asyncio.Task[object]] = set()

    # -------------------------------------------------------------- authentication

    def allowed_keys(self, username: str) -> list[asyncssh.SSHKey]:
        """Registered keys plus the directory's, for an active user only (read now)."""
        with self.database.session() as session:
            keys = user_keys.login_keys(session, username)
        if keys is None:
            return []
        return keys + directory_keys(self.options.authorized_keys, username)

    # -------------------------------------------------------------- sessions

    def child_argv(self, username: str) -> list[str]:
        argv = [sys.executable, "-m", "itsm_tui", "--db", self.database_url, "--user", username]
        if self.options.low_bandwidth:
            argv.append("--low-bandwidth")
        return argv

    def child_env(self, process: asyncssh.SSHServerProcess[bytes]) -> dict[str, str]:
        """The server's environment with the client's terminal type. No LINES/COLUMNS: the
        pty carries the size, and Textual (shutil.get_terminal_size) would prefer those
        variables to it, so a resize would never be seen."""
        env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
        env["TERM"] = process.term_type or "xterm-256color"
        env[session_kind.REMOTE_ENV] = session_kind.SSH
        colorterm = process.env.get("COLORTERM")
        if colorterm:
            env["COLORTERM"] = colorterm
        return env

    async def handle(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        """One SSH session: admit, audit the login, run the desk, audit the logout."""
        username = process.get_extra_info("username")
        peer = process.get_extra_info("peername") or ("?", 0)
        fingerprint = process.get_extra_info(FINGERPRINT_INFO) or "?"
        if process.term_type is None:
            _refuse(process, "itsm: the desk needs a terminal; connect with ssh -t")
            return
        refusal = self.sessions.admit(username)
        if refusal is not None:
            _refuse(process, f"itsm: {refusal}")
            return
        started = asyncio.get_running_loop().time()
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
        try:
            await asyncio.to_thread(
                self._audit,
                ssh_sessions.record_login,
                username,
                f"{peer[0]}:{peer[1]}",
                fingerprint,
            )
            await self._run(process, username)
        finally:
            self.sessions.release(username)
            seconds = asyncio.get_running_loop().time() - started
            await asyncio.to_thread(self._audit, ssh_sessions.record_logout, username, seconds)
            if handler is not None:
                self._handlers.discard(handler)

    def _audit(self, write: Callable[..., None], *args: object) -> None:
        with self.database.session() as session:
            write(session, self.clock, *args)

    async def _run(self, process: asyncssh.SSHServerProcess[bytes], username: str) -> None:
        columns, rows = _size(process)
        child = await PtyChild.spawn(
            self.child_argv(username), self.child_env(process), columns, rows, _writer(process)
        )
        self.children.add(child)
        activity = _Activity(asyncio.get_running_loop().time())
        pump = asyncio.create_task(_pump_input(process, child, activity))
        exited = asyncio.create_task(child.wait())
        idle = asyncio.create_task(self._idle(activity))
        try:
            await asyncio.wait({pump, exited, idle}, return_when=asyncio.FIRST_COMPLETED)
            if exited.done():
                await child.drain()
                _exit(process, exited.result())
            elif idle.done():
                status = await child.terminate(self.options.grace)
                idle = _duration(self.options.idle_timeout)
                _say(process, f"\r\nitsm: session closed after {idle} without input\r\n")
                _exit(process, status)
            else:  # the client left: hang up the desk; its writes are whole transactions
                await child.terminate(self.options.grace)
                _exit(process, 0)
        finally:
            for task in (pump, exited, idle):
                task.cancel()
            if child.process.returncode is None:
                await child.terminate(self.options.grace)
            child.close()
            self.children.discard(child)

    async def _idle(self, activity: _Activity) -> None:
        """Return once the client has sent nothing for the idle timeout (never if 0)."""
        timeout = self.options.idle_timeout
        if timeout <= 0:
            await asyncio.Event().wait()
        loop = asyncio.get_running_loop()
        while (left := activity.last + timeout - loop.time()) > 0:
            await asyncio.sleep(left)

    async def close(self) -> None:
        """Hang up every desk, then let each session finish (its logout is audited)."""
        await asyncio.gather(*(child.terminate(self.options.grace) for child in self.children))
        if self._handlers:
            await asyncio.wait(set(self._handlers), timeout=5)


@dataclass
class _Activity:
    last: float


def _duration(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 120 else f"{seconds:g} s"


def _size(process: asyncssh.SSHServerProcess[bytes]) -> tuple[int, int]:
    columns, rows = process.term_size[:2]
    return (columns or 80, rows or 24)


def _writer(process: asyncssh.SSHServerProcess[bytes]) -> Callable[[bytes], None]:
    def write(data: bytes) -> None:
        if not process.stdout.channel.is_closing():
            process.stdout.write(data)

    return write


def _say(process: asyncssh.SSHServerProcess[bytes], text: str) -> None:
    with contextlib.suppress(OSError, asyncssh.Error, BrokenPipeError):
        process.stdout.write(text.encode("utf-8"))


def _exit(process: asyncssh.SSHServerProcess[bytes], status: int) -> None:
    with contextlib.suppress(OSError, asyncssh.Error):
        process.exit(status)


def _refuse(process: asyncssh.SSHServerProcess[bytes], message: str) -> None:
    _say(process, message + "\r\n")
    _exit(process, EXIT_REFUSED)


async def _pump_input(
    process: asyncssh.SSHServerProcess[bytes], child: PtyChild, activity: _Activity
) -> None:
    """Client keystrokes to the pty and window changes to TIOCSWINSZ, until the client's EOF
    or disconnect."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            data = await process.stdin.read(4096)
        except asyncssh.TerminalSizeChanged as change:
            child.resize(change.width, change.height)
            continue
        except (asyncssh.BreakReceived, asyncssh.SignalReceived):
            continue
        except (asyncssh.Error, OSError):
            return
        if not data:
            return
        activity.last = loop.time()
        child.write(data)


class _SshServer(asyncssh.SSHServer):
    """Per connection: public keys only, matched against the keys read at this login."""

    def __init__(self, desk: DeskServer) -> None:
        self._desk = desk
        self._conn: asyncssh.SSHServerConnection | None = None
        self._keys: list[asyncssh.SSHKey] = []

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn

    async def begin_auth(self, username: str) -> bool:
        self._keys = await asyncio.to_thread(self._desk.allowed_keys, username)
        return True  # always authenticate; an unknown user simply has no keys

    def public_key_auth_supported(self) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        blob = key.public_data
        if not any(known.public_data == blob for known in self._keys):
            return False
        assert self._conn is not None
        self._conn.set_extra_info(**{FINGERPRINT_INFO: user_keys.fingerprint_of(key)})
        return True


async def start(desk: DeskServer) -> asyncssh.SSHAcceptor:
    """Listen; returns the acceptor (its `sockets` tell the port when 0 was asked for)."""
    options = desk.options
    assert options.host_key is not None
    host_key = load_or_create_host_key(options.host_key)
    return await asyncssh.create_server(
        lambda: _SshServer(desk),
        options.host,
        options.port,
        server_host_keys=[host_key],
        process_factory=desk.handle,
        encoding=None,
        line_editor=False,
        allow_scp=False,
        agent_forwarding=False,
        x11_forwarding=False,
    )


async def serve(
    desk: DeskServer, announce: Callable[[str], None], ready_file: Path | None = None
) -> None:
    """Run until SIGINT or SIGTERM, then stop listening and hang up every session. Once
    listening, say so (`announce` gets the `listening on` line, `ready_file` the URL)."""
    ready.clear(ready_file)
    acceptor = await start(desk)
    try:
        host, port = acceptor.sockets[0].getsockname()[:2]
        announce(ready.listening_line("ssh", host, port))
        ready.write(ready_file, ready.url("ssh", host, port))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        ready.clear(ready_file)
        acceptor.close()
        await desk.close()
