"""Change conflicts: what stands in the way of scheduling a change in its window.

A change being scheduled (or moved) is checked against:

(a) other booked changes whose windows overlap it and that touch one of the same CIs
    (`same_ci`) or, failing that, the same business service (`same_service`);
(b) other booked changes in an overlapping window with the same assignee (`assignee_booked`);
(c) freeze windows, global or for the change's service, that overlap it (`freeze`);
(d) each of its CIs that has maintenance windows, none of whose occurrences holds the whole
    change window (`outside_maintenance`).

Rules worth knowing:
- Windows are half-open, [start, end): a window that ends exactly when another starts does not
  overlap it. A window needs start < end. Every instant must be timezone-aware; a window keeps
  its instants in UTC, so windows given in different zones compare as instants.
- Only changes in a booked state (`scheduled`, `implement`) hold their window; the change being
  checked counts whatever its own state, since it is the one being scheduled. Another change
  with the same number is the change itself (e.g. its stored version) and is skipped.
- A maintenance window is weekly, in local wall time of its zone, and may cross midnight
  (`end <= start`; `end == start` is a whole 24 hours). Occurrences are built day by day with
  zoneinfo, so DST comes out right: a local time inside a spring-forward gap is read with the
  offset before the change and an ambiguous one as its first occurrence (`fold=0`), as in
  `domain.calendar`. A change is inside maintenance only if one single occurrence holds all of
  it; straddling two back-to-back occurrences is not enough.
- Results come in a fixed order (kind, then start of the clashing window, then the record), so
  the same inputs always give the same list whatever the order of `others`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from itsm_tui.domain.enums import ChangeType

# The values of ChangeState.SCHEDULED and ChangeState.IMPLEMENT (a StrEnum compares equal).
BOOKED_STATES: frozenset[str] = frozenset({"scheduled", "implement"})
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _aware_utc(at: datetime, what: str) -> datetime:
    if not isinstance(at, datetime):
        raise TypeError(f"{what} must be a datetime, not {type(at).__name__}")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{what} {at.isoformat()} has no time zone")
    return at.astimezone(UTC)


@dataclass(frozen=True)
class Window:
    """A half-open span of time [start, end), held in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        start = _aware_utc(self.start, "window start")
        end = _aware_utc(self.end, "window end")
        if not start < end:
            raise ValueError(
                f"a window must start before it ends: {start.isoformat()} >= {end.isoformat()}"
            )
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def overlaps(self, other: Window) -> bool:
        """True when the two windows share some time (touching ends do not count)."""
        return self.start < other.end and other.start < self.end

    def overlap(self, other: Window) -> Window | None:
        """The time both windows share, or None."""
        if not self.overlaps(other):
            return None
        return Window(max(self.start, other.start), min(self.end, other.end))

    def contains(self, other: Window) -> bool:
        """True when all of `other` lies inside this window."""
        return self.start <= other.start and other.end <= self.end

    def describe(self) -> str:
        """E.g. '2026-03-02 10:00 to 12:00 UTC' or '2026-03-02 22:00 to 2026-03-03 02:00 UTC'."""
        precise = any(t.second or t.microsecond for t in (self.start, self.end))
        clock = "%H:%M:%S" if precise else "%H:%M"
        end_format = clock if self.start.date() == self.end.date() else f"%Y-%m-%d {clock}"
        return f"{self.start.strftime(f'%Y-%m-%d {clock}')} to {self.end.strftime(end_format)} UTC"


@dataclass(frozen=True)
class PlannedChange:
    """What conflict detection needs to know about a change."""

    number: str
    window: Window
    state: str
    service: str | None = None
    cis: frozenset[str] = frozenset()
    assignee: str | None = None

    def __post_init__(self) -> None:
        if not self.number:
            raise ValueError("a planned change needs a number")
        if isinstance(self.cis, str):
            raise TypeError("cis must be a collection of CI names, not a single string")
        object.__setattr__(self, "cis", frozenset(self.cis))

    @property
    def booked(self) -> bool:
        """True when this change holds its window (scheduled or being implemented)."""
        return str(self.state) in BOOKED_STATES


@dataclass(frozen=True)
class FreezeWindow:
    """No changes during `window`: everywhere (`service` None) or on one service."""

    name: str
    window: Window
    service: str | None = None
    reason: str = ""

    def applies_to(self, service: str | None) -> bool:
        return self.service is None or (service is not None and self.service == service)


@dataclass(frozen=True)
class MaintenanceWindow:
    """A weekly window in which a CI may be changed: `weekday` (0 = Monday) from `start` to
    `end`, local wall time in `zone`. `end <= start` runs past midnight into the next day."""

    ci: str
    weekday: int
    start: time
    end: time
    zone: str = "UTC"

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), not {self.weekday}")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("maintenance times are local wall times, without a zone")
        try:
            ZoneInfo(self.zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone '{self.zone}'") from error

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    def label(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {self.start:%H:%M}-{self.end:%H:%M} {self.zone}"

    def occurrence_on(self, day: date) -> Window | None:
        """The occurrence starting on local date `day` (None if `day` is another weekday or
        a DST gap swallows the whole occurrence)."""
        if day.weekday() != self.weekday:
            return None
        zone = ZoneInfo(self.zone)
        end_day = day + timedelta(days=1) if self.overnight else day
        begin = datetime.combine(day, self.start, tzinfo=zone).astimezone(UTC)
        finish = datetime.combine(end_day, self.end, tzinfo=zone).astimezone(UTC)
        return Window(begin, finish) if begin < finish else None

    def occurrences(self, around: Window) -> list[Window]:
        """Every occurrence that overlaps `around`, in order."""
        zone = ZoneInfo(self.zone)
        # An occurrence lasts at most 25 hours (24 plus a fall-back hour), so one that started
        # two local days before `around` began is the earliest that could still be running.
        day = around.start.astimezone(zone).date() - timedelta(days=2)
        last = around.end.astimezone(zone).date()
        found: list[Window] = []
        while day <= last:
            occurrence = self.occurrence_on(day)
            if occurrence is not None and occurrence.overlaps(around):
                found.append(occurrence)
            day += timedelta(days=1)
        return found

    def contains(self, window: Window) -> bool:
        """True when one single occurrence holds all of `window`."""
        return any(occurrence.contains(window) for occurrence in self.occurrences(window))

    def as_row(self) -> list[object]:
        """How a CI stores it: [weekday, "HH:MM", "HH:MM", zone]."""
        return [self.weekday, f"{self.start:%H:%M}", f"{self.end:%H:%M}", self.zone]

    @classmethod
    def from_row(cls, ci: str, row: Sequence[object]) -> MaintenanceWindow:
        day, start, end, zone = row
        return cls(
            ci,
            int(str(day)),
            time.fromisoformat(str(start)),
            time.fromisoformat(str(end)),
            str(zone),
        )

    @classmethod
    def parse(cls, ci: str, text: str) -> MaintenanceWindow:
        """`"Sun 02:00-06:00 Europe/London"` (zone optional, UTC by default), as admins type
        it; raises ValueError with the expected shape."""
        shape = "expected e.g. 'Sun 02:00-06:00 Europe/London' (zone optional)"
        parts = text.split()
        if len(parts) not in (2, 3) or parts[1].count("-") != 1:
            raise ValueError(f"maintenance window '{text}': {shape}")
        names = [name.lower() for name in WEEKDAYS]
        day = parts[0].lower()[:3]
        if day not in names:
            raise ValueError(f"maintenance window '{text}': unknown weekday; {shape}")
        start_text, end_text = parts[1].split("-")
        try:
            start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
        except ValueError:
            raise ValueError(f"maintenance window '{text}': times are HH:MM; {shape}") from None
        zone = parts[2] if len(parts) == 3 else "UTC"
        return cls(ci, names.index(day), start, end, zone)


class ConflictKind(StrEnum):
    SAME_CI = "same_ci"
    SAME_SERVICE = "same_service"
    ASSIGNEE_BOOKED = "assignee_booked"
    FREEZE = "freeze"
    OUTSIDE_MAINTENANCE = "outside_maintenance"


_KIND_ORDER = {kind: index for index, kind in enumerate(ConflictKind)}
_NO_WINDOW = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Conflict:
    """One thing in the way: the clashing record (change number, freeze name, or CI for
    maintenance), the time the two share (None for maintenance) and a sentence for humans."""

    kind: ConflictKind
    with_record: str | None
    window: Window | None
    detail: str


def _sort_key(conflict: Conflict) -> tuple[int, datetime, str, str]:
    start = conflict.window.start if conflict.window is not None else _NO_WINDOW
    return (_KIND_ORDER[conflict.kind], start, conflict.with_record or "", conflict.detail)


def find_conflicts(
    change: PlannedChange,
    others: Iterable[PlannedChange],
    freezes: Iterable[FreezeWindow],
    maintenance: Mapping[str, Sequence[MaintenanceWindow]],
) -> list[Conflict]:
    """Everything that clashes with scheduling `change` in its window, in a fixed order."""
    found: list[Conflict] = []
    window = change.window
    for other in others:
        if other.number == change.number or not other.booked:
            continue
        shared = window.overlap(other.window)
        if shared is None:
            continue
        booked = other.window.describe()
        common_cis = change.cis & other.cis
        if common_cis:
            names = ", ".join(sorted(common_cis))
            found.append(
                Conflict(
                    ConflictKind.SAME_CI,
                    other.number,
                    shared,
                    f"{other.number} is booked on {names} from {booked}",
                )
            )
        elif change.service is not None and change.service == other.service:
            found.append(
                Conflict(
                    ConflictKind.SAME_SERVICE,
                    other.number,
                    shared,
                    f"{other.number} is booked on service {other.service} from {booked}",
                )
            )
        if change.assignee is not None and change.assignee == other.assignee:
            found.append(
                Conflict(
                    ConflictKind.ASSIGNEE_BOOKED,
                    other.number,
                    shared,
                    f"{other.assignee} is already assigned to {other.number} from {booked}",
                )
            )
    for freeze in freezes:
        if not freeze.applies_to(change.service):
            continue
        shared = window.overlap(freeze.window)
        if shared is None:
            continue
        scope = "global" if freeze.service is None else f"on service {freeze.service}"
        reason = f": {freeze.reason}" if freeze.reason else ""
        found.append(
            Conflict(
                ConflictKind.FREEZE,
                freeze.name,
                shared,
                f"freeze '{freeze.name}' ({scope}) from {freeze.window.describe()}{reason}",
            )
        )
    for ci in sorted(change.cis):
        windows = maintenance.get(ci, ())
        for candidate in windows:
            if candidate.ci != ci:
                raise ValueError(f"maintenance window for '{candidate.ci}' listed under CI '{ci}'")
        if not windows or any(candidate.contains(window) for candidate in windows):
            continue
        allowed = "; ".join(candidate.label() for candidate in windows)
        found.append(
            Conflict(
                ConflictKind.OUTSIDE_MAINTENANCE,
                ci,
                None,
                f"{ci} may only change inside its maintenance window ({allowed}); "
                f"the change runs {window.describe()}",
            )
        )
    return sorted(found, key=_sort_key)


def blocking(conflicts: Iterable[Conflict], *, freeze_exempt: bool = False) -> bool:
    """True when the conflicts stop a change being scheduled without an override.

    A freeze-exempt change (an emergency with a recorded justification, see
    `freeze_exempt`) runs through freeze windows; every other conflict still blocks.
    """
    return any(True for _ in unexcused(conflicts, freeze_exempt=freeze_exempt))


def unexcused(conflicts: Iterable[Conflict], *, freeze_exempt: bool) -> list[Conflict]:
    """The conflicts that still need a change manager's override."""
    return [c for c in conflicts if not (freeze_exempt and c.kind is ConflictKind.FREEZE)]


def freeze_exempt(kind: ChangeType, justification: str | None) -> bool:
    """Only an emergency change that says why it cannot wait may run through a freeze."""
    return kind is ChangeType.EMERGENCY and bool((justification or "").strip())
