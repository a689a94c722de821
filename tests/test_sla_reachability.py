"""An SLA target the calendar cannot meet is refused when saved, and never spins or crashes.

Issue 16, point 9: a policy of 365 days on a calendar with one working minute a week made
`incident new` walk the calendar day by day to the year 9999 (4 s here, 17 s on the reporter's
machine) and die with an OverflowError traceback. Business time now ends ten years after a
start (`calendar.HORIZON`), policies must reach their targets within five (`REACH`) when a
policy or calendar is saved, and a domain error reaching the CLI is exit 2 with its message.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from itsm_tui.cli import main
from itsm_tui.clock import FixedClock
from itsm_tui.domain.calendar import BusinessCalendar, CalendarError, Holidays, Unreachable
from itsm_tui.domain.sla_policy import SlaPolicySpec, check_reachable
from itsm_tui.store.database import open_database
from itsm_tui.store.models import BusinessCalendarRow, Incident, SlaPolicyRow

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
YEAR = 365 * 86_400
ONE_MINUTE_A_WEEK = BusinessCalendar.weekdays("UTC", time(0, 0), time(0, 1), days=[6])


# ---------------------------------------------------------------------------- domain


def test_business_time_beyond_the_horizon_is_unreachable_not_a_crash() -> None:
    with pytest.raises(Unreachable, match="do not fit in this calendar's working time"):
        ONE_MINUTE_A_WEEK.add(T0, YEAR)  # 10,000 years of Sundays: used to hit year 9999
    with pytest.raises(Unreachable):
        BusinessCalendar.twenty_four_seven().add(T0, 20 * YEAR)
    assert ONE_MINUTE_A_WEEK.add(T0, 60) == datetime(2026, 3, 8, 0, 1, tzinfo=UTC)


def test_the_end_of_the_calendar_is_a_domain_error() -> None:
    with pytest.raises(CalendarError, match="year 9999"):
        ONE_MINUTE_A_WEEK.add(datetime(9999, 12, 27, tzinfo=UTC), 120)


def test_a_policy_must_reach_its_longest_target_within_five_years() -> None:
    office = BusinessCalendar.weekdays(
        "Europe/London", time(8), time(17), holidays=Holidays("GB", "ENG")
    )
    longest = SlaPolicySpec("Slow", 4, 3600, YEAR, "Office hours")  # ~3.8 years of office
    check_reachable(longest, office, T0)
    with pytest.raises(Unreachable, match="its resolution target cannot be met"):
        check_reachable(longest, ONE_MINUTE_A_WEEK, T0)
    christmas_forever = BusinessCalendar.weekdays(
        "UTC",
        time(8),
        time(17),
        holidays=Holidays(extra_dates=frozenset(T0.date() + timedelta(days=d) for d in range(800))),
    )
    with pytest.raises(CalendarError):
        check_reachable(SlaPolicySpec("Any", 4, 60, 3600, "x"), christmas_forever, T0)


# ---------------------------------------------------------------------------- CLI


@pytest.fixture
def url(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> str:
    """A desk with the defaults and a calendar of one working minute a week."""
    assert main(["--db", sqlite_url, "init"], clock=FixedClock(T0)) == 0
    assert (
        run(sqlite_url, "calendar", "add", "Sparse", "--zone", "UTC", "--hours", "sun 00:00-00:01")
        == 0
    )
    capsys.readouterr()
    return sqlite_url


def run(url: str, *argv: str) -> int:
    return main(["--db", url, "--user", "boss", *argv], clock=FixedClock(T0))


def policies(url: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    assert run(url, "sla", "policy", "list", "--json") == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    "argv",
    [
        ["sla", "policy", "add", "Slow", "--priority", "4", "--service", "Email",
         "--response", "1h", "--resolution", "365d", "--calendar", "Sparse"],
        ["sla", "policy", "update", "P5 planning", "--calendar", "Sparse"],
    ],
    ids=["add", "update"],
)  # fmt: skip
def test_saving_a_policy_its_calendar_cannot_meet_is_exit_2(
    url: str, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    if "Email" in argv:
        assert run(url, "service", "add", "Email") == 0
        capsys.readouterr()
    before = policies(url, capsys)
    assert run(url, *argv) == 2
    err = capsys.readouterr().err
    assert "on calendar 'Sparse'" in err and "target cannot be met" in err, err
    assert "Traceback" not in err
    assert policies(url, capsys) == before


def test_cutting_a_calendar_below_its_policies_targets_is_exit_2(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(url, "calendar", "update", "Office hours", "--hours", "sun 00:00-00:01") == 2
    err = capsys.readouterr().err
    assert "on calendar 'Office hours'" in err and "target cannot be met" in err, err
    assert run(url, "calendar", "update", "Sparse", "--hours", "mon-fri 09:00-17:00") == 0


def test_an_unreachable_policy_stored_earlier_refuses_the_incident_without_a_traceback(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A database saved before the check: P5 on one minute a week for 365 days. Creating a
    P5 incident is bad input naming the policy (it took 4 s and died with OverflowError), and
    the domain's refusal reaching the CLI from `sla verify` is exit 2 with its message."""
    argv = ["incident", "new", "--title", "x", "--impact", "3", "--urgency", "3"]
    assert run(url, *argv) == 0  # on the shipped P5 policy
    database = open_database(url)
    try:
        with database.session() as session:
            sparse = session.exec(
                select(BusinessCalendarRow).where(BusinessCalendarRow.name == "Sparse")
            ).one()
            p5 = session.exec(select(SlaPolicyRow).where(SlaPolicyRow.priority == 5)).one()
            assert sparse.id is not None
            p5.calendar_id, p5.resolution_seconds = sparse.id, YEAR
            session.add(p5)
            session.commit()
        capsys.readouterr()
        assert run(url, *argv) == 2
        err = capsys.readouterr().err
        assert "SLA policy 'P5 planning' on calendar 'Sparse'" in err, err
        assert "Traceback" not in err
        with database.session() as session:
            assert len(session.exec(select(Incident)).all()) == 1  # the refusal wrote nothing
        assert run(url, "sla", "verify", "INC0000001") == 2
        assert "do not fit in this calendar's working time" in capsys.readouterr().err
    finally:
        database.dispose()
    # the way out: switch the policy off (checked again when switched back on)
    assert run(url, "sla", "policy", "update", "P5 planning", "--inactive") == 0
    assert run(url, *argv) == 0
    assert run(url, "sla", "policy", "update", "P5 planning", "--active") == 2


# ---------------------------------------------------------------------------- TUI


async def test_the_policy_dialog_shows_why_a_target_cannot_be_met(
    tmp_path: Path, clock: FixedClock
) -> None:
    from itsm_tui.screens.sla_policies import SlaPoliciesScreen
    from itsm_tui.screens.sla_policy_dialogs import PolicyDialog
    from itsm_tui.services import sla_admin
    from itsm_tui.services.validation import validate
    from tests.tui_helpers import app_for, palette_highlight, seeded_desk, settle, until

    url = f"sqlite:///{tmp_path / 'itsm.sqlite'}"
    database, desk = seeded_desk(url, clock)
    sla_admin.add_calendar(
        desk.session,
        desk["root"],
        clock,
        validate(sla_admin.CalendarInput, name="Sparse", zone="UTC", hours=["sun 00:00-00:01"]),
    )
    desk.session.close()
    database.dispose()

    app = app_for(url, clock, user="root")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p", *"SLA policies")
        await until(pilot, lambda: "SLA policies" in palette_highlight(app), "the palette's hit")
        await pilot.press("enter")
        await settle(pilot, rounds=3)
        screen = app.screen
        assert isinstance(screen, SlaPoliciesScreen)
        await pilot.press("e")  # P1 critical
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, PolicyDialog)
        dialog.form.input("calendar").value = "Sparse"
        dialog.form.input("resolution").value = "30d"  # 43,200 Sundays
        await pilot.press("ctrl+s")
        await settle(pilot, rounds=3)
        assert app.screen is dialog
        assert "on calendar 'Sparse'" in dialog.error
        assert "target cannot be met" in dialog.error
