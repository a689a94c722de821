"""The SLA dashboard's figures on a crafted desk, every expected value worked out by hand.

Seeded default calendars in UTC: P1 runs 24x7 (response 15 min, resolution 4 h); P3 runs
Monday to Friday 08:00-17:00 (response 4 h, resolution 27 h). 2026-03-02 is a Monday.

    A  P1 Email  opened Mon 09:00, responded 09:10 (met), resolved 12:00 (met)      -> Monday
    B  P1 VPN    opened Mon 20:00, response ran out 20:15 (breached, Monday),
                 resolution ran out Tue 00:00 (breached, Tuesday), resolved Tue 09:00
    E  P1 VPN    opened Tue 07:00, never answered: response out 07:15, resolution out
                 11:00 (both breached on Tuesday, both still running)
    C  P1 Email  opened Tue 08:00, responded 08:05 (met); resolution running, 3.5 h of 4 used
                 at 11:30 (87.5%: at warning, at risk, due 12:00)
    D  P3        opened Tue 09:00, responded 09:30 (met), on hold for the caller from 10:00
                 (resolution paused)
    F  P1        opened Tue 11:20: 10 of 15 min used (in progress), resolution in progress

The dashboard is read at Tue 11:30.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from itsm_tui.services import incidents, slas
from itsm_tui.services.sla_dashboard import (
    ClockCounts,
    Compliance,
    Period,
    SlaDashboard,
    Trend,
    period_bounds,
    previous_start,
    sla_dashboard,
)
from tests.conftest import Desk
from tests.service_helpers import HOLD, RESOLUTION, make


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


NOW = at(3, 11, 30)


def open_at(desk: Desk, when: datetime, *, p1: bool = True, **fields: object) -> str:
    desk.clock.set(when)
    if p1:
        fields = {"impact": 1, "urgency": 1, **fields}
    return make(desk, **fields).number


def respond(desk: Desk, number: str, when: datetime) -> None:
    desk.clock.set(when)
    incidents.add_note(desk.session, desk["alice"], desk.clock, number, "On it", comment=True)


def move(desk: Desk, number: str, when: datetime, state: str, **extra: str) -> None:
    desk.clock.set(when)
    incidents.transition(desk.session, desk["alice"], desk.clock, number, state, **extra)


def crafted(desk: Desk) -> dict[str, str]:
    slas.ensure_defaults(desk.session, desk.clock, "UTC")
    a = open_at(desk, at(2, 9), service="Email", title="A")
    respond(desk, a, at(2, 9, 10))
    move(desk, a, at(2, 12), "resolved", **RESOLUTION)
    b = open_at(desk, at(2, 20), service="VPN", title="B")
    e = open_at(desk, at(3, 7), service="VPN", title="E")
    c = open_at(desk, at(3, 8), service="Email", title="C")
    respond(desk, c, at(3, 8, 5))
    d = open_at(desk, at(3, 9), p1=False, title="D")
    move(desk, b, at(3, 9), "resolved", **RESOLUTION)
    respond(desk, d, at(3, 9, 30))
    move(desk, d, at(3, 10), "on_hold", **HOLD)
    f = open_at(desk, at(3, 11, 20), title="F")
    desk.clock.set(NOW)
    return {"A": a, "B": b, "C": c, "D": d, "E": e, "F": f}


def figures(c: Compliance) -> tuple[int, int, float | None, float | None, Trend]:
    return c.met, c.breached, c.percent, c.previous_percent, c.trend


def lines(board: SlaDashboard, which: str) -> dict[str, tuple[tuple[object, ...], ...]]:
    found = board.priorities if which == "priority" else board.services
    return {line.label: tuple(figures(k) for k in line.kinds()) for line in found}


def test_today_against_yesterday(desk: Desk) -> None:
    n = crafted(desk)
    board = sla_dashboard(desk.session, NOW, Period.TODAY, "UTC")
    assert (board.start, board.end, board.previous_start) == (at(3, 0), at(4, 0), at(2, 0))
    assert board.target_percent == 95.0
    # Tuesday responses: C, D met, E breached = 2/3; Monday: A met, B breached = 1/2.
    # Tuesday resolutions: B (00:00) and E (11:00) breached = 0/2; Monday: A met = 1/1.
    assert figures(board.overall.response) == (2, 1, 66.7, 50.0, Trend.UP)
    assert figures(board.overall.resolution) == (0, 2, 0.0, 100.0, Trend.DOWN)
    assert lines(board, "priority") == {
        "P1": ((1, 1, 50.0, 50.0, Trend.SAME), (0, 2, 0.0, 100.0, Trend.DOWN)),
        "P3": ((1, 0, 100.0, None, Trend.UNKNOWN), (0, 0, None, None, Trend.UNKNOWN)),
    }
    assert lines(board, "service") == {
        "(no service)": ((1, 0, 100.0, None, Trend.UNKNOWN), (0, 0, None, None, Trend.UNKNOWN)),
        "Email": ((1, 0, 100.0, 100.0, Trend.SAME), (0, 0, None, 100.0, Trend.UNKNOWN)),
        "VPN": ((0, 1, 0.0, 0.0, Trend.SAME), (0, 2, 0.0, None, Trend.UNKNOWN)),
    }
    # Open clocks now: C resolution at 87.5% (warning), D resolution paused, E's two past
    # target, F's two under 75%.
    assert board.now == ClockCounts(in_progress=2, warning=1, breached=2, paused=1)
    assert [(r.number, r.kind, r.due_at) for r in board.at_risk] == [
        (n["E"], "response", at(3, 7, 15)),
        (n["E"], "resolution", at(3, 11)),
        (n["C"], "resolution", at(3, 12)),
    ]
    # Tuesday, both kinds: C and D met; E twice and B breached = 2/5.
    assert [(d.day, d.met, d.breached, d.percent) for d in board.daily] == [
        (date(2026, 3, 3), 2, 3, 40.0)
    ]


def test_seven_days_and_its_daily_series(desk: Desk) -> None:
    crafted(desk)
    board = sla_dashboard(desk.session, NOW, Period.WEEK, "UTC", target_percent=90)
    assert (board.start, board.end) == (at(25, 0, month=2), at(4, 0))
    # Both days: responses A, C, D met, B, E breached = 3/5; resolutions A met, B, E
    # breached = 1/3. Nothing was decided the week before.
    assert figures(board.overall.response) == (3, 2, 60.0, None, Trend.UNKNOWN)
    assert figures(board.overall.resolution) == (1, 2, 33.3, None, Trend.UNKNOWN)
    assert board.overall.response.target_percent == 90
    # Feb 25 to Mar 3 (today; the days after now are not in the series): Monday A twice
    # met, B's response breached = 2/3.
    assert [(d.day.isoformat(), d.percent) for d in board.daily] == [
        ("2026-02-25", None),
        ("2026-02-26", None),
        ("2026-02-27", None),
        ("2026-02-28", None),
        ("2026-03-01", None),
        ("2026-03-02", 66.7),
        ("2026-03-03", 40.0),
    ]


def test_a_later_reading_moves_clocks_into_breach(desk: Desk) -> None:
    """At 12:00, with nothing written since 11:30: C's resolution ran out at 12:00 and F's
    response (15 min from 11:20) at 11:35, both decided today as breaches."""
    crafted(desk)
    board = sla_dashboard(desk.session, at(3, 12), Period.TODAY, "UTC")
    # Responses C, D met; E, F breached = 2/4. Resolutions B, E, C breached = 0/3.
    assert figures(board.overall.response)[:3] == (2, 2, 50.0)
    assert figures(board.overall.resolution)[:3] == (0, 3, 0.0)
    # Open: C res, E twice and F resp breached; D res paused; F res at 40 min of 4 h.
    assert board.now == ClockCounts(in_progress=1, warning=0, breached=4, paused=1)


def test_periods_are_local_days_and_calendar_quarters() -> None:
    now = at(1, 23, 30, month=4)  # 2026-04-02 01:30 in Berlin (CEST, UTC+2)
    start, end = period_bounds(Period.TODAY, now, "Europe/Berlin")
    assert (start, end) == (at(1, 22, month=4), at(2, 22, month=4))
    start, end = period_bounds(Period.QUARTER, now, "Europe/Berlin")
    assert (start, end) == (at(31, 22), at(30, 22, month=6))  # Apr 1 to Jul 1, local
    assert previous_start(Period.QUARTER, start, "Europe/Berlin") == datetime(
        2025, 12, 31, 23, tzinfo=UTC
    )  # Jan 1 local, CET
    start, _ = period_bounds(Period.QUARTER, at(15, 12, month=1), "UTC")
    assert previous_start(Period.QUARTER, start, "UTC") == datetime(2025, 10, 1, tzinfo=UTC)
    start, end = period_bounds(Period.MONTH, at(3, 12), "UTC")
    assert (start, end) == (at(2, 0, month=2), at(4, 0))
    assert previous_start(Period.MONTH, start, "UTC") == at(3, 0, month=1)
    assert [p.following() for p in Period] == [
        Period.WEEK,
        Period.MONTH,
        Period.QUARTER,
        Period.TODAY,
    ]
