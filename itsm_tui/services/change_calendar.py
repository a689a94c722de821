"""The change calendar's reads: the changes and freeze windows of a span of local days, each
bucketed into the days it touches in the desk's time zone, and which changes clash.

One call (`load_period`) is one read for the screen: the changes whose planned window overlaps
the span (filtered by service, group and state), the freezes overlapping it, and the conflicts
of every change still to be carried out, computed once for the whole span with the domain's
rules rather than one `change_conflicts` query per change.

Days are local: a change from 23:00 to 01:00 in the desk's zone touches two days, and a window
ending exactly at midnight does not touch the next one (windows are half-open). The span's
edges are local midnights turned into UTC with zoneinfo, so DST days are 23 or 25 hours long.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, col, select

from itsm_tui.domain import conflicts
from itsm_tui.domain.enums import ChangeState, ChangeType
from itsm_tui.services import changes, freeze_windows
from itsm_tui.services.changes import ChangeRecord
from itsm_tui.services.errors import ValidationFailed
from itsm_tui.services.freeze_windows import FreezeRecord
from itsm_tui.store.models import ConfigItem

# Changes still to be carried out: a clash matters for them (a closed change's is history).
CONFLICT_STATES: frozenset[str] = frozenset(
    {
        ChangeState.NEW,
        ChangeState.ASSESS,
        ChangeState.AUTHORIZE,
        ChangeState.SCHEDULED,
        ChangeState.IMPLEMENT,
    }
)
BOOKED = (ChangeState.SCHEDULED, ChangeState.IMPLEMENT)
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class CalendarFilter:
    """What the calendar shows: one service, one group, some states (none = every state)."""

    service: str | None = None
    group: str | None = None
    states: tuple[ChangeState, ...] = ()

    def chips(self) -> list[str]:
        found: list[str] = []
        if self.service:
            found.append(f"service: {self.service}")
        if self.group:
            found.append(f"group: {self.group}")
        if self.states:
            found.append("state: " + ", ".join(state.value for state in self.states))
        return found

    def with_(self, **values: object) -> CalendarFilter:
        return replace(self, **values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class CalendarChange:
    """One change on the calendar: its record, what it clashes with, the local days it
    touches inside the loaded span and the local day it starts (maybe before the span)."""

    record: ChangeRecord
    conflicts: tuple[conflicts.Conflict, ...]
    days: tuple[date, ...]
    first_day: date

    @property
    def number(self) -> str:
        return self.record.number

    @property
    def start(self) -> datetime:
        assert self.record.planned_start is not None
        return self.record.planned_start

    @property
    def end(self) -> datetime:
        assert self.record.planned_end is not None
        return self.record.planned_end

    @property
    def conflicted(self) -> bool:
        return bool(self.conflicts)


@dataclass(frozen=True)
class CalendarFreeze:
    record: FreezeRecord
    days: tuple[date, ...]

    @property
    def name(self) -> str:
        return self.record.name


@dataclass(frozen=True)
class CalendarPeriod:
    """The local days `first`..`last` (inclusive) in `zone`, with what happens on them."""

    first: date
    last: date
    zone: str
    filter: CalendarFilter
    changes: tuple[CalendarChange, ...]
    freezes: tuple[CalendarFreeze, ...]
    _by_day: Mapping[date, tuple[CalendarChange, ...]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def covers(self, day: date) -> bool:
        return self.first <= day <= self.last

    def changes_on(self, day: date) -> tuple[CalendarChange, ...]:
        """The changes touching `day`, by planned start then number."""
        return self._by_day.get(day, ())

    def freezes_on(self, day: date) -> tuple[CalendarFreeze, ...]:
        return tuple(freeze for freeze in self.freezes if day in freeze.days)

    def day_window(self, day: date) -> conflicts.Window:
        return day_window(day, day, self.zone)


# ---------------------------------------------------------------------------- days


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(f"unknown time zone '{name}'") from None


def day_window(first: date, last: date, zone: str) -> conflicts.Window:
    """Local midnight before `first` to local midnight after `last`, in UTC."""
    if last < first:
        raise ValidationFailed("a calendar span ends on or after the day it starts")
    tz = zone_of(zone)
    start = datetime.combine(first, time(0), tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
    return conflicts.Window(start.astimezone(UTC), end.astimezone(UTC))


def local_days(start: datetime, end: datetime, zone: str) -> list[date]:
    """Every local day the half-open window [start, end) touches in `zone`."""
    tz = zone_of(zone)
    first = start.astimezone(tz).date()
    last = (end.astimezone(UTC) - _TICK).astimezone(tz).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def month_span(day: date) -> tuple[date, date]:
    """The whole weeks (Monday to Sunday) that hold the month of `day`."""
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    end = following - timedelta(days=1)
    return first - timedelta(days=first.weekday()), end + timedelta(days=6 - end.weekday())


def week_span(day: date) -> tuple[date, date]:
    """Monday to Sunday of the week holding `day`."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    length = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, length))


# ---------------------------------------------------------------------------- the read


def load_period(
    session: Session,
    first: date,
    last: date,
    zone: str,
    query: CalendarFilter | None = None,
) -> CalendarPeriod:
    """The changes and freezes of local days `first`..`last` in `zone`, conflicts marked."""
    query = query or CalendarFilter()
    span = day_window(first, last, zone)
    records = changes.list_changes(
        session, states=query.states, window=span, service=query.service, group=query.group
    )
    found = _conflicts(session, [r for r in records if r.state in CONFLICT_STATES])
    entries = tuple(
        CalendarChange(
            record=record,
            conflicts=tuple(found.get(record.number, ())),
            days=_clipped(record.planned_start, record.planned_end, zone, first, last),
            first_day=record.planned_start.astimezone(zone_of(zone)).date(),
        )
        for record in records
        if record.planned_start is not None and record.planned_end is not None
    )
    frozen = tuple(
        CalendarFreeze(freeze, _clipped(freeze.starts_at, freeze.ends_at, zone, first, last))
        for freeze in freeze_windows.list_freezes(session, overlapping=span)
    )
    by_day: dict[date, list[CalendarChange]] = {}
    for entry in entries:
        for day in entry.days:
            by_day.setdefault(day, []).append(entry)
    return CalendarPeriod(
        first=first,
        last=last,
        zone=zone,
        filter=query,
        changes=entries,
        freezes=frozen,
        _by_day={day: tuple(listed) for day, listed in by_day.items()},
    )


def _clipped(
    start: datetime | None, end: datetime | None, zone: str, first: date, last: date
) -> tuple[date, ...]:
    if start is None or end is None:
        return ()
    return tuple(day for day in local_days(start, end, zone) if first <= day <= last)


def _conflicts(
    session: Session, candidates: list[ChangeRecord]
) -> dict[str, list[conflicts.Conflict]]:
    """Each candidate's conflicts still needing an override (a justified emergency runs
    through freezes), as the change service finds them, from one read of the booked changes,
    freezes and maintenance windows around all of them."""
    planned = [_planned(record) for record in candidates]
    exempt = {
        record.number: conflicts.freeze_exempt(
            ChangeType(record.change_type), record.freeze_justification
        )
        for record in candidates
    }
    mine = [p for p in planned if p is not None]
    if not mine:
        return {}
    hull = conflicts.Window(min(p.window.start for p in mine), max(p.window.end for p in mine))
    # Booked changes of every service and group: a filtered-out change still clashes.
    others = [
        p
        for p in (_planned(r) for r in changes.list_changes(session, states=BOOKED, window=hull))
        if p is not None
    ]
    freezes = freeze_windows.conflict_windows(session, hull)
    maintenance = _maintenance(session, {ci for p in mine for ci in p.cis})
    found: dict[str, list[conflicts.Conflict]] = {}
    for change in mine:
        listed = conflicts.find_conflicts(
            change,
            [o for o in others if o.window.overlaps(change.window)],
            [f for f in freezes if f.window.overlaps(change.window)],
            {ci: maintenance[ci] for ci in change.cis if ci in maintenance},
        )
        listed = conflicts.unexcused(listed, freeze_exempt=exempt[change.number])
        if listed:
            found[change.number] = listed
    return found


def _planned(record: ChangeRecord) -> conflicts.PlannedChange | None:
    if record.planned_start is None or record.planned_end is None:
        return None
    return conflicts.PlannedChange(
        number=record.number,
        window=conflicts.Window(record.planned_start, record.planned_end),
        state=record.state,
        service=record.service,
        cis=frozenset(record.cis),
        assignee=record.assignee,
    )


def _maintenance(
    session: Session, names: Iterable[str]
) -> dict[str, list[conflicts.MaintenanceWindow]]:
    wanted = sorted(set(names))
    if not wanted:
        return {}
    rows = session.exec(select(ConfigItem).where(col(ConfigItem.name).in_(wanted))).all()
    return {
        ci.name: [conflicts.MaintenanceWindow.from_row(ci.name, row) for row in ci.maintenance]
        for ci in rows
        if ci.maintenance
    }
