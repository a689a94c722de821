"""The demo's problems: every state, known errors to search and suggest, incidents linked to
them (a known error's workaround on those linked later), fix changes (one closed successfully
under a resolved problem, one raised from a problem after the first fix was backed out), and
recurring incidents left unlinked that the detector finds, beside one-offs it leaves alone.

One demo (the snapshot tests' seed, size and clock) is built for the module and only read.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from itsm_tui.clock import FixedClock
from itsm_tui.domain.enums import ChangeOutcome, ChangeState, IncidentState, ProblemState
from itsm_tui.domain.patterns import CandidateKind
from itsm_tui.domain.problem_workflow import SUCCESSFUL_OUTCOMES
from itsm_tui.services import changes, incidents, known_errors, problems
from itsm_tui.services.demo_problems import (
    DISK_ALERTS,
    ONE_OFFS,
    OUTLOOK_CRASHES,
    STORIES,
    story_incident_count,
)
from itsm_tui.services.problem_candidates import find_candidates
from itsm_tui.services.problems import ProblemRecord
from itsm_tui.store.database import open_database
from itsm_tui.store.models import Incident

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # the snapshot tests' demo clock
RANDOM = 80  # random incidents, as in the snapshot tests
DONE = {IncidentState.RESOLVED.value, IncidentState.CLOSED.value}
P = ProblemState


@pytest.fixture(scope="module")
def session(demo_template: Path) -> Iterator[Session]:
    """The shared demo (conftest): seed 7, RANDOM random incidents, built at NOW; read only."""
    database = open_database(f"sqlite:///{demo_template}")
    try:
        with database.session() as session:
            yield session
    finally:
        database.dispose()


@pytest.fixture(scope="module")
def by_state(session: Session) -> dict[str, list[ProblemRecord]]:
    found: dict[str, list[ProblemRecord]] = {}
    for problem in problems.list_problems(session):
        found.setdefault(problem.state, []).append(problem)
    return found


@pytest.fixture(scope="module")
def numbers_by_title(session: Session) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    rows = session.exec(select(Incident.title, Incident.number).order_by(col(Incident.number)))
    for title, number in rows.all():
        found.setdefault(title, []).append(number)
    return found


def _numbers(numbers_by_title: dict[str, list[str]], titles: list[str]) -> set[str]:
    """The incident numbers of `titles`, each title told exactly once."""
    found = {title: numbers_by_title.get(title, []) for title in titles}
    assert all(len(numbers) == 1 for numbers in found.values()), found
    return {numbers[0] for numbers in found.values()}


def _random_numbers() -> list[str]:
    return [f"INC{n:07d}" for n in range(1, RANDOM + 1)]


def test_every_state_with_what_it_needs(by_state: dict[str, list[ProblemRecord]]) -> None:
    assert set(by_state) == {state.value for state in P}
    assert sum(len(found) for found in by_state.values()) == len(STORIES)
    for state, found in by_state.items():
        for problem in found:
            assert problem.service and problem.cis and problem.description, problem.number
            assert problem.opened_at <= problem.updated_at < NOW, problem.number
            if state in (P.FIX_IN_PROGRESS, P.RESOLVED, P.CLOSED):
                assert problem.root_cause.strip() and problem.fix_change, problem.number
            if state in (P.RESOLVED, P.CLOSED):
                assert problem.resolution_notes and problem.resolved_at, problem.number
            if state in (P.CLOSED, P.CANCELLED):
                assert problem.closed_at is not None and problem.closed_at < NOW


def test_the_cancelled_problem_says_why(
    session: Session, by_state: dict[str, list[ProblemRecord]]
) -> None:
    (cancelled,) = by_state[P.CANCELLED]
    journal = problems.problem_history(session, cancelled.number).journal
    assert any(entry.body.startswith("assess -> cancelled: ") for entry in journal)


def test_known_errors_sit_on_the_services_the_demo_incidents_use(session: Session) -> None:
    known = problems.list_problems(session, known_error=True)
    assert len(known) >= 4
    assert all(p.root_cause.strip() and p.workaround.strip() for p in known)
    random_services = {incidents.get_incident(session, n).service for n in _random_numbers()}
    still_open = {p.service for p in known if p.state != P.CLOSED}
    assert len(still_open) >= 3 and still_open <= random_services
    # Under analysis with a workaround but no root cause yet: not a known error.
    analysing = problems.list_problems(session, states=(P.ROOT_CAUSE_ANALYSIS,))
    assert analysing and all(p.workaround and not p.known_error for p in analysing)


def test_known_errors_are_found_by_search_and_suggested(session: Session) -> None:
    roaming = problems.list_problems(session, known_error=True, text="fast roaming")
    assert [p.service for p in roaming] == ["Wi-Fi"]
    assert problems.list_problems(session, known_error=True, text="deferred queue") == []
    assert problems.list_problems(session, known_error=False, text="deferred queue")
    hits = known_errors.search_known_errors(session, "index bloat", service="CRM")
    assert hits and "crm-db-01" in hits[0].cis
    wifi = next(
        n for n in _random_numbers() if incidents.get_incident(session, n).service == "Wi-Fi"
    )
    suggested = known_errors.suggest_for_incident(session, wifi)
    assert any("roaming" in hit.title for hit in suggested)


def test_linked_incidents_and_the_workaround_on_the_later_ones(
    session: Session, by_state: dict[str, list[ProblemRecord]]
) -> None:
    every = [p for found in by_state.values() for p in found]
    assert all(p.incidents for p in every)
    assert sum(p.incident_count for p in every) == sum(len(s.calls) for s in STORIES)
    # The stories' incidents are all done: the open queue is the random incidents' alone.
    assert all(i.state in DONE for p in every for i in p.incidents)
    assert all(NOW - timedelta(days=30) < i.opened_at < NOW for p in every for i in p.incidents)
    noted = 0
    for problem in every:
        if not problem.known_error:
            continue
        for linked in problem.incidents:
            journal = incidents.incident_detail(session, linked.number).journal
            notes = [e.body for e in journal if e.body.startswith(f"Known error {problem.number}")]
            noted += bool(notes)
            assert not notes or problem.workaround in notes[0]
    assert noted >= 4  # those logged after the root cause and workaround were written


def test_a_resolved_problem_whose_fix_change_closed_successfully(
    session: Session, by_state: dict[str, list[ProblemRecord]]
) -> None:
    for problem in by_state[P.RESOLVED] + by_state[P.CLOSED]:
        assert problem.fix_change_state == ChangeState.CLOSED.value
        assert problem.fix_change_outcome in SUCCESSFUL_OUTCOMES
        assert problem.resolution_reason is None  # resolved by the fix, no excuse needed
        fix = changes.get_change(session, problem.fix_change or "")
        assert fix.closed_at is not None and problem.resolved_at is not None
        assert fix.closed_at < problem.resolved_at
        assert problem.fix_change in (problem.resolution_notes or "")
    # One waited on hold for the fix and was resolved with the problem, in one action.
    waited = [
        i.number
        for p in by_state[P.RESOLVED]
        for i in p.incidents
        if (incidents.get_incident(session, i.number).resolution_notes or "").startswith(
            f"Resolved with {p.number}: "
        )
    ]
    assert len(waited) == 1


def test_a_fix_change_raised_from_the_problem_after_the_first_was_backed_out(
    session: Session, by_state: dict[str, list[ProblemRecord]]
) -> None:
    raised = [p for p in by_state[P.FIX_IN_PROGRESS] if p.fix_change_state == "new"]
    assert len(raised) == 1
    problem = raised[0]
    fix = changes.get_change(session, problem.fix_change or "")
    assert fix.title.startswith(f"Fix {problem.number}:") and fix.planned_start is not None
    assert NOW < fix.planned_start < NOW + timedelta(weeks=6)
    assert problem.root_cause in fix.description
    history = problems.problem_history(session, problem.number).audit
    first, second = (a for a in history if a.field == "fix_change")
    assert (first.old_value, second.new_value) == (None, problem.fix_change)
    backed_out = changes.get_change(session, str(second.old_value))
    assert backed_out.outcome == ChangeOutcome.BACKED_OUT.value


def test_the_detector_finds_the_planted_clusters_and_not_the_one_offs(
    session: Session, numbers_by_title: dict[str, list[str]]
) -> None:
    outlook = _numbers(numbers_by_title, [c.title for c in OUTLOOK_CRASHES])
    disk = _numbers(numbers_by_title, [c.title for c in DISK_ALERTS])
    one_offs = _numbers(numbers_by_title, [c.title for c in ONE_OFFS])
    assert min(outlook | disk | one_offs) > f"INC{RANDOM:07d}"  # after the random ones
    found = find_candidates(session, FixedClock(NOW))
    text = [c for c in found if c.kind is CandidateKind.TEXT and set(c.members) == outlook]
    assert len(text) == 1 and text[0].service == "Email"
    (on_ci,) = (c for c in found if c.key == "ci:mail-db-01")
    assert disk <= set(on_ci.members)
    grouped = {number for candidate in found for number in candidate.members}
    assert not grouped & one_offs
    linked = {i.number for p in problems.list_problems(session) for i in p.incidents}
    assert not grouped & linked


def test_the_problems_add_a_fixed_set_of_incidents(session: Session) -> None:
    total = len(session.exec(select(Incident.id)).all())
    assert total == RANDOM + story_incident_count()
