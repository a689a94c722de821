"""The demo's change calendar: about forty changes over the six weeks either side of the demo
clock in every state, two freezes, real conflicts and overrides, incidents blamed on troubled
changes, and the same changes for the same seed.

One demo (the snapshot tests' seed and size) is built per module; tests that write work on a
copy of it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from itsm_tui.clock import FixedClock
from itsm_tui.domain.conflicts import ConflictKind
from itsm_tui.domain.enums import (
    ApprovalDecision,
    ChangeOutcome,
    ChangeRisk,
    ChangeState,
    ChangeType,
)
from itsm_tui.services import changes, directory, freeze_windows, incidents
from itsm_tui.services.changes import ChangeRecord
from itsm_tui.services.demo import DemoOptions, prepare_demo_database
from itsm_tui.store.database import open_database

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # the snapshot tests' demo clock
SIX_WEEKS = timedelta(weeks=6)
TROUBLED = {
    ChangeOutcome.FAILED.value,
    ChangeOutcome.BACKED_OUT.value,
    ChangeOutcome.SUCCESSFUL_WITH_ISSUES.value,
}


def _build(path: Path, incidents: int) -> str:
    url = f"sqlite:///{path}"
    prepare_demo_database(url, DemoOptions(seed=7, incidents=incidents), FixedClock(NOW))
    return url


@pytest.fixture(scope="module")
def demo_file(demo_template: Path) -> Path:
    """The shared demo (conftest): seed 7, 80 random incidents, built at NOW."""
    return demo_template


@pytest.fixture(scope="module")
def session(demo_file: Path) -> Iterator[Session]:
    """Read-only use: the module's demo as it was built."""
    database = open_database(f"sqlite:///{demo_file}")
    try:
        with database.session() as session:
            yield session
    finally:
        database.dispose()


@pytest.fixture
def writable(demo_file: Path, tmp_path: Path) -> Iterator[Session]:
    """A copy of the demo to write to."""
    copy = tmp_path / "itsm.sqlite"
    shutil.copy(demo_file, copy)
    database = open_database(f"sqlite:///{copy}")
    try:
        with database.session() as session:
            yield session
    finally:
        database.dispose()


@pytest.fixture(scope="module")
def all_changes(session: Session) -> list[ChangeRecord]:
    return changes.list_changes(session)


def test_about_forty_changes_planned_within_six_weeks_of_now(
    all_changes: list[ChangeRecord],
) -> None:
    assert 36 <= len(all_changes) <= 46
    for change in all_changes:
        assert change.planned_start is not None and change.planned_end is not None
        assert NOW - SIX_WEEKS <= change.planned_start < change.planned_end <= NOW + SIX_WEEKS
        assert change.opened_at is not None and change.opened_at < NOW, change.number
    past = [c for c in all_changes if c.planned_end and c.planned_end <= NOW]
    ahead = [c for c in all_changes if c.planned_start and c.planned_start > NOW]
    assert len(past) >= 15 and len(ahead) >= 15


def test_every_state_type_risk_and_outcome_appears(all_changes: list[ChangeRecord]) -> None:
    assert {c.state for c in all_changes} == {s.value for s in ChangeState}
    assert {c.change_type for c in all_changes} == {t.value for t in ChangeType}
    assert {c.risk for c in all_changes} == {r.value for r in ChangeRisk}
    closed = [c for c in all_changes if c.state == ChangeState.CLOSED.value]
    assert {c.outcome for c in closed} == {o.value for o in ChangeOutcome}
    assert all((c.review_notes or "").strip() and c.closed_at for c in closed)
    # Lifecycles fit the clock: what is done lies behind now, what is booked ahead of it.
    for change in all_changes:
        assert change.planned_start is not None and change.planned_end is not None
        if change.state in (ChangeState.REVIEW.value, ChangeState.CLOSED.value):
            assert change.outcome is not None and change.planned_start < NOW, change.number
        if change.state == ChangeState.SCHEDULED.value:
            assert change.planned_start > NOW, change.number
        if change.state == ChangeState.IMPLEMENT.value:
            assert change.planned_start <= NOW < change.planned_end, change.number
        if change.state in (ChangeState.ASSESS.value, ChangeState.AUTHORIZE.value):
            assert change.implementation_plan and change.backout_plan and change.test_plan


def test_pending_approvals_wait_for_the_cab(all_changes: list[ChangeRecord]) -> None:
    waiting = [c for c in all_changes if c.state == ChangeState.AUTHORIZE.value]
    assert len(waiting) >= 3
    pending = {
        a.approver for c in waiting for a in c.approvals if a.decision == ApprovalDecision.PENDING
    }
    assert {"sam", "cora"} <= pending  # a supervisor on the CAB and the change manager
    approved = [
        a for c in all_changes for a in c.approvals if a.decision == ApprovalDecision.APPROVED
    ]
    assert approved and all(a.decided_at is not None and a.decided_at < NOW for a in approved)


def test_sam_and_the_change_manager_approve_a_waiting_change(writable: Session) -> None:
    """The demo's approval flow: sam's vote leaves it waiting for the change manager, whose
    vote books it."""
    clock = FixedClock(NOW)
    waiting = [
        c
        for c in changes.list_changes(writable, states=(ChangeState.AUTHORIZE,))
        if {a.approver for a in c.approvals} == {"sam", "cora"}
        and not changes.change_conflicts(writable, c.number)
    ]
    assert waiting
    number = waiting[0].number
    sam = directory.user_by_username(writable, "sam")
    cora = directory.user_by_username(writable, "cora")
    after_sam = changes.vote(writable, sam, clock, number, ApprovalDecision.APPROVED)
    assert after_sam.state == ChangeState.AUTHORIZE.value
    after_cora = changes.vote(writable, cora, clock, number, ApprovalDecision.APPROVED)
    assert after_cora.state == ChangeState.SCHEDULED.value


def test_two_freezes_one_global_one_for_a_service(
    session: Session, all_changes: list[ChangeRecord]
) -> None:
    freezes = freeze_windows.list_freezes(session)
    assert len(freezes) == 2
    assert {f.service for f in freezes} == {None, "Payroll"}
    for freeze in freezes:
        assert freeze.reason and NOW - SIX_WEEKS <= freeze.starts_at < NOW + SIX_WEEKS
    # Through a freeze only two ways: a change manager's override, or an emergency's
    # recorded justification.
    frozen = {
        c.number: c
        for c in all_changes
        if c.state not in (ChangeState.NEW.value, ChangeState.CANCELLED.value)
        and any(k.kind is ConflictKind.FREEZE for k in changes.change_conflicts(session, c.number))
    }
    assert {c.change_type for c in frozen.values()} == {"normal", "emergency"}
    emergency = next(c for c in frozen.values() if c.change_type == "emergency")
    assert (emergency.freeze_justification or "").strip()
    assert emergency.state == ChangeState.CLOSED.value


def test_conflicts_on_the_calendar(session: Session, all_changes: list[ChangeRecord]) -> None:
    found = {
        conflict.kind
        for change in all_changes
        if change.state not in (ChangeState.CLOSED.value, ChangeState.CANCELLED.value)
        for conflict in changes.change_conflicts(session, change.number)
    }
    assert {
        ConflictKind.SAME_CI,
        ConflictKind.SAME_SERVICE,
        ConflictKind.ASSIGNEE_BOOKED,
        ConflictKind.FREEZE,
        ConflictKind.OUTSIDE_MAINTENANCE,
    } <= found
    # A clash waiting in authorize: the approvers see it before they vote.
    assert any(
        change.state == ChangeState.AUTHORIZE.value
        and changes.change_conflicts(session, change.number)
        for change in all_changes
    )


def test_incidents_blame_troubled_changes(
    session: Session, all_changes: list[ChangeRecord]
) -> None:
    blamed = [c for c in all_changes if c.caused_incidents]
    caused = [i for c in blamed for i in c.caused_incidents]
    assert 3 <= len(caused) <= 6
    for change in blamed:
        assert change.outcome in TROUBLED, change.number
        assert change.planned_start is not None
        for caused_incident in change.caused_incidents:
            assert caused_incident.opened_at >= change.planned_start
            detail = incidents.incident_detail(session, caused_incident.number)
            assert detail.incident.caused_by == change.number
            assert detail.incident.service == change.service
            assert any(change.number in entry.body for entry in detail.journal)


def test_same_seed_same_changes_whatever_the_incident_count(
    all_changes: list[ChangeRecord], tmp_path: Path
) -> None:
    """Changes come from their own generator: the incident count does not move them."""
    database = open_database(_build(tmp_path / "again.sqlite", incidents=0))
    try:
        with database.session() as again:
            rebuilt = changes.list_changes(again)
            freezes = freeze_windows.list_freezes(again)
    finally:
        database.dispose()
    assert [replace(c, caused_incidents=[]) for c in all_changes] == rebuilt
    assert len(freezes) == 2
