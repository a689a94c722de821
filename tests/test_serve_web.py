"""`itsm serve web`: textual-serve answers on loopback with the app's page, and a browser
session (its websocket) gets the desk of the configured database and user."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from itsm_tui.cli import main
from itsm_tui.clock import FixedClock
from itsm_tui.config import DATABASE_ENV, Settings, resolve_settings
from itsm_tui.remote.web import desk_command
from tests.tui_helpers import seeded_desk

STARTUP_TIMEOUT_S = 20.0


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
    port = _free_port()
    log = (tmp_path / "serve.log").open("wb")
    argv = [sys.executable, "-m", "itsm_tui", "--db", desk_url, "--user", "alice"]
    process = subprocess.Popen(
        [*argv, "serve", "web", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "200"},  # the log's lines unwrapped
    )
    try:
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


def _page(port: int, process: subprocess.Popen[bytes]) -> tuple[int, str]:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        assert process.poll() is None, f"itsm serve web exited with {process.returncode}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                return response.status, response.read().decode()
        except (urllib.error.URLError, ConnectionError):
            assert time.monotonic() < deadline, "itsm serve web did not answer in time"
            time.sleep(0.1)


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
    port, process = server
    status, page = await asyncio.to_thread(_page, port, process)
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
    assert environ == {}
    secret = "postgresql+psycopg://desk:s3cret@db.example.com/itsm"
    command = desk_command(settings(secret), environ, "/py/python")
    assert "s3cret" not in command
    assert shlex.split(command) == ["/py/python", "-m", "itsm_tui", "--user", "o'brien"]
    assert environ == {DATABASE_ENV: secret}
