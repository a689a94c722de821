"""`sla verify`: every stored SLA clock against its replay from the incident's audit history.

Clean after real writes through the services and on the demo dataset; a clock changed, deleted
or made redundant behind the services' back is reported by incident, kind and field; and the
check writes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, text
from sqlmodel import select

from itsm_tui.clock import FixedClock
from itsm_tui.domain.sla import SlaStage
from itsm_tui.services import incidents, slas
from itsm_tui.services.demo import DemoOptions, load_demo
from itsm_tui.services.demo_problems import story_incident_count
from itsm_tui.services.errors import NotFound
from itsm_tui.services.sla_verify import (
    ClockMismatch,
    Problem,
    VerifyReport,
    _histories,
    _incidents,
    _Policies,
    verify_clocks,
)
from itsm_tui.services.tx import transaction
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database
from itsm_tui.store.models import Incident, SlaClockRow
from itsm_tui.store.types import UTCDateTime
from tests.conftest import Desk
from tests.service_helpers import HOLD, RESOLUTION, footprint

HOUR = 3600


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """March 2026: the 2nd is a Monday."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def seeded(desk: Desk) -> None:
    assert slas.ensure_defaults(desk.session, desk.clock, "UTC")


def new(desk: Desk, when: datetime, impact: int = 2, urgency: int = 2) -> str:
    desk.clock.set(when)
    data = validate(
        incidents.IncidentCreate,
        title="Disk full",
        impact=impact,
        urgency=urgency,
        group="Service Desk",
    )
    return incidents.create_incident(desk.session, desk["alice"], desk.clock, data).number


def move(desk: Desk, when: datetime, number: str, state: str, **extra: Any) -> None:
    desk.clock.set(when)
    incidents.transition(desk.session, desk["alice"], desk.clock, number, state, **extra)


def verify(desk: Desk, number: str | None = None) -> VerifyReport:
    return verify_clocks(desk.session, desk.clock.now(), number)


def held_and_resumed(desk: Desk) -> str:
    """A P3 whose resolution clock paused Mon 11:00-14:00 for the caller."""
    number = new(desk, at(2, 9))
    desk.clock.set(at(2, 10))
    incidents.assign_to_me(desk.session, desk["alice"], desk.clock, number)
    move(desk, at(2, 10), number, "in_progress")
    move(desk, at(2, 11), number, "on_hold", **HOLD)
    move(desk, at(2, 14), number, "in_progress")
    return number


def clock_id(database: Database, number: str, kind: str) -> int:
    with database.session() as s:
        incident = s.exec(select(Incident).where(Incident.number == number)).one()
        return s.exec(
            select(SlaClockRow.id).where(
                SlaClockRow.incident_id == incident.id,
                SlaClockRow.kind == kind,
                SlaClockRow.stage != SlaStage.CANCELLED.value,
            )
        ).one()


def behind_the_back(database: Database, sql: str, **params: Any) -> None:
    """Raw SQL on a connection of its own, as a stray script or a DBA would."""
    typed = [
        bindparam(k, type_=UTCDateTime()) for k, v in params.items() if isinstance(v, datetime)
    ]
    with database.engine.begin() as connection:
        connection.execute(text(sql).bindparams(*typed), params)


# ---------------------------------------------------------------------------- clean


def test_clean_after_a_realistic_run_of_writes(desk: Desk, database: Database) -> None:
    seeded(desk)
    # P3 through respond, hold for the caller, resume, resolve, reopen, then up to P2.
    worked = held_and_resumed(desk)
    move(desk, at(3, 10), worked, "resolved", **RESOLUTION)
    desk.clock.set(at(4, 10))
    incidents.reopen(desk.session, desk["alice"], desk.clock, worked, reason="back again")
    desk.clock.set(at(4, 11))
    incidents.update_incident(
        desk.session,
        desk["alice"],
        desk.clock,
        worked,
        validate(incidents.IncidentChanges, urgency=1),
    )
    # Responded by a customer comment, then left waiting on a vendor (paused at the end).
    commented = new(desk, at(4, 12))
    desk.clock.set(at(4, 12, 30))
    incidents.add_note(
        desk.session, desk["alice"], desk.clock, commented, "Looking at it", comment=True
    )
    move(desk, at(4, 13), commented, "on_hold", hold_reason="awaiting_vendor")
    # Cancelled while its clocks ran.
    cancelled = new(desk, at(4, 14))
    move(desk, at(4, 15), cancelled, "cancelled")
    # Resolved straight from a hold (stops a paused clock), then closed.
    paused_then_resolved = new(desk, at(4, 15))
    move(desk, at(4, 16), paused_then_resolved, "on_hold", **HOLD)
    move(desk, at(5, 9), paused_then_resolved, "resolved", **RESOLUTION)
    move(desk, at(5, 10), paused_then_resolved, "closed")
    # A P1 (24x7) nobody touched: its response is past due, not yet recorded as breached.
    new(desk, at(5, 10), impact=1, urgency=1)
    desk.clock.set(at(6, 9))

    before = footprint(database)
    report = verify(desk)
    assert footprint(database) == before, "verify wrote to the database"

    assert report.ok, [m.describe() for m in report.mismatches]
    assert (report.incidents_checked, report.clocks_checked) == (5, 10)
    assert report.model_dump(mode="json")["ok"] is True
    every = desk.session.exec(select(SlaClockRow)).all()
    assert len(every) == 12  # the two P3 clocks of the re-targeted incident are history


def test_clean_on_the_demo_dataset(database: Database, clock: FixedClock) -> None:
    with database.session() as session:
        slas.ensure_defaults(session, clock, "UTC")
        load_demo(session, clock, DemoOptions(seed=3, incidents=30))
    with database.session() as session:
        report = verify_clocks(session, clock.now())
        assert report.ok, [m.describe() for m in report.mismatches]
        total = 30 + story_incident_count()  # the random incidents and the problems'
        assert report.incidents_checked == total
        assert report.clocks_checked == 2 * total

        # The batched reads agree with what sync_clocks reads one incident at a time.
        batch = _incidents(session, None)
        histories = _histories(session, [i.id for i in batch])
        policies = _Policies.load(session)
        for row in session.exec(select(Incident)).all():
            assert histories[row.id] == slas.history_of(session, row), row.number
            single = slas._matching_policy(session, row)
            mine = policies.matching(next(i for i in batch if i.id == row.id))
            assert (mine and mine.id) == (single and single[0].id), row.number


def test_without_policies_nothing_is_expected(desk: Desk) -> None:
    new(desk, at(2, 9))
    report = verify(desk)
    assert report.ok and (report.incidents_checked, report.clocks_checked) == (1, 0)


# ---------------------------------------------------------------------------- tampering


@pytest.mark.parametrize(
    ("column", "value", "original"),
    [
        ("due_at", at(5, 15), at(5, 12)),  # Thu 09:00 plus the 3 paused hours
        ("paused_seconds", 2 * HOUR, 3 * HOUR),
    ],
)
def test_reports_a_clock_altered_behind_its_back(
    desk: Desk, database: Database, column: str, value: object, original: object
) -> None:
    seeded(desk)
    number = held_and_resumed(desk)
    assert verify(desk).ok
    behind_the_back(
        database,
        f"UPDATE sla_clocks SET {column} = :value WHERE id = :id",
        value=value,
        id=clock_id(database, number, "resolution"),
    )
    desk.session.commit()  # end the session's read snapshot, as a new CLI run would
    report = verify(desk)
    assert not report.ok
    assert report.mismatches == [
        ClockMismatch(
            number=number,
            kind="resolution",
            field=column,
            stored=value,
            expected=original,
            clock_id=clock_id(database, number, "resolution"),
            policy="P3 moderate",
        )
    ]
    assert report.incidents_with_mismatches == 1
    assert f"{number} resolution: {column} is" in report.mismatches[0].describe()


def test_reports_a_deleted_clock_as_missing(desk: Desk, database: Database) -> None:
    seeded(desk)
    number = held_and_resumed(desk)
    behind_the_back(
        database, "DELETE FROM sla_clocks WHERE id = :id", id=clock_id(database, number, "response")
    )
    desk.session.commit()
    report = verify(desk)
    assert [(m.number, m.kind, m.field, m.problem) for m in report.mismatches] == [
        (number, "response", "clock", Problem.MISSING)
    ]
    assert report.clocks_checked == 1


def test_reports_live_clocks_no_policy_accounts_for(desk: Desk, database: Database) -> None:
    seeded(desk)
    number = new(desk, at(2, 9))
    behind_the_back(database, "UPDATE sla_policies SET active = :off WHERE priority = 3", off=False)
    desk.session.commit()
    report = verify(desk)
    assert sorted((m.kind, m.problem, m.policy) for m in report.mismatches) == [
        ("resolution", Problem.UNEXPECTED, None),
        ("response", Problem.UNEXPECTED, None),
    ]
    assert {m.number for m in report.mismatches} == {number}


def test_reports_a_stage_that_does_not_fit_the_history(desk: Desk, database: Database) -> None:
    seeded(desk)
    number = held_and_resumed(desk)  # response achieved at Mon 10:00
    behind_the_back(
        database,
        "UPDATE sla_clocks SET stage = 'breached' WHERE id = :id",
        id=clock_id(database, number, "response"),
    )
    desk.session.commit()
    (mismatch,) = verify(desk).mismatches
    assert (mismatch.kind, mismatch.field, mismatch.stored, mismatch.expected) == (
        "response",
        "stage",
        "breached",
        "achieved",
    )


def test_checks_the_clocks_cancelled_with_their_incident(desk: Desk, database: Database) -> None:
    seeded(desk)
    number = new(desk, at(2, 9))
    move(desk, at(2, 10), number, "cancelled")
    assert verify(desk).ok
    behind_the_back(
        database,
        "UPDATE sla_clocks SET target_seconds = 60 WHERE kind = 'resolution'",
    )
    desk.session.commit()
    # An ended incident's clock is replayed with its own stored target (the policy may have
    # changed since), so a changed target shows as a due time that does not follow from it.
    assert [(m.kind, m.field, m.stored, m.expected) for m in verify(desk).mismatches] == [
        ("resolution", "due_at", at(5, 9), at(2, 9, 1))
    ]


# ---------------------------------------------------------------------------- policy edits


def edit_policy(desk: Desk, sql: str) -> None:
    """An admin's policy edit: the row changed and the open incidents re-synced, in one
    transaction, as `sla_admin.update_policy` does it."""
    with transaction(desk.session):
        desk.session.execute(text(sql))
        desk.session.expire_all()  # the session's cached policy rows predate the raw UPDATE
        slas.resync_open_incidents(desk.session, desk.clock.now())


def targets(database: Database, number: str) -> dict[str, int]:
    """The live clocks' targets by kind."""
    with database.session() as s:
        incident = s.exec(select(Incident).where(Incident.number == number)).one()
        rows = s.exec(
            select(SlaClockRow).where(
                SlaClockRow.incident_id == incident.id,
                SlaClockRow.stage != SlaStage.CANCELLED.value,
            )
        ).all()
        return {row.kind: row.target_seconds for row in rows}


def test_ended_incidents_keep_the_policy_they_ended_under(desk: Desk, database: Database) -> None:
    seeded(desk)
    closed = held_and_resumed(desk)
    move(desk, at(3, 10), closed, "resolved", **RESOLUTION)
    move(desk, at(3, 11), closed, "closed")
    cancelled = new(desk, at(3, 12))
    move(desk, at(3, 13), cancelled, "cancelled")
    still_open = held_and_resumed(desk)
    desk.clock.set(at(4, 9))
    assert verify(desk).ok

    edit_policy(
        desk,
        "UPDATE sla_policies SET response_seconds = 2 * 3600, resolution_seconds = 18 * 3600 "
        "WHERE name = 'P3 moderate'",
    )
    desk.clock.set(at(4, 10))

    assert targets(database, still_open) == {"response": 2 * HOUR, "resolution": 18 * HOUR}
    assert targets(database, closed) == {"response": 4 * HOUR, "resolution": 27 * HOUR}
    report = verify(desk)
    assert report.ok, [m.describe() for m in report.mismatches]
    assert (report.incidents_checked, report.clocks_checked) == (3, 6)
    for number in (closed, cancelled, still_open):
        assert verify(desk, number).ok, number


def test_an_open_incident_left_behind_by_a_policy_edit_is_reported(
    desk: Desk, database: Database
) -> None:
    seeded(desk)
    number = new(desk, at(2, 9))
    behind_the_back(
        database, "UPDATE sla_policies SET resolution_seconds = 18 * 3600 WHERE priority = 3"
    )
    desk.session.commit()
    # No resync: the open incident still runs on the old target, and that is drift.
    assert [(m.number, m.kind, m.field, m.stored, m.expected) for m in verify(desk).mismatches] == [
        (number, "resolution", "target_seconds", 27 * HOUR, 18 * HOUR),
        (number, "resolution", "due_at", at(5, 9), at(4, 9)),
        (number, "resolution", "next_check_at", at(3, 13, 30), at(3, 9)),
    ]


def test_clocks_a_policy_stopped_covering_before_the_end_stay_history(
    desk: Desk, database: Database
) -> None:
    seeded(desk)
    low = {"impact": 3, "urgency": 3}  # P5
    closed, cancelled = new(desk, at(2, 9), **low), new(desk, at(2, 9), **low)
    for number in (closed, cancelled):
        desk.clock.set(at(2, 10))
        incidents.assign_to_me(desk.session, desk["alice"], desk.clock, number)
        move(desk, at(2, 10), number, "in_progress")  # response achieved
        move(desk, at(2, 11), number, "on_hold", **HOLD)  # resolution paused
    desk.clock.set(at(2, 12))
    # Retired while both are held: their clocks are cancelled where they stand.
    edit_policy(desk, "UPDATE sla_policies SET active = false WHERE priority = 5")
    move(desk, at(2, 13), closed, "in_progress")
    move(desk, at(2, 14), closed, "resolved", **RESOLUTION)
    move(desk, at(2, 15), closed, "closed")
    move(desk, at(2, 13), cancelled, "in_progress")
    move(desk, at(2, 13, 30), cancelled, "cancelled")
    assert targets(database, closed) == targets(database, cancelled) == {}
    desk.clock.set(at(2, 16))
    report = verify(desk)
    assert report.ok, [m.describe() for m in report.mismatches]
    assert report.clocks_checked == 4

    # Back in force later: the ended incidents keep what they had, and that still checks out.
    desk.clock.set(at(3, 9))
    edit_policy(desk, "UPDATE sla_policies SET active = true WHERE priority = 5")
    report = verify(desk)
    assert report.ok, [m.describe() for m in report.mismatches]
    assert report.clocks_checked == 4


def test_a_closed_incidents_clock_altered_behind_its_back_is_reported(
    desk: Desk, database: Database
) -> None:
    seeded(desk)
    number = held_and_resumed(desk)
    move(desk, at(3, 10), number, "resolved", **RESOLUTION)
    move(desk, at(3, 11), number, "closed")
    edit_policy(desk, "UPDATE sla_policies SET resolution_seconds = 18 * 3600 WHERE priority = 3")
    resolution = clock_id(database, number, "resolution")
    behind_the_back(
        database,
        "UPDATE sla_clocks SET paused_seconds = :value WHERE id = :id",
        value=60,
        id=resolution,
    )
    desk.session.commit()
    report = verify(desk)
    assert report.mismatches == [
        ClockMismatch(
            number=number,
            kind="resolution",
            field="paused_seconds",
            stored=60,
            expected=3 * HOUR,
            clock_id=resolution,
            policy="P3 moderate",
        )
    ]
    assert verify(desk, number).mismatches == report.mismatches


# ---------------------------------------------------------------------------- one incident


def test_number_narrows_the_check_to_one_incident(desk: Desk, database: Database) -> None:
    seeded(desk)
    tampered = new(desk, at(2, 9))
    clean = new(desk, at(2, 10))
    behind_the_back(
        database,
        "UPDATE sla_clocks SET due_at = :value WHERE id = :id",
        value=at(2, 9) + timedelta(days=30),
        id=clock_id(database, tampered, "response"),
    )
    desk.session.commit()
    only_clean = verify(desk, f" {clean.lower()} ")
    assert only_clean.ok and only_clean.number == clean
    assert (only_clean.incidents_checked, only_clean.clocks_checked) == (1, 2)
    only_tampered = verify(desk, tampered)
    assert [(m.number, m.field) for m in only_tampered.mismatches] == [(tampered, "due_at")]
    assert not verify(desk).ok and verify(desk).number is None


def test_an_unknown_number_is_not_found(desk: Desk) -> None:
    seeded(desk)
    with pytest.raises(NotFound, match="INC9999999"):
        verify(desk, "INC9999999")


def test_sla_verify_command_exit_codes(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from sqlalchemy import create_engine, text

    from itsm_tui.cli import main
    from itsm_tui.clock import FixedClock

    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    assert main(["--db", sqlite_url, "init"], clock=clock) == 0  # only init creates
    base = ["--db", sqlite_url, "--user", "boss"]
    new = ["incident", "new", "--title", "x", "--impact", "2", "--urgency", "2"]
    assert main([*base, *new], clock=clock) == 0
    capsys.readouterr()
    assert main([*base, "sla", "verify"], clock=clock) == 0
    assert "all match" in capsys.readouterr().out
    engine = create_engine(sqlite_url)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE sla_clocks SET paused_seconds = 60 WHERE kind = 'response'")
        )
    engine.dispose()
    assert main([*base, "sla", "verify", "inc0000001", "--json"], clock=clock) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert [(m["number"], m["kind"], m["field"]) for m in report["mismatches"]] == [
        ("INC0000001", "response", "paused_seconds")
    ]
    assert main([*base, "sla", "verify", "INC0000099"], clock=clock) == 3
