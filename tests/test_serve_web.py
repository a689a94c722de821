"""`itsm serve web`: textual-serve answers on loopback with the app's page, and a browser
session (its websocket) gets the desk of the configured database and user."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import aiohttp
import pytest

from itsm_tui.cli import main
from itsm_tui.clock import FixedClock
from itsm_tui.config import DATABASE_ENV, Settings, resolve_settings
from itsm_tui.remote.session_kind import REMOTE_ENV
from itsm_tui.remote.web import desk_command
from tests.serve_helpers import wait_until_ready
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


@pytest.fixture
def server(desk_url: str, tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """`itsm serve web` on a free port, yielded once its --ready-file says it listens."""
    port = _free_port()
    log_path, ready_file = tmp_path / "serve.log", tmp_path / "ready"
    log = log_path.open("wb")
    argv = [sys.executable, "-m", "itsm_tui", "--db", desk_url, "--user", "alice"]
    process = subprocess.Popen(
        [*argv, "serve", "web", "--port", str(port), "--ready-file", str(ready_file)],
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
