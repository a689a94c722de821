"""Admin use cases for business calendars and SLA policies (services/sla_admin.py), on SQLite
and PostgreSQL: the text formats (hours, durations, actions), every write auditing what it
changed with one feed event, admin-only writes, and each refusal leaving the database as it
was."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlmodel import select

from itsm_tui.domain.calendar import WorkInterval
from itsm_tui.domain.sla import SlaStage
from itsm_tui.domain.sla_policy import EscalationAction
from itsm_tui.services import incidents, sla_admin, slas
from itsm_tui.services.errors import NotFound, PermissionDenied, ServiceError, ValidationFailed
from itsm_tui.services.sla_admin import (
    CalendarChanges,
    CalendarInput,
    CalendarRecord,
    PolicyChanges,
    PolicyInput,
    PolicyRecord,
)
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database
from itsm_tui.store.models import BusinessCalendarRow, Incident, SlaClockRow, SlaPolicyRow
from tests.conftest import T0, Desk
from tests.service_helpers import make, mark, refused, written

HOUR = 3600
OFFICE = [f"{d} 08:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")]
SHIPPED_ACTIONS = {
    50: ["notify_assignee"],
    75: ["notify_assignee", "notify_supervisors"],
    100: ["notify_assignee", "notify_supervisors"],
}
DEFAULT_PAUSE = ["on_hold: awaiting_caller, awaiting_vendor"]


@pytest.fixture
def sla(desk: Desk) -> Desk:
    """The seeded directory plus the shipped calendars (24x7, Office hours) and P1..P5."""
    assert slas.ensure_defaults(desk.session, desk.clock, "UTC")
    return desk


def add_calendar(desk: Desk, actor: str = "root", **fields: Any) -> CalendarRecord:
    values: dict[str, Any] = {"name": "Support", "zone": "UTC", "hours": ("mon-fri 08:00-17:00",)}
    values.update(fields)
    data = validate(CalendarInput, **values)
    return sla_admin.add_calendar(desk.session, desk[actor], desk.clock, data)


def update_calendar(desk: Desk, name: str, actor: str = "root", **fields: Any) -> CalendarRecord:
    data = validate(CalendarChanges, **fields)
    return sla_admin.update_calendar(desk.session, desk[actor], desk.clock, name, data)


def add_policy(desk: Desk, actor: str = "root", **fields: Any) -> PolicyRecord:
    values: dict[str, Any] = {
        "name": "Email P1",
        "priority": 1,
        "response_seconds": 600,
        "resolution_seconds": 2 * HOUR,
        "calendar": "24x7",
        "service": "Email",
    }
    values.update(fields)
    values = {k: v for k, v in values.items() if v is not None}
    data = validate(PolicyInput, **values)
    return sla_admin.add_policy(desk.session, desk[actor], desk.clock, data)


def update_policy(desk: Desk, name: str, actor: str = "root", **fields: Any) -> PolicyRecord:
    data = validate(PolicyChanges, **fields)
    return sla_admin.update_policy(desk.session, desk[actor], desk.clock, name, data)


def interval(day: int, start: str, end: str) -> WorkInterval:
    return WorkInterval(day, time.fromisoformat(start), time.fromisoformat(end))


# ---------------------------------------------------------------------------- hours


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("mon-fri 08:00-17:00", [interval(d, "08:00", "17:00") for d in range(5)]),
        ("sat 09:00-13:00", [interval(5, "09:00", "13:00")]),
        ("mon,wed 22:00-06:00", [interval(0, "22:00", "06:00"), interval(2, "22:00", "06:00")]),
        ("mon-sun 00:00-12:00", [interval(d, "00:00", "12:00") for d in range(7)]),
        ("  MON - Wed  8:00 - 12:30 ", [interval(d, "08:00", "12:30") for d in range(3)]),
        ("sat-sun,mon 10:00-11:00", [interval(d, "10:00", "11:00") for d in (0, 5, 6)]),
        ("mon,mon 08:00-09:00", [interval(0, "08:00", "09:00")]),
        ("fri 18:00-24:00", [interval(4, "18:00", "00:00")]),
        (
            "tue 08:00-12:00; tue 13:00-17:00; tue 08:00-12:00",
            [interval(1, "08:00", "12:00"), interval(1, "13:00", "17:00")],
        ),
    ],
)
def test_parse_hours(spec: str, expected: list[WorkInterval]) -> None:
    assert sla_admin.parse_hours(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "no hours given; expected DAYS HH:MM-HH:MM"),
        ("garbage", "cannot read hours 'garbage'; expected DAYS HH:MM-HH:MM, e.g. 'mon-fri"),
        ("mon 8-17", "cannot read hours 'mon 8-17'; expected DAYS HH:MM-HH:MM"),
        ("mon 08:00-17:00 daily", "cannot read hours"),
        ("08:00-17:00", "cannot read hours"),
        ("monday 08:00-17:00", "unknown day 'monday'; days are mon, tue, wed, thu, fri, sat, sun"),
        ("fri-mon 08:00-17:00", "day range 'fri-mon' runs backwards.*'fri-sun,mon'"),
        ("sun-tue 08:00-17:00", "write it as 'sun,mon-tue'"),
        ("mon 25:00-26:00", "'25:00' is not a time of day"),
        ("mon 08:60-09:00", "'08:60' is not a time of day"),
        ("mon 24:00-06:00", r"'24:00' is not a time of day \(00:00 to 23:59\)"),
        ("mon 08:00-08:00", "start and end at the same time"),
        ("mon 00:00-24:00", "start and end at the same time"),
        ("mon 08:00-17:00;", "empty entry in hours"),
    ],
)
def test_parse_hours_refuses_with_the_expected_format(spec: str, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        sla_admin.parse_hours(spec)


# ---------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("15m", 900),
        ("4h", 4 * HOUR),
        ("1h30m", 5400),
        ("90s", 90),
        ("2d", 2 * 86_400),
        (" 1d 2h 3m 4s ", 86_400 + 2 * HOUR + 3 * 60 + 4),
        ("2H", 2 * HOUR),
        ("365d", 365 * 86_400),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert sla_admin.parse_duration(text) == seconds
    assert sla_admin.parse_duration(sla_admin.format_duration(seconds)) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "cannot read duration ''; expected days, hours, minutes and seconds"),
        ("15", "cannot read duration '15'; expected .*'15m'"),
        ("1.5h", "cannot read duration"),
        ("30m1h", "cannot read duration"),
        ("1h30", "cannot read duration"),
        ("-5m", "cannot read duration"),
        ("soon", "cannot read duration"),
        ("0m", "duration '0m' must be positive"),
        ("0h0m0s", "must be positive"),
        ("366d", "longer than the longest target allowed"),
    ],
)
def test_parse_duration_refusals(text: str, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        sla_admin.parse_duration(text)


def test_format_duration() -> None:
    assert [sla_admin.format_duration(s) for s in (5400, 900, 90_061, 0)] == [
        "1h30m",
        "15m",
        "1d1h1m1s",
        "0s",
    ]


def test_parse_actions() -> None:
    assert sla_admin.parse_actions(
        "50=notify_assignee; 100 = notify_assignee, set_major;75=none"
    ) == {
        50: (EscalationAction.NOTIFY_ASSIGNEE,),
        100: (EscalationAction.NOTIFY_ASSIGNEE, EscalationAction.SET_MAJOR),
        75: (),
    }
    assert sla_admin.parse_actions("none") == {}
    for bad, message in (
        ("50", "cannot read actions '50'; expected PERCENT=ACTION"),
        ("x=notify_group", "cannot read actions"),
        ("50=page_everyone", "unknown escalation action 'page_everyone'; actions are notify_"),
        ("50=notify_group;50=set_major", "actions for 50% are given twice"),
    ):
        with pytest.raises(ValidationFailed, match=message):
            sla_admin.parse_actions(bad)


# ---------------------------------------------------------------------------- calendars


def test_list_calendars_shows_the_shipped_ones(sla: Desk) -> None:
    assert sla_admin.list_calendars(sla.session) == [
        CalendarRecord(
            name="24x7", zone="UTC", always_on=True, hours=[], holidays=None, extra_dates=[]
        ),
        CalendarRecord(
            name="Office hours",
            zone="UTC",
            always_on=False,
            hours=OFFICE,
            holidays=None,
            extra_dates=[],
        ),
    ]
    assert sla_admin.get_calendar(sla.session, "24x7").always_on


def test_add_calendar_audits_each_field_and_publishes_once(sla: Desk, database: Database) -> None:
    before = mark(database)
    record = add_calendar(
        sla,
        name="London support",
        zone="Europe/London",
        hours=("mon-fri 08:00-17:00", "sat 09:00-13:00"),
        holidays="gb-eng",
        extra_dates=(date(2026, 12, 24), "2026-12-24", date(2026, 8, 3)),
    )
    assert record == CalendarRecord(
        name="London support",
        zone="Europe/London",
        always_on=False,
        hours=[*OFFICE, "sat 09:00-13:00"],
        holidays="GB-ENG",
        extra_dates=["2026-08-03", "2026-12-24"],
    )
    w = written(database, before)
    assert w.fields() == {
        "name": (None, "London support"),
        "zone": (None, "Europe/London"),
        "always_on": (None, "false"),
        "hours": (None, "; ".join([*OFFICE, "sat 09:00-13:00"])),
        "holidays": (None, "GB-ENG"),
        "extra_dates": (None, "2026-08-03, 2026-12-24"),
    }
    with database.session() as s:
        row = s.exec(
            select(BusinessCalendarRow).where(BusinessCalendarRow.name == "London support")
        ).one()
    assert row.intervals[0] == [0, "08:00", "17:00"]
    assert (row.holiday_country, row.holiday_subdivision) == ("GB", "ENG")
    assert all(
        (a.record_type, a.record_id, a.actor_id, a.at) == ("calendar", row.id, sla["root"].id, T0)
        for a in w.audit
    )
    event = w.one_event()
    assert (event.record_type, event.record_id, event.record_number, event.action) == (
        "calendar",
        row.id,
        "London support",
        "create",
    )
    assert event.actor_id == sla["root"].id
    # What was stored is a working calendar: Christmas (public) and the extra dates are off.
    calendar = slas.calendar_of(row)
    noon = {d: datetime(2026, m, d, 12, tzinfo=UTC) for m, d in ((12, 23), (12, 24), (12, 25))}
    assert [calendar.is_working(at) for at in noon.values()] == [True, False, False]
    assert not calendar.is_working(datetime(2026, 8, 3, 12, tzinfo=UTC))
    assert sla_admin.get_calendar(sla.session, "London support") == record


def test_add_24x7_calendar(sla: Desk, database: Database) -> None:
    before = mark(database)
    record = add_calendar(sla, name="NOC", zone="America/New_York", hours=(), always_on=True)
    assert (record.always_on, record.hours, record.holidays) == (True, [], None)
    assert written(database, before).fields() == {
        "name": (None, "NOC"),
        "zone": (None, "America/New_York"),
        "always_on": (None, "true"),
    }
    assert [c.name for c in sla_admin.list_calendars(sla.session)] == [
        "24x7",
        "NOC",
        "Office hours",
    ]


def mondays(count: int) -> tuple[date, ...]:
    first = date(2026, 3, 2)
    return tuple(first + timedelta(weeks=n) for n in range(count))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "Office hours"}, "calendar 'Office hours' already exists"),
        ({"hours": ()}, "a calendar needs working time"),
        ({"zone": "Mars/Olympus_Mons"}, "unknown time zone 'Mars/Olympus_Mons'"),
        ({"zone": ""}, "a time zone may not be empty"),
        ({"holidays": "XX"}, "unknown holiday country 'XX'; known: .*GB.*US"),
        ({"holidays": "GB-XYZ"}, "unknown subdivision 'XYZ' for GB; known: ENG, NIR, SCT, WLS"),
        ({"holidays": "BR-São Paulo Capital"}, "longer than the 16 characters"),
        ({"always_on": True}, "give hours or always_on, not both"),
        ({"hours": ("weekdays 9 to 5",)}, r"hours\.0: cannot read hours .* DAYS HH:MM-HH:MM"),
        ({"hours": ("fri-mon 08:00-17:00",)}, "runs backwards"),
        # Every working day of the next two years is an extra holiday: no working time left.
        (
            {"hours": ("mon 08:00-17:00",), "extra_dates": mondays(110)},
            "no working time within",
        ),
        ({"colour": "blue"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_add_calendar_refusals_write_nothing(
    sla: Desk, database: Database, fields: dict[str, Any], message: str
) -> None:
    refused(database, ValidationFailed, lambda: add_calendar(sla, **fields), match=message)


def test_unknown_country_lists_the_valid_codes(sla: Desk, database: Database) -> None:
    error = refused(database, ValidationFailed, lambda: add_calendar(sla, holidays="Narnia"))
    message = str(error)
    assert "unknown holiday country 'NARNIA'" in message
    codes = message.split("known: ", 1)[1].split(", ")
    assert {"GB", "US", "DE", "FR", "JP"} <= set(codes)


def test_update_calendar_hours_audits_only_what_changed(sla: Desk, database: Database) -> None:
    before = mark(database)
    record = update_calendar(sla, "Office hours", hours=("mon-thu 08:00-17:00", "fri 08:00-13:00"))
    assert record.hours == [*OFFICE[:4], "fri 08:00-13:00"]
    w = written(database, before)
    assert w.fields() == {
        "hours": ("; ".join(OFFICE), "; ".join([*OFFICE[:4], "fri 08:00-13:00"])),
    }
    event = w.one_event()
    assert (event.record_type, event.record_number, event.action) == (
        "calendar",
        "Office hours",
        "update",
    )
    assert w.audit[0].record_id == event.record_id


def test_update_calendar_holidays_set_and_cleared(sla: Desk, database: Database) -> None:
    before = mark(database)
    assert update_calendar(sla, "Office hours", holidays="us-ca").holidays == "US-CA"
    assert written(database, before).fields() == {"holidays": (None, "US-CA")}
    before = mark(database)
    assert update_calendar(sla, "Office hours", holidays="none").holidays is None
    w = written(database, before)
    assert w.fields() == {"holidays": ("US-CA", None)}
    w.one_event()


def test_update_calendar_zone_and_extra_dates(sla: Desk, database: Database) -> None:
    add_calendar(sla, extra_dates=(date(2026, 5, 1),))
    before = mark(database)
    record = update_calendar(
        sla, "Support", zone="Europe/Paris", extra_dates=(date(2026, 7, 14), date(2026, 5, 8))
    )
    assert (record.zone, record.extra_dates) == ("Europe/Paris", ["2026-05-08", "2026-07-14"])
    assert written(database, before).fields() == {
        "zone": ("UTC", "Europe/Paris"),
        "extra_dates": ("2026-05-01", "2026-05-08, 2026-07-14"),
    }
    assert update_calendar(sla, "Support", extra_dates=()).extra_dates == []


def test_update_calendar_between_hours_and_24x7(sla: Desk, database: Database) -> None:
    before = mark(database)
    record = update_calendar(sla, "Office hours", always_on=True)
    assert (record.always_on, record.hours) == (True, [])
    assert written(database, before).fields() == {
        "always_on": ("false", "true"),
        "hours": ("; ".join(OFFICE), None),
    }
    before = mark(database)
    record = update_calendar(sla, "24x7", hours=("mon-sun 06:00-22:00",))
    assert record.always_on is False
    assert len(record.hours) == 7
    assert set(written(database, before).fields()) == {"always_on", "hours"}


@pytest.mark.parametrize(
    ("name", "fields", "error", "message"),
    [
        ("Nowhere", {"zone": "UTC"}, NotFound, "no calendar 'Nowhere'; list calendars with"),
        ("Office hours", {}, ValidationFailed, "nothing to change"),
        ("Office hours", {"zone": "UTC"}, ValidationFailed, "already has these settings"),
        (
            "Office hours",
            {"hours": ("mon-fri 08:00-17:00",)},
            ValidationFailed,
            "already has these settings",
        ),
        ("Office hours", {"hours": ()}, ValidationFailed, "needs working time"),
        ("24x7", {"always_on": False}, ValidationFailed, "needs working time"),
        ("Office hours", {"zone": "Nowhere/City"}, ValidationFailed, "unknown time zone"),
        ("Office hours", {"holidays": "ZZ"}, ValidationFailed, "known: .*GB"),
        (
            "Office hours",
            {"hours": ("mon 08:00-17:00",), "always_on": True},
            ValidationFailed,
            "not both",
        ),
        ("Office hours", {"hours": ("mon 9-5",)}, ValidationFailed, "DAYS HH:MM-HH:MM"),
    ],
)
def test_update_calendar_refusals_write_nothing(
    sla: Desk,
    database: Database,
    name: str,
    fields: dict[str, Any],
    error: type[ServiceError],
    message: str,
) -> None:
    refused(database, error, lambda: update_calendar(sla, name, **fields), match=message)


# ---------------------------------------------------------------------------- policies


def test_list_policies_shows_the_shipped_ones(sla: Desk) -> None:
    records = sla_admin.list_policies(sla.session)
    assert [(p.name, p.priority, p.calendar, p.service) for p in records] == [
        ("P1 critical", 1, "24x7", None),
        ("P2 high", 2, "Office hours", None),
        ("P3 moderate", 3, "Office hours", None),
        ("P4 low", 4, "Office hours", None),
        ("P5 planning", 5, "Office hours", None),
    ]
    assert records[0] == PolicyRecord(
        name="P1 critical",
        priority=1,
        service=None,
        calendar="24x7",
        response_seconds=900,
        resolution_seconds=4 * HOUR,
        warnings=[50, 75, 90],
        actions=SHIPPED_ACTIONS,
        pause=DEFAULT_PAUSE,
        active=True,
    )
    assert sla_admin.get_policy(sla.session, "P3 moderate").response_seconds == 4 * HOUR


def test_add_policy_audits_publishes_and_wins_for_its_service(
    sla: Desk, database: Database
) -> None:
    before = mark(database)
    record = add_policy(sla)
    assert record == PolicyRecord(
        name="Email P1",
        priority=1,
        service="Email",
        calendar="24x7",
        response_seconds=600,
        resolution_seconds=2 * HOUR,
        warnings=[50, 75, 90],
        actions=SHIPPED_ACTIONS,
        pause=DEFAULT_PAUSE,
        active=True,
    )
    w = written(database, before)
    assert w.fields() == {
        "name": (None, "Email P1"),
        "priority": (None, "1"),
        "service": (None, "Email"),
        "calendar": (None, "24x7"),
        "response_seconds": (None, "600"),
        "resolution_seconds": (None, "7200"),
        "warnings": (None, "50, 75, 90"),
        "actions": (
            None,
            "50=notify_assignee; 75=notify_assignee,notify_supervisors; "
            "100=notify_assignee,notify_supervisors",
        ),
        "pause": (None, "on_hold: awaiting_caller, awaiting_vendor"),
        "active": (None, "true"),
    }
    with database.session() as s:
        row = s.exec(select(SlaPolicyRow).where(SlaPolicyRow.name == "Email P1")).one()
    assert all(
        (a.record_type, a.record_id, a.actor_id) == ("sla_policy", row.id, sla["root"].id)
        for a in w.audit
    )
    event = w.one_event()
    assert (event.record_type, event.record_id, event.record_number, event.action) == (
        "sla_policy",
        row.id,
        "Email P1",
        "create",
    )
    # The most specific match wins: a P1 on Email runs on the new policy, others on P1 critical.
    email = make(sla, impact=1, urgency=1, service="Email")
    other = make(sla, impact=1, urgency=1)
    targets = {
        number: {
            (c.kind, c.policy_id, c.target_seconds)
            for c in sla.session.exec(
                select(SlaClockRow).where(SlaClockRow.stage != SlaStage.CANCELLED.value)
            )
            if c.incident_id == incident_id
        }
        for number, incident_id in (
            (email.number, _incident_id(sla, email.number)),
            (other.number, _incident_id(sla, other.number)),
        )
    }
    p1 = sla.session.exec(select(SlaPolicyRow).where(SlaPolicyRow.name == "P1 critical")).one()
    assert targets[email.number] == {("response", row.id, 600), ("resolution", row.id, 7200)}
    assert targets[other.number] == {("response", p1.id, 900), ("resolution", p1.id, 4 * HOUR)}


def _incident_id(desk: Desk, number: str) -> int:
    incident = desk.session.exec(select(Incident).where(Incident.number == number)).one()
    assert incident.id is not None
    return incident.id


def test_add_policy_with_own_thresholds_actions_and_pauses(sla: Desk, database: Database) -> None:
    before = mark(database)
    record = add_policy(
        sla,
        name="VPN P2",
        priority=2,
        service="VPN",
        calendar="Office hours",
        response_seconds=sla_admin.parse_duration("20m"),
        resolution_seconds=sla_admin.parse_duration("6h"),
        warnings=(90, 60, 60),
        actions=sla_admin.parse_actions("60=notify_group; 100=set_major,notify_supervisors"),
        pause_reasons=(),
        active=False,
    )
    assert (record.warnings, record.actions, record.pause, record.active) == (
        [60, 90],
        {60: ["notify_group"], 100: ["set_major", "notify_supervisors"]},
        [],
        False,
    )
    fields = written(database, before).fields()
    assert fields["actions"] == (None, "60=notify_group; 100=set_major,notify_supervisors")
    assert fields["active"] == (None, "false")
    assert "pause" not in fields  # None -> None is no change


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "P1 critical", "service": None}, "SLA policy 'P1 critical' already exists"),
        ({"calendar": "Lunar"}, "unknown calendar 'Lunar'; list calendars with"),
        ({"service": "Fax"}, "unknown service 'Fax'; list services with"),
        (
            {"priority": 2, "service": None, "calendar": "Office hours"},
            "active SLA policy 'P2 high' already covers P2 for every service; the most "
            "specific match wins",
        ),
        ({"response_seconds": 0}, "response_seconds: a target must be positive"),
        ({"resolution_seconds": -60}, "resolution_seconds: a target must be positive"),
        ({"resolution_seconds": 400 * 86_400}, "longer than the longest target allowed"),
        ({"priority": 6}, "priority must be 1 to 5"),
        ({"priority": 0}, "priority must be 1 to 5"),
        ({"warnings": (0, 50)}, "warning thresholds are percentages from 1 to 99"),
        ({"warnings": (50, 100)}, "warning thresholds are percentages from 1 to 99"),
        # The shipped actions sit at 50% and 75%: dropping those thresholds needs new actions.
        ({"warnings": (60, 80)}, r"shipped escalation actions include .*\(50%, 75%\)"),
        (
            {"warnings": (50,), "actions": {75: ("notify_group",)}},
            r"the actions given include thresholds that are not warnings \(75%\)",
        ),
        ({"actions": {150: ("notify_group",)}}, "threshold from 1 to 100 percent"),
        ({"actions": {50: ("page_everyone",)}}, "actions.50.0: Input should be"),
        ({"pause_reasons": ("coffee",)}, "pause_reasons.0: Input should be"),
        ({"name": ""}, "name: may not be empty"),
    ],
)
def test_add_policy_refusals_write_nothing(
    sla: Desk, database: Database, fields: dict[str, Any], message: str
) -> None:
    refused(database, ValidationFailed, lambda: add_policy(sla, **fields), match=message)


def test_an_inactive_policy_may_share_priority_and_service(sla: Desk, database: Database) -> None:
    """A draft beside the active P2 policy is stored, but P2 incidents keep running on the
    active one (though 'P2 draft' would win the name tie-break), and it cannot be switched
    on while the active one covers the same priority and service."""
    record = add_policy(sla, name="P2 draft", priority=2, service=None, active=False)
    assert (record.priority, record.service, record.active) == (2, None, False)
    both = {p.name: p.active for p in sla_admin.list_policies(sla.session) if p.priority == 2}
    assert both == {"P2 draft": False, "P2 high": True}
    number = make(sla, impact=1, urgency=2).number
    assert incidents.get_incident(sla.session, number).priority == 2
    detail = incidents.incident_detail(sla.session, number, now=sla.clock.now())
    assert {(c.kind, c.policy) for c in detail.sla} == {
        ("response", "P2 high"),
        ("resolution", "P2 high"),
    }
    refused(
        database,
        ValidationFailed,
        lambda: update_policy(sla, "P2 draft", active=True),
        match="active SLA policy 'P2 high' already covers P2 for every service",
    )


def test_update_policy_targets_audit_only_what_changed(sla: Desk, database: Database) -> None:
    before = mark(database)
    record = update_policy(sla, "P2 high", response_seconds=20 * 60, calendar="24x7")
    assert (record.response_seconds, record.resolution_seconds, record.calendar) == (
        1200,
        8 * HOUR,
        "24x7",
    )
    w = written(database, before)
    assert w.fields() == {
        "response_seconds": ("1800", "1200"),
        "calendar": ("Office hours", "24x7"),
    }
    event = w.one_event()
    assert (event.record_type, event.record_number, event.action) == (
        "sla_policy",
        "P2 high",
        "update",
    )
    with database.session() as s:
        row = s.exec(select(SlaPolicyRow).where(SlaPolicyRow.name == "P2 high")).one()
        calendar = s.get(BusinessCalendarRow, row.calendar_id)
    assert calendar is not None and calendar.name == "24x7"
    assert sla_admin.get_policy(sla.session, "P2 high") == record


def test_update_policy_warnings_actions_and_pauses(sla: Desk, database: Database) -> None:
    before = mark(database)
    record = update_policy(
        sla,
        "P3 moderate",
        warnings=(25, 50, 75, 90),
        actions={25: ("notify_group",), **{p: tuple(a) for p, a in SHIPPED_ACTIONS.items()}},
        pause_reasons=("awaiting_vendor", "awaiting_change"),
    )
    assert record.warnings == [25, 50, 75, 90]
    assert record.actions == {25: ["notify_group"], **SHIPPED_ACTIONS}
    assert record.pause == ["on_hold: awaiting_change, awaiting_vendor"]
    assert set(written(database, before).fields()) == {"warnings", "actions", "pause"}
    # New warnings that keep every threshold with actions need no new actions.
    assert update_policy(sla, "P3 moderate", warnings=(25, 50, 75)).warnings == [25, 50, 75]


def test_deactivate_then_replace_then_reactivation_clashes(sla: Desk, database: Database) -> None:
    before = mark(database)
    assert update_policy(sla, "P2 high", active=False).active is False
    assert written(database, before).fields() == {"active": ("true", "false")}
    add_policy(sla, name="P2 new", priority=2, service=None, calendar="Office hours")
    refused(
        database,
        ValidationFailed,
        lambda: update_policy(sla, "P2 high", active=True),
        match="active SLA policy 'P2 new' already covers P2 for every service",
    )
    # An inactive policy may be edited while the replacement runs.
    assert update_policy(sla, "P2 high", response_seconds=600).response_seconds == 600


@pytest.mark.parametrize(
    ("name", "fields", "error", "message"),
    [
        ("P9", {"active": False}, NotFound, "no SLA policy 'P9'; list policies with"),
        ("P1 critical", {}, ValidationFailed, "nothing to change"),
        ("P1 critical", {"response_seconds": 900}, ValidationFailed, "already has these"),
        ("P1 critical", {"active": True}, ValidationFailed, "already has these settings"),
        ("P1 critical", {"calendar": "Lunar"}, ValidationFailed, "unknown calendar 'Lunar'"),
        ("P1 critical", {"response_seconds": 0}, ValidationFailed, "must be positive"),
        ("P1 critical", {"warnings": (100,)}, ValidationFailed, "from 1 to 99"),
        (
            "P1 critical",
            {"warnings": (50, 90)},
            ValidationFailed,
            r"the policy's escalation actions include .*\(75%\)",
        ),
    ],
)
def test_update_policy_refusals_write_nothing(
    sla: Desk,
    database: Database,
    name: str,
    fields: dict[str, Any],
    error: type[ServiceError],
    message: str,
) -> None:
    refused(database, error, lambda: update_policy(sla, name, **fields), match=message)


# ---------------------------------------------------------------------------- admin only


@pytest.mark.parametrize("username", ["sue", "alice", "carl", "vic"])
def test_only_admins_change_calendars_and_policies(
    sla: Desk, database: Database, username: str
) -> None:
    writes: dict[str, Callable[[], object]] = {
        "adding calendars": lambda: add_calendar(sla, actor=username),
        "changing calendars": lambda: update_calendar(
            sla, "Office hours", actor=username, zone="Europe/London"
        ),
        "adding SLA policies": lambda: add_policy(sla, actor=username),
        "changing SLA policies": lambda: update_policy(
            sla, "P1 critical", actor=username, response_seconds=60
        ),
    }
    role = sla[username].role
    for what, call in writes.items():
        refused(
            database,
            PermissionDenied,
            call,
            match=f"{what} needs the admin role; '{username}' is {role}",
        )
