"""The incident queue: SLA order and keyset paging, every filter and its count, and the
per-incident SLA summary it sorts by (kept without bumping the incident's version)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text

from itsm_tui.clock import FixedClock
from itsm_tui.domain.enums import IncidentState, Priority
from itsm_tui.services import incidents, queue, slas
from itsm_tui.services.errors import ValidationFailed
from itsm_tui.services.queue import QueueFilter, QueueRow
from itsm_tui.services.sla_evaluator import evaluate
from itsm_tui.services.tx import transaction
from itsm_tui.services.validation import validate
from itsm_tui.store.database import open_database
from itsm_tui.store.engine import make_engine
from itsm_tui.store.migrate import alembic_config
from itsm_tui.store.models import NO_SLA_DUE
from tests.conftest import Desk, seed_directory
from tests.service_helpers import HOLD, RESOLUTION, drive

FLAGS = ("mine", "my_groups", "unassigned", "at_risk", "breached")
ALL = QueueFilter(states=())
IMPACT_URGENCY = {1: (1, 1), 2: (1, 2), 3: (2, 2), 4: (2, 3), 5: (3, 3)}


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """March 2026: the 2nd is a Monday."""
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


def new(
    desk: Desk,
    priority: int = 3,
    *,
    actor: str = "alice",
    title: str = "Mail bounces",
    **fields: Any,
) -> str:
    impact, urgency = IMPACT_URGENCY[priority]
    values: dict[str, Any] = {"group": "Service Desk", **fields}
    data = validate(incidents.IncidentCreate, title=title, impact=impact, urgency=urgency, **values)
    record = incidents.create_incident(desk.session, desk[actor], desk.clock, data)
    assert record.priority == priority
    return record.number


def page(desk: Desk, query: QueueFilter = ALL, actor: str = "alice", **kw: Any) -> queue.QueuePage:
    return queue.fetch_page(desk.session, desk[actor], desk.clock.now(), query, **kw)


def numbers(desk: Desk, query: QueueFilter = ALL, actor: str = "alice") -> list[str]:
    found = page(desk, query, actor, limit=queue.MAX_PAGE)
    assert not found.more
    return [r.number for r in found.rows]


def row(desk: Desk, number: str) -> QueueRow:
    (only,) = queue.rows_for(desk.session, [number])
    return only


def version(desk: Desk, number: str) -> int:
    return incidents.get_incident(desk.session, number).version


def assert_counts_match(desk: Desk, actor: str, query: QueueFilter) -> queue.QueueCounts:
    """Every figure `count` gives equals the rows `fetch_page` returns for that filter."""
    counts = queue.count(desk.session, desk[actor], desk.clock.now(), query)
    scope = query.with_(**dict.fromkeys(FLAGS, False))
    assert counts.matching == len(numbers(desk, query, actor))
    assert counts.scope == len(numbers(desk, scope, actor))
    for flag in FLAGS:
        assert getattr(counts, flag) == len(numbers(desk, scope.with_(**{flag: True}), actor)), flag
    return counts


# ---------------------------------------------------------------------------- the filter model


def test_filter_chips_toggles_and_validated_copies() -> None:
    default = QueueFilter()
    assert default.states == queue.OPEN_STATES
    assert default.chips() == ["open"]
    assert ALL.chips() == ["all states"]
    busy = QueueFilter(
        states=(IncidentState.RESOLVED,),
        mine=True,
        breached=True,
        priorities=(Priority.HIGH, Priority.CRITICAL),
        group="Network",
        caller="dana",
        text="vpn",
    )
    assert busy.chips() == [
        "state: resolved",
        "mine",
        "breached",
        "P1,P2",
        "group: Network",
        "caller: dana",
        "/vpn",
    ]
    toggled = default.toggled("at_risk")
    assert (toggled.at_risk, default.at_risk) == (True, False)  # a copy, the original is kept
    assert toggled.toggled("at_risk") == default
    changed = default.with_(text="  disk  ", states=["new"])
    assert (changed.text, changed.states) == ("disk", (IncidentState.NEW,))
    with pytest.raises(ValidationFailed):
        default.with_(text="x" * 201)
    with pytest.raises(ValidationFailed):
        default.with_(group="   ")
    with pytest.raises(ValidationFailed):
        default.with_(colour="red")  # unknown fields are refused


# ---------------------------------------------------------------------------- order and paging


def test_most_urgent_first_and_keyset_paging_walks_everything_once(desk: Desk) -> None:
    assert slas.ensure_defaults(desk.session, desk.clock, "UTC")
    desk.clock.set(at(2, 9))
    by_priority: dict[int, list[str]] = {p: [] for p in (1, 2, 3, 4, 5)}
    for p in (3, 4, 2, 3, 5, 3, 2, 4, 3, 2, 3, 5, 4, 2, 3):  # 15, interleaved
        by_priority[p].append(new(desk, p))
    held = [new(desk, 3) for _ in range(3)]
    for number in held:  # paused at 09:00: no running clock
        drive(desk, number, "on_hold")
    done = [new(desk, 2) for _ in range(2)]
    for number in done:  # resolved: no clock at all
        drive(desk, number, "resolved")
    desk.clock.set(at(2, 9, 1))  # P1s opened a minute later still come first
    by_priority[1] = [new(desk, 1) for _ in range(3)]

    expected = [n for p in (1, 2, 3, 4, 5) for n in by_priority[p]] + sorted(held + done)
    assert len(expected) == len(set(expected)) == 23
    assert numbers(desk) == expected
    first, last_p4 = row(desk, by_priority[1][0]), row(desk, by_priority[4][-1])
    assert (first.sla_state, first.sla_due_at, first.sla_risk_at) == (
        "running",
        at(2, 9, 16),  # P1: 15 min response on 24x7
        at(2, 9, 12, 15),  # 75% of it
    )
    assert last_p4.sla_due_at == at(2, 17)  # P4: 8 business hours
    assert row(desk, held[0]).key == (NO_SLA_DUE, row(desk, held[0]).key[1])
    assert numbers(desk, QueueFilter()) == [n for n in expected if n not in done]

    # Forward from the top, five at a time.
    pages = [page(desk, limit=5)]
    while pages[-1].more:
        pages.append(page(desk, after=pages[-1].rows[-1].key, limit=5))
    assert [len(p.rows) for p in pages] == [5, 5, 5, 5, 3]
    assert [r.number for p in pages for r in p.rows] == expected
    assert page(desk, after=pages[-1].rows[-1].key, limit=5) == queue.QueuePage([], False)

    # Backward from the end, five at a time; rows still come in queue order.
    back = [page(desk, from_end=True, limit=5)]
    assert [r.number for r in back[0].rows] == expected[-5:] and back[0].more
    while back[-1].more:
        back.append(page(desk, before=back[-1].rows[0].key, limit=5))
    assert [len(p.rows) for p in back] == [5, 5, 5, 5, 3]
    assert [r.number for p in reversed(back) for r in p.rows] == expected
    assert not page(desk, before=back[-1].rows[0].key, limit=5).rows

    # Re-reading a window in place, from either edge; ties (same due) are split by id.
    second = pages[1]
    assert page(desk, after=second.rows[0].key, inclusive=True, limit=5).rows == second.rows
    assert page(desk, before=second.rows[-1].key, inclusive=True, limit=5).rows == second.rows
    shifted = [*second.rows[1:], pages[2].rows[0]]
    assert page(desk, after=second.rows[0].key, limit=5).rows == shifted
    tied = [r for p in pages for r in p.rows if r.number in by_priority[3]]
    assert len({r.key[0] for r in tied}) == 1 and [r.key[1] for r in tied] == sorted(
        r.key[1] for r in tied
    )

    # `more` is exact at the boundary.
    assert not page(desk, limit=23).more and page(desk, limit=22).more
    assert not page(desk, from_end=True, limit=23).more
    for bad in (0, queue.MAX_PAGE + 1):
        with pytest.raises(ValidationFailed):
            page(desk, limit=bad)

    # rows_for: named rows in queue order.
    picked = [expected[-1], expected[0], expected[7]]
    assert [r.number for r in queue.rows_for(desk.session, picked)] == sorted(
        picked, key=expected.index
    )
    assert queue.rows_for(desk.session, []) == []


# ---------------------------------------------------------------------------- filters


def test_each_filter_alone_and_combined_with_matching_counts(desk: Desk) -> None:
    desk.clock.set(at(2, 9))
    a = new(desk, 3, title="Printer 100% down", assignee="alice", caller="Dana")
    b = new(desk, 1, title="VPN drops", description="The PRINTER jams too")
    c = new(desk, 2, title="disk_full on mail-01", group="Network", assignee="bob", caller="dana")
    d = new(desk, 4, title="diskXfull", group="Network", caller="Danae")
    e = new(desk, 3, title="1000 users locked out", group="Security")
    f = new(desk, 5, title="Untriaged", group=None)
    g = new(desk, 3, title="Old printer", assignee="alice")
    h = new(desk, 3, title="Cancelled one", group="Network", assignee="bob")
    drive(desk, g, "resolved")
    drive(desk, h, "cancelled")
    q = QueueFilter()

    assert numbers(desk, q) == [a, b, c, d, e, f]  # open states by default; no SLA: by id
    assert numbers(desk, ALL) == [a, b, c, d, e, f, g, h]  # empty states = every state
    assert numbers(desk, q.with_(states=["resolved"])) == [g]
    assert numbers(desk, q.with_(states=["cancelled", "resolved"])) == [g, h]
    # People.
    assert numbers(desk, q.with_(mine=True)) == [a]
    assert numbers(desk, ALL.with_(mine=True)) == [a, g]
    assert numbers(desk, q.with_(mine=True), actor="bob") == [c]
    assert numbers(desk, q.with_(mine=True), actor="sue") == []
    assert numbers(desk, q.with_(my_groups=True)) == [a, b]
    assert numbers(desk, q.with_(my_groups=True), actor="bob") == [c, d]
    assert numbers(desk, q.with_(my_groups=True), actor="sue") == [a, b, c, d]
    assert numbers(desk, q.with_(my_groups=True), actor="vic") == []  # in no group
    assert numbers(desk, q.with_(unassigned=True)) == [b, d, e, f]
    # Scope filters.
    assert numbers(desk, q.with_(priorities=[1, 2])) == [b, c]
    assert numbers(desk, q.with_(group="Network")) == [c, d]
    assert numbers(desk, ALL.with_(group="Network")) == [c, d, h]
    with pytest.raises(ValidationFailed, match="unknown group"):
        numbers(desk, q.with_(group="Nowhere"))
    assert numbers(desk, q.with_(caller="DANA")) == [a, c]  # exact, any case: not Danae
    assert numbers(desk, q.with_(text="printer")) == [a, b]  # title or description, any case
    assert numbers(desk, ALL.with_(text="PRINTER")) == [a, b, g]
    assert numbers(desk, q.with_(text=e.lower())) == [e]  # the number too
    assert numbers(desk, q.with_(text="0%")) == [a]  # % literal: not "1000 users"
    assert numbers(desk, q.with_(text="%")) == [a]
    assert numbers(desk, q.with_(text="k_f")) == [c]  # _ literal: not "diskXfull"
    assert numbers(desk, q.with_(text="_")) == [c]
    assert numbers(desk, q.with_(text="no such words")) == []
    # Combinations (AND).
    assert numbers(desk, q.with_(my_groups=True, unassigned=True), actor="sue") == [b, d]
    assert numbers(desk, q.with_(my_groups=True, priorities=[1, 2]), actor="sue") == [b, c]
    assert numbers(desk, q.with_(mine=True, unassigned=True)) == []
    assert numbers(desk, q.with_(group="Network", caller="dana")) == [c]
    assert numbers(desk, ALL.with_(mine=True, text="printer")) == [a, g]

    sue = assert_counts_match(desk, "sue", q)
    assert sue == queue.QueueCounts(
        matching=6, scope=6, mine=0, my_groups=4, unassigned=4, at_risk=0, breached=0
    )
    mixed = assert_counts_match(desk, "sue", q.with_(my_groups=True, unassigned=True))
    assert (mixed.matching, mixed.scope, mixed.unassigned) == (2, 6, 4)
    assert_counts_match(desk, "alice", ALL.with_(text="printer", mine=True))
    assert_counts_match(desk, "bob", q.with_(group="Network"))
    assert_counts_match(desk, "vic", q.with_(my_groups=True))


def test_at_risk_and_breached_follow_the_clock_and_the_evaluator(desk: Desk) -> None:
    assert slas.ensure_defaults(desk.session, desk.clock, "UTC")
    desk.clock.set(at(2, 9))
    p1 = new(desk, 1, assignee="alice")  # response due 09:15, at risk from 09:11:15
    p3 = new(desk, 3)  # response due 13:00, at risk from 12:00
    held = new(desk, 1)
    drive(desk, held, "on_hold")  # paused at once: never at risk, never breached
    q = QueueFilter()

    def flagged() -> tuple[list[str], list[str]]:
        return numbers(desk, q.with_(at_risk=True)), numbers(desk, q.with_(breached=True))

    desk.clock.set(at(2, 9, 11, 14))
    assert flagged() == ([], [])
    desk.clock.set(at(2, 9, 11, 15))
    assert flagged() == ([p1], [])
    assert_counts_match(desk, "sue", q)
    desk.clock.set(at(2, 9, 15))  # due: breached by time, no longer "at risk"
    assert flagged() == ([], [p1])
    assert row(desk, p1).sla_breached is False  # nothing has recorded it yet
    assert row(desk, held).sla_state == "paused"

    before = version(desk, p1)
    fired = evaluate(desk.session, desk.clock).fired
    assert (p1, "response", 100) in fired
    assert row(desk, p1).sla_breached is True  # the stored flag
    assert version(desk, p1) == before  # a summary-only update is not an edit
    assert row(desk, p3).sla_breached is False and row(desk, held).sla_breached is False

    desk.clock.set(at(2, 12))
    assert flagged() == ([p3], [p1])
    counts = assert_counts_match(desk, "alice", q)
    assert (counts.at_risk, counts.breached, counts.mine) == (1, 1, 1)
    # A colleague holding the version read before the pass can still save.
    incidents.assign(
        desk.session, desk["sue"], desk.clock, p1, assignee="sue", expect_version=before
    )

    # Resolved: no clock runs any more, but the recorded breach stays findable.
    drive(desk, p1, "resolved")
    resolved = row(desk, p1)
    assert (resolved.sla_state, resolved.key[0], resolved.sla_breached) == (
        "none",
        NO_SLA_DUE,
        True,
    )
    assert flagged() == ([p3], [])  # open states only
    assert numbers(desk, ALL.with_(breached=True)) == [p1]
    assert_counts_match(desk, "sue", ALL)


# ---------------------------------------------------------------------------- summary


def test_summary_pauses_resumes_and_ends_without_bumping_the_version(desk: Desk) -> None:
    assert slas.ensure_defaults(desk.session, desk.clock, "UTC")
    desk.clock.set(at(2, 9))
    number = new(desk, 3)  # response due 13:00
    planning = new(desk, 5)  # response due Wed 09:00
    assert numbers(desk) == [number, planning]
    assert version(desk, number) == 1  # the summary written on create did not bump it

    desk.clock.set(at(2, 10))
    # A hold the policy does not pause for keeps the clock running.
    record = incidents.transition(
        desk.session, desk["alice"], desk.clock, number, "on_hold", hold_reason="awaiting_change"
    )
    assert record.version == 2  # one write, one bump (summary included)
    assert (row(desk, number).sla_state, row(desk, number).sla_due_at) == ("running", at(2, 13))

    record = incidents.transition(
        desk.session, desk["alice"], desk.clock, number, "on_hold", **HOLD
    )
    held = row(desk, number)
    assert record.version == 3
    assert (held.sla_state, held.sla_due_at, held.sla_risk_at, held.key[0]) == (
        "paused",
        None,
        None,
        NO_SLA_DUE,
    )
    assert held.sla_left_seconds == 3 * 3600  # 4 h response target, 1 h used
    assert numbers(desk) == [planning, number]  # a paused row sorts after running ones

    # A resync with nothing new rewrites the summary but never bumps the version.
    desk.clock.set(at(2, 14))
    with transaction(desk.session):
        assert slas.resync_open_incidents(desk.session, desk.clock.now()) == 2
    assert version(desk, number) == 3
    assert row(desk, number) == held

    incidents.transition(desk.session, desk["alice"], desk.clock, number, "in_progress")
    resumed = row(desk, number)
    assert (resumed.sla_state, resumed.sla_left_seconds) == ("running", None)
    assert resumed.sla_due_at == at(2, 17)  # 13:00 plus the 4 h paused
    assert resumed.sla_risk_at == at(2, 16)
    assert numbers(desk) == [number, planning]

    desk.clock.set(at(2, 15))
    incidents.transition(desk.session, desk["alice"], desk.clock, number, "resolved", **RESOLUTION)
    ended = row(desk, number)
    assert (ended.sla_state, ended.sla_due_at, ended.sla_left_seconds, ended.key[0]) == (
        "none",
        None,
        None,
        NO_SLA_DUE,
    )
    assert ended.sla_breached is False
    assert numbers(desk) == [planning, number]  # every state: resolved goes to the end
    assert numbers(desk, QueueFilter()) == [planning]


def test_paging_an_upgraded_sqlite_desk_sees_every_incident_once(sqlite_url: str) -> None:
    """SQLite compares datetimes as text: the migration must write the sentinel in the very
    format the ORM does, or keyset paging skips rows forward and repeats them backward."""
    engine = make_engine(sqlite_url)
    config = alembic_config()
    with engine.begin() as connection:  # a desk last migrated before the queue existed
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
        for n in (1, 2, 3):
            connection.execute(
                text(
                    "INSERT INTO incidents (number, title, description, impact, urgency, "
                    "priority, state, major, opened_at, updated_at, version) VALUES "
                    "(:number, 'old', '', 2, 2, 3, 'new', 0, :at, :at, 1)"
                ),
                {"number": f"INC{n:07d}", "at": "2026-03-01 09:00:00.000000"},
            )
        connection.execute(text("UPDATE number_sequences SET last_value = 3 WHERE prefix = 'INC'"))
    engine.dispose()
    database = open_database(sqlite_url)  # upgrades to head
    try:
        with database.session() as session:
            desk = seed_directory(session, FixedClock(at(2, 9)))
            newer = [new(desk, 3) for _ in range(3)]  # no policies: no clock runs
            expected = ["INC0000001", "INC0000002", "INC0000003", *newer]
            assert numbers(desk) == expected
            pages = [page(desk, limit=2)]
            while pages[-1].more and len(pages) < 10:
                pages.append(page(desk, after=pages[-1].rows[-1].key, limit=2))
            back = [page(desk, from_end=True, limit=2)]
            while back[-1].more and len(back) < 10:
                back.append(page(desk, before=back[-1].rows[0].key, limit=2))
            assert [r.number for p in pages for r in p.rows] == expected
            assert [r.number for p in reversed(back) for r in p.rows] == expected
    finally:
        database.dispose()


def test_the_open_queue_walks_its_partial_index_without_sorting(
    sqlite_url: str, clock: FixedClock
) -> None:
    """The default view must read a queue index in order, never sort: SQLite only uses the
    partial `ix_incidents_queue_open` when the query spells its predicate out (the states as
    literals), and has statistics to choose well once the desk has been analysed on open."""
    from sqlalchemy import event

    from itsm_tui.services.directory import find_user

    database = open_database(sqlite_url)
    with database.session() as session:
        desk = seed_directory(session, clock)
        for n in range(40):
            data = validate(incidents.IncidentCreate, title=f"T{n}", impact=2, urgency=2)
            number = incidents.create_incident(session, desk["alice"], clock, data).number
            if n % 5:  # most of a desk is history, as in real life
                incidents.transition(session, desk["alice"], clock, number, "cancelled")
    database.dispose()
    database = open_database(sqlite_url)  # the first open with incidents analyses them
    statements: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "ORDER BY incidents.sla_due_at" in statement:
            statements.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", capture)
    try:
        with database.session() as session:
            alice = find_user(session, "alice")
            assert alice is not None
            first = queue.fetch_page(session, alice, clock.now(), QueueFilter(), limit=5)
            queue.fetch_page(session, alice, clock.now(), QueueFilter(), after=first.rows[-1].key)
        event.remove(database.engine, "before_cursor_execute", capture)
        for statement, parameters in statements:
            with database.engine.connect() as connection:
                plan = connection.exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + statement,
                    parameters,  # type: ignore[arg-type]
                ).fetchall()
            details = " | ".join(str(row[-1]) for row in plan)
            # Either queue index serves the order (which one depends on SQLite's statistics);
            # what must never happen is a sort of every open incident per page.
            assert "USING INDEX ix_incidents_queue" in details, details
            assert "TEMP B-TREE" not in details, details
            # The partial index is usable only because the states are spelled out.
            assert "IN ('new', 'in_progress', 'on_hold')" in statement, statement
        assert len(statements) == 2
    finally:
        database.dispose()
