"""Admin use cases for business calendars and SLA policies: list, add, update.

Every write is admin-only, runs in one transaction, validates by building the domain objects
it is about to store (`BusinessCalendar`, `SlaPolicySpec`) so nothing that cannot work is ever
saved, and leaves one audit row per changed field plus one feed event.

Text formats the CLI passes straight through:
- hours: `DAYS HH:MM-HH:MM`, several joined with `;` (`mon-fri 08:00-12:00; mon-fri 13:00-17:00`);
  days are `mon`..`sun`, a range `mon-fri` (no wrapping past Sunday) or a list `mon,wed`; an end
  at or before the start runs overnight; `24:00` is accepted as an end (midnight);
- durations: `15m`, `4h`, `1h30m`, `90s`, `2d` (days, hours, minutes, seconds in that order);
- holidays: a country code of the `holidays` package, optionally with a subdivision (`GB`,
  `GB-ENG`, `US-CA`), or `none`;
- escalation actions: `50=notify_assignee; 75=notify_assignee,notify_supervisors`, or `none`.

Policies are unique per active (priority, service): the most specific match wins, so two active
policies for the same priority and service would make the choice arbitrary.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime, time
from typing import Annotated, Any, cast

import holidays as holiday_data
from pydantic import AfterValidator, model_validator
from sqlalchemy import text
from sqlmodel import Session, col, select

from itsm_tui.clock import Clock
from itsm_tui.domain.calendar import WEEKDAYS, CalendarError, WorkInterval
from itsm_tui.domain.enums import HoldReason, IncidentState, RecordType
from itsm_tui.domain.sla import DEFAULT_WARNINGS
from itsm_tui.domain.sla_policy import (
    DEFAULT_ACTIONS,
    DEFAULT_PAUSE_RULES,
    EscalationAction,
    PauseRule,
    SlaPolicySpec,
    check_reachable,
)
from itsm_tui.services.actors import reload_actor
from itsm_tui.services.directory import require_admin, service_by_name
from itsm_tui.services.errors import NotFound, ValidationFailed
from itsm_tui.services.history import record_write
from itsm_tui.services.records import Record
from itsm_tui.services.slas import calendar_of, policy_row, policy_spec, resync_open_incidents
from itsm_tui.services.tx import transaction
from itsm_tui.services.validation import Input, Name, ShortText
from itsm_tui.store.models import BusinessCalendarRow, Service, SlaPolicyRow, User

DAY = 86_400
MAX_TARGET_SECONDS = 365 * DAY  # longer is surely a typo, and keeps business-time sums quick
NO_HOLIDAYS = "none"
NO_ACTIONS = "none"
BREACH = 100
# Column widths of business_calendars (store/models.py).
ZONE_MAX, COUNTRY_MAX, SUBDIVISION_MAX = 64, 8, 16

HOURS_FORMAT = (
    "DAYS HH:MM-HH:MM, e.g. 'mon-fri 08:00-17:00', 'sat 09:00-13:00' or "
    "'mon,wed 22:00-06:00' (days mon..sun, a range mon-fri or a list mon,wed; an end at or "
    "before the start runs overnight; join several with ';')"
)
DURATION_FORMAT = (
    "days, hours, minutes and seconds in that order, e.g. '15m', '4h', '1h30m', '90s' or '2d'"
)
ACTIONS_FORMAT = (
    "PERCENT=ACTION[,ACTION] joined with ';', e.g. "
    "'50=notify_assignee; 100=notify_assignee,notify_supervisors', or 'none'"
)
DEFAULT_PAUSE_REASONS: tuple[HoldReason, ...] = tuple(
    sorted(DEFAULT_PAUSE_RULES[0].hold_reasons or ())
)


# ---------------------------------------------------------------------------- record types


CALENDAR_RECORD = RecordType.CALENDAR
SLA_POLICY_RECORD = RecordType.SLA_POLICY


# ---------------------------------------------------------------------------- text formats

_TIME = r"\d{1,2}:\d{2}"
_HOURS = re.compile(
    rf"(?P<days>[a-z]+(?:\s*[,-]\s*[a-z]+)*)\s+(?P<start>{_TIME})\s*-\s*(?P<end>{_TIME})",
    re.IGNORECASE,
)
_DURATION = re.compile(
    r"(?:(?P<d>\d{1,9})\s*d)?\s*(?:(?P<h>\d{1,9})\s*h)?\s*"
    r"(?:(?P<m>\d{1,9})\s*m)?\s*(?:(?P<s>\d{1,9})\s*s)?",
    re.IGNORECASE,
)
_UNITS = {"d": DAY, "h": 3600, "m": 60, "s": 1}


def parse_hours(spec: str) -> list[WorkInterval]:
    """Working intervals from `mon-fri 08:00-17:00` (several joined with `;`), sorted and
    without duplicates; anything else is refused with the expected format."""
    try:
        return _intervals(spec)
    except ValueError as error:
        raise ValidationFailed(str(error)) from None


def parse_duration(text: str) -> int:
    """Seconds from `15m`, `4h`, `1h30m`, `90s` or `2d`; positive and at most 365 days."""
    try:
        return _duration(text)
    except ValueError as error:
        raise ValidationFailed(str(error)) from None


def format_duration(seconds: int) -> str:
    """The inverse of `parse_duration` for display: 5400 -> `1h30m`."""
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in _UNITS.items():
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


def parse_actions(spec: str) -> dict[int, tuple[EscalationAction, ...]]:
    """Escalation actions per threshold from `50=notify_assignee; 100=notify_assignee,
    notify_supervisors`; `none` means no actions at all."""
    try:
        return _actions(spec)
    except ValueError as error:
        raise ValidationFailed(str(error)) from None


def _intervals(spec: str) -> list[WorkInterval]:
    pieces = [piece.strip() for piece in spec.split(";")]
    if not any(pieces):
        raise ValueError(f"no hours given; expected {HOURS_FORMAT}")
    found: list[WorkInterval] = []
    for piece in pieces:
        if not piece:
            raise ValueError(f"empty entry in hours '{spec.strip()}'; expected {HOURS_FORMAT}")
        match = _HOURS.fullmatch(piece)
        if match is None:
            raise ValueError(f"cannot read hours '{piece}'; expected {HOURS_FORMAT}")
        start = _clock_time(match["start"], end=False)
        end = _clock_time(match["end"], end=True)
        if start == end:
            raise ValueError(
                f"hours '{piece}' start and end at the same time; a whole day is two "
                "intervals (e.g. 00:00-12:00 and 12:00-00:00) or a 24x7 calendar"
            )
        found.extend(WorkInterval(day, start, end) for day in _days(match["days"]))
    return sorted(set(found))


def _days(text: str) -> list[int]:
    days: list[int] = []
    for part in text.lower().split(","):
        first, dash, last = (p.strip() for p in part.partition("-"))
        if not dash:
            days.append(_day(first))
            continue
        low, high = _day(first), _day(last)
        if high < low:
            raise ValueError(
                f"day range '{first}-{last}' runs backwards; ranges do not wrap past sun, "
                f"so write it as '{_day_range(first, 'sun')},{_day_range('mon', last)}'"
            )
        days.extend(range(low, high + 1))
    return list(dict.fromkeys(days))


def _day_range(first: str, last: str) -> str:
    return first if first == last else f"{first}-{last}"


def _day(name: str) -> int:
    if name not in WEEKDAYS:
        raise ValueError(f"unknown day '{name}'; days are {', '.join(WEEKDAYS)}")
    return WEEKDAYS.index(name)


def _clock_time(text: str, *, end: bool) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    if end and (hours, minutes) == (24, 0):
        return time(0)
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        latest = "23:59, or 24:00 as an end" if end else "23:59"
        raise ValueError(f"'{text}' is not a time of day (00:00 to {latest})")
    return time(hours, minutes)


def _duration(text: str) -> int:
    value = text.strip()
    match = _DURATION.fullmatch(value)
    if not value or match is None or not any(match.groupdict().values()):
        raise ValueError(f"cannot read duration '{value}'; expected {DURATION_FORMAT}")
    seconds = sum(
        int(amount) * _UNITS[unit] for unit, amount in match.groupdict().items() if amount
    )
    return _checked_target(seconds, what=f"duration '{value}'")


def _checked_target(seconds: int, *, what: str = "a target") -> int:
    if seconds <= 0:
        raise ValueError(f"{what} must be positive")
    if seconds > MAX_TARGET_SECONDS:
        raise ValueError(f"{what} is longer than the longest target allowed (365d)")
    return seconds


def _actions(spec: str) -> dict[int, tuple[EscalationAction, ...]]:
    value = spec.strip()
    if value.lower() == NO_ACTIONS:
        return {}
    result: dict[int, tuple[EscalationAction, ...]] = {}
    for piece in (p.strip() for p in value.split(";")):
        percent, equals, names = (p.strip() for p in piece.partition("="))
        if not equals or not (percent.isascii() and percent.isdigit()):
            raise ValueError(f"cannot read actions '{piece}'; expected {ACTIONS_FORMAT}")
        threshold = int(percent)
        if threshold in result:
            raise ValueError(f"actions for {threshold}% are given twice")
        chosen = [n.strip().lower() for n in names.split(",") if n.strip()]
        if chosen == [NO_ACTIONS]:
            chosen = []
        result[threshold] = tuple(_action(name) for name in chosen)
    return result


def _action(name: str) -> EscalationAction:
    try:
        return EscalationAction(name)
    except ValueError:
        known = ", ".join(a.value for a in EscalationAction)
        raise ValueError(f"unknown escalation action '{name}'; actions are {known}") from None


def _holiday_spec(spec: str | None) -> tuple[str | None, str | None]:
    """(country, subdivision) from `GB`, `gb-eng` or `none`; the country upper-cased and the
    subdivision spelt as the `holidays` package spells it. Validity is checked by the domain."""
    value = (spec or "").strip()
    if not value or value.lower() == NO_HOLIDAYS:
        return None, None
    country, _, subdivision = (part.strip() for part in value.partition("-"))
    country = country.upper()
    if not subdivision:
        return country, None
    spelt = {s.upper(): s for s in holiday_data.list_supported_countries().get(country, ())}
    return country, spelt.get(subdivision.upper(), subdivision)


def holidays_label(country: str | None, subdivision: str | None) -> str | None:
    if country is None:
        return None
    return f"{country}-{subdivision}" if subdivision else country


# ---------------------------------------------------------------------------- inputs


def _hours_spec(value: str) -> str:
    _intervals(value)  # refuse garbage at the edge, with the format in the message
    return value.strip()


def _target(value: int) -> int:
    return _checked_target(value)


def _priority(value: int) -> int:
    if not 1 <= value <= 5:
        raise ValueError("priority must be 1 to 5")
    return value


def _warnings(value: tuple[int, ...]) -> tuple[int, ...]:
    for percent in value:
        if not 1 <= percent <= 99:
            raise ValueError(
                f"warning thresholds are percentages from 1 to 99 (the breach is 100), "
                f"not {percent}"
            )
    return tuple(sorted(set(value)))


def _actions_input(
    value: dict[int, tuple[EscalationAction, ...]],
) -> dict[int, tuple[EscalationAction, ...]]:
    for percent in value:
        if not 1 <= percent <= BREACH:
            raise ValueError(f"actions belong to a threshold from 1 to 100 percent, not {percent}")
    return {p: tuple(dict.fromkeys(value[p])) for p in sorted(value) if value[p]}


def _reasons(value: tuple[HoldReason, ...]) -> tuple[HoldReason, ...]:
    return tuple(sorted(set(value)))


HoursSpec = Annotated[str, AfterValidator(_hours_spec)]
Zone = Annotated[ShortText, AfterValidator(lambda v: _max_length(v, ZONE_MAX, "a time zone"))]
HolidaySpec = Annotated[ShortText, AfterValidator(lambda v: _max_length(v, 40, "holidays"))]
Target = Annotated[int, AfterValidator(_target)]
Priority = Annotated[int, AfterValidator(_priority)]
Warnings = Annotated[tuple[int, ...], AfterValidator(_warnings)]
Actions = Annotated[dict[int, tuple[EscalationAction, ...]], AfterValidator(_actions_input)]
PauseReasons = Annotated[tuple[HoldReason, ...], AfterValidator(_reasons)]


def _max_length(value: str, limit: int, what: str) -> str:
    if not value:
        raise ValueError(f"{what} may not be empty")
    if len(value) > limit:
        raise ValueError(f"{what} is at most {limit} characters")
    return value


class CalendarInput(Input):
    """A new calendar: working `hours` (each `mon-fri 08:00-17:00`) or `always_on` (24x7);
    `holidays` a country code with an optional subdivision (`GB`, `GB-ENG`) or None."""

    name: Name
    zone: Zone
    hours: tuple[HoursSpec, ...] = ()
    always_on: bool = False
    holidays: HolidaySpec | None = None
    extra_dates: tuple[date, ...] = ()

    @model_validator(mode="after")
    def _hours_or_always_on(self) -> CalendarInput:
        if self.always_on and self.hours:
            raise ValueError("a 24x7 calendar has no hours: give hours or always_on, not both")
        return self


class CalendarChanges(Input):
    """What to change; None leaves a field as it is. `hours` replaces every interval (and
    turns a 24x7 calendar into one with hours); `always_on=True` drops the intervals;
    `holidays="none"` removes public holidays; `extra_dates` replaces the extra dates."""

    zone: Zone | None = None
    hours: tuple[HoursSpec, ...] | None = None
    always_on: bool | None = None
    holidays: HolidaySpec | None = None
    extra_dates: tuple[date, ...] | None = None

    @model_validator(mode="after")
    def _hours_or_always_on(self) -> CalendarChanges:
        if self.always_on and self.hours is not None:
            raise ValueError("a 24x7 calendar has no hours: give hours or always_on, not both")
        return self

    @property
    def empty(self) -> bool:
        return all(getattr(self, name) is None for name in type(self).model_fields)


class PolicyInput(Input):
    """A new SLA policy. `service` None means every service (a service-specific policy of the
    same priority wins over it). `actions` None means the shipped ones (50%: notify the
    assignee; 75% and the breach: the assignee and the group's supervisors); `pause_reasons`
    are the on_hold reasons that pause the clocks (empty: never pause)."""

    name: Name
    priority: Priority
    response_seconds: Target
    resolution_seconds: Target
    calendar: Name
    service: Name | None = None
    warnings: Warnings = DEFAULT_WARNINGS
    actions: Actions | None = None
    pause_reasons: PauseReasons = DEFAULT_PAUSE_REASONS
    active: bool = True


class PolicyChanges(Input):
    """What to change; None leaves a field as it is. `actions` replaces every threshold's
    actions; `pause_reasons` replaces the pause rules with on_hold for those reasons."""

    response_seconds: Target | None = None
    resolution_seconds: Target | None = None
    calendar: Name | None = None
    warnings: Warnings | None = None
    actions: Actions | None = None
    pause_reasons: PauseReasons | None = None
    active: bool | None = None

    @property
    def empty(self) -> bool:
        return all(getattr(self, name) is None for name in type(self).model_fields)


# ---------------------------------------------------------------------------- records


class CalendarRecord(Record):
    name: str
    zone: str
    always_on: bool
    hours: list[str]  # "mon 08:00-17:00", one per interval, Monday first
    holidays: str | None  # "GB" or "GB-ENG"
    extra_dates: list[str]  # ISO dates, sorted


class PolicyRecord(Record):
    name: str
    priority: int
    service: str | None
    calendar: str
    response_seconds: int
    resolution_seconds: int
    warnings: list[int]
    actions: dict[int, list[str]]  # threshold percent (100 = breach) -> actions
    pause: list[str]  # "on_hold: awaiting_caller, awaiting_vendor"
    active: bool


# ---------------------------------------------------------------------------- calendars


def list_calendars(session: Session) -> list[CalendarRecord]:
    rows = session.exec(select(BusinessCalendarRow).order_by(col(BusinessCalendarRow.name))).all()
    return [calendar_record(row) for row in rows]


def get_calendar(session: Session, name: str) -> CalendarRecord:
    return calendar_record(_calendar_row(session, name))


def add_calendar(
    session: Session, actor: User, clock: Clock, data: CalendarInput
) -> CalendarRecord:
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        require_admin(actor, "adding calendars")
        if _find_calendar(session, data.name) is not None:
            raise ValidationFailed(f"calendar '{data.name}' already exists")
        country, subdivision = _holiday_spec(data.holidays)
        row = BusinessCalendarRow(
            name=data.name,
            zone=data.zone,
            always_on=data.always_on,
            intervals=_stored_intervals(_parse_all(data.hours)),
            holiday_country=country,
            holiday_subdivision=subdivision,
            extra_dates=sorted({d.isoformat() for d in data.extra_dates}),
            created_at=now,
        )
        _check_calendar(row, now)
        session.add(row)
        session.flush()
        assert row.id is not None
        record_write(
            session,
            record_type=CALENDAR_RECORD,
            record_id=row.id,
            number=row.name,
            action="create",
            actor=actor,
            at=now,
            changes={field: (None, value) for field, value in _calendar_fields(row).items()},
        )
    return calendar_record(row)


def update_calendar(
    session: Session, actor: User, clock: Clock, name: str, changes: CalendarChanges
) -> CalendarRecord:
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        require_admin(actor, "changing calendars")
        if changes.empty:
            raise ValidationFailed(
                "nothing to change: give a zone, hours, always_on, holidays or extra dates"
            )
        row = _calendar_row(session, name)
        always_on, intervals = row.always_on, row.intervals
        if changes.hours is not None:
            always_on, intervals = False, _stored_intervals(_parse_all(changes.hours))
        elif changes.always_on is not None:
            always_on = changes.always_on
            if always_on:
                intervals = []
        country, subdivision = (
            (row.holiday_country, row.holiday_subdivision)
            if changes.holidays is None
            else _holiday_spec(changes.holidays)
        )
        candidate = BusinessCalendarRow(
            name=row.name,
            zone=row.zone if changes.zone is None else changes.zone,
            always_on=always_on,
            intervals=intervals,
            holiday_country=country,
            holiday_subdivision=subdivision,
            extra_dates=row.extra_dates
            if changes.extra_dates is None
            else sorted({d.isoformat() for d in changes.extra_dates}),
            created_at=row.created_at,
        )
        _check_calendar(candidate, now)
        for policy in session.exec(
            select(SlaPolicyRow).where(
                SlaPolicyRow.calendar_id == row.id, col(SlaPolicyRow.active).is_(True)
            )
        ).all():
            _check_reachable(policy_spec(policy, row.name, None), candidate, now)
        before, after = _calendar_fields(row), _calendar_fields(candidate)
        if before == after:
            raise ValidationFailed(f"calendar '{name}' already has these settings")
        for field in ("zone", "always_on", "intervals", "holiday_country", "holiday_subdivision"):
            setattr(row, field, getattr(candidate, field))
        row.extra_dates = list(candidate.extra_dates)
        session.add(row)
        _updated(session, CALENDAR_RECORD, row, actor, now, before, after)
    return calendar_record(row)


def _updated(
    session: Session,
    record_type: RecordType,
    row: BusinessCalendarRow | SlaPolicyRow,
    actor: User,
    now: datetime,
    before: dict[str, object],
    after: dict[str, object],
) -> None:
    """Audit an edit of a calendar or policy, then move open incidents' clocks to it at once
    (closed ones keep what they had)."""
    assert row.id is not None
    record_write(
        session,
        record_type=record_type,
        record_id=row.id,
        number=row.name,
        action="update",
        actor=actor,
        at=now,
        changes={field: (before[field], after[field]) for field in before},
    )
    resync_open_incidents(session, now)


def calendar_record(row: BusinessCalendarRow) -> CalendarRecord:
    return CalendarRecord(
        name=row.name,
        zone=row.zone,
        always_on=row.always_on,
        hours=_hour_labels(row.intervals),
        holidays=holidays_label(row.holiday_country, row.holiday_subdivision),
        extra_dates=list(row.extra_dates),
    )


def _parse_all(specs: Iterable[str]) -> list[WorkInterval]:
    return sorted({interval for spec in specs for interval in parse_hours(spec)})


def _stored_intervals(intervals: Iterable[WorkInterval]) -> list[list[Any]]:
    return [[i.weekday, f"{i.start:%H:%M}", f"{i.end:%H:%M}"] for i in sorted(intervals)]


def _hour_labels(intervals: Iterable[list[Any]]) -> list[str]:
    return [f"{WEEKDAYS[int(day)]} {start}-{end}" for day, start, end in intervals]


def _check_calendar(row: BusinessCalendarRow, now: datetime) -> None:
    """Build the domain calendar from exactly what would be stored; CalendarError (unknown
    zone, country or subdivision, no working time) becomes bad input."""
    try:
        calendar = calendar_of(row)
        # Working time must exist within reach: holidays and extra dates could swallow it all.
        calendar.add(now, 1)
    except ValueError as error:
        raise ValidationFailed(f"calendar '{row.name}': {error}") from None
    if row.holiday_subdivision is not None and len(row.holiday_subdivision) > SUBDIVISION_MAX:
        raise ValidationFailed(
            f"holiday subdivision '{row.holiday_subdivision}' is longer than the "
            f"{SUBDIVISION_MAX} characters a calendar can store"
        )
    assert row.holiday_country is None or len(row.holiday_country) <= COUNTRY_MAX


def _check_reachable(spec: SlaPolicySpec, calendar: BusinessCalendarRow, now: datetime) -> None:
    """An active policy whose longest target the calendar cannot meet within
    `sla_policy.REACH` is bad input: every incident it applied to would have no deadline to
    compute. Inactive ones are not checked, so one saved before this check can be switched
    off."""
    try:
        check_reachable(spec, calendar_of(calendar), now)
    except CalendarError as error:
        raise ValidationFailed(
            f"SLA policy '{spec.name}' on calendar '{calendar.name}': {error}; give the "
            "calendar more working time, or the policy shorter targets or --inactive"
        ) from None


def _calendar_fields(row: BusinessCalendarRow) -> dict[str, object]:
    """The audited view of a calendar: one entry per field an admin sets."""
    return {
        "name": row.name,
        "zone": row.zone,
        "always_on": row.always_on,
        "hours": "; ".join(_hour_labels(row.intervals)) or None,
        "holidays": holidays_label(row.holiday_country, row.holiday_subdivision),
        "extra_dates": ", ".join(row.extra_dates) or None,
    }


def _find_calendar(session: Session, name: str) -> BusinessCalendarRow | None:
    return session.exec(select(BusinessCalendarRow).where(BusinessCalendarRow.name == name)).first()


def _calendar_row(session: Session, name: str) -> BusinessCalendarRow:
    row = _find_calendar(session, name)
    if row is None:
        raise NotFound(f"no calendar '{name}'; list calendars with: itsm calendar list")
    return row


def _calendar_by_name(session: Session, name: str) -> BusinessCalendarRow:
    """A calendar named as input (by a policy): unknown is bad input, not a missing record."""
    row = _find_calendar(session, name)
    if row is None:
        raise ValidationFailed(
            f"unknown calendar '{name}'; list calendars with: itsm calendar list"
        )
    return row


# ---------------------------------------------------------------------------- policies


def list_policies(session: Session) -> list[PolicyRecord]:
    rows = session.exec(
        select(SlaPolicyRow, BusinessCalendarRow.name, Service.name)
        .join(BusinessCalendarRow, col(BusinessCalendarRow.id) == col(SlaPolicyRow.calendar_id))
        .join(Service, col(Service.id) == col(SlaPolicyRow.service_id), isouter=True)
    ).all()
    records = [policy_record(row, calendar, service) for row, calendar, service in rows]
    return sorted(
        records, key=lambda r: (r.priority, r.service is not None, r.service or "", r.name)
    )


def get_policy(session: Session, name: str) -> PolicyRecord:
    row = _policy_row(session, name)
    return _record_of(session, row)


def add_policy(session: Session, actor: User, clock: Clock, data: PolicyInput) -> PolicyRecord:
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        require_admin(actor, "adding SLA policies")
        _lock_policies(session)
        if _find_policy(session, data.name) is not None:
            raise ValidationFailed(f"SLA policy '{data.name}' already exists")
        calendar = _calendar_by_name(session, data.calendar)
        service = service_by_name(session, data.service) if data.service else None
        actions = _fitting_actions(
            data.warnings, data.actions, DEFAULT_ACTIONS, "the shipped escalation actions"
        )
        spec = _spec(
            name=data.name,
            priority=data.priority,
            response_seconds=data.response_seconds,
            resolution_seconds=data.resolution_seconds,
            calendar=calendar.name,
            service=service.name if service else None,
            pause_rules=_pause_rules(data.pause_reasons),
            warnings=data.warnings,
            actions=actions,
        )
        if data.active:
            _check_reachable(spec, calendar, now)
            _refuse_clash(session, spec, service, exclude=None)
        row = policy_row(spec, calendar, now)
        row.service_id = service.id if service else None
        row.active = data.active
        session.add(row)
        session.flush()
        assert row.id is not None
        record_write(
            session,
            record_type=SLA_POLICY_RECORD,
            record_id=row.id,
            number=row.name,
            action="create",
            actor=actor,
            at=now,
            changes={field: (None, value) for field, value in _policy_fields(spec, row).items()},
        )
        # Open incidents follow the change at once; closed ones keep what they had.
        resync_open_incidents(session, now)
    return policy_record(row, calendar.name, service.name if service else None)


def update_policy(
    session: Session, actor: User, clock: Clock, name: str, changes: PolicyChanges
) -> PolicyRecord:
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        require_admin(actor, "changing SLA policies")
        if changes.empty:
            raise ValidationFailed(
                "nothing to change: give a response or resolution target, a calendar, "
                "warnings, actions, pause reasons or active"
            )
        _lock_policies(session)
        row = _policy_row(session, name)
        old_calendar = session.get(BusinessCalendarRow, row.calendar_id)
        service = session.get(Service, row.service_id) if row.service_id else None
        assert old_calendar is not None
        service_name = service.name if service else None
        old = policy_spec(row, old_calendar.name, service_name)
        calendar = (
            old_calendar
            if changes.calendar is None
            else _calendar_by_name(session, changes.calendar)
        )
        warnings = old.warnings if changes.warnings is None else changes.warnings
        actions = _fitting_actions(
            warnings, changes.actions, old.actions, "the policy's escalation actions"
        )
        new = _checked_spec(
            replace,
            old,
            response_seconds=changes.response_seconds or old.response_seconds,
            resolution_seconds=changes.resolution_seconds or old.resolution_seconds,
            calendar=calendar.name,
            pause_rules=old.pause_rules
            if changes.pause_reasons is None
            else _pause_rules(changes.pause_reasons),
            warnings=warnings,
            actions=actions,
        )
        active = row.active if changes.active is None else changes.active
        if active:  # an inactive one is checked when it is switched back on
            _check_reachable(new, calendar, now)
        if active and not row.active:
            _refuse_clash(session, new, service, exclude=row.id)
        encoded = policy_row(new, calendar, now)
        before = _policy_fields(old, row)
        after = _policy_fields(new, encoded) | {"active": active}
        if before == after:
            raise ValidationFailed(f"SLA policy '{name}' already has these settings")
        assert calendar.id is not None
        row.calendar_id = calendar.id
        row.response_seconds, row.resolution_seconds = new.response_seconds, new.resolution_seconds
        row.warnings, row.actions, row.pause_rules = (
            encoded.warnings,
            encoded.actions,
            encoded.pause_rules,
        )
        row.active = active
        session.add(row)
        _updated(session, SLA_POLICY_RECORD, row, actor, now, before, after)
    return policy_record(row, calendar.name, service_name)


def policy_record(row: SlaPolicyRow, calendar: str, service: str | None) -> PolicyRecord:
    spec = policy_spec(row, calendar, service)
    return PolicyRecord(
        name=row.name,
        priority=row.priority,
        service=service,
        calendar=calendar,
        response_seconds=row.response_seconds,
        resolution_seconds=row.resolution_seconds,
        warnings=list(spec.warnings),
        actions={p: [a.value for a in acts] for p, acts in sorted(spec.actions.items())},
        pause=[_pause_label(rule) for rule in spec.pause_rules],
        active=row.active,
    )


def _record_of(session: Session, row: SlaPolicyRow) -> PolicyRecord:
    calendar = session.get(BusinessCalendarRow, row.calendar_id)
    service = session.get(Service, row.service_id) if row.service_id else None
    assert calendar is not None
    return policy_record(row, calendar.name, service.name if service else None)


def _spec(**values: Any) -> SlaPolicySpec:
    return _checked_spec(SlaPolicySpec, **values)


def _checked_spec(build: Any, *args: Any, **values: Any) -> SlaPolicySpec:
    """The domain's own checks (positive targets, priority, thresholds) as bad input."""
    try:
        return cast(SlaPolicySpec, build(*args, **values))
    except ValueError as error:
        raise ValidationFailed(str(error)) from None


def _fitting_actions(
    warnings: tuple[int, ...],
    given: Mapping[int, tuple[EscalationAction, ...]] | None,
    kept: Mapping[int, tuple[EscalationAction, ...]],
    what: str,
) -> dict[int, tuple[EscalationAction, ...]]:
    """The actions to store: `given` ones, or `kept` (shipped or current) ones, provided each
    sits on a threshold that exists (a warning or the breach at 100%). Actions left on a
    threshold that no longer exists would never fire, so that is refused, not dropped."""
    thresholds = {*warnings, BREACH}
    actions = dict(given if given is not None else kept)
    stray = sorted(p for p in actions if p not in thresholds)
    if stray:
        where = ", ".join(f"{p}%" for p in stray)
        listed = ", ".join(f"{p}%" for p in sorted(thresholds))
        source = "the actions given" if given is not None else what
        raise ValidationFailed(
            f"{source} include thresholds that are not warnings ({where}); the thresholds are "
            f"{listed}: give actions for those ({ACTIONS_FORMAT}) or warnings that include "
            f"{where}"
        )
    return {p: actions[p] for p in sorted(actions)}


def _pause_rules(reasons: tuple[HoldReason, ...]) -> tuple[PauseRule, ...]:
    if not reasons:
        return ()
    return (PauseRule(IncidentState.ON_HOLD, frozenset(reasons)),)


def _pause_label(rule: PauseRule) -> str:
    if rule.hold_reasons is None:
        return rule.state.value
    return f"{rule.state.value}: {', '.join(sorted(r.value for r in rule.hold_reasons))}"


def _policy_fields(spec: SlaPolicySpec, row: SlaPolicyRow) -> dict[str, object]:
    """The audited view of a policy: one entry per field an admin sets."""
    return {
        "name": spec.name,
        "priority": spec.priority,
        "service": spec.service,
        "calendar": spec.calendar,
        "response_seconds": spec.response_seconds,
        "resolution_seconds": spec.resolution_seconds,
        "warnings": ", ".join(str(w) for w in spec.warnings) or None,
        "actions": "; ".join(
            f"{p}={','.join(a.value for a in acts)}" for p, acts in sorted(spec.actions.items())
        )
        or None,
        "pause": "; ".join(_pause_label(rule) for rule in spec.pause_rules) or None,
        "active": row.active,
    }


def _refuse_clash(
    session: Session, spec: SlaPolicySpec, service: Service | None, *, exclude: int | None
) -> None:
    query = select(SlaPolicyRow).where(
        SlaPolicyRow.priority == spec.priority, col(SlaPolicyRow.active).is_(True)
    )
    query = query.where(
        col(SlaPolicyRow.service_id).is_(None)
        if service is None
        else SlaPolicyRow.service_id == service.id
    )
    if exclude is not None:
        query = query.where(SlaPolicyRow.id != exclude)
    other = session.exec(query.order_by(col(SlaPolicyRow.name))).first()
    if other is not None:
        scope = f"service '{service.name}'" if service else "every service"
        raise ValidationFailed(
            f"active SLA policy '{other.name}' already covers P{spec.priority} for {scope}; "
            "the most specific match wins, so each priority and service has one active "
            f"policy: deactivate '{other.name}' first"
        )


def _lock_policies(session: Session) -> None:
    """Two admins adding clashing policies at once must not both pass the clash check.
    SQLite's write transaction (BEGIN IMMEDIATE) already serialises writers."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE sla_policies IN SHARE ROW EXCLUSIVE MODE"))


def _find_policy(session: Session, name: str) -> SlaPolicyRow | None:
    return session.exec(select(SlaPolicyRow).where(SlaPolicyRow.name == name)).first()


def _policy_row(session: Session, name: str) -> SlaPolicyRow:
    row = _find_policy(session, name)
    if row is None:
        raise NotFound(f"no SLA policy '{name}'; list policies with: itsm sla policy list")
    return row
