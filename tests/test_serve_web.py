"""`itsm serve web`: textual-serve answers on loopback with the app's page, and a browser
session (its websocket) gets the desk of the configured database and user."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import aiohttp
import pytest
from rich.cells import cell_len

from itsm_tui.cli import main
from itsm_tui.clock import FixedClock
from itsm_tui.config import DATABASE_ENV, Settings, resolve_settings
from itsm_tui.remote.web import desk_command
from itsm_tui.session_kind import REMOTE_ENV
from itsm_tui.store.database import sqlite_file
from tests.serve_helpers import children_of, wait_until_ready
from tests.tui_helpers import seeded_desk

STARTUP_TIMEOUT_S = 60.0  # a bound for failures only: a desk process starts slowly at load 10+


@pytest.fixture
def desk_url(sqlite_url: str, clock: FixedClock) -> str:
    database, desk = seeded_desk(sqlite_url, clock)
    desk.session.close()
    database.dispose()
    return sqlite_url


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def _serving(
    desk_url: str, tmp_path: Path, *flags: str
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """`itsm serve web` on a free port with `flags`, yielded once its --ready-file says it
    listens."""
    port = _free_port()
    log_path, ready_file = tmp_path / "serve.log", tmp_path / "ready"
    log = log_path.open("wb")
    argv = [sys.executable, "-m", "itsm_tui", "--db", desk_url, "--user", "alice"]
    process = subprocess.Popen(
        [*argv, "serve", "web", "--port", str(port), "--ready-file", str(ready_file), *flags],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "200"},  # the log's lines unwrapped
    )
    try:
        assert wait_until_ready(ready_file, process, log_path) == f"http://127.0.0.1:{port}"
        # The line scripts parse, among textual-serve's banner.
        assert f"itsm serve web: listening on 127.0.0.1:{port}\n" in log_path.read_text()
        yield port, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()
    assert not ready_file.exists()  # removed on the way out: never a stale "ready"


@pytest.fixture
def server(desk_url: str, tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    with _serving(desk_url, tmp_path) as served:
        yield served


def _get(url: str) -> tuple[int, str]:
    """One request, no retry: the server said it is ready, so it must answer now."""
    with urllib.request.urlopen(url, timeout=STARTUP_TIMEOUT_S) as response:
        return response.status, response.read().decode("utf-8", "replace")


async def _screen_until(port: int, wanted: tuple[str, ...]) -> str:
    """Open a browser session (the page's websocket) and read the desk's output until every
    wanted text has been drawn."""
    url = f"ws://127.0.0.1:{port}/ws?width=100&height=30"
    seen = ""
    async with aiohttp.ClientSession() as client, client.ws_connect(url) as websocket:
        async with asyncio.timeout(STARTUP_TIMEOUT_S):
            async for message in websocket:
                if message.type == aiohttp.WSMsgType.BINARY:
                    seen += message.data.decode("utf-8", "replace")
                if all(text in seen for text in wanted):
                    return seen
    raise AssertionError(f"the session ended before showing {wanted}")


async def test_serve_web_answers_on_loopback_and_each_session_runs_the_desk(
    server: tuple[int, subprocess.Popen[bytes]],
) -> None:
    port, _ = server
    status, page = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/")
    assert status == 200
    assert "itsm-tui" in page  # the app's title, in textual-serve's page
    assert f'data-session-websocket-url="ws://127.0.0.1:{port}/ws"' in page
    assert "textual" in page.lower()
    # A browser session starts the desk as the configured user, on the configured database.
    screen = await _screen_until(port, ("itsm", "alice", "(agent)"))
    assert "Incidents" in screen
    # Bound to loopback only: the port is closed on the machine's other address (if any).
    other = _outward_address()
    if other is not None:
        with pytest.raises(OSError), socket.create_connection((other, port), timeout=1):
            pass


# What a page or stylesheet loads: src="", href="", url() (lower case: not JavaScript's URL()),
# @import.
_REFERENCE = re.compile(
    r"""\b(?:src|href)\s*=\s*["']([^"']+)["']|(?-i:url)\(\s*["']?([^"')]+)|@import\s+["']([^"']+)""",
    re.I,
)
# Any absolute (scheme://host) or protocol-relative (//host) address, wherever it appears
# outside comments (xterm.css credits github.com and bellard.org in one: nothing is fetched).
_COMMENT = re.compile(r"/\*.*?\*/|<!--.*?-->", re.S)
_HOST = re.compile(r"(?:\b[a-z][a-z0-9+.-]*:)?//([^/\s\"'<>)]+)", re.I)


async def test_the_page_refers_to_no_other_host_and_everything_it_loads_is_served(
    server: tuple[int, subprocess.Popen[bytes]],
) -> None:
    """A NOC screen or an air-gapped desk has no internet (textual-serve's own page fetched
    its font from fonts.googleapis.com): every address in the page and in the stylesheets it
    loads is this server's, and each thing it loads (script, stylesheets, the font files,
    the background image) is served here. The script is only fetched: its one request at run
    time is the websocket named in the page."""
    port, _ = server
    here = f"127.0.0.1:{port}"
    page_url = f"http://{here}/"
    _, page = await asyncio.to_thread(_get, page_url)
    documents, loaded = [(page_url, page)], set[str]()
    while documents:
        url, text = documents.pop()
        text = _COMMENT.sub("", text)
        hosts = set(_HOST.findall(text))
        assert hosts <= {here}, f"{url} refers to {hosts - {here}}"
        for match in _REFERENCE.finditer(text):
            target = urljoin(url, next(group for group in match.groups() if group))
            if not target.startswith("http") or target in loaded:
                continue
            loaded.add(target)
            status, body = await asyncio.to_thread(_get, target)
            assert status == 200, target
            if target.endswith(".css"):
                documents.append((target, body))
    assert {Path(urlsplit(u).path).suffix for u in loaded} >= {".js", ".css", ".ttf", ".png"}
    assert "Roboto Mono" in page  # the face xterm.js asks for, defined from the served file


def _outward_address() -> str | None:
    """This machine's address on its default route (no packet is sent), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: routing only
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


def test_serve_web_refuses_bad_input_before_serving(
    desk_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--db", desk_url, "serve", "web"]
    assert main([*base, "--user", "alice", "--port", "70000"]) == 2
    assert "--port must be between 1 and 65535" in capsys.readouterr().err
    assert main([*base, "--user", "alice", "--public-url", "desk.example.com"]) == 2
    assert main([*base, "--user", "alice", "--max-sessions", "0"]) == 2
    assert "--max-sessions must be at least 1, not 0" in capsys.readouterr().err
    assert main([*base, "--user", "alice", "--ready-file", "/nonexistent/dir/ready"]) == 2
    assert "--ready-file: /nonexistent/dir is not a directory" in capsys.readouterr().err
    assert main([*base, "--user", "nobody"]) == 4
    assert "unknown user 'nobody'" in capsys.readouterr().err


def test_the_desk_command_is_quoted_and_keeps_passwords_off_the_command_line() -> None:
    def settings(url: str, *flags: str) -> Settings:
        return resolve_settings(
            cli_database_url=url, cli_user="o'brien", cli_low_bandwidth="lb" in flags, environ={}
        )

    environ: dict[str, str] = {}
    plain = desk_command(settings("sqlite:////tmp/my desk.sqlite", "lb"), environ, "/py/python")
    assert shlex.split(plain) == [
        "/py/python",
        "-m",
        "itsm_tui",
        "--db",
        "sqlite:////tmp/my desk.sqlite",
        "--user",
        "o'brien",
        "--low-bandwidth",
    ]
    assert environ == {REMOTE_ENV: "web"}  # the desk knows it serves a browser
    secret = "postgresql+psycopg://desk:s3cret@db.example.com/itsm"
    command = desk_command(settings(secret), environ, "/py/python")
    assert "s3cret" not in command
    assert shlex.split(command) == ["/py/python", "-m", "itsm_tui", "--user", "o'brien"]
    assert environ == {REMOTE_ENV: "web", DATABASE_ENV: secret}


# --- Guarded: other sites' pages, DNS rebinding, session count, terminal size (issue 16) ---

_SGR = re.compile(r"\x1b\[[0-9;]*m")
_MOVE = re.compile(r"\x1b\[(\d+);(\d+)H")
_TOP = "\x1b[1;1H"  # a move to the first column of the first row


class Tab:
    """A browser tab's websocket: what the desk drew so far, and keys and resizes to send."""

    def __init__(self, websocket: aiohttp.ClientWebSocketResponse) -> None:
        self.websocket = websocket
        self.output = ""
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.websocket:
            if message.type == aiohttp.WSMsgType.BINARY:
                self.output += message.data.decode("utf-8", "replace")

    async def wait_for(self, condition: Callable[[str], bool], what: str, since: int = 0) -> str:
        """The output since `since` once `condition` holds for it."""
        async with asyncio.timeout(STARTUP_TIMEOUT_S):
            while not condition(self.output[since:]):
                if self._reader.done():
                    raise AssertionError(f"the session ended before {what}")
                await asyncio.sleep(0.05)
        return self.output[since:]

    async def send(self, *envelope: object) -> None:
        await self.websocket.send_str(json.dumps(list(envelope)))


def _drawn_size(output: str, before: int = 0) -> tuple[int, int] | None:
    """The size of the first full repaint in `output` at a width other than `before` (the
    desk also redraws its top line at the old size until a resize reaches it): the width of
    its top line (drawn from column 1 up to the next line) and the lowest row it moves to
    since; None until such a line is drawn."""
    for top in re.finditer(re.escape(_TOP), output):
        end = output.find("\n", top.end())
        if end < 0:
            return None
        width = cell_len(_SGR.sub("", output[top.end() : end]))
        if width != before:
            return width, max(int(row) for row, _ in _MOVE.findall(output[top.start() :]))
    return None


async def test_other_sites_and_other_host_names_are_refused_before_any_desk_starts(
    desk_url: str, tmp_path: Path
) -> None:
    """A page on another site, open in the operator's browser, could otherwise drive the desk
    through the loopback port (its websocket is not bound by the same-origin policy); an
    attacker's name resolved to 127.0.0.1 (DNS rebinding) could read the page. The served URL
    (by any loopback name) and --public-url are this server's own page."""
    public = "https://desk.example.com"
    with _serving(desk_url, tmp_path, "--public-url", public) as (port, process):
        here = f"127.0.0.1:{port}"
        refused = [
            {"Origin": "https://evil.example"},  # another site's page
            {"Origin": f"http://127.0.0.1:{port + 1}"},  # another local web app
            {"Origin": "null"},  # a sandboxed frame or a file
            {"Origin": "http://desk.example.com"},  # the public host without its https
            {"Host": f"rebound.example:{port}", "Origin": f"http://rebound.example:{port}"},
            {"Host": f"rebound.example:{port}"},
        ]
        allowed = [
            {},  # a program (no Origin), for the address it connected to
            {"Host": f"localhost:{port}", "Origin": f"http://localhost:{port}"},
            {"Origin": f"http://{here}"},
            {"Host": "desk.example.com", "Origin": public},  # through the reverse proxy
        ]
        async with aiohttp.ClientSession() as client:
            for headers in refused:
                for path in ("/", "/ws", "/static/js/textual.js"):
                    async with client.get(f"http://{here}{path}", headers=headers) as answer:
                        assert answer.status == 403, (path, headers)
                with pytest.raises(aiohttp.WSServerHandshakeError) as refusal:
                    await client.ws_connect(f"ws://{here}/ws", headers=headers)
                assert refusal.value.status == 403, headers
            assert children_of(process.pid) == []  # no desk process was started
            for headers in allowed:
                async with client.get(f"http://{here}/", headers=headers) as answer:
                    assert answer.status == 200, headers
        # The page's own websocket, as a browser opens it: Origin is the page's.
        async with (
            aiohttp.ClientSession() as client,
            client.ws_connect(f"ws://{here}/ws", origin=f"http://{here}") as websocket,
        ):
            tab = Tab(websocket)
            await tab.wait_for(lambda seen: "(agent)" in seen, "the desk was drawn")


async def test_a_refusal_is_logged_without_the_requests_control_codes(
    server: tuple[int, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """The refusal log names the request's path, which aiohttp decodes: `%1B` in a URL is an
    ESC on the operator's terminal. Anyone who reaches the port (no Host of ours needed) must
    not be able to retitle or redraw that terminal through the log."""
    port, _ = server
    path = "/%1B]0;pwned%07/%1B[2J"
    async with aiohttp.ClientSession() as client:
        url = f"http://127.0.0.1:{port}{path}"
        async with client.get(url, headers={"Host": "rebound.example"}) as answer:
            assert answer.status == 403
    log = tmp_path / "serve.log"
    until = asyncio.get_running_loop().time() + STARTUP_TIMEOUT_S
    while "rebound.example" not in log.read_text(errors="replace"):
        assert asyncio.get_running_loop().time() < until, "the refusal was never logged"
        await asyncio.sleep(0.1)
    assert "\x1b" not in log.read_text(errors="replace")


async def test_no_other_site_can_frame_the_desk(
    server: tuple[int, subprocess.Popen[bytes]],
) -> None:
    """A page on another site, open in the operator's browser, can put the desk's page in an
    (invisible) frame: a frame's request carries no Origin, so the page loads, and its script
    opens the websocket with the desk's own Origin. Each frame started a desk process (twenty
    filled --max-sessions' default) and the frame took the user's clicks and keys. Every
    answer tells the browser not to render it in another page's frame."""
    port, _ = server
    here = f"127.0.0.1:{port}"
    # As a browser sends a frame's request: no Origin, fetch metadata naming another site.
    framed = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Dest": "iframe"}
    async with aiohttp.ClientSession() as client:
        for path, status in (("/", 200), ("/static/js/textual.js", 200), ("/nowhere", 404)):
            async with client.get(f"http://{here}{path}", headers=framed) as answer:
                assert answer.status == status, path
                assert answer.headers.get("X-Frame-Options") == "DENY", path
                policy = answer.headers.get("Content-Security-Policy", "")
                assert "frame-ancestors 'none'" in policy, path


async def test_a_browser_cannot_give_the_desk_a_huge_terminal(
    server: tuple[int, subprocess.Popen[bytes]],
) -> None:
    """The desk allocates its screen from the size a tab sends (a 4000x4000 terminal made a
    250 MB desk): the size in the websocket URL and in resize messages is clamped to
    500x200, a size that is not a number is dropped, and an ordinary resize passes."""
    port, _ = server
    url = f"ws://127.0.0.1:{port}/ws?width=4000&height=4000"
    async with aiohttp.ClientSession() as client, client.ws_connect(url) as websocket:
        tab = Tab(websocket)
        assert await _repaint(tab, 0, 0, (500, 200)) == (500, 200)
        await tab.send("resize", {"width": "wide", "height": None})
        mark = len(tab.output)
        await tab.send("resize", {"width": 90, "height": 30})
        assert await _repaint(tab, mark, 500, (90, 30)) == (90, 30)
        mark = len(tab.output)
        await tab.send("resize", {"width": 100_000, "height": 4000})
        assert await _repaint(tab, mark, 90, (500, 200)) == (500, 200)


async def _repaint(
    tab: Tab, since: int, before: int, expected: tuple[int, int]
) -> tuple[int, int] | None:
    """The size of the desk's first repaint after `since` at a width other than `before`:
    once drawn down to the expected last row, or at once if its width is not the expected."""

    def done(seen: str) -> bool:
        size = _drawn_size(seen, before)
        return size is not None and (size[0] != expected[0] or size[1] >= expected[1])

    return _drawn_size(await tab.wait_for(done, f"a repaint at {expected}", since), before)


async def test_with_max_sessions_the_next_tab_is_refused_clearly_until_one_closes(
    desk_url: str, tmp_path: Path
) -> None:
    """Each tab is a desk process: --max-sessions bounds them. The next tab's page and
    websocket get 503 with a sentence saying why, no desk starts for it, the open desk goes
    on, and its slot is free again once it closes."""
    full = "itsm serve web: the desk is full (1 session open); close a desk tab or try again later."
    with _serving(desk_url, tmp_path, "--max-sessions", "1") as (port, process):
        here = f"127.0.0.1:{port}"
        async with aiohttp.ClientSession() as client:
            async with client.ws_connect(f"ws://{here}/ws?width=100&height=30") as websocket:
                first = Tab(websocket)
                await first.wait_for(lambda seen: "(agent)" in seen, "the first desk was drawn")
                with pytest.raises(aiohttp.WSServerHandshakeError) as refusal:
                    await client.ws_connect(f"ws://{here}/ws")
                assert refusal.value.status == 503
                for path in ("/", "/ws"):
                    async with client.get(f"http://{here}{path}") as answer:
                        assert (answer.status, (await answer.text()).strip()) == (503, full)
                assert len(children_of(process.pid)) == 1  # the first desk only
                mark = len(first.output)
                await first.send("stdin", "2")  # the changes queue: the first desk still works
                await first.wait_for(lambda seen: "Changes" in seen, "the changes queue", mark)

            async def page_status() -> int:
                async with client.get(f"http://{here}/") as answer:
                    return answer.status

            async with asyncio.timeout(STARTUP_TIMEOUT_S):  # the first desk is quitting
                while await page_status() != 200:
                    await asyncio.sleep(0.1)
            async with client.ws_connect(f"ws://{here}/ws?width=100&height=30") as websocket:
                second = Tab(websocket)
                await second.wait_for(lambda seen: "(agent)" in seen, "the second desk was drawn")


async def test_a_desk_that_fails_to_start_closes_its_tab_and_frees_its_slot(
    desk_url: str, tmp_path: Path
) -> None:
    """A desk process that ends without saying so (here its database went away after the
    server started, so it exits at start with an error) left its tab's websocket open and
    blank, holding a --max-sessions slot for as long as the tab stayed open: the desk was
    full of dead tabs. The server now closes the tab once its desk has ended."""
    with _serving(desk_url, tmp_path, "--max-sessions", "1") as (port, _process):
        here = f"127.0.0.1:{port}"
        database = sqlite_file(desk_url)
        assert database is not None
        database.rename(tmp_path / "moved-away.sqlite")
        async with aiohttp.ClientSession() as client:
            async with client.ws_connect(f"ws://{here}/ws?width=100&height=30") as websocket:
                async with asyncio.timeout(STARTUP_TIMEOUT_S):
                    async for _ in websocket:  # whatever it draws, until the server closes
                        pass
                assert websocket.closed

            async def page_status() -> int:
                async with client.get(f"http://{here}/") as answer:
                    return answer.status

            async with asyncio.timeout(STARTUP_TIMEOUT_S):  # the slot is given back
                while await page_status() != 200:
                    await asyncio.sleep(0.1)
