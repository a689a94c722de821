"""The NOC wall and the major-incident broadcast: the majors query at the service level, and
one pilot run per engine proving the wall rotates, shows and clears the major takeover, and
survives the database going away and coming back (the desk's banner rides along on SQLite)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from textual.pilot import Pilot

from itsm_tui.cli import main
from itsm_tui.clock import FixedClock
from itsm_tui.services import incidents, user_admin
from itsm_tui.services.majors import open_majors
from itsm_tui.wall import WallApp, WallHeader
from itsm_tui.widgets.major_banner import MajorBanner
from itsm_tui.widgets.wall import MajorTakeover
from tests.conftest import POSTGRES_ENV, Desk
from tests.service_helpers import drive, make
from tests.tui_helpers import LOADED_TIMEOUT_S, app_for, create, seeded_desk, settle, until


def test_open_majors_lists_open_major_incidents_oldest_first(desk: Desk) -> None:
    first = make(desk, title="Mail down for everyone", impact=1, urgency=1).number
    desk.clock.advance(minutes=5)
    second = make(desk, title="VPN down", impact=1, urgency=1).number
    make(desk, title="Printer jam")  # never major
    resolved = make(desk, title="Old outage").number
    for number in (second, first, resolved):
        incidents.set_major(desk.session, desk["sue"], desk.clock, number, True, reason="outage")
    drive(desk, resolved, "resolved")

    majors = open_majors(desk.session)
    assert majors.total == 2
    assert [m.number for m in majors.incidents] == [first, second]
    assert majors.incidents[0].title == "Mail down for everyone"

    capped = open_majors(desk.session, limit=1)
    assert (capped.total, [m.number for m in capped.incidents]) == (2, [first])

    incidents.set_major(desk.session, desk["sue"], desk.clock, first, False, reason="contained")
    drive(desk, second, "resolved")
    assert open_majors(desk.session).total == 0


def test_itsm_wall_checks_its_flags_and_lets_a_viewer_start_it(
    tmp_path: Path, clock: FixedClock, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    url = f"sqlite:///{tmp_path / 'itsm.sqlite'}"
    database, desk = seeded_desk(url, clock)
    desk.session.close()
    database.dispose()
    started: list[WallApp] = []
    monkeypatch.setattr(WallApp, "run", lambda self: started.append(self))
    base = ["--db", url, "wall"]
    assert main([*base, "--user", "vic", "--views", "sla,changes", "--rotate", "30"]) == 0
    assert [(app.views, app.rotate_s) for app in started] == [(("sla", "changes"), 30.0)]
    assert main([*base, "--user", "vic", "--views", "queue,nope"]) == 2
    assert main([*base, "--user", "vic", "--rotate", "0"]) == 2
    assert main([*base, "--user", "nobody"]) == 4
    assert len(started) == 1
    assert "--views takes" in capsys.readouterr().err


def _wall(url: str, clock: FixedClock) -> WallApp:
    return WallApp(
        database_url=url,
        username="vic",  # a viewer: the wall only reads
        clock=clock,
        rotate_s=0.3,
        views=("queue", "changes"),
        refresh_s=0.05,
        retry_first_s=0.05,
        retry_max_s=0.2,
    )


async def _until(pilot: Pilot[Any], condition: Callable[[], bool], what: str) -> None:
    """Wait for what the wall's timers and reader bring. The bound only limits how long a
    real failure takes to report: a loaded machine may need many seconds for a read."""
    await until(pilot, condition, what, timeout=LOADED_TIMEOUT_S)


def _majors_shown(app: WallApp) -> bool:
    return app.query_one(MajorTakeover).display and not app.query_one("#wall-panels").display


async def _declare_and_resolve(pilot: Pilot[Any], app: WallApp, desk: Desk, number: str) -> None:
    incidents.set_major(desk.session, desk["sue"], desk.clock, number, True, reason="outage")
    await _until(pilot, lambda: _majors_shown(app), "the major takeover")
    assert app.figures is not None and app.figures.majors.incidents[0].number == number
    drive(desk, number, "resolved")
    await _until(pilot, lambda: not _majors_shown(app), "the takeover to clear")


async def test_wall_rotates_broadcasts_majors_and_survives_sqlite_file_moving(
    tmp_path: Path, clock: FixedClock
) -> None:
    url = f"sqlite:///{tmp_path / 'itsm.sqlite'}"
    database, desk = seeded_desk(url, clock)
    number = create(desk.session, desk, clock, title="Mail down", impact=1, urgency=1)
    app = _wall(url, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await _until(pilot, lambda: app.figures is not None, "the first read")
        assert app.figures is not None and app.figures.open_by_priority[1] == 1
        seen = {app.view}
        await _until(pilot, lambda: seen.add(app.view) or len(seen) == 2, "a rotation")

        await _declare_and_resolve(pilot, app, desk, number)

        path = tmp_path / "itsm.sqlite"
        path.rename(tmp_path / "moved.sqlite")
        await _until(pilot, lambda: app.reconnecting, "reconnecting")
        assert app.query_one("#wall-panels").has_class("-stale")
        assert app.figures is not None  # the last figures stay up, dimmed
        (tmp_path / "moved.sqlite").rename(path)
        await _until(pilot, lambda: not app.reconnecting, "recovery")
        assert not app.query_one("#wall-panels").has_class("-stale")

        again = create(desk.session, desk, clock, title="Second outage", impact=1, urgency=1)
        incidents.set_major(desk.session, desk["sue"], clock, again, True, reason="outage")
        await _until(pilot, lambda: _majors_shown(app), "the takeover after recovery")

    # Every desk client carries the broadcast: the queue shows the banner while it is open.
    desk_app = app_for(url, clock, feed_interval_s=0.05)
    async with desk_app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        banner = desk_app.screen.query_one(MajorBanner)
        await _until(pilot, lambda: banner.has_class("-open"), "the banner")
        assert again in str(banner.render())
        drive(desk, again, "resolved")
        await _until(pilot, lambda: not banner.has_class("-open"), "the banner to clear")
    desk.session.close()
    database.dispose()


@pytest.mark.postgres
async def test_wall_survives_postgres_connections_being_killed(clock: FixedClock) -> None:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"the PostgreSQL variant needs {POSTGRES_ENV}")
    name = f"t_wall_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    database, desk = seeded_desk(url, clock)
    number = create(desk.session, desk, clock, title="Core switch down", impact=1, urgency=1)
    app = _wall(url, clock)
    kill = text(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = :name AND pid <> pg_backend_pid()"
    )
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await _until(pilot, lambda: app.figures is not None, "the first read")
            with admin.connect() as connection:
                # Take the database away (no new connections), then kill the wall's.
                connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
                connection.execute(kill, {"name": name})
            await _until(pilot, lambda: app.reconnecting, "reconnecting")
            with admin.connect() as connection:
                connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            await _until(pilot, lambda: not app.reconnecting, "recovery")
            desk.session.close()  # its connection was killed too
            await _declare_and_resolve(pilot, app, desk, number)
    finally:
        desk.session.close()
        database.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


async def test_a_deactivated_users_wall_clears_its_panels_and_comes_back_when_reactivated(
    desk_db: tuple[str, Desk], clock: FixedClock
) -> None:
    url, desk = desk_db
    create(desk.session, desk, clock, title="Mail down", impact=1, urgency=1)
    app = _wall(url, clock)
    async with app.run_test(size=(140, 24)) as pilot:
        await _until(pilot, lambda: app.figures is not None, "the first read")
        user_admin.deactivate_user(desk.session, desk["root"], clock, "vic")
        await _until(pilot, lambda: app.refused, "the refused read")
        # nothing read before stays up, and the wall says why instead of "reconnecting"
        assert app.figures is None and not app.query_one("#wall-panels").display
        header = str(app.query_one(WallHeader).render())
        assert "no access" in header and "deactivated" in header, header
        assert app.is_running  # an unattended screen keeps the wall, not a shell
        user_admin.activate_user(desk.session, desk["root"], clock, "vic")
        await _until(pilot, lambda: app.figures is not None, "the read after reactivation")
        assert app.query_one("#wall-panels").display and not app.refused
