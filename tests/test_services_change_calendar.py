"""The change calendar's read: local-day bucketing across midnight, zones and DST, the grid
spans, and on both engines the period's changes, freezes, conflict flags and filters."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from itsm_tui.domain.enums import ChangeState
from itsm_tui.services import change_calendar as cal
from itsm_tui.services import changes, freeze_windows
from itsm_tui.services.validation import validate
from tests.conftest import Desk

PLANS = {"implementation_plan": "do", "backout_plan": "undo", "test_plan": "check"}


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def test_a_window_touches_the_local_days_it_overlaps() -> None:
    late = (_at(3, 23), _at(4, 1))  # 23:00-01:00 UTC
    assert cal.local_days(*late, "UTC") == [date(2026, 3, 3), date(2026, 3, 4)]
    assert cal.local_days(*late, "Europe/Berlin") == [date(2026, 3, 4)]  # 00:00-02:00 CET
    assert cal.local_days(*late, "America/New_York") == [date(2026, 3, 3)]  # 18:00-20:00
    # Half-open: ending exactly at local midnight does not touch the next day.
    assert cal.local_days(_at(3, 22), _at(3, 23), "Europe/Berlin") == [date(2026, 3, 3)]
    assert cal.local_days(_at(2, 9), _at(5, 9), "UTC") == [date(2026, 3, d) for d in (2, 3, 4, 5)]


def test_spans_are_local_midnights_whole_weeks_and_clamped_months() -> None:
    spring = cal.day_window(date(2026, 3, 29), date(2026, 3, 29), "Europe/Berlin")
    assert (spring.start, spring.duration) == (_at(28, 23), timedelta(hours=23))  # DST day
    assert cal.month_span(date(2026, 3, 17)) == (date(2026, 2, 23), date(2026, 4, 5))
    assert cal.week_span(date(2026, 3, 8)) == (date(2026, 3, 2), date(2026, 3, 8))
    assert cal.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert cal.add_months(date(2026, 1, 15), -1) == date(2025, 12, 15)
    with pytest.raises(Exception, match="unknown time zone"):
        cal.day_window(date(2026, 3, 1), date(2026, 3, 2), "Mars/Olympus")


def _change(
    desk: Desk,
    start: datetime,
    hours: float,
    *,
    user: str = "alice",
    schedule: bool = False,
    **fields: object,
) -> str:
    values: dict[str, object] = {
        "title": "Patch mail-01",
        "change_type": "standard",
        "cis": ("mail-01",),
        "planned_start": start,
        "planned_end": start + timedelta(hours=hours),
        **PLANS,
    } | fields
    raiser = user
    if values["change_type"] == "standard":  # a change manager raises it, `user` books it
        raiser, values = "carl", {"assignee": user} | values
    data = validate(changes.ChangeCreate, **values)
    number = changes.create_change(desk.session, desk[raiser], desk.clock, data).number
    if schedule:
        move = validate(changes.ChangeMove, state="scheduled")
        changes.move_change(desk.session, desk[user], desk.clock, number, move)
    return number


def test_a_period_lists_changes_by_day_with_freezes_and_conflicts(desk: Desk) -> None:
    booked = _change(desk, _at(3, 22), 4, schedule=True)  # 3 Mar 22:00 - 4 Mar 02:00
    clash = _change(desk, _at(4, 1), 2, user="bob")  # same CI, overlaps the booked one
    vpn = _change(desk, _at(6, 10), 1, cis=("vpn-gw-01",), group="Network")
    _change(desk, _at(20, 10), 1)  # another week
    urgent = _change(
        desk,
        _at(7, 8),
        1,
        cis=("vpn-gw-01",),
        change_type="emergency",
        freeze_justification="exploit in the wild",
    )
    freeze = validate(
        freeze_windows.FreezeCreate,
        name="Quarter close",
        starts_at=_at(6, 0),
        ends_at=_at(7, 12),
        reason="finance",
    )
    freeze_windows.add_freeze(desk.session, desk["carl"], desk.clock, freeze)

    week = cal.load_period(desk.session, date(2026, 3, 2), date(2026, 3, 8), "UTC")
    assert [c.number for c in week.changes] == [booked, clash, vpn, urgent]
    assert [c.number for c in week.changes_on(date(2026, 3, 4))] == [booked, clash]
    assert week.changes_on(date(2026, 3, 5)) == ()
    flags = {c.number: [k.kind.value for k in c.conflicts] for c in week.changes}
    # The booked one holds its window; the newcomer clashes with it; the VPN change sits in
    # the freeze, which a justified emergency may run through.
    assert flags == {booked: [], clash: ["same_ci"], vpn: ["freeze"], urgent: []}
    assert [(f.name, f.days) for f in week.freezes] == [
        ("Quarter close", (date(2026, 3, 6), date(2026, 3, 7)))
    ]
    assert [f.name for f in week.freezes_on(date(2026, 3, 7))] == ["Quarter close"]
    assert week.freezes_on(date(2026, 3, 8)) == ()

    # The same instants in New York: the booked change is on the 3rd only (17:00-21:00).
    ny = cal.load_period(desk.session, date(2026, 3, 2), date(2026, 3, 8), "America/New_York")
    assert [c.number for c in ny.changes_on(date(2026, 3, 3))] == [booked, clash]
    assert ny.changes_on(date(2026, 3, 4)) == ()

    by_group = cal.load_period(
        desk.session, date(2026, 3, 2), date(2026, 3, 8), "UTC", cal.CalendarFilter(group="Network")
    )
    assert [c.number for c in by_group.changes] == [vpn]  # the emergency has no group
    assert by_group.changes[0].conflicted  # the freeze still applies under a filter
    by_service = cal.CalendarFilter(service="Email", states=(ChangeState.NEW,))
    assert by_service.chips() == ["service: Email", "state: new"]
    narrowed = cal.load_period(desk.session, date(2026, 3, 2), date(2026, 3, 8), "UTC", by_service)
    # The filtered-out booked change still makes the new one clash.
    assert [(c.number, c.conflicted) for c in narrowed.changes] == [(clash, True)]
