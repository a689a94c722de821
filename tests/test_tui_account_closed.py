"""An open desk follows its own user (issue 16 point 10 for every door, not only `serve ssh`):
deactivated by an admin in another session, the desk says why and exits with status 4 within
seconds, on both engines, and `itsm` (a local desk, or one under sshd's forced command)
returns that status; demoted, it keeps running and shows the new role."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

from textual.widgets import Static

from itsm_tui import app as app_module
from itsm_tui.clock import FixedClock
from itsm_tui.screens.account_closed import ACCOUNT_CLOSED, AccountClosedScreen
from itsm_tui.services import actors, user_admin
from itsm_tui.services.errors import PermissionDenied
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database
from itsm_tui.widgets.desk_header import DeskHeader
from tests.conftest import Desk
from tests.tui_helpers import app_for, settle, until

FEED_S = 0.05  # a short poll: the test waits on the feed, not on the default quarter second


def test_still_active_follows_role_changes_and_deactivation(desk: Desk) -> None:
    alice = desk["alice"]
    assert (current := actors.still_active(desk.session, alice)) is not None
    assert current.role == "agent"
    data = validate(user_admin.UserUpdate, role="viewer")
    user_admin.update_user(desk.session, desk["root"], desk.clock, "alice", data)
    assert (current := actors.still_active(desk.session, alice)) is not None
    assert current.role == "viewer"
    user_admin.deactivate_user(desk.session, desk["root"], desk.clock, "alice")
    assert actors.still_active(desk.session, alice) is None


async def test_a_deactivated_users_open_desk_says_so_and_exits(
    desk: Desk, database: Database, clock: FixedClock
) -> None:
    app = app_for(database.url, clock, user="alice", feed_interval_s=FEED_S)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        user_admin.deactivate_user(desk.session, desk["root"], clock, "alice")
        deactivated = time.monotonic()
        await until(
            pilot,
            lambda: (
                isinstance(app.screen, AccountClosedScreen)
                and bool(app.screen.query("#account-closed-message"))
            ),
            "closing notice",
        )
        shown = str(app.screen.query_one("#account-closed-message", Static).render())
        assert shown == ACCOUNT_CLOSED
        await until(pilot, lambda: app.return_code is not None, "the desk exits")
        closed_in = time.monotonic() - deactivated
    assert app.return_code == PermissionDenied.exit_code
    # the notice stays up ACCOUNT_CLOSE_S; the rest is the feed poll on a loaded machine
    assert closed_in < app_module.ACCOUNT_CLOSE_S + 8.0, closed_in


async def test_a_demoted_users_desk_keeps_running_with_the_new_role(
    desk_db: tuple[str, Desk], clock: FixedClock
) -> None:
    url, desk = desk_db
    app = app_for(url, clock, user="alice", feed_interval_s=FEED_S)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.screen.query_one(DeskHeader).role == "agent"
        data = validate(user_admin.UserUpdate, role="viewer")
        user_admin.update_user(desk.session, desk["root"], clock, "alice", data)
        await until(pilot, lambda: app.screen.query_one(DeskHeader).role == "viewer", "new role")
        assert app.actor.role == "viewer" and "(viewer)" in app.sub_title
        assert app.is_running and not app.account_closed


def test_itsm_on_a_terminal_exits_4_with_the_reason_once_its_user_is_deactivated(
    desk_db: tuple[str, Desk], clock: FixedClock, tmp_path: Path
) -> None:
    url, desk = desk_db
    controller, terminal = os.openpty()
    desk_process = subprocess.Popen(
        [sys.executable, "-m", "itsm_tui", "--db", url, "--user", "alice"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "TERM": "xterm-256color"},
        start_new_session=True,
    )
    os.close(terminal)
    seen = bytearray()

    def read_until(done: bytes | None) -> bool:
        """Read the desk's terminal until `done` shows, or (None) until the desk closes it;
        a desk whose output is not read would block on a full terminal."""
        deadline = time.monotonic() + 60.0  # a loaded machine starts Python slowly
        while time.monotonic() < deadline:
            if done is not None and done in seen:
                return True
            if select.select([controller], [], [], 0.2)[0]:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # the desk closed the terminal
                    chunk = b""
                if not chunk:
                    return done is None
                seen.extend(chunk)
        return False

    try:
        assert read_until(b"Incidents"), bytes(seen[-300:])
        user_admin.deactivate_user(desk.session, desk["root"], clock, "alice")
        assert read_until(None), bytes(seen[-300:])
        assert desk_process.wait(timeout=60) == PermissionDenied.exit_code
        # after the full screen is gone, the reason stays on the terminal
        assert seen.rstrip().endswith(ACCOUNT_CLOSED.encode()), bytes(seen[-300:])
    finally:
        if desk_process.poll() is None:
            desk_process.kill()
            desk_process.wait()
        os.close(controller)
