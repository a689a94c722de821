"""Problem use cases on both engines: recording, the known-error flag, the lifecycle guards
through the service, linking incidents (with the workaround as a note), bulk resolution of the
linked incidents, a fix change made from the problem, and stale writes refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from itsm_tui.domain.enums import ChangeOutcome, ChangeState, IncidentState, ProblemState
from itsm_tui.services import changes, incidents, problems
from itsm_tui.services.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from itsm_tui.services.validation import validate
from itsm_tui.store.models import JournalEntry
from tests.conftest import Desk


def _incident(desk: Desk, title: str, **fields: object) -> str:
    data = validate(incidents.IncidentCreate, title=title, impact=2, urgency=2, **fields)
    return incidents.create_incident(desk.session, desk["alice"], desk.clock, data).number


def _problem(desk: Desk, user: str = "alice", **fields: object) -> problems.ProblemRecord:
    values: dict[str, object] = {"title": "Mail queue stalls", "cis": ("mail-01",)} | fields
    data = validate(problems.ProblemCreate, **values)
    return problems.create_problem(desk.session, desk[user], desk.clock, data)


def _edit(desk: Desk, number: str, user: str = "alice", **fields: object) -> problems.ProblemRecord:
    data = validate(problems.ProblemUpdate, **fields)
    return problems.update_problem(desk.session, desk[user], desk.clock, number, data)


def _move(desk: Desk, number: str, state: str, **fields: object) -> problems.ProblemRecord:
    move = validate(problems.ProblemMove, state=state, **fields)
    return problems.move_problem(desk.session, desk["alice"], desk.clock, number, move)


def _notes(desk: Desk) -> list[str]:
    return list(desk.session.exec(select(JournalEntry.body)).all())


def test_a_problem_gets_a_number_priority_and_becomes_a_known_error(desk: Desk) -> None:
    record = _problem(desk, impact=1, urgency=2)
    assert (record.number, record.state, record.priority, record.service, record.cis) == (
        "PRB0000001", "new", 2, "Email", ["mail-01"],
    )  # fmt: skip
    assert record.known_error is False
    assert _edit(desk, record.number, root_cause="queue disk fills").known_error is False
    known = _edit(desk, record.number, workaround="restart the mail queue")
    assert known.known_error is True
    assert _edit(desk, record.number, workaround="").known_error is False
    with pytest.raises(PermissionDenied):
        _problem(desk, user="vic")
    with pytest.raises(ValidationFailed, match="nothing to change"):
        _edit(desk, record.number, root_cause="queue disk fills")


def test_stale_edits_are_refused_and_write_nothing(desk: Desk) -> None:
    number = _problem(desk).number
    version = problems.get_problem(desk.session, number).version
    data = validate(problems.ProblemUpdate, title="Mail queue stalls nightly")
    problems.update_problem(
        desk.session, desk["alice"], desk.clock, number, data, expect_version=version
    )
    with pytest.raises(Conflict, match="changed by someone else"):
        problems.update_problem(
            desk.session,
            desk["bob"],
            desk.clock,
            number,
            validate(problems.ProblemUpdate, title="stale"),
            expect_version=version,
        )
    assert problems.get_problem(desk.session, number).title == "Mail queue stalls nightly"


def test_the_lifecycle_guards_apply_through_the_service(desk: Desk) -> None:
    number = _problem(desk).number
    _move(desk, number, "assess")
    _move(desk, number, "root_cause_analysis")
    with pytest.raises(InvalidTransition, match="root cause"):
        _move(desk, number, "fix_in_progress")
    _edit(desk, number, root_cause="queue disk fills")
    _move(desk, number, "fix_in_progress")
    with pytest.raises(InvalidTransition, match="fix change closed successfully, or a reason"):
        _move(desk, number, "resolved", resolution_notes="disk grown")
    resolved = _move(
        desk, number, "resolved", resolution_notes="disk grown", reason="vendor patched it"
    )
    assert (resolved.state, resolved.resolution_reason) == ("resolved", "vendor patched it")
    assert resolved.resolved_at == desk.clock.now()
    reopened = _move(desk, number, "root_cause_analysis", reason="it came back")
    assert (reopened.resolved_at, reopened.resolution_reason) == (None, None)
    assert any("resolved -> root_cause_analysis: it came back" in n for n in _notes(desk))


def test_a_fix_change_from_the_problem_resolves_it_once_closed_successfully(desk: Desk) -> None:
    number = _problem(desk, root_cause="queue disk fills", group="Network").number
    change = problems.change_from_problem(desk.session, desk["alice"], desk.clock, number)
    assert change.title.startswith(f"Fix {number}: ") and change.cis == ["mail-01"]
    assert "queue disk fills" in changes.get_change(desk.session, change.number).description
    record = problems.get_problem(desk.session, number)
    assert (record.fix_change, record.fix_change_state) == (change.number, "new")
    # Take the change through to closed, successful (standard path keeps it short; a change
    # manager makes it standard).
    changes.update_change(
        desk.session,
        desk["carl"],
        desk.clock,
        change.number,
        validate(changes.ChangeUpdate, change_type="standard"),
    )
    start = desk.clock.now() + timedelta(hours=1)
    for state, extra in (
        ("scheduled", {"planned_start": start, "planned_end": start + timedelta(hours=1)}),
        ("implement", {}),
        ("review", {"outcome": ChangeOutcome.SUCCESSFUL}),
        ("closed", {"review_notes": "worked"}),
    ):
        if state == "implement":
            desk.clock.advance(minutes=90)
        move = validate(changes.ChangeMove, state=state, **extra)
        changes.move_change(desk.session, desk["alice"], desk.clock, change.number, move)
    assert changes.get_change(desk.session, change.number).state == ChangeState.CLOSED.value
    _move(desk, number, "assess")
    _move(desk, number, "root_cause_analysis")
    _move(desk, number, "fix_in_progress")
    resolved = _move(desk, number, "resolved", resolution_notes="queue disk doubled")
    assert (resolved.state, resolved.resolution_reason) == ("resolved", None)


def test_linking_incidents_applies_a_known_error_s_workaround(desk: Desk) -> None:
    first, second = _incident(desk, "Mail stuck"), _incident(desk, "Mail slow")
    other = _problem(desk, title="Something else").number
    problems.link_incidents(desk.session, desk["alice"], desk.clock, other, [second])
    number = _problem(
        desk, root_cause="queue disk fills", workaround="restart the mail queue"
    ).number
    record = problems.link_incidents(
        desk.session, desk["alice"], desk.clock, number, [first, second.lower()]
    )
    assert [i.number for i in record.incidents] == [first, second]  # moved from `other`
    assert problems.get_problem(desk.session, other).incident_count == 0
    workaround = f"Known error {number} workaround: restart the mail queue"
    assert _notes(desk).count(workaround) == 2
    assert incidents.get_incident(desk.session, first).problem == number
    with pytest.raises(NotFound, match="INC0009999"):
        problems.link_incidents(desk.session, desk["alice"], desk.clock, number, ["INC0009999"])
    unlinked = problems.unlink_incidents(desk.session, desk["bob"], desk.clock, number, [first])
    assert [i.number for i in unlinked.incidents] == [second]
    with pytest.raises(ValidationFailed, match="not linked"):
        problems.unlink_incidents(desk.session, desk["bob"], desk.clock, number, [first])


def test_created_with_its_incidents_in_one_step(desk: Desk) -> None:
    numbers = [_incident(desk, f"Mail down {n}") for n in range(3)]
    record = _problem(desk, incidents=tuple(numbers))
    assert [i.number for i in record.incidents] == numbers
    assert (record.incident_count, record.open_incident_count) == (3, 3)
    with pytest.raises(NotFound):
        _problem(desk, title="Half", incidents=(numbers[0], "INC0009999"))
    assert [p.title for p in problems.list_problems(desk.session)] == ["Mail queue stalls"]


def test_resolving_the_problem_resolves_its_open_incidents_in_one_action(desk: Desk) -> None:
    numbers = [_incident(desk, f"Mail down {n}") for n in range(3)]
    incidents.transition(
        desk.session,
        desk["alice"],
        desk.clock,
        numbers[2],
        "resolved",
        resolution_code="not_reproducible",
        resolution_notes="gone",
    )
    number = _problem(desk, root_cause="disk", incidents=tuple(numbers)).number
    with pytest.raises(InvalidTransition, match="resolve the problem before"):
        problems.resolve_linked_incidents(desk.session, desk["alice"], desk.clock, number)
    for state in ("assess", "root_cause_analysis", "fix_in_progress"):
        _move(desk, number, state)
    _move(desk, number, "resolved", resolution_notes="disk doubled", reason="no change needed")
    result = problems.resolve_linked_incidents(desk.session, desk["alice"], desk.clock, number)
    assert [(o.number, o.ok) for o in result.outcomes] == [(numbers[0], True), (numbers[1], True)]
    for incident_number in numbers[:2]:
        shown = incidents.get_incident(desk.session, incident_number)
        assert shown.state == IncidentState.RESOLVED.value
        assert shown.resolution_notes == f"Resolved with {number}: disk doubled"
        assert shown.resolution_code == "solved_workaround"
    with pytest.raises(ValidationFailed, match="no open incidents"):
        problems.resolve_linked_incidents(desk.session, desk["alice"], desk.clock, number)
    with pytest.raises(PermissionDenied):
        problems.resolve_linked_incidents(desk.session, desk["vic"], desk.clock, number)


def test_problems_list_by_state_service_known_error_and_text(desk: Desk) -> None:
    mail = _problem(desk, root_cause="disk", workaround="restart").number
    vpn = _problem(desk, title="VPN drops", cis=("vpn-gw-01",)).number
    assert [p.number for p in problems.list_problems(desk.session, service="VPN")] == [vpn]
    assert [p.number for p in problems.list_problems(desk.session, known_error=True)] == [mail]
    assert [p.number for p in problems.list_problems(desk.session, text="RESTART")] == [mail]
    _move(desk, vpn, "assess")
    assessed = problems.list_problems(desk.session, states=(ProblemState.ASSESS,))
    assert [p.number for p in assessed] == [vpn]
    history = problems.problem_history(desk.session, mail)
    assert {a.field for a in history.audit} >= {"title", "root_cause", "known_error"}


def test_a_move_writes_what_its_guard_needs_in_the_same_transaction(desk: Desk) -> None:
    number = _problem(desk, workaround="restart the queue").number
    _move(desk, number, "assess")
    _move(desk, number, "root_cause_analysis")
    moved = _move(desk, number, "fix_in_progress", root_cause="queue disk fills")
    assert (moved.state, moved.root_cause, moved.known_error) == (
        "fix_in_progress", "queue disk fills", True,
    )  # fmt: skip
    with pytest.raises(ValidationFailed, match="no change CHG0009999"):
        _move(desk, number, "resolved", fix_change="CHG0009999", resolution_notes="n")
    with pytest.raises(InvalidTransition, match="fix change closed successfully"):
        _move(desk, number, "resolved", fix_change="none", resolution_notes="notes")
    kept = problems.get_problem(desk.session, number)
    assert (kept.state, kept.resolution_notes) == ("fix_in_progress", None)  # nothing written
