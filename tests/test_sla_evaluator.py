"""The SLA evaluator: thresholds fire once at the right second, one runner at a time,
auto-close, and the inbox entries escalations leave."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from itsm_tui.clock import FixedClock
from itsm_tui.services import incidents, leases, notifications, slas
from itsm_tui.services.sla_evaluator import evaluate
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database
from itsm_tui.store.models import JournalEntry, SlaClockRow
from tests.conftest import Desk
from tests.service_helpers import RESOLUTION

HOUR = 3600


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """March 2026: the 2nd is a Monday."""
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


def p3_for_alice(desk: Desk) -> str:
    """P3 at Mon 09:00, Service Desk, assigned to alice, left new: response due 13:00."""
    assert slas.ensure_defaults(desk.session, desk.clock, "UTC")
    return p3_for_alice_without_seeding(desk)


def system_notes(desk: Desk) -> list[str]:
    rows = desk.session.exec(
        select(JournalEntry.body)
        .where(JournalEntry.kind == "system")
        .order_by(col(JournalEntry.id))
    ).all()
    desk.session.commit()
    return list(rows)


def test_each_threshold_fires_once_at_its_second(desk: Desk) -> None:
    p3_for_alice(desk)
    desk.clock.set(at(2, 10, 59, 59))
    assert evaluate(desk.session, desk.clock).fired == []
    desk.clock.set(at(2, 11))
    assert evaluate(desk.session, desk.clock).fired == [("INC0000001", "response", 50)]
    assert evaluate(desk.session, desk.clock).fired == []  # not twice
    desk.clock.set(at(2, 13))
    fired = evaluate(desk.session, desk.clock).fired
    assert fired == [("INC0000001", "response", p) for p in (75, 90, 100)]
    assert system_notes(desk) == [
        "SLA response reached 50% (P3 moderate, due 2026-03-02 13:00 UTC)",
        "SLA response reached 75% (P3 moderate, due 2026-03-02 13:00 UTC)",
        "SLA response reached 90% (P3 moderate, due 2026-03-02 13:00 UTC)",
        "SLA response breached (P3 moderate, due 2026-03-02 13:00 UTC)",
    ]
    response = desk.session.exec(select(SlaClockRow).where(SlaClockRow.kind == "response")).one()
    assert (response.stage, response.fired, response.next_check_at) == (
        "breached",
        [50, 75, 90, 100],
        None,
    )


def test_escalations_notify_assignee_then_supervisors(desk: Desk) -> None:
    p3_for_alice(desk)
    desk.clock.set(at(2, 13))
    evaluate(desk.session, desk.clock)
    alice = [n.kind for n in notifications.inbox(desk.session, desk["alice"])]
    sue = [n.kind for n in notifications.inbox(desk.session, desk["sue"])]
    # 50% tells the assignee; 75% and the breach tell the assignee and the supervisors.
    assert sorted(alice) == ["sla_breach", "sla_warning", "sla_warning"]
    assert sorted(sue) == ["sla_breach", "sla_warning"]
    assert notifications.inbox(desk.session, desk["bob"]) == []
    assert notifications.mark_all_read(desk.session, desk["alice"], desk.clock.now()) == 3
    assert notifications.inbox(desk.session, desk["alice"], unread_only=True) == []


def resolution_clock(desk: Desk) -> SlaClockRow:
    row = desk.session.exec(select(SlaClockRow).where(SlaClockRow.kind == "resolution")).one()
    desk.session.commit()
    return row


def test_a_paused_clock_does_not_fire(desk: Desk) -> None:
    """P3 resolution is 27 business hours on office hours (Mon-Fri 08:00-17:00). Held from
    Mon 10:00 after 1 h used, it would pass 50% (13.5 h) at Tue 13:30, 75% Wed 11:15, 90%
    Wed 15:18 and breach Thu 09:00 if the pause did nothing; paused, none of that fires. After
    Thu 12:00's resume, the 29 business hours it spent held move every threshold on by
    exactly that: 50% at Fri 15:30."""
    number = p3_for_alice(desk)
    desk.clock.set(at(2, 10))
    incidents.transition(
        desk.session, desk["alice"], desk.clock, number, "on_hold", hold_reason="awaiting_vendor"
    )
    desk.clock.set(at(5, 12))  # Thu noon: an unpaused clock would have breached by now
    assert [f for f in evaluate(desk.session, desk.clock).fired if f[1] == "resolution"] == []
    held = resolution_clock(desk)
    assert (held.stage, held.paused_since, held.fired) == ("paused", at(2, 10), [])
    incidents.transition(desk.session, desk["alice"], desk.clock, number, "in_progress")
    resumed = resolution_clock(desk)
    assert (resumed.stage, resumed.paused_seconds) == ("in_progress", 29 * HOUR)
    assert resumed.due_at == at(10, 11)  # 27 h + 29 h of office hours from Mon 09:00
    desk.clock.set(at(6, 15, 29, 59))
    assert [f for f in evaluate(desk.session, desk.clock).fired if f[1] == "resolution"] == []
    desk.clock.set(at(6, 15, 30))
    assert [f for f in evaluate(desk.session, desk.clock).fired if f[1] == "resolution"] == [
        (number, "resolution", 50)
    ]


def test_auto_close_spares_major_incidents_and_can_be_off(desk: Desk) -> None:
    assert slas.ensure_defaults(desk.session, desk.clock, "UTC")
    numbers = []
    for major in (False, True):
        desk.clock.set(at(2, 9))
        data = validate(incidents.IncidentCreate, title="x", impact=3, urgency=3)
        number = incidents.create_incident(desk.session, desk["sue"], desk.clock, data).number
        if major:
            incidents.set_major(desk.session, desk["sue"], desk.clock, number, True)
        incidents.transition(
            desk.session, desk["sue"], desk.clock, number, "resolved", **RESOLUTION
        )
        numbers.append(number)
    desk.clock.set(at(9, 8, 59))
    assert evaluate(desk.session, desk.clock).closed == []  # 7 days not yet up
    desk.clock.set(at(9, 9))
    assert evaluate(desk.session, desk.clock, auto_close_days=0).closed == []
    assert evaluate(desk.session, desk.clock).closed == [numbers[0]]
    states = [incidents.get_incident(desk.session, n).state for n in numbers]
    assert states == ["closed", "resolved"]
    assert "Closed automatically after 7 days resolved" in system_notes(desk)


def test_only_one_lease_holder_until_it_expires(desk: Desk, clock: FixedClock) -> None:
    ttl = timedelta(seconds=45)
    assert leases.acquire(desk.session, clock, "x", "a", ttl)
    assert not leases.acquire(desk.session, clock, "x", "b", ttl)
    assert leases.acquire(desk.session, clock, "x", "a", ttl)  # renewal
    clock.advance(seconds=46)
    assert leases.acquire(desk.session, clock, "x", "b", ttl)
    assert leases.holder_of(desk.session, clock, "x") == "b"
    leases.release(desk.session, "x", "b")
    assert leases.holder_of(desk.session, clock, "x") is None


@pytest.mark.parametrize("evaluators", [2])
def test_concurrent_evaluators_fire_every_escalation_exactly_once(
    desk: Desk, database: Database, evaluators: int
) -> None:
    """Two evaluators racing over a minute of simulated time (no lease: the exactly-once
    guarantee must hold even if two runners overlap)."""
    assert slas.ensure_defaults(desk.session, desk.clock, "UTC")
    desk.clock.set(at(2, 9))
    for n in range(6):  # P1: 15 min response on 24x7, thresholds every few minutes
        data = validate(incidents.IncidentCreate, title=f"outage {n}", impact=1, urgency=1)
        incidents.create_incident(desk.session, desk["sue"], desk.clock, data)
    desk.session.rollback()
    errors: list[BaseException] = []
    fired: list[tuple[str, str, int]] = []
    lock = threading.Lock()

    def runner(index: int) -> None:
        own = FixedClock(at(2, 9))
        try:
            with database.session() as session:
                for _ in range(60):  # one pass per simulated 15 s for 15 minutes
                    own.advance(seconds=15)
                    result = evaluate(session, own)
                    with lock:
                        fired.extend(result.fired)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(evaluators)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(fired) == len(set(fired))  # nothing fired twice
    assert sorted({(n, p) for n, k, p in fired if k == "response"}) == sorted(
        (f"INC{i:07d}", p) for i in range(1, 7) for p in (50, 75, 90, 100)
    )
    journaled = desk.session.exec(select(JournalEntry).where(JournalEntry.kind == "system")).all()
    assert len(journaled) == len(fired)


def test_worker_and_inbox_commands(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from itsm_tui.cli import main

    clock = FixedClock(at(2, 9))
    assert main(["--db", sqlite_url, "init"], clock=clock) == 0  # only init creates
    new = ["incident", "new", "--title", "x", "--impact", "1", "--urgency", "1", "--assignee", "me"]
    assert main(["--db", sqlite_url, "--user", "boss", *new], clock=clock) == 0
    capsys.readouterr()
    clock.set(at(2, 10))
    assert (
        main(["--db", sqlite_url, "--user", "boss", "worker", "--once", "--json"], clock=clock) == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["ran"] is True
    assert {(f["kind"], f["percent"]) for f in summary["fired"]} >= {("response", 100)}
    assert main(["--db", sqlite_url, "--user", "boss", "inbox", "--json"], clock=clock) == 0
    inbox = json.loads(capsys.readouterr().out)
    assert inbox and all(entry["incident"] == "INC0000001" for entry in inbox)
    # the lease was given back: a second one-off pass runs too
    assert (
        main(["--db", sqlite_url, "--user", "boss", "worker", "--once", "--json"], clock=clock) == 0
    )
    assert json.loads(capsys.readouterr().out)["ran"] is True


def test_incident_show_lists_the_clocks(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from itsm_tui.cli import main

    clock = FixedClock(at(2, 9))
    assert main(["--db", sqlite_url, "init"], clock=clock) == 0  # only init creates
    new = ["incident", "new", "--title", "x", "--impact", "2", "--urgency", "2"]
    assert main(["--db", sqlite_url, "--user", "boss", *new], clock=clock) == 0
    capsys.readouterr()
    clock.set(at(2, 11))
    assert (
        main(["--db", sqlite_url, "--user", "boss", "incident", "show", "INC0000001"], clock=clock)
        == 0
    )
    out = capsys.readouterr().out
    sla = out[out.index("SLA:") :].splitlines()
    assert sla[1].split() == ["KIND", "POLICY", "STAGE", "DUE", "USED", "PAUSED"]
    assert sla[2].split() == [
        "response", "P3", "moderate", "in_progress", "2026-03-02", "13:00", "UTC", "50%", "no"
    ]  # fmt: skip


def test_reassign_and_set_major_actions(desk: Desk) -> None:
    """A policy whose breach reassigns to the escalation group and declares a major
    incident: both happen once, audited, with the assignee cleared."""
    from itsm_tui.domain.sla_policy import EscalationAction
    from itsm_tui.services import sla_admin

    assert slas.ensure_defaults(desk.session, desk.clock, "UTC")
    changes = validate(
        sla_admin.PolicyChanges,
        actions={100: (EscalationAction.REASSIGN_TO_ESCALATION_GROUP, EscalationAction.SET_MAJOR)},
    )
    sla_admin.update_policy(desk.session, desk["root"], desk.clock, "P3 moderate", changes)
    number = p3_for_alice_without_seeding(desk)
    desk.clock.set(at(2, 13))
    evaluate(desk.session, desk.clock)
    record = incidents.get_incident(desk.session, number)
    assert (record.group, record.assignee, record.major) == ("Network", None, True)
    detail = incidents.incident_detail(desk.session, number)
    sla_audit = [(a.field, a.old_value, a.new_value) for a in detail.audit if a.actor is None]
    assert sorted(sla_audit) == [
        ("assignee", "alice", None),
        ("group", "Service Desk", "Network"),
        ("major", "false", "true"),
    ]
    desk.clock.set(at(3, 13))
    assert evaluate(desk.session, desk.clock).fired == []  # never again


def p3_for_alice_without_seeding(desk: Desk) -> str:
    desk.clock.set(at(2, 9))
    data = validate(
        incidents.IncidentCreate,
        title="VPN drops",
        impact=2,
        urgency=2,
        group="Service Desk",
        assignee="alice",
    )
    return incidents.create_incident(desk.session, desk["alice"], desk.clock, data).number


def _evaluator_process(url: str, start: str, passes: int, queue: object) -> None:
    """Run in a separate process: its own engine, its own stepping clock."""
    from itsm_tui.store.database import open_database

    clock = FixedClock(datetime.fromisoformat(start))
    database = open_database(url)
    fired: list[tuple[str, str, int]] = []
    try:
        with database.session() as session:
            for _ in range(passes):
                clock.advance(seconds=15)
                fired.extend(evaluate(session, clock).fired)
    finally:
        database.dispose()
    queue.put(fired)  # type: ignore[attr-defined]


def test_two_evaluator_processes_fire_every_escalation_exactly_once(
    desk: Desk, db_url: str
) -> None:
    """Two processes evaluating the same database through a minute of simulated time (in
    15 s steps), with no lease between them: every threshold still fires exactly once."""
    import multiprocessing

    assert slas.ensure_defaults(desk.session, desk.clock, "UTC")
    desk.clock.set(at(2, 9))
    for n in range(4):  # P1 on 24x7: response 15 min, thresholds at 7:30, 11:15, 13:30, 15:00
        data = validate(incidents.IncidentCreate, title=f"outage {n}", impact=1, urgency=1)
        incidents.create_incident(desk.session, desk["sue"], desk.clock, data)
    desk.session.rollback()
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    start = at(2, 9, 14).isoformat()  # the minute from 09:14 covers the 90% and 100% marks
    workers = [
        context.Process(target=_evaluator_process, args=(db_url, start, 4, queue)) for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    fired = [f for result in results for f in result]
    assert len(fired) == len(set(fired))
    assert sorted(fired) == sorted(
        (f"INC{i:07d}", "response", p) for i in range(1, 5) for p in (50, 75, 90, 100)
    )


def test_a_priority_round_trip_does_not_fire_a_threshold_twice(desk: Desk) -> None:
    number = p3_for_alice(desk)
    desk.clock.set(at(2, 11))
    assert evaluate(desk.session, desk.clock).fired == [(number, "response", 50)]
    for urgency, minute in ((1, 1), (2, 2)):  # to P2 and back to P3
        desk.clock.set(at(2, 11, minute))
        incidents.update_incident(
            desk.session,
            desk["alice"],
            desk.clock,
            number,
            validate(incidents.IncidentChanges, urgency=urgency),
        )
        evaluate(desk.session, desk.clock)
    fifty = [n for n in system_notes(desk) if n.startswith("SLA response reached 50% (P3")]
    assert len(fifty) == 1


def test_a_breach_before_resolution_is_recorded_even_without_a_pass(desk: Desk) -> None:
    """Resolved late while no evaluator ran: the breach is still journaled once, stamped
    with the second it happened, but nobody is paged about a resolved ticket."""
    number = p3_for_alice(desk)
    desk.clock.set(at(2, 14))  # response (due 13:00) breached, resolution still running
    incidents.transition(desk.session, desk["alice"], desk.clock, number, "resolved", **RESOLUTION)
    desk.clock.set(at(2, 14, 0, 15))
    fired = evaluate(desk.session, desk.clock).fired
    assert [(k, p) for _, k, p in fired] == [("response", p) for p in (50, 75, 90, 100)]
    breach = desk.session.exec(
        select(JournalEntry).where(JournalEntry.body.startswith("SLA response breached"))
    ).one()
    assert breach.created_at == at(2, 13)
    assert notifications.inbox(desk.session, desk["alice"]) == []
    assert evaluate(desk.session, desk.clock).fired == []
