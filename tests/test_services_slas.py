"""SLA clocks attached to incidents and kept in step with them by the service layer."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import select

from itsm_tui.clock import FixedClock
from itsm_tui.domain.sla import SlaStage
from itsm_tui.services import incidents, slas
from itsm_tui.services.tx import transaction
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database
from itsm_tui.store.models import Incident, SlaClockRow, SlaPolicyRow
from tests.conftest import Desk
from tests.service_helpers import HOLD

HOUR = 3600


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """March 2026: the 2nd is a Monday."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def seeded(desk: Desk) -> None:
    assert slas.ensure_defaults(desk.session, desk.clock, "UTC")
    assert not slas.ensure_defaults(desk.session, desk.clock, "UTC")  # once only


def new_p3(desk: Desk, **fields: object) -> str:
    desk.clock.set(at(2, 9))
    data = validate(
        incidents.IncidentCreate,
        title="Disk full",
        impact=2,
        urgency=2,
        group="Service Desk",
        **fields,
    )
    return incidents.create_incident(desk.session, desk["alice"], desk.clock, data).number


def live(desk: Desk) -> dict[str, SlaClockRow]:
    rows = desk.session.exec(
        select(SlaClockRow).where(SlaClockRow.stage != SlaStage.CANCELLED.value)
    ).all()
    desk.session.commit()
    return {r.kind: r for r in rows}


def test_defaults_are_seeded_once(desk: Desk) -> None:
    seeded(desk)
    names = desk.session.exec(select(SlaPolicyRow.name).order_by(SlaPolicyRow.priority)).all()
    assert names == ["P1 critical", "P2 high", "P3 moderate", "P4 low", "P5 planning"]


def test_new_incident_gets_response_and_resolution_clocks(desk: Desk) -> None:
    seeded(desk)
    new_p3(desk)
    running = live(desk)
    # P3: 4 h response, 27 business hours resolution, Mon-Fri 08:00-17:00 UTC.
    assert running["response"].due_at == at(2, 13)
    assert running["resolution"].due_at == at(5, 9)  # 8+9+9 = 26 h by Wed 17:00; +1 h Thu
    assert running["response"].next_threshold == 50
    assert running["response"].next_check_at == at(2, 11)


def test_hold_for_the_caller_pauses_and_resume_shifts_due(desk: Desk) -> None:
    seeded(desk)
    number = new_p3(desk)
    desk.clock.set(at(2, 10))
    incidents.assign_to_me(desk.session, desk["alice"], desk.clock, number)
    incidents.transition(desk.session, desk["alice"], desk.clock, number, "in_progress")
    desk.clock.set(at(2, 11))
    incidents.transition(desk.session, desk["alice"], desk.clock, number, "on_hold", **HOLD)
    held = live(desk)
    assert held["response"].stage == SlaStage.ACHIEVED.value  # responded at 10:00
    assert held["resolution"].stage == SlaStage.PAUSED.value
    assert held["resolution"].next_check_at is None  # nothing to check while paused
    desk.clock.set(at(2, 14))
    incidents.transition(desk.session, desk["alice"], desk.clock, number, "in_progress")
    resumed = live(desk)["resolution"]
    assert resumed.paused_seconds == 3 * HOUR
    assert resumed.due_at == at(5, 12)  # Thu 09:00 plus the 3 paused hours


def test_priority_change_retargets_from_the_original_start(desk: Desk, database: Database) -> None:
    seeded(desk)
    number = new_p3(desk)
    desk.clock.set(at(2, 10))
    incidents.update_incident(
        desk.session,
        desk["alice"],
        desk.clock,
        number,
        validate(incidents.IncidentChanges, urgency=1),
    )  # impact 2 x urgency 1 = P2: 30 min / 8 business hours from Mon 09:00
    running = live(desk)
    assert running["response"].due_at == at(2, 9, 30)
    assert running["resolution"].due_at == at(2, 17)
    assert running["response"].stage == SlaStage.BREACHED.value  # 09:30 has passed
    every = desk.session.exec(select(SlaClockRow)).all()
    assert sorted(r.stage for r in every if r.target_seconds in (4 * HOUR, 27 * HOUR)) == [
        "cancelled",
        "cancelled",
    ]  # the P3 clocks are kept as history


def test_resolve_stops_and_reopen_restarts_the_resolution_clock(desk: Desk) -> None:
    seeded(desk)
    number = new_p3(desk)
    desk.clock.set(at(2, 12))
    incidents.transition(
        desk.session,
        desk["alice"],
        desk.clock,
        number,
        "resolved",
        resolution_code="solved_permanently",
        resolution_notes="done",
    )
    assert live(desk)["resolution"].stage == SlaStage.ACHIEVED.value
    desk.clock.set(at(3, 10))
    incidents.reopen(desk.session, desk["alice"], desk.clock, number, reason="back again")
    reopened = live(desk)["resolution"]
    assert (reopened.stage, reopened.paused_seconds) == (SlaStage.IN_PROGRESS.value, 7 * HOUR)


def test_without_policies_there_are_no_clocks(desk: Desk) -> None:
    new_p3(desk)
    assert live(desk) == {}


def test_show_reports_the_clocks_with_percent_used(desk: Desk, clock: FixedClock) -> None:
    seeded(desk)
    number = new_p3(desk)
    desk.clock.set(at(2, 11))
    detail = incidents.incident_detail(desk.session, number, now=desk.clock.now())
    response = next(c for c in detail.sla if c.kind == "response")
    assert (response.policy, response.stage, response.percent_used) == (
        "P3 moderate",
        "in_progress",
        50.0,
    )


def test_an_sla_added_later_is_replayed_from_history(desk: Desk) -> None:
    """Incidents logged before any policy existed get their clocks from their history."""
    number = new_p3(desk)
    desk.clock.set(at(2, 10))
    incidents.transition(desk.session, desk["alice"], desk.clock, number, "on_hold", **HOLD)
    desk.clock.set(at(2, 12))
    incidents.transition(desk.session, desk["alice"], desk.clock, number, "in_progress")
    assert live(desk) == {}
    seeded(desk)
    with transaction(desk.session):
        assert slas.resync_open_incidents(desk.session, desk.clock.now()) == 1
    resolution = live(desk)["resolution"]
    assert (resolution.paused_seconds, resolution.due_at) == (2 * HOUR, at(5, 11))


def test_priority_change_keeps_the_business_time_already_paused(desk: Desk) -> None:
    seeded(desk)
    number = new_p3(desk)  # Mon 09:00
    desk.clock.set(at(2, 10))
    incidents.transition(desk.session, desk["alice"], desk.clock, number, "on_hold", **HOLD)
    desk.clock.set(at(2, 12))
    incidents.transition(desk.session, desk["alice"], desk.clock, number, "in_progress")
    desk.clock.set(at(2, 13))
    incidents.update_incident(
        desk.session,
        desk["alice"],
        desk.clock,
        number,
        validate(incidents.IncidentChanges, urgency=1),
    )  # now P2: 8 business hours from Mon 09:00, plus the 2 h on hold
    resolution = live(desk)["resolution"]
    assert (resolution.target_seconds, resolution.paused_seconds) == (8 * HOUR, 2 * HOUR)
    assert resolution.due_at == at(3, 10)


def test_the_sessions_incident_holds_the_summary_it_stored(desk: Desk, database: Database) -> None:
    """The queue's SLA summary is written with a plain UPDATE: the incident the session already
    holds must show what was stored (not the values from before the write) and stay clean, so
    a clock moving never bumps its version."""
    seeded(desk)
    number = new_p3(desk)
    held = desk.session.exec(select(Incident).where(Incident.number == number)).one()
    desk.clock.set(at(2, 11))
    incidents.transition(desk.session, desk["alice"], desk.clock, number, "on_hold", **HOLD)
    with database.session() as fresh:
        stored = fresh.exec(select(Incident).where(Incident.number == number)).one()
    summary = ("sla_state", "sla_due_at", "sla_risk_at", "sla_left_seconds", "sla_breached")
    assert stored.sla_state == "paused"
    assert [getattr(held, name) for name in summary] == [getattr(stored, n) for n in summary]
    assert held.version == stored.version and held not in desk.session.dirty
