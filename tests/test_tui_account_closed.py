"""An open desk follows its own user (issue 16 point 10 for every door, not only `serve ssh`):
deactivated by an admin in another session, the desk says why and exits with status 4 within
seconds, on both engines; demoted, it keeps running and shows the new role."""

from __future__ import annotations

import time

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
        await until(pilot, lambda: isinstance(app.screen, AccountClosedScreen), "closing notice")
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
