"""`itsm serve ssh`: an SSH server where every session runs its own desk process on a pty.

Authentication is by public key only, checked against the database (`itsm user key add`)
and an optional authorized-keys directory (whose `from=` it honours), both read afresh at each
login. The SSH login name resolves to the ITSM user (case-insensitively), who must exist and
be active; a user deactivated, or whose login key is removed, is put out of an open session
within seconds (remote/ssh_access.py). Limits (sessions overall and per user, connections
still logging in per address, the window size: remote/ssh_limits.py) and the idle timeout are
enforced here; logins and logouts go to the audit trail.

The desk process gets the database URL in its environment (ITSM_DATABASE_URL), never on its
command line, where any local user could read a password with `ps`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from itsm_tui import session_kind
from itsm_tui.clock import Clock
from itsm_tui.config import DATABASE_ENV
from itsm_tui.remote import ready, ssh_access
from itsm_tui.remote.keys import load_or_create_host_key
from itsm_tui.remote.pty_session import PtyChild
from itsm_tui.remote.ssh_access import Login, Revoked
from itsm_tui.remote.ssh_limits import PendingLogins, Sessions, clamp_size
from itsm_tui.services import ssh_sessions, user_keys
from itsm_tui.store.database import Database

FINGERPRINT_INFO = "itsm_key_fingerprint"
USERNAME_INFO = "itsm_username"  # the directory user the login name resolved to
EXIT_REFUSED = 1
# What the child must not inherit from the server's own environment: it acts for the SSH
# user (given with --user) on the server's database (ITSM_DATABASE_URL), nothing else.
_DROPPED_ENV = ("ITSM_USER", DATABASE_ENV, "TERM", "COLORTERM", "LINES", "COLUMNS")


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
    # Connections not yet authenticated, per client address, and how long one may take to
    # log in (asyncssh's default is 2 minutes; a person with a key needs seconds).
    max_pending_per_address: int = 10
    login_timeout: float = 30.0


@dataclass(eq=False)  # one per session, hashed by identity
class _Open:
    """An open session as the access checks see it: whose, with which key, and how to end
    it (`ended` gets the reason)."""

    username: str
    fingerprint: str
    ended: asyncio.Future[Revoked]


def _stderr(line: str) -> None:
    print(f"itsm serve ssh: {line}", file=sys.stderr, flush=True)


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
        self.pending = PendingLogins(options.max_pending_per_address)
        self.children: set[PtyChild] = set()
        self.open: set[_Open] = set()
        self.log: Callable[[str], None] = _stderr
        self._handlers: set[asyncio.Task[object]] = set()

    # -------------------------------------------------------------- authentication

    def login(self, login_name: str) -> Login | None:
        """The active user `login_name` resolves to, with every key that may log in as them
        (read now); None for an unknown or deactivated user."""
        return ssh_access.resolve(self.database, self.options.authorized_keys, login_name)

    # -------------------------------------------------------------- access while open

    async def recheck_access(self) -> None:
        """End the open sessions whose user was deactivated or whose key was removed."""
        sessions = list(self.open)
        if not sessions:
            return
        verdicts = await asyncio.to_thread(
            ssh_access.check_sessions,
            self.database,
            self.options.authorized_keys,
            {(s.username, s.fingerprint) for s in sessions},
        )
        for s in sessions:
            verdict = verdicts.get((s.username, s.fingerprint))
            if verdict is not None and not s.ended.done():
                self.log(f"ending {s.username}'s session ({s.fingerprint}): {verdict.audit}")
                s.ended.set_result(verdict)

    # -------------------------------------------------------------- sessions

    def child_argv(self, username: str) -> list[str]:
        """The desk for `username`; the database URL goes in its environment (child_env)."""
        argv = [sys.executable, "-m", "itsm_tui", "--user", username]
        if self.options.low_bandwidth:
            argv.append("--low-bandwidth")
        return argv

    def child_env(self, process: asyncssh.SSHServerProcess[bytes]) -> dict[str, str]:
        """The server's environment with the client's terminal type. No LINES/COLUMNS: the
        pty carries the size, and Textual (shutil.get_terminal_size) would prefer those
        variables to it, so a resize would never be seen."""
        env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
        env[DATABASE_ENV] = self.database_url
        env["TERM"] = process.term_type or "xterm-256color"
        env[session_kind.REMOTE_ENV] = session_kind.SSH
        colorterm = process.env.get("COLORTERM")
        if colorterm:
            env["COLORTERM"] = colorterm
        return env

    async def handle(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        """One SSH session: admit, audit the login, run the desk, audit the logout."""
        username = process.get_extra_info(USERNAME_INFO)
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
        revoked: Revoked | None = None
        try:
            await asyncio.to_thread(
                self._audit,
                ssh_sessions.record_login,
                username,
                f"{peer[0]}:{peer[1]}",
                fingerprint,
            )
            revoked = await self._run(process, username, fingerprint)
        finally:
            self.sessions.release(username)
            seconds = asyncio.get_running_loop().time() - started
            why = revoked.audit if revoked is not None else ""
            await asyncio.to_thread(self._audit, ssh_sessions.record_logout, username, seconds, why)
            if handler is not None:
                self._handlers.discard(handler)

    def _audit(self, write: Callable[..., None], *args: object) -> None:
        with self.database.session() as session:
            write(session, self.clock, *args)

    async def _run(
        self, process: asyncssh.SSHServerProcess[bytes], username: str, fingerprint: str
    ) -> Revoked | None:
        """Run the desk until it exits, the client leaves, it idles out or access is lost
        (then the reason is returned)."""
        columns, rows = _size(process)
        child = await PtyChild.spawn(
            self.child_argv(username), self.child_env(process), columns, rows, _writer(process)
        )
        self.children.add(child)
        loop = asyncio.get_running_loop()
        entry = _Open(username, fingerprint, loop.create_future())
        self.open.add(entry)
        activity = _Activity(loop.time())
        pump = asyncio.create_task(_pump_input(process, child, activity))
        exited = asyncio.create_task(child.wait())
        idle = asyncio.create_task(self._idle(activity))
        ended = entry.ended
        try:
            await asyncio.wait({pump, exited, idle, ended}, return_when=asyncio.FIRST_COMPLETED)
            if ended.done():
                status = await child.terminate(self.options.grace)
                _say(process, f"\r\nitsm: session closed: {ended.result().message}\r\n")
                _exit(process, status)
                return ended.result()
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
            return None
        finally:
            self.open.discard(entry)
            ended.cancel()
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
    return clamp_size(columns, rows)


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
            if change.width > 0 and change.height > 0:
                child.resize(*clamp_size(change.width, change.height))
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
    """Per connection: public keys only, matched against the keys read at this login; at
    most `max_pending_per_address` connections per address until they authenticate."""

    def __init__(self, desk: DeskServer) -> None:
        self._desk = desk
        self._conn: asyncssh.SSHServerConnection | None = None
        self._login: Login | None = None
        self._address = ""
        self._pending = False
        self._logged: set[str] = set()

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._address = str((conn.get_extra_info("peername") or ("?",))[0])
        if not self._desk.pending.enter(self._address):
            limit = self._desk.options.max_pending_per_address
            self._log_once(f"refused a connection from {self._address}: {limit} still logging in")
            conn.abort()
            return
        self._pending = True

    def _leave_pending(self) -> None:
        if self._pending:
            self._pending = False
            self._desk.pending.leave(self._address)

    def auth_completed(self) -> None:
        self._leave_pending()

    def connection_lost(self, exc: Exception | None) -> None:
        self._leave_pending()

    def _log_once(self, line: str) -> None:
        """asyncssh asks about a key twice (the query, then the signature): log once."""
        if line not in self._logged:
            self._logged.add(line)
            self._desk.log(line)

    async def begin_auth(self, username: str) -> bool:
        self._login = await asyncio.to_thread(self._desk.login, username)
        return True  # always authenticate; an unknown user simply has no keys

    def public_key_auth_supported(self) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        login = self._login
        if login is None:
            return False
        fingerprint = user_keys.fingerprint_of(key)
        registered = any(known.public_data == key.public_data for known in login.database_keys)
        if not registered and not self._directory_lets_in(login, key, fingerprint):
            return False
        assert self._conn is not None
        extra = {FINGERPRINT_INFO: fingerprint, USERNAME_INFO: login.username}
        self._conn.set_extra_info(**extra)
        return True

    def _directory_lets_in(self, login: Login, key: asyncssh.SSHKey, fingerprint: str) -> bool:
        """Whether a line of the authorized-keys directory with this key admits the client
        (its `from=` matches, it has no option the server cannot honour); each refusal is
        logged, so an administrator learns why a listed key did not work."""
        for entry in login.directory_keys:
            if entry.key.public_data != key.public_data:
                continue
            refusal = entry.refusal(key, self._address)
            if refusal is None:
                return True
            self._log_once(
                f"refused key {fingerprint} for '{login.username}' from {self._address} "
                f"({entry.where}): {refusal}"
            )
        return False


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
        login_timeout=options.login_timeout,
    )


async def serve(
    desk: DeskServer, announce: Callable[[str], None], ready_file: Path | None = None
) -> None:
    """Run until SIGINT or SIGTERM, then stop listening and hang up every session. Once
    listening, say so (`announce` gets the `listening on` line, `ready_file` the URL)."""
    ready.clear(ready_file)
    acceptor = await start(desk)
    watching = ssh_access.watch_access(desk.database, desk.recheck_access, desk.log)
    watch = asyncio.create_task(watching)
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
        watch.cancel()
        await desk.close()
