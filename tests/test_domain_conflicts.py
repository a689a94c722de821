"""Change conflicts: windows, clashes between changes, freezes, maintenance windows, properties.

Every expected instant below was worked out by hand from the zone facts, never by asking the
module a second way. Zone facts used (2026):

- Europe/London: GMT (UTC+0) until Sun 29 Mar 01:00 GMT -> 02:00 BST (UTC+1), so local
  01:00-01:59 that night does not exist; BST until Sun 25 Oct 02:00 BST -> 01:00 GMT, so local
  01:00-01:59 happens twice.
- America/New_York: EST (UTC-5) until Sun 8 Mar 02:00 EST -> 03:00 EDT (UTC-4).
- Mon 2 Mar 2026; Sat 7 Mar; Tue 3 and 10 Mar; Sun 22 and 29 Mar, 5 Apr, 25 Oct.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from itsm_tui.domain.conflicts import (
    BOOKED_STATES,
    Conflict,
    ConflictKind,
    FreezeWindow,
    MaintenanceWindow,
    PlannedChange,
    Window,
    blocking,
    find_conflicts,
    freeze_exempt,
    unexcused,
)
from itsm_tui.domain.enums import ChangeState, ChangeType

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
K = ConflictKind


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


def w(start: datetime, end: datetime) -> Window:
    return Window(start, end)


def hours(a: float, b: float, day: int = 2) -> Window:
    """A window on Monday 2 March 2026 (or another March day), from hour a to hour b UTC."""
    base = utc(2026, 3, day)
    return Window(base + timedelta(hours=a), base + timedelta(hours=b))


def change(
    number: str = "CHG0000001",
    window: Window | None = None,
    *,
    state: str = "scheduled",
    service: str | None = None,
    cis: frozenset[str] | set[str] = frozenset(),
    assignee: str | None = None,
) -> PlannedChange:
    return PlannedChange(
        number=number,
        window=window or hours(10, 12),
        state=state,
        service=service,
        cis=frozenset(cis),
        assignee=assignee,
    )


def kinds(conflicts: list[Conflict]) -> list[tuple[ConflictKind, str | None]]:
    return [(c.kind, c.with_record) for c in conflicts]


def check(
    subject: PlannedChange,
    others: Sequence[PlannedChange] = (),
    freezes: Sequence[FreezeWindow] = (),
    maintenance: dict[str, list[MaintenanceWindow]] | None = None,
) -> list[Conflict]:
    return find_conflicts(subject, others, freezes, maintenance or {})


# ---------------------------------------------------------------------------- windows

WINDOW_CASES = [
    # (a, b, overlap or None): hours on the same day
    pytest.param(hours(10, 12), hours(11, 13), hours(11, 12), id="overlapping"),
    pytest.param(hours(11, 13), hours(10, 12), hours(11, 12), id="overlapping-reversed"),
    pytest.param(hours(10, 12), hours(12, 14), None, id="adjacent-after"),
    pytest.param(hours(12, 14), hours(10, 12), None, id="adjacent-before"),
    pytest.param(hours(9, 17), hours(10, 11), hours(10, 11), id="nested"),
    pytest.param(hours(10, 11), hours(9, 17), hours(10, 11), id="nesting"),
    pytest.param(hours(9, 17), hours(9, 10), hours(9, 10), id="nested-same-start"),
    pytest.param(hours(9, 17), hours(16, 17), hours(16, 17), id="nested-same-end"),
    pytest.param(hours(10, 12), hours(10, 12), hours(10, 12), id="identical"),
    pytest.param(hours(10, 12), hours(13, 14), None, id="disjoint"),
    pytest.param(hours(10, 12), hours(10, 12, day=3), None, id="disjoint-next-day"),
    pytest.param(
        hours(23, 25), hours(0, 2, day=3), hours(0, 1, day=3), id="overlapping-across-midnight"
    ),
    pytest.param(
        hours(10, 12),
        w(datetime(2026, 3, 2, 11, 0, tzinfo=LONDON), datetime(2026, 3, 2, 9, 0, tzinfo=NEW_YORK)),
        hours(11, 12),
        id="other-zones",  # London is UTC+0 in March before the 29th; 09:00 EST is 14:00 UTC
    ),
    pytest.param(
        hours(10, 12),
        w(datetime(2026, 3, 2, 7, 0, tzinfo=NEW_YORK), datetime(2026, 3, 2, 9, tzinfo=NEW_YORK)),
        None,
        id="other-zone-adjacent",  # 07:00 EST is 12:00 UTC
    ),
]


@pytest.mark.parametrize(("a", "b", "expected"), WINDOW_CASES)
def test_overlap_table(a: Window, b: Window, expected: Window | None) -> None:
    assert a.overlap(b) == expected
    assert a.overlaps(b) is (expected is not None)


def test_windows_are_held_in_utc() -> None:
    local = w(datetime(2026, 7, 1, 10, tzinfo=LONDON), datetime(2026, 7, 1, 12, tzinfo=LONDON))
    assert local == Window(utc(2026, 7, 1, 9), utc(2026, 7, 1, 11))  # BST
    assert local.start.tzinfo is UTC
    assert local.duration == timedelta(hours=2)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param(datetime(2026, 3, 2, 10), utc(2026, 3, 2, 12), id="naive-start"),
        pytest.param(utc(2026, 3, 2, 10), datetime(2026, 3, 2, 12), id="naive-end"),
        pytest.param(datetime(2026, 3, 2, 10), datetime(2026, 3, 2, 12), id="both-naive"),
        pytest.param(utc(2026, 3, 2, 12), utc(2026, 3, 2, 12), id="empty"),
        pytest.param(utc(2026, 3, 2, 12), utc(2026, 3, 2, 10), id="backwards"),
        pytest.param(
            datetime(2026, 3, 2, 12, tzinfo=LONDON),
            datetime(2026, 3, 2, 7, tzinfo=NEW_YORK),
            id="same-instant-other-zones",  # 07:00 EST == 12:00 GMT
        ),
    ],
)
def test_bad_windows_are_refused(start: datetime, end: datetime) -> None:
    with pytest.raises(ValueError):
        Window(start, end)


def test_describe() -> None:
    assert hours(10, 12).describe() == "2026-03-02 10:00 to 12:00 UTC"
    assert hours(22, 26).describe() == "2026-03-02 22:00 to 2026-03-03 02:00 UTC"
    odd = Window(utc(2026, 3, 2, 10), utc(2026, 3, 2, 10) + timedelta(seconds=90))
    assert odd.describe() == "2026-03-02 10:00:00 to 10:01:30 UTC"


# ---------------------------------------------------------------------------- change clashes


def test_same_ci_detail_sentence() -> None:
    subject = change("CHG0000001", hours(11, 13), cis={"mail-01"})
    other = change("CHG0000003", hours(10, 12), cis={"mail-01", "mail-02"})
    assert check(subject, [other]) == [
        Conflict(
            kind=K.SAME_CI,
            with_record="CHG0000003",
            window=hours(11, 12),
            detail="CHG0000003 is booked on mail-01 from 2026-03-02 10:00 to 12:00 UTC",
        )
    ]


def test_same_ci_lists_every_shared_ci_once() -> None:
    subject = change(cis={"db-02", "db-01", "web-01"})
    other = change("CHG0000002", cis={"db-01", "db-02", "lb-01"})
    [conflict] = check(subject, [other])
    assert conflict.kind is K.SAME_CI
    assert "db-01, db-02" in conflict.detail
    assert "web-01" not in conflict.detail and "lb-01" not in conflict.detail


@pytest.mark.parametrize(
    ("mine", "theirs", "expected"),
    [
        pytest.param(("Email", {"mail-01"}), ("Email", {"mail-01"}), [K.SAME_CI], id="ci-wins"),
        pytest.param(("Email", {"mail-01"}), ("CRM", {"mail-01"}), [K.SAME_CI], id="ci-only"),
        pytest.param(
            ("Email", {"mail-01"}), ("Email", {"mail-02"}), [K.SAME_SERVICE], id="service-only"
        ),
        pytest.param(("Email", set()), ("Email", set()), [K.SAME_SERVICE], id="service-no-cis"),
        pytest.param(("Email", {"mail-01"}), ("CRM", {"crm-01"}), [], id="unrelated"),
        pytest.param((None, {"mail-01"}), (None, {"mail-02"}), [], id="no-services"),
        pytest.param((None, set()), ("Email", set()), [], id="one-service-missing"),
    ],
)
def test_same_ci_takes_precedence_over_same_service(
    mine: tuple[str | None, set[str]],
    theirs: tuple[str | None, set[str]],
    expected: list[ConflictKind],
) -> None:
    subject = change("CHG0000001", hours(10, 12), service=mine[0], cis=mine[1])
    other = change("CHG0000002", hours(11, 12), service=theirs[0], cis=theirs[1])
    conflicts = check(subject, [other])
    assert [c.kind for c in conflicts] == expected
    assert all(c.with_record == "CHG0000002" and c.window == hours(11, 12) for c in conflicts)


def test_same_service_sentence() -> None:
    subject = change(service="Email", cis={"mail-01"})
    [conflict] = check(subject, [change("CHG0000002", service="Email", cis={"mail-02"})])
    assert conflict.detail == (
        "CHG0000002 is booked on service Email from 2026-03-02 10:00 to 12:00 UTC"
    )


@pytest.mark.parametrize(
    "other_window",
    [
        pytest.param(hours(12, 14), id="adjacent-after"),
        pytest.param(hours(8, 10), id="adjacent-before"),
        pytest.param(hours(13, 14), id="disjoint"),
    ],
)
def test_changes_that_do_not_overlap_never_clash(other_window: Window) -> None:
    subject = change(window=hours(10, 12), service="Email", cis={"mail-01"}, assignee="alice")
    other = change("CHG0000002", other_window, service="Email", cis={"mail-01"}, assignee="alice")
    assert check(subject, [other]) == []


@pytest.mark.parametrize(
    "state",
    [
        *[s for s in ChangeState if s.value not in BOOKED_STATES],
        "new",
        "assess",
        "authorize",
        "review",
        "closed",
        "cancelled",
    ],
)
def test_changes_not_booked_never_clash(state: str) -> None:
    subject = change(service="Email", cis={"mail-01"}, assignee="alice")
    other = change("CHG0000002", state=state, service="Email", cis={"mail-01"}, assignee="alice")
    assert not other.booked
    assert check(subject, [other]) == []


@pytest.mark.parametrize("state", ["scheduled", "implement", *[ChangeState.SCHEDULED]])
def test_booked_states_clash(state: str) -> None:
    other = change("CHG0000002", state=state, cis={"mail-01"})
    assert other.booked
    assert kinds(check(change(cis={"mail-01"}), [other])) == [(K.SAME_CI, "CHG0000002")]


def test_booked_states_are_the_change_states() -> None:
    assert {ChangeState.SCHEDULED, ChangeState.IMPLEMENT} == BOOKED_STATES


@pytest.mark.parametrize("own_state", ["new", "authorize", "scheduled", "cancelled"])
def test_the_change_being_checked_counts_whatever_its_state(own_state: str) -> None:
    subject = change(state=own_state, cis={"mail-01"})
    other = change("CHG0000002", cis={"mail-01"})
    assert kinds(check(subject, [other])) == [(K.SAME_CI, "CHG0000002")]


def test_the_change_never_clashes_with_itself() -> None:
    subject = change("CHG0000001", service="Email", cis={"mail-01"}, assignee="alice")
    stored = change("CHG0000001", hours(11, 13), service="Email", cis={"mail-01"}, assignee="alice")
    assert check(subject, [subject, stored]) == []


def test_assignee_double_booking() -> None:
    subject = change(cis={"mail-01"}, assignee="alice")
    others = [
        change("CHG0000002", hours(11, 15), cis={"crm-01"}, assignee="alice"),
        change("CHG0000003", hours(11, 13), cis={"web-01"}, assignee="bob"),
        change("CHG0000004", hours(9, 10), assignee="alice"),  # earlier: no overlap
        change("CHG0000005", hours(10, 11), assignee=None),
    ]
    conflicts = check(subject, others)
    assert kinds(conflicts) == [(K.ASSIGNEE_BOOKED, "CHG0000002")]
    assert conflicts[0].window == hours(11, 12)
    assert conflicts[0].detail == (
        "alice is already assigned to CHG0000002 from 2026-03-02 11:00 to 15:00 UTC"
    )


def test_no_assignee_is_never_double_booked() -> None:
    subject = change(assignee=None)
    assert check(subject, [change("CHG0000002", assignee=None)]) == []


def test_same_ci_and_same_assignee_are_two_conflicts() -> None:
    subject = change(cis={"mail-01"}, assignee="alice")
    other = change("CHG0000002", cis={"mail-01"}, assignee="alice")
    assert kinds(check(subject, [other])) == [
        (K.SAME_CI, "CHG0000002"),
        (K.ASSIGNEE_BOOKED, "CHG0000002"),
    ]


# ---------------------------------------------------------------------------- freezes

GLOBAL_FREEZE = FreezeWindow("Quarter end", hours(11, 20), None, "finance close")
EMAIL_FREEZE = FreezeWindow("Mail migration", hours(8, 10.5), "Email", "vendor cut-over")
CRM_FREEZE = FreezeWindow("CRM release", hours(0, 24), "CRM", "release week")
LATER_FREEZE = FreezeWindow("Later", hours(12, 13), None, "")  # adjacent to the change


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        pytest.param(
            "Email",
            [
                (K.FREEZE, "Mail migration", hours(10, 10.5)),
                (K.FREEZE, "Quarter end", hours(11, 12)),
            ],
            id="global-and-own-service",
        ),
        pytest.param(
            "CRM",
            [(K.FREEZE, "CRM release", hours(10, 12)), (K.FREEZE, "Quarter end", hours(11, 12))],
            id="crm",
        ),
        pytest.param("Web", [(K.FREEZE, "Quarter end", hours(11, 12))], id="global-only"),
        pytest.param(None, [(K.FREEZE, "Quarter end", hours(11, 12))], id="no-service"),
    ],
)
def test_freeze_windows(
    service: str | None, expected: list[tuple[ConflictKind, str, Window]]
) -> None:
    subject = change(window=hours(10, 12), service=service)
    freezes = [LATER_FREEZE, GLOBAL_FREEZE, CRM_FREEZE, EMAIL_FREEZE]
    conflicts = check(subject, freezes=freezes)
    assert [(c.kind, c.with_record, c.window) for c in conflicts] == expected


def test_freeze_sentence() -> None:
    [conflict] = check(change(service="Web"), freezes=[GLOBAL_FREEZE])
    assert conflict.detail == (
        "freeze 'Quarter end' (global) from 2026-03-02 11:00 to 20:00 UTC: finance close"
    )
    [conflict] = check(change(service="Email"), freezes=[EMAIL_FREEZE])
    assert conflict.detail == (
        "freeze 'Mail migration' (on service Email) from 2026-03-02 08:00 to 10:30 UTC: "
        "vendor cut-over"
    )


# ---------------------------------------------------------------------------- maintenance

SAT_NIGHT = MaintenanceWindow("mail-01", 5, time(22), time(2), "UTC")  # crosses midnight
LONDON_SUNDAY = MaintenanceWindow("mail-01", 6, time(1), time(3), "Europe/London")
NY_TUESDAY = MaintenanceWindow("mail-01", 1, time(20), time(23), "America/New_York")


def outside(mw: MaintenanceWindow | list[MaintenanceWindow], window: Window) -> bool:
    windows = mw if isinstance(mw, list) else [mw]
    conflicts = check(change(window=window, cis={"mail-01"}), maintenance={"mail-01": windows})
    assert all(c.kind is K.OUTSIDE_MAINTENANCE and c.with_record == "mail-01" for c in conflicts)
    return bool(conflicts)


@pytest.mark.parametrize(
    ("window", "is_outside"),
    [
        pytest.param(w(utc(2026, 3, 7, 22), utc(2026, 3, 8, 2)), False, id="exactly"),
        pytest.param(w(utc(2026, 3, 7, 23), utc(2026, 3, 8, 1, 30)), False, id="across-midnight"),
        pytest.param(w(utc(2026, 3, 8, 0), utc(2026, 3, 8, 1)), False, id="after-midnight"),
        pytest.param(w(utc(2026, 3, 14, 22, 30), utc(2026, 3, 15, 1)), False, id="next-week"),
        pytest.param(w(utc(2026, 3, 7, 21), utc(2026, 3, 7, 23)), True, id="starts-early"),
        pytest.param(w(utc(2026, 3, 8, 1), utc(2026, 3, 8, 2, 30)), True, id="ends-late"),
        pytest.param(w(utc(2026, 3, 8, 22), utc(2026, 3, 9, 1)), True, id="wrong-day"),
        pytest.param(w(utc(2026, 3, 7, 23), utc(2026, 3, 14, 23)), True, id="whole-week"),
    ],
)
def test_maintenance_window_crossing_midnight(window: Window, is_outside: bool) -> None:
    assert outside(SAT_NIGHT, window) is is_outside


def test_a_change_spanning_two_occurrences_is_refused() -> None:
    evening = MaintenanceWindow("mail-01", 5, time(20), time(0), "UTC")  # Sat 20:00-24:00
    night = MaintenanceWindow("mail-01", 6, time(0), time(4), "UTC")  # Sun 00:00-04:00
    straddling = w(utc(2026, 3, 7, 22), utc(2026, 3, 8, 2))
    assert outside([evening, night], straddling)
    assert not outside([evening, night], w(utc(2026, 3, 7, 22), utc(2026, 3, 8, 0)))
    assert not outside([evening, night], w(utc(2026, 3, 8, 0), utc(2026, 3, 8, 2)))
    # Two occurrences of one nightly window, a day apart: not one occurrence either.
    nightly = [MaintenanceWindow("mail-01", d, time(22), time(6), "UTC") for d in range(7)]
    assert outside(nightly, w(utc(2026, 3, 7, 23), utc(2026, 3, 8, 23)))
    assert not outside(nightly, w(utc(2026, 3, 7, 23), utc(2026, 3, 8, 5)))


def test_a_whole_day_window() -> None:
    sunday = MaintenanceWindow("mail-01", 6, time(0), time(0), "UTC")  # end == start: 24 hours
    assert not outside(sunday, w(utc(2026, 3, 8, 0), utc(2026, 3, 9, 0)))
    assert outside(sunday, w(utc(2026, 3, 8, 12), utc(2026, 3, 9, 1)))


@pytest.mark.parametrize(
    ("window", "is_outside"),
    [
        # Sun 22 Mar, GMT: the occurrence is 01:00-03:00 UTC.
        pytest.param(w(utc(2026, 3, 22, 1), utc(2026, 3, 22, 3)), False, id="gmt-whole"),
        pytest.param(w(utc(2026, 3, 22, 0), utc(2026, 3, 22, 2)), True, id="gmt-early"),
        # Sun 29 Mar, the spring-forward night: local 01:00 does not exist and reads as
        # 01:00 GMT; 03:00 BST is 02:00 UTC. The occurrence is 01:00-02:00 UTC, one hour.
        pytest.param(w(utc(2026, 3, 29, 1), utc(2026, 3, 29, 2)), False, id="dst-whole-hour"),
        pytest.param(w(utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 2)), False, id="dst-late-part"),
        pytest.param(w(utc(2026, 3, 29, 1), utc(2026, 3, 29, 3)), True, id="dst-two-hours"),
        pytest.param(w(utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1, 30)), True, id="dst-early"),
        pytest.param(
            w(datetime(2026, 3, 29, 0, 30, tzinfo=LONDON), datetime(2026, 3, 29, 3, tzinfo=LONDON)),
            True,
            id="dst-given-in-london",  # 00:30 GMT to 02:00 UTC: starts before the window
        ),
        pytest.param(
            w(datetime(2026, 3, 29, 2, 30, tzinfo=LONDON), datetime(2026, 3, 29, 3, tzinfo=LONDON)),
            False,
            id="dst-given-in-london-bst",  # 01:30-02:00 UTC
        ),
        # Sun 5 Apr, BST: the occurrence is 00:00-02:00 UTC.
        pytest.param(w(utc(2026, 4, 5, 0), utc(2026, 4, 5, 2)), False, id="bst-whole"),
        pytest.param(w(utc(2026, 4, 5, 1), utc(2026, 4, 5, 3)), True, id="bst-in-gmt-hours"),
        # Sun 25 Oct, fall back: local 01:00 is read as its first (BST) occurrence, 00:00 UTC;
        # 03:00 GMT is 03:00 UTC. The occurrence is 00:00-03:00 UTC, three hours.
        pytest.param(w(utc(2026, 10, 25, 0), utc(2026, 10, 25, 3)), False, id="fall-back-whole"),
        pytest.param(w(utc(2026, 10, 25, 0), utc(2026, 10, 25, 3, 1)), True, id="fall-back-late"),
    ],
)
def test_maintenance_window_across_london_dst(window: Window, is_outside: bool) -> None:
    assert outside(LONDON_SUNDAY, window) is is_outside


@pytest.mark.parametrize(
    ("window", "is_outside"),
    [
        # Tue 3 Mar 20:00-23:00 EST is Wed 4 Mar 01:00-04:00 UTC (another weekday in UTC).
        pytest.param(w(utc(2026, 3, 4, 1, 30), utc(2026, 3, 4, 3)), False, id="est"),
        pytest.param(w(utc(2026, 3, 4, 0, 30), utc(2026, 3, 4, 2)), True, id="est-early"),
        pytest.param(w(utc(2026, 3, 3, 20), utc(2026, 3, 3, 23)), True, id="utc-wall-time"),
        # Tue 10 Mar 20:00-23:00 EDT is Wed 11 Mar 00:00-03:00 UTC.
        pytest.param(w(utc(2026, 3, 11, 0, 30), utc(2026, 3, 11, 2, 30)), False, id="edt"),
        pytest.param(w(utc(2026, 3, 11, 2), utc(2026, 3, 11, 3, 30)), True, id="edt-in-est-hours"),
        pytest.param(
            w(
                datetime(2026, 3, 10, 20, tzinfo=NEW_YORK),
                datetime(2026, 3, 10, 23, tzinfo=NEW_YORK),
            ),
            False,
            id="given-in-new-york",
        ),
    ],
)
def test_maintenance_window_in_another_zone(window: Window, is_outside: bool) -> None:
    assert outside(NY_TUESDAY, window) is is_outside


def test_any_one_of_several_maintenance_windows_will_do() -> None:
    wednesday = MaintenanceWindow("mail-01", 2, time(12), time(14), "UTC")
    windows = [SAT_NIGHT, wednesday]
    assert not outside(windows, w(utc(2026, 3, 4, 12), utc(2026, 3, 4, 13)))
    assert not outside(windows, w(utc(2026, 3, 7, 23), utc(2026, 3, 8, 1)))
    assert outside(windows, w(utc(2026, 3, 4, 13), utc(2026, 3, 4, 15)))


def test_maintenance_is_checked_per_ci() -> None:
    subject = change(window=w(utc(2026, 3, 4, 12), utc(2026, 3, 4, 13)), cis={"a", "b", "c"})
    maintenance = {
        "a": [MaintenanceWindow("a", 2, time(12), time(14))],  # Wednesday: fits
        "b": [MaintenanceWindow("b", 5, time(22), time(2))],  # Saturday: does not
        "c": [],  # no windows: no constraint
        "z": [MaintenanceWindow("z", 0, time(1), time(2))],  # not a CI of the change
    }
    conflicts = check(subject, maintenance=maintenance)
    assert conflicts == [
        Conflict(
            K.OUTSIDE_MAINTENANCE,
            "b",
            None,
            "b may only change inside its maintenance window (Sat 22:00-02:00 UTC); "
            "the change runs 2026-03-04 12:00 to 13:00 UTC",
        )
    ]


def test_maintenance_window_listed_under_the_wrong_ci_is_refused() -> None:
    with pytest.raises(ValueError, match="mail-02"):
        check(
            change(cis={"mail-01"}),
            maintenance={
                "mail-01": [SAT_NIGHT, MaintenanceWindow("mail-02", 5, time(22), time(2))]
            },
        )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"weekday": 7},
        {"weekday": -1},
        {"zone": "Mars/Olympus"},
        {"start": time(1, tzinfo=UTC)},
    ],
)
def test_bad_maintenance_windows_are_refused(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "ci": "mail-01",
        "weekday": 0,
        "start": time(1),
        "end": time(2),
        "zone": "UTC",
    }
    with pytest.raises(ValueError):
        MaintenanceWindow(**(fields | kwargs))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- everything at once


def test_order_is_kind_then_start_then_record() -> None:
    subject = change(
        window=hours(8, 16),
        service="Email",
        cis={"mail-01", "mail-02"},
        assignee="alice",
    )
    others = [
        change("CHG0000009", hours(9, 10), cis={"mail-02"}),
        change("CHG0000005", hours(12, 13), cis={"mail-01"}, assignee="alice"),
        change("CHG0000004", hours(9, 10), cis={"mail-01"}),
        change("CHG0000007", hours(10, 11), service="Email", assignee="alice"),
    ]
    freezes = [GLOBAL_FREEZE, EMAIL_FREEZE]
    maintenance = {"mail-02": [MaintenanceWindow("mail-02", 5, time(22), time(2))]}
    assert kinds(check(subject, others, freezes, maintenance)) == [
        (K.SAME_CI, "CHG0000004"),
        (K.SAME_CI, "CHG0000009"),
        (K.SAME_CI, "CHG0000005"),
        (K.SAME_SERVICE, "CHG0000007"),
        (K.ASSIGNEE_BOOKED, "CHG0000007"),
        (K.ASSIGNEE_BOOKED, "CHG0000005"),
        (K.FREEZE, "Mail migration"),
        (K.FREEZE, "Quarter end"),
        (K.OUTSIDE_MAINTENANCE, "mail-02"),
    ]


def test_blocking() -> None:
    assert blocking([]) is False
    assert blocking(iter([])) is False
    conflict = Conflict(K.FREEZE, "Quarter end", hours(11, 12), "frozen")
    assert blocking([conflict]) is True
    assert blocking(iter([conflict])) is True


def test_planned_change_takes_any_collection_of_cis() -> None:
    planned = PlannedChange("CHG0000001", hours(1, 2), "new", None, ["a", "b", "a"], None)  # type: ignore[arg-type]
    assert planned.cis == frozenset({"a", "b"})
    with pytest.raises(TypeError):
        PlannedChange("CHG0000001", hours(1, 2), "new", None, "mail-01", None)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- properties

PROPERTY_SETTINGS = settings(max_examples=50, deadline=None)
ZONES = st.sampled_from([UTC, LONDON, NEW_YORK, timezone(timedelta(hours=5, minutes=30))])
BASE = utc(2026, 3, 28)  # the London spring-forward weekend sits inside the grid

# Windows on a coarse 15-minute grid over a few days, so overlaps, adjacency, nesting and
# identical windows come up often; plus windows anywhere over a decade, in several zones.
grid_windows = st.builds(
    lambda start, length: Window(
        BASE + timedelta(minutes=15 * start), BASE + timedelta(minutes=15 * (start + length))
    ),
    st.integers(0, 4 * 24 * 3),
    st.integers(1, 4 * 12),
)
wide_windows = st.builds(
    # Add in UTC: adding to a zoned datetime is wall-clock arithmetic, wrong across DST.
    lambda start, length: Window(start, start.astimezone(UTC) + timedelta(seconds=length)),
    st.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1), timezones=ZONES),
    st.integers(1, 60 * 86_400),
)
windows = st.one_of(grid_windows, wide_windows)
deltas = st.timedeltas(timedelta(days=-400), timedelta(days=400))


@PROPERTY_SETTINGS
@given(windows, windows)
def test_overlaps_is_symmetric(a: Window, b: Window) -> None:
    assert a.overlaps(b) == b.overlaps(a)
    assert a.overlap(b) == b.overlap(a)


@PROPERTY_SETTINGS
@given(windows, windows)
def test_overlaps_agrees_with_overlap(a: Window, b: Window) -> None:
    assert a.overlaps(b) == (a.overlap(b) is not None)


@PROPERTY_SETTINGS
@given(windows, windows)
def test_overlap_is_inside_both(a: Window, b: Window) -> None:
    shared = a.overlap(b)
    if shared is not None:
        assert a.contains(shared) and b.contains(shared)
        assert shared.duration <= min(a.duration, b.duration)


@PROPERTY_SETTINGS
@given(windows, st.integers(1, 10**7), ZONES)
def test_adjacent_windows_never_overlap(a: Window, seconds: int, zone: timezone) -> None:
    after = Window(a.end.astimezone(zone), a.end + timedelta(seconds=seconds))
    assert not a.overlaps(after) and not after.overlaps(a)
    assert a.overlap(after) is None


@PROPERTY_SETTINGS
@given(windows, windows, deltas)
def test_shifting_both_windows_keeps_the_answer(a: Window, b: Window, delta: timedelta) -> None:
    moved_a = Window(a.start + delta, a.end + delta)
    moved_b = Window(b.start + delta, b.end + delta)
    assert moved_a.overlaps(moved_b) == a.overlaps(b)
    shared = a.overlap(b)
    expected = None if shared is None else Window(shared.start + delta, shared.end + delta)
    assert moved_a.overlap(moved_b) == expected


NUMBERS = [f"CHG{n:07d}" for n in range(1, 7)]
planned_changes = st.builds(
    PlannedChange,
    number=st.sampled_from(NUMBERS),
    window=grid_windows,
    state=st.sampled_from([s.value for s in ChangeState]),
    service=st.sampled_from([None, "Email", "CRM"]),
    cis=st.frozensets(st.sampled_from(["mail-01", "mail-02", "crm-01"]), max_size=2),
    assignee=st.sampled_from([None, "alice", "bob"]),
)
freeze_windows = st.builds(
    FreezeWindow,
    name=st.sampled_from(["Quarter end", "Mail migration", "Release"]),
    window=grid_windows,
    service=st.sampled_from([None, "Email", "CRM"]),
    reason=st.sampled_from(["", "finance close"]),
)
MAINTENANCE = {
    "mail-01": [SAT_NIGHT, LONDON_SUNDAY],
    "crm-01": [MaintenanceWindow("crm-01", 6, time(0), time(6), "America/New_York")],
}


@PROPERTY_SETTINGS
@given(
    planned_changes,
    st.lists(planned_changes, max_size=8),
    st.lists(freeze_windows, max_size=3),
    st.data(),
)
def test_find_conflicts_ignores_the_order_of_its_inputs(
    subject: PlannedChange,
    others: list[PlannedChange],
    freezes: list[FreezeWindow],
    data: st.DataObject,
) -> None:
    expected = find_conflicts(subject, others, freezes, MAINTENANCE)
    shuffled_others = data.draw(st.permutations(others))
    shuffled_freezes = data.draw(st.permutations(freezes))
    assert find_conflicts(subject, iter(shuffled_others), shuffled_freezes, MAINTENANCE) == expected
    for conflict in expected:
        if conflict.window is not None:
            assert subject.window.contains(conflict.window)
    clashing = {c.with_record for c in expected if c.kind in (K.SAME_CI, K.SAME_SERVICE)}
    assert clashing <= {o.number for o in others if o.booked and o.number != subject.number}


@PROPERTY_SETTINGS
@given(
    st.integers(0, 6),
    st.times(),
    st.times(),
    st.sampled_from(["UTC", "Europe/London", "America/New_York", "Australia/Lord_Howe"]),
    st.dates(date(2024, 1, 1), date(2028, 12, 31)),
)
def test_every_occurrence_is_inside_its_maintenance_window(
    weekday: int, start: time, end: time, zone: str, day: date
) -> None:
    mw = MaintenanceWindow("ci", weekday, start, end, zone)
    for offset in range(7):
        occurrence = mw.occurrence_on(day + timedelta(days=offset))
        if occurrence is not None:
            assert mw.contains(occurrence)
            assert occurrence.duration <= timedelta(hours=25)
            # A change a second longer than the occurrence fits in none.
            longer = Window(occurrence.start, occurrence.end + timedelta(seconds=1))
            assert not mw.contains(longer)


def test_an_emergency_with_a_justification_runs_through_freezes_only() -> None:
    window = Window(datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 2, 10, tzinfo=UTC))
    freeze = Conflict(ConflictKind.FREEZE, "quarter-end", window, "freeze")
    clash = Conflict(ConflictKind.SAME_CI, "CHG0000002", window, "same CI")
    exempt = freeze_exempt(ChangeType.EMERGENCY, "payments down, fix cannot wait")
    assert exempt is True
    assert blocking([freeze], freeze_exempt=exempt) is False
    assert blocking([freeze, clash], freeze_exempt=exempt) is True
    assert unexcused([freeze, clash], freeze_exempt=exempt) == [clash]
    assert freeze_exempt(ChangeType.EMERGENCY, "   ") is False
    assert freeze_exempt(ChangeType.NORMAL, "important") is False
    assert blocking([freeze], freeze_exempt=False) is True


def test_maintenance_windows_are_parsed_as_admins_type_them() -> None:
    window = MaintenanceWindow.parse("mail-01", "sun 02:00-06:00 Europe/London")
    assert (window.weekday, window.start, window.end, window.zone) == (
        6, time(2), time(6), "Europe/London",
    )  # fmt: skip
    assert window.label() == "Sun 02:00-06:00 Europe/London"
    assert MaintenanceWindow.from_row("mail-01", window.as_row()) == window
    assert MaintenanceWindow.parse("x", "Friday 22:00-02:00").overnight is True
    for bad in ("sun", "someday 02:00-06:00", "sun 2-6", "sun 02:00-06:00 Mars/Base", "sun 1 2 3"):
        with pytest.raises(ValueError):
            MaintenanceWindow.parse("x", bad)
