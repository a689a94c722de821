"""The incident queue: filtered, SLA-ordered pages fetched by keyset, and counts per filter.

A desk may hold a million incidents, so the queue never loads them all: every read is one
window of rows after (or before) a key of the sort order `(sla_due_at, id)`, which the
`ix_incidents_queue` index serves directly. The SLA columns are the summary kept by
`services.sla_summary`, so rows carry everything a countdown needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import ColumnElement, Select, and_, bindparam, case, false, func, or_, tuple_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from itsm_tui.domain.enums import IncidentState, Priority
from itsm_tui.services.directory import group_by_name, group_ids_of
from itsm_tui.services.incidents import escape_like
from itsm_tui.services.validation import Input, Name, ShortText, validate
from itsm_tui.store.models import ConfigItem, Group, Incident, Service, User

OPEN_STATES: tuple[IncidentState, ...] = (
    IncidentState.NEW,
    IncidentState.IN_PROGRESS,
    IncidentState.ON_HOLD,
)
MAX_PAGE = 500

QueueKey = tuple[datetime, int]  # (sla_due_at, id): a position in the queue's order


class QueueFilter(Input):
    """What the queue shows. Flags combine with AND; an empty `states` means every state."""

    states: tuple[IncidentState, ...] = OPEN_STATES
    mine: bool = False
    my_groups: bool = False
    unassigned: bool = False
    at_risk: bool = False
    breached: bool = False
    priorities: tuple[Priority, ...] = ()
    group: Name | None = None
    caller: ShortText | None = None
    text: ShortText | None = None

    def chips(self) -> list[str]:
        """Short labels of what is active, in a stable order, for the filter bar."""
        chips = []
        if not self.states:
            chips.append("all states")
        elif set(self.states) != set(OPEN_STATES):
            chips.append("state: " + ",".join(s.value for s in self.states))
        else:
            chips.append("open")
        for flag, label in (
            (self.mine, "mine"),
            (self.my_groups, "my groups"),
            (self.unassigned, "unassigned"),
            (self.at_risk, "at risk"),
            (self.breached, "breached"),
        ):
            if flag:
                chips.append(label)
        if self.priorities:
            chips.append(",".join(f"P{int(p)}" for p in sorted(self.priorities)))
        if self.group:
            chips.append(f"group: {self.group}")
        if self.caller:
            chips.append(f"caller: {self.caller}")
        if self.text:
            chips.append(f"/{self.text}")
        return chips

    def toggled(self, flag: str) -> QueueFilter:
        return self.model_copy(update={flag: not getattr(self, flag)})

    def with_(self, **values: Any) -> QueueFilter:
        """A changed copy, validated like the original (model_copy alone would not)."""
        return validate(QueueFilter, **{**self.model_dump(), **values})


@dataclass(frozen=True)
class QueueRow:
    key: QueueKey
    number: str
    title: str
    priority: int
    major: bool
    state: str
    service: str | None
    ci: str | None
    assignee: str | None
    group: str | None
    caller: str | None
    opened_at: datetime
    sla_state: str  # running | paused | none
    sla_due_at: datetime | None  # of the most urgent running clock
    sla_risk_at: datetime | None
    sla_left_seconds: int | None  # frozen time left while paused
    sla_breached: bool


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    more: bool  # rows exist beyond this page in the direction read


@dataclass(frozen=True)
class QueueCounts:
    matching: int  # rows the whole filter selects
    scope: int  # rows in the state scope with the non-flag filters
    mine: int
    my_groups: int
    unassigned: int
    at_risk: int
    breached: int


PageLimit = Annotated[int, Field(ge=1, le=MAX_PAGE)]


class _PageInput(Input):
    limit: PageLimit


_assignee = aliased(User)


def _columns() -> Select[Any]:
    return (
        select(
            col(Incident.sla_due_at),
            col(Incident.id),
            col(Incident.number),
            col(Incident.title),
            col(Incident.priority),
            col(Incident.major),
            col(Incident.state),
            col(Service.name),
            col(ConfigItem.name),
            _assignee.username,
            col(Group.name),
            col(Incident.caller),
            col(Incident.opened_at),
            col(Incident.sla_state),
            col(Incident.sla_risk_at),
            col(Incident.sla_left_seconds),
            col(Incident.sla_breached),
        )
        .select_from(Incident)
        .outerjoin(Service, col(Service.id) == col(Incident.service_id))
        .outerjoin(ConfigItem, col(ConfigItem.id) == col(Incident.ci_id))
        .outerjoin(_assignee, _assignee.id == col(Incident.assignee_id))
        .outerjoin(Group, col(Group.id) == col(Incident.group_id))
    )


def _row(values: Any) -> QueueRow:
    (due, id_, number, title, priority, major, state, service, ci, assignee, group, caller) = (
        values[:12]
    )
    opened_at, sla_state, risk_at, left, breached = values[12:]
    return QueueRow(
        key=(due, id_),
        number=number,
        title=title,
        priority=priority,
        major=major,
        state=state,
        service=service,
        ci=ci,
        assignee=assignee,
        group=group,
        caller=caller,
        opened_at=opened_at,
        sla_state=sla_state,
        sla_due_at=due if sla_state == "running" else None,
        sla_risk_at=risk_at if sla_state == "running" else None,
        sla_left_seconds=left,
        sla_breached=bool(breached),
    )


@dataclass(frozen=True)
class _Conditions:
    scope: list[ColumnElement[bool]]  # states and the non-flag filters
    flags: dict[str, ColumnElement[bool]]  # each quick filter's own condition
    active: list[ColumnElement[bool]]  # the flags switched on


def _conditions(
    session: Session, actor: User, now: datetime, query: QueueFilter, *, every_flag: bool
) -> _Conditions:
    """The filter as SQL. `every_flag` builds each quick filter's condition (for counts);
    otherwise only the active ones, sparing a page read the actor's group lookup."""
    scope: list[ColumnElement[bool]] = []
    if query.states:
        scope.append(_state_condition(query.states))
    if query.priorities:
        scope.append(col(Incident.priority).in_([int(p) for p in query.priorities]))
    if query.group:
        scope.append(col(Incident.group_id) == group_by_name(session, query.group).id)
    if query.caller:
        scope.append(func.lower(col(Incident.caller)) == query.caller.lower())
    if query.text:
        scope.append(_text_condition(session, query.text))
    running = col(Incident.sla_state) == "running"
    flags: dict[str, ColumnElement[bool]] = {
        "mine": col(Incident.assignee_id) == actor.id,
        "unassigned": col(Incident.assignee_id).is_(None),
        "at_risk": and_(running, col(Incident.sla_risk_at) <= now, col(Incident.sla_due_at) > now),
        "breached": or_(col(Incident.sla_breached), and_(running, col(Incident.sla_due_at) <= now)),
    }
    if every_flag or query.my_groups:
        assert actor.id is not None
        groups = group_ids_of(session, actor.id)
        flags["my_groups"] = col(Incident.group_id).in_(groups) if groups else false()
    active = [condition for name, condition in flags.items() if getattr(query, name)]
    return _Conditions(scope=scope, flags=flags, active=active)


def _state_condition(states: tuple[IncidentState, ...]) -> ColumnElement[bool]:
    """The open states go in as literals, in one fixed order: SQLite uses the partial index
    `ix_incidents_queue_open` only when the query spells its predicate out."""
    if set(states) == set(OPEN_STATES):
        values = [state.value for state in OPEN_STATES]
        return col(Incident.state).in_(
            bindparam("open_states", values, expanding=True, literal_execute=True)
        )
    return col(Incident.state).in_([state.value for state in states])


def _text_condition(session: Session, text: str) -> ColumnElement[bool]:
    """Case-insensitive containment in number, title or description.

    SQLite's LIKE already folds ASCII, so an ASCII search skips `lower()` (on SQLite a Python
    function, called per row, holding the interpreter lock the UI thread needs).
    """
    columns = (col(Incident.number), col(Incident.title), col(Incident.description))
    pattern = f"%{escape_like(text.lower())}%"
    if session.get_bind().dialect.name == "sqlite" and text.isascii():
        return or_(*(column.like(pattern, escape="\\") for column in columns))
    return or_(*(func.lower(column).like(pattern, escape="\\") for column in columns))


def fetch_page(
    session: Session,
    actor: User,
    now: datetime,
    query: QueueFilter,
    *,
    after: QueueKey | None = None,
    before: QueueKey | None = None,
    inclusive: bool = False,
    from_end: bool = False,
    limit: int = 50,
) -> QueuePage:
    """One window of the queue in SLA order.

    `after` reads forward from a key, `before` backward to it (rows still come back in queue
    order); `inclusive` includes the key itself (to re-read a window in place); `from_end`
    reads the last page. Nothing but the window is loaded.
    """
    limit = validate(_PageInput, limit=limit).limit
    conditions = _conditions(session, actor, now, query, every_flag=False)
    position = tuple_(col(Incident.sla_due_at), col(Incident.id))
    backward = before is not None or from_end
    statement = _columns().where(*conditions.scope, *conditions.active)
    if after is not None:
        statement = statement.where(position >= after if inclusive else position > after)
    if before is not None:
        statement = statement.where(position <= before if inclusive else position < before)
    if backward:
        statement = statement.order_by(col(Incident.sla_due_at).desc(), col(Incident.id).desc())
    else:
        statement = statement.order_by(col(Incident.sla_due_at), col(Incident.id))
    found = session.execute(statement.limit(limit + 1)).all()
    rows = [_row(values) for values in found[:limit]]
    if backward:
        rows.reverse()
    return QueuePage(rows=rows, more=len(found) > limit)


def count(session: Session, actor: User, now: datetime, query: QueueFilter) -> QueueCounts:
    """Counts per quick filter within the current scope, in one scan of it."""
    conditions = _conditions(session, actor, now, query, every_flag=True)
    every = and_(*conditions.active) if conditions.active else None

    def tally(condition: ColumnElement[bool] | None) -> Any:
        if condition is None:
            return func.count()
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    flags = conditions.flags
    statement = (
        select(
            tally(every),
            func.count(),
            *(tally(flags[name]) for name in ("mine", "my_groups", "unassigned")),
            tally(flags["at_risk"]),
            tally(flags["breached"]),
        )
        .select_from(Incident)
        .where(*conditions.scope)
    )
    matching, scope, mine, my_groups, unassigned, at_risk, breached = session.execute(
        statement
    ).one()
    return QueueCounts(
        matching=int(matching),
        scope=int(scope),
        mine=int(mine),
        my_groups=int(my_groups),
        unassigned=int(unassigned),
        at_risk=int(at_risk),
        breached=int(breached),
    )


def rows_for(session: Session, numbers: list[str]) -> list[QueueRow]:
    """Queue rows of named incidents, in queue order (for toasts about new arrivals)."""
    if not numbers:
        return []
    statement = (
        _columns()
        .where(col(Incident.number).in_(numbers))
        .order_by(col(Incident.sla_due_at), col(Incident.id))
    )
    return [_row(values) for values in session.execute(statement).all()]


class SlaSignal(StrEnum):
    """How a row's SLA reads at a glance; each has a symbol so it reads without colour."""

    OK = "ok"
    WARNING = "warning"
    BREACHED = "breached"
    PAUSED = "paused"
    NONE = "none"


def sla_signal(row: QueueRow, now: datetime) -> tuple[SlaSignal, int | None]:
    """The row's SLA state and seconds left (negative once overdue), from stored instants
    only, so a countdown can tick every second without touching the database."""
    if row.sla_state == "paused":
        return SlaSignal.PAUSED, row.sla_left_seconds
    if row.sla_state != "running" or row.sla_due_at is None:
        return (SlaSignal.BREACHED if row.sla_breached else SlaSignal.NONE), None
    left = int((row.sla_due_at - now).total_seconds())
    if left <= 0:
        return SlaSignal.BREACHED, left
    if row.sla_risk_at is not None and now >= row.sla_risk_at:
        return SlaSignal.WARNING, left
    # An earlier clock may have breached (the `breached` filter finds it); the column
    # follows the clock still running.
    return SlaSignal.OK, left


def find_by_number(session: Session, fragment: str, *, limit: int = 10) -> list[QueueRow]:
    """Incidents whose number contains `fragment` ("42", "inc0042", "INC0000042"): the one
    whose number is exactly that comes first, then the newest that contain its digits."""
    cleaned = fragment.strip().upper().removeprefix("INC")
    # isdigit() alone takes '²' and '①', which int() refuses
    if not (cleaned.isascii() and cleaned.isdigit()):
        return []
    digits = cleaned.lstrip("0") or "0"
    exact = f"INC{int(digits):07d}"
    pattern = f"%{escape_like(digits)}%"
    statement = (
        _columns()
        .where(col(Incident.number).like(pattern, escape="\\"))
        .order_by((col(Incident.number) == exact).desc(), col(Incident.id).desc())
        .limit(limit)
    )
    return [_row(values) for values in session.execute(statement).all()]
