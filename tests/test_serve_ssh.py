"""`itsm serve ssh` end to end: a real server process on a loopback port, asyncssh clients with
a PTY, and the desk each session runs (issue 9, "Done when").

SQLite only: the engine is not what is tested. One server serves the module (its start-up
costs a second); each test opens its own connections. Alice's key is registered in the
database, Bob's is a file in the authorized-keys directory.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest
from sqlalchemy.engine import make_url
from sqlmodel import col, select

from itsm_tui.cli import main
from itsm_tui.clock import FixedClock
from itsm_tui.domain.enums import Role
from itsm_tui.remote.ssh_limits import MAX_COLUMNS, MAX_ROWS
from itsm_tui.services import user_keys
from itsm_tui.services.directory import UserCreate, add_user
from itsm_tui.services.validation import validate
from itsm_tui.store.database import open_database
from itsm_tui.store.models import AuditEntry, Incident, User
from tests.conftest import T0, Desk
from tests.serve_helpers import children_of, wait_until_ready
from tests.tui_helpers import seeded_desk

PER_USER = 1
# How long to wait for something that must happen: generous, as a desk starting on a loaded
# machine can take many seconds; a passing run waits only as long as it takes.
PATIENCE_S = 60.0
_CSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]")
_LINE_BREAK = re.compile(rb"\x1b\[\d+;\d+H|\r\n|\r|\n")  # a cursor move or a new line


@dataclass
class Server:
    url: str
    port: int
    keys: dict[str, asyncssh.SSHKey]  # alice: registered in the database; bob: in the dir
    stranger: asyncssh.SSHKey  # registered nowhere
    folder: Path  # holds the host key the server generated
    log: Path  # what the server printed


@dataclass(frozen=True)
class Running:
    port: int
    pid: int
    log: Path


@contextmanager
def running_server(folder: Path, url: str, *flags: str) -> Iterator[Running]:
    """`itsm serve ssh` on a free loopback port until the block ends: ready when its
    --ready-file appears, whatever it prints before (a library's warning, say)."""
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(folder / "data"),
        "XDG_CONFIG_HOME": str(folder / "config"),
    }
    env.pop("ITSM_USER", None)
    env.pop("ITSM_DATABASE_URL", None)
    run = Path(tempfile.mkdtemp(dir=folder, prefix="run-"))
    ready_file, log = run / "ready", run / "serve.log"
    argv = [sys.executable, "-m", "itsm_tui", "--db", url, "--user", "root", "serve", "ssh"]
    argv += ["--port", "0", "--host-key", str(folder / "host_key"), "--ready-file", str(ready_file)]
    with log.open("wb") as output:
        process = subprocess.Popen([*argv, *flags], env=env, stderr=output)
    try:
        announced = wait_until_ready(ready_file, process, log)
        found = re.fullmatch(r"ssh://127\.0\.0\.1:(\d+)", announced)
        assert found, announced
        port = int(found.group(1))
        # The line scripts parse, among whatever else is printed.
        assert f"itsm serve ssh: listening on 127.0.0.1:{port}\n" in log.read_text()
        yield Running(port, process.pid, log)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert not ready_file.exists()  # removed on the way out: never a stale "ready"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("serve-ssh")
    url = f"sqlite:///{folder / 'itsm.sqlite'}"
    clock = FixedClock(T0)
    database, desk = seeded_desk(url, clock)
    keys = {name: asyncssh.generate_private_key("ssh-ed25519") for name in ("alice", "bob")}
    alice_public = keys["alice"].export_public_key().decode()
    user_keys.add_key(desk.session, desk["alice"], clock, "alice", alice_public)
    desk.session.close()
    database.dispose()
    authorized = folder / "authorized"
    authorized.mkdir()
    (authorized / "bob.pub").write_bytes(b"# bob's laptop\n" + keys["bob"].export_public_key())
    flags = ["--authorized-keys", str(authorized), "--max-sessions-per-user", str(PER_USER)]
    with running_server(folder, url, *flags) as running:
        stranger = asyncssh.generate_private_key("ssh-ed25519")
        yield Server(url, running.port, keys, stranger, folder, running.log)
    assert (folder / "host_key").stat().st_mode & 0o777 == 0o600


class Terminal:
    """One SSH session with a PTY: what the desk drew so far, and keys to send it."""

    def __init__(self, process: asyncssh.SSHClientProcess[bytes]) -> None:
        self.process = process
        self.output = bytearray()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while data := await self.process.stdout.read(65536):
            self.output += data

    def text(self, since: int = 0) -> str:
        return _CSI.sub(b"", bytes(self.output[since:])).decode("utf-8", "replace")

    async def wait_for(self, *texts: str, since: int = 0, timeout: float = PATIENCE_S) -> None:
        await _until(lambda: all(t in self.text(since) for t in texts), texts, timeout, self)

    def widest_line(self, since: int) -> int:
        """The longest run of text drawn on one line (between cursor moves and line breaks):
        a full repaint draws whole lines, so this is the width the desk believes it has."""
        chunks = _LINE_BREAK.split(bytes(self.output[since:]))
        return max(len(_CSI.sub(b"", c).decode("utf-8", "replace")) for c in chunks)

    def send(self, keys: str) -> None:
        self.process.stdin.write(keys.encode())


async def _until(
    condition: Callable[[], bool], what: object, timeout: float, screen: Terminal | None = None
) -> None:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            shown = f"; the screen's last output: {screen.text()[-1500:]!r}" if screen else ""
            raise AssertionError(f"not within {timeout} s: {what}{shown}")
        await asyncio.sleep(0.05)


async def connect(server: Server, user: str, key: asyncssh.SSHKey) -> asyncssh.SSHClientConnection:
    return await connect_to(server.port, user, key)


async def connect_to(port: int, user: str, key: asyncssh.SSHKey) -> asyncssh.SSHClientConnection:
    return await asyncssh.connect(
        "127.0.0.1",
        port,
        username=user,
        client_keys=[key],
        known_hosts=None,
        agent_path=None,
        config=[],
    )


async def desk(conn: asyncssh.SSHClientConnection, size: tuple[int, int] = (80, 24)) -> Terminal:
    process = await conn.create_process(
        term_type="xterm-256color", term_size=size, encoding=None, env={"COLORTERM": "truecolor"}
    )
    terminal = Terminal(process)
    await terminal.wait_for("Incidents", "New")  # the queue and its footer
    return terminal


async def new_incident(terminal: Terminal, title: str) -> None:
    """`n` opens the form with the title focused; type once it is drawn, save with ctrl+s."""
    mark = len(terminal.output)
    terminal.send("n")
    await terminal.wait_for("Title", "Save", since=mark)
    mark = len(terminal.output)
    terminal.send(title)
    await terminal.wait_for(title, since=mark)
    terminal.send("\x13")  # ctrl+s


def incident_titled(url: str, title: str) -> tuple[str, str] | None:
    database = open_database(url)
    try:
        with database.session() as session:
            row = session.exec(
                select(Incident, User)
                .join(User, col(User.id) == col(Incident.opened_by_id))
                .where(Incident.title == title)
            ).first()
            return None if row is None else (row[0].number, row[1].username)
    finally:
        database.dispose()


def ssh_sessions(url: str, username: str) -> list[str]:
    database = open_database(url)
    try:
        with database.session() as session:
            user = session.exec(select(User).where(User.username == username)).one()
            return [
                e.new_value or ""
                for e in session.exec(
                    select(AuditEntry)
                    .where(AuditEntry.field == "ssh_session", AuditEntry.record_id == user.id)
                    .where(AuditEntry.actor_id == user.id)
                    .order_by(col(AuditEntry.id))
                )
            ]
    finally:
        database.dispose()


async def test_a_registered_key_opens_the_desk_creates_an_incident_and_resizes(
    server: Server,
) -> None:
    async with await connect(server, "alice", server.keys["alice"]) as conn:
        terminal = await desk(conn)
        assert terminal.widest_line(0) == 80
        assert b"\x1b[38;2;" in terminal.output  # COLORTERM=truecolor reached the desk
        await new_incident(terminal, "VPN drops over SSH")
        await _until(
            lambda: incident_titled(server.url, "VPN drops over SSH") is not None,
            "the incident in the database",
            PATIENCE_S,
            terminal,
        )
        made = incident_titled(server.url, "VPN drops over SSH")
        assert made is not None and made[1] == "alice"

        mark = len(terminal.output)
        terminal.process.change_terminal_size(120, 30)
        await _until(
            lambda: terminal.widest_line(mark) == 120, "a 120-column repaint", PATIENCE_S, terminal
        )
        assert re.search(rb"\x1b\[30;\d+H", bytes(terminal.output[mark:]))  # row 30 exists now

    fingerprint = server.keys["alice"].get_fingerprint("sha256")

    def logged_in_and_out() -> bool:
        return len(ssh_sessions(server.url, "alice")) >= 2

    await _until(logged_in_and_out, "login and logout", PATIENCE_S)
    login, logout = ssh_sessions(server.url, "alice")[-2:]
    assert re.fullmatch(rf"login from 127\.0\.0\.1:\d+ key {re.escape(fingerprint)}", login)
    assert re.fullmatch(r"logout after \d+ s", logout)


async def test_unknown_keys_and_unknown_users_are_refused(server: Server) -> None:
    with pytest.raises(asyncssh.PermissionDenied):
        await connect(server, "alice", server.stranger)
    with pytest.raises(asyncssh.PermissionDenied):  # Bob's key is not Alice's
        await connect(server, "alice", server.keys["bob"])
    with pytest.raises(asyncssh.PermissionDenied):
        await connect(server, "mallory", server.keys["alice"])
    with pytest.raises(asyncssh.PermissionDenied):  # a name that is no file in the dir
        await connect(server, "../authorized/bob", server.keys["bob"])


async def test_two_users_see_each_others_changes_live_and_sessions_are_limited(
    server: Server,
) -> None:
    async with (
        await connect(server, "alice", server.keys["alice"]) as alice_conn,
        await connect(server, "bob", server.keys["bob"]) as bob_conn,
    ):
        alice, bob = await asyncio.gather(desk(alice_conn), desk(bob_conn))
        second = await alice_conn.create_process(
            term_type="xterm", term_size=(80, 24), encoding=None
        )
        refused = await second.wait(timeout=PATIENCE_S)
        assert refused.exit_status == 1
        assert b"'alice' already has 1 session open" in refused.stdout

        mark = len(bob.output)
        await new_incident(alice, "Printer on fire")
        await bob.wait_for("Printer on fire", since=mark)
        # Bob leaves mid-edit: the form's title typed, never saved.
        mark = len(bob.output)
        bob.send("n")
        await bob.wait_for("Title", "Save", since=mark)
        bob.send("Half typed")
        await bob.wait_for("Half typed", since=mark)
    made = incident_titled(server.url, "Printer on fire")
    assert made is not None and made[1] == "alice"
    # The logout is written once the hung-up desk has exited; it saved nothing half-typed.
    await _until(lambda: len(ssh_sessions(server.url, "bob")) >= 2, "bob's logout", PATIENCE_S)
    assert ssh_sessions(server.url, "bob")[-1].startswith("logout after")
    assert incident_titled(server.url, "Half typed") is None


async def test_a_removed_key_stops_working_at_the_next_login(server: Server) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    database = open_database(server.url)
    clock = FixedClock(T0)
    with database.session() as session:
        vic = session.exec(select(User).where(User.username == "vic")).one()
        public = key.export_public_key().decode()
        user_keys.add_key(session, vic, clock, "vic", public)
    (await connect(server, "vic", key)).close()
    with database.session() as session:
        vic = session.exec(select(User).where(User.username == "vic")).one()
        user_keys.remove_key(session, vic, clock, "vic", key.get_fingerprint("sha256"))
    database.dispose()
    with pytest.raises(asyncssh.PermissionDenied):
        await connect(server, "vic", key)


async def test_idle_sessions_time_out_the_desk_has_a_limit_and_the_host_key_is_kept(
    server: Server,
) -> None:
    """A second server on the same database and host key file: it presents the key the
    first one generated, admits one session at a time and closes it after 3 s idle (from
    config.toml's ssh_idle_timeout). Alice keeps typing (a focus report, which changes
    nothing) until Bob has been refused, so a slow start on a loaded machine never idles her
    out early; from her last key on, the timeout runs."""
    config = server.folder / "config" / "itsm-tui" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("ssh_idle_timeout = 3\n")
    authorized = str(server.folder / "authorized")
    flags = ("--max-sessions", "1", "--authorized-keys", authorized)
    with running_server(server.folder, server.url, *flags) as running:
        port = running.port
        async with await connect_to(port, "alice", server.keys["alice"]) as conn:
            host_key = asyncssh.read_private_key(server.folder / "host_key")
            assert conn.get_server_host_key().public_data == host_key.public_data
            process = await conn.create_process(
                term_type="xterm-256color", term_size=(80, 24), encoding=None
            )
            terminal = Terminal(process)
            typing = asyncio.create_task(_keep_typing(terminal))
            try:
                await terminal.wait_for("Incidents", "New")  # her desk holds the one place
                async with await connect_to(port, "bob", server.keys["bob"]) as bob:
                    full = await bob.run(term_type="xterm", term_size=(80, 24), timeout=PATIENCE_S)
            finally:
                typing.cancel()
            last_key = time.monotonic()
            assert full.exit_status == 1
            assert "the desk is full (1 sessions)" in str(full.stdout)
            await terminal.process.wait(timeout=PATIENCE_S)
            assert time.monotonic() - last_key >= 2.5  # not before the timeout (+ slack)
            assert "session closed after 3 s without input" in terminal.text()


async def _keep_typing(terminal: Terminal) -> None:
    """Input that moves nothing (the terminal reporting it has focus), as a user's activity."""
    while True:
        terminal.send("\x1b[I")
        await asyncio.sleep(0.25)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--port", "70000"], "--port must be 0-65535"),
        (["--idle-timeout", "-1"], "--idle-timeout must be 0"),
        (["--idle-timeout", "nan"], "--idle-timeout must be 0"),
        ([], "config.toml ssh_idle_timeout must be 0"),  # ssh_idle_timeout = -1 there
        (["--max-sessions-per-user", "0"], "must be at least 1"),
        (["--authorized-keys", "/nonexistent/dir"], "is not a directory"),
        (["--ready-file", "/nonexistent/dir/ready"], "--ready-file: /nonexistent/dir is not a"),
    ],
)
def test_bad_flags_are_refused_before_listening(
    sqlite_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    message: str,
) -> None:
    if not flags:
        config = tmp_path / "xdg-config" / "itsm-tui" / "config.toml"  # conftest._isolated_dirs
        config.parent.mkdir(parents=True)
        config.write_text("ssh_idle_timeout = -1\n")
    assert main(["--db", sqlite_url, "init"]) == 0  # only init creates a database
    capsys.readouterr()
    code = main(["--db", sqlite_url, "--user", "root", "serve", "ssh", *flags])
    assert code == 2
    assert message in capsys.readouterr().err


# ---------------------------------------------------------------------------- issue 16


def _cursor_rows(output: bytes) -> list[int]:
    return [int(row) for row in re.findall(rb"\x1b\[(\d+);\d+H", output)]


async def _refusal_of(conn: asyncssh.SSHClientConnection) -> Terminal:
    process = await conn.create_process(term_type="xterm", term_size=(80, 24), encoding=None)
    return Terminal(process)


async def test_login_names_differing_in_case_are_one_user_for_the_per_user_limit(
    server: Server,
) -> None:
    async with await connect(server, "Alice", server.keys["alice"]) as first:
        await desk(first)
        for name in ("ALICE", "alice"):
            async with await connect(server, name, server.keys["alice"]) as again:
                refused = await _refusal_of(again)
                await refused.wait_for("'alice' already has 1 session open")


@pytest.fixture
def directory(desk: Desk) -> Desk:
    """The seeded directory in the `db_url` database (under a name that leaves `desk()`)."""
    return desk


async def test_the_desk_gets_the_database_url_in_its_environment_never_on_its_command_line(
    db_url: str, directory: Desk, clock: FixedClock, tmp_path: Path
) -> None:
    """On PostgreSQL with a password in the URL (trust authentication ignores it): no
    process listing shows it. On SQLite the URL is not on the desk's command line either."""
    secret = "not-a-real-secret-9f3a"
    url = db_url
    if db_url.startswith("postgresql"):
        url = make_url(db_url).set(password=secret).render_as_string(hide_password=False)
    key = asyncssh.generate_private_key("ssh-ed25519")
    public = key.export_public_key().decode()
    user_keys.add_key(directory.session, directory["alice"], clock, "alice", public)
    directory.session.close()
    with running_server(tmp_path, url) as running:
        async with await connect_to(running.port, "alice", key) as conn:
            await desk(conn)  # the desk reached the database through its environment
            argvs = [
                (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
                for pid in children_of(running.pid)
            ]
    desks = [argv for argv in argvs if b"itsm_tui" in argv]
    assert len(desks) == 1, argvs
    assert b"--db" not in desks[0] and not any(secret.encode() in part for part in desks[0])
    assert not any(db_url.encode() in part for part in desks[0])


async def test_a_deactivated_user_is_put_out_of_an_open_session(
    db_url: str, directory: Desk, clock: FixedClock, tmp_path: Path
) -> None:
    """Deactivated by an admin (`itsm user deactivate`) while her desk is open: within
    seconds the server hangs up her desk, tells her why and audits it (the feed carries the
    change: polled on SQLite, notified on PostgreSQL)."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    data = validate(UserCreate, username="dora", role=Role.AGENT)
    add_user(directory.session, directory["root"], clock, data)
    public = key.export_public_key().decode()
    user_keys.add_key(directory.session, directory["root"], clock, "dora", public)
    directory.session.close()
    with running_server(tmp_path, db_url) as running:
        async with await connect_to(running.port, "dora", key) as conn:
            terminal = await desk(conn)
            mark = len(terminal.output)
            assert main(["--db", db_url, "--user", "root", "user", "deactivate", "dora"]) == 0
            await terminal.wait_for(
                "itsm: session closed: your account was deactivated", since=mark
            )
            await terminal.process.wait(timeout=PATIENCE_S)

    def audited() -> bool:
        return any("closed by the server" in entry for entry in ssh_sessions(db_url, "dora"))

    await _until(audited, "dora's logout", PATIENCE_S)
    assert re.fullmatch(
        r"logout after \d+ s \(closed by the server: account deactivated\)",
        ssh_sessions(db_url, "dora")[-1],
    )
    assert "ending dora's session" in running.log.read_text()


async def test_removing_the_key_a_session_logged_in_with_ends_that_session(
    server: Server,
) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    database = open_database(server.url)
    clock = FixedClock(T0)
    try:
        with database.session() as session:
            carl = session.exec(select(User).where(User.username == "carl")).one()
            user_keys.add_key(session, carl, clock, "carl", key.export_public_key().decode())
        async with await connect(server, "carl", key) as conn:
            terminal = await desk(conn)
            mark = len(terminal.output)
            with database.session() as session:
                carl = session.exec(select(User).where(User.username == "carl")).one()
                user_keys.remove_key(session, carl, clock, "carl", key.get_fingerprint("sha256"))
            message = "itsm: session closed: the key you logged in with was removed"
            await terminal.wait_for(message, since=mark)
            await terminal.process.wait(timeout=PATIENCE_S)
    finally:
        database.dispose()

    def audited() -> bool:
        return any("closed by the server" in entry for entry in ssh_sessions(server.url, "carl"))

    await _until(audited, "carl's logout", PATIENCE_S)
    assert re.fullmatch(
        r"logout after \d+ s \(closed by the server: login key removed\)",
        ssh_sessions(server.url, "carl")[-1],
    )


def _log_says(server: Server, text: str) -> Callable[[], bool]:
    return lambda: text in server.log.read_text(errors="replace")


async def test_an_authorized_key_with_from_is_accepted_only_from_those_addresses(
    server: Server,
) -> None:
    elsewhere, here = (asyncssh.generate_private_key("ssh-ed25519") for _ in range(2))
    lines = [
        b'from="10.0.0.0/8" ' + elsewhere.export_public_key(),
        b'from="127.0.0.1,::1",no-port-forwarding ' + here.export_public_key(),
    ]
    (server.folder / "authorized" / "sue.pub").write_bytes(b"".join(lines))
    with pytest.raises(asyncssh.PermissionDenied):
        await connect(server, "sue", elsewhere)
    said = "its from= option does not allow 127.0.0.1"
    await _until(_log_says(server, said), said, PATIENCE_S)
    (await connect(server, "sue", here)).close()


async def test_an_authorized_key_with_an_option_the_server_cannot_honour_is_refused(
    server: Server,
) -> None:
    command, no_pty = (asyncssh.generate_private_key("ssh-ed25519") for _ in range(2))
    lines = [
        b'command="/bin/sh" ' + command.export_public_key(),
        b"no-pty " + no_pty.export_public_key(),
    ]
    (server.folder / "authorized" / "root.pub").write_bytes(b"".join(lines))
    for key, option in ((command, "command"), (no_pty, "no-pty")):
        with pytest.raises(asyncssh.PermissionDenied):
            await connect(server, "root", key)
        fingerprint = key.get_fingerprint("sha256")
        said = f"refused key {fingerprint} for 'root' from 127.0.0.1"
        await _until(_log_says(server, said), said, PATIENCE_S)
        assert f"option {option} is not supported" in server.log.read_text()


async def test_a_huge_window_is_cut_down_to_the_largest_desk_size(server: Server) -> None:
    """4000x4000 asked, at the start and in a window change: the desk is drawn at 500x200
    (its footer on row 200, lines 500 wide; a 4000x4000 desk took 250 MB)."""
    async with await connect(server, "bob", server.keys["bob"]) as conn:
        terminal = await desk(conn, size=(4000, 4000))
        await _footer_drawn_on(terminal, MAX_ROWS, since=0)
        assert terminal.widest_line(0) == MAX_COLUMNS
        # Smaller first, so the next one is a change (wide enough for the footer's `Quit`).
        terminal.process.change_terminal_size(300, 100)
        await _footer_drawn_on(terminal, 100, since=len(terminal.output))
        mark = len(terminal.output)
        terminal.process.change_terminal_size(4000, 4000)
        await _footer_drawn_on(terminal, MAX_ROWS, since=mark)
        assert terminal.widest_line(mark) == MAX_COLUMNS


async def _footer_drawn_on(terminal: Terminal, row: int, since: int) -> None:
    """Wait until the desk draws its footer (the line with `Quit`) on `row`."""

    def drawn() -> bool:
        return row in _footer_rows(bytes(terminal.output[since:]))

    await _until(drawn, f"the footer on row {row}", PATIENCE_S, terminal)


def _footer_rows(output: bytes) -> list[int]:
    """The rows the desk drew its footer on, in order."""
    moves = list(re.finditer(rb"\x1b\[(\d+);\d+H", output))
    ends = [move.start() for move in moves[1:]] + [len(output)] if moves else []
    return [
        int(move.group(1))
        for move, end in zip(moves, ends, strict=True)
        if b"Quit" in _CSI.sub(b"", output[move.end() : end])
    ]


async def test_an_address_may_hold_only_so_many_connections_that_have_not_logged_in(
    server: Server,
) -> None:
    """Ten connections from 127.0.0.1 that never log in (each has the server's banner, so
    the server counts it): the eleventh is dropped at once; when one goes, a login works."""
    idle: list[asyncio.StreamWriter] = []
    try:
        for _ in range(10):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            idle.append(writer)
            assert (await asyncio.wait_for(reader.readline(), PATIENCE_S)).startswith(b"SSH-2.0")
        with pytest.raises((asyncssh.Error, OSError)):
            await connect(server, "bob", server.keys["bob"])
        said = "refused a connection from 127.0.0.1: 10 still logging in"
        await _until(_log_says(server, said), said, PATIENCE_S)
        idle.pop().close()

        async def logs_in() -> None:
            (await connect(server, "bob", server.keys["bob"])).close()

        await _eventually(logs_in, "a login once a place is free")
    finally:
        for writer in idle:
            writer.close()


async def _eventually(attempt: Callable[[], Awaitable[None]], what: str) -> None:
    """`attempt` until it stops raising (the server notices a closed socket when it does)."""
    started = time.monotonic()
    while True:
        try:
            await attempt()
            return
        except (asyncssh.Error, OSError):
            if time.monotonic() - started > PATIENCE_S:
                raise AssertionError(f"not within {PATIENCE_S} s: {what}") from None
            await asyncio.sleep(0.1)
