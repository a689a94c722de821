"""Recurring-incident candidates: find them, dismiss them, or turn one into a problem.

Detection itself is `domain.patterns`; this module feeds it the window's incidents that no
problem claims yet (one query, only the columns it reads) and remembers dismissals. A
dismissed candidate stays hidden until it has more incidents than when it was dismissed: the
same three outages are not news, a fourth is. Promoting re-detects, so it links the incidents
that belong to the candidate now, and the new problem and its links are one transaction; the
candidate then disappears by itself because its incidents are linked.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import Field
from sqlalchemy import func
from sqlmodel import Session, col, select

from itsm_tui.clock import Clock
from itsm_tui.domain import patterns
from itsm_tui.domain.enums import IncidentState, RecordType, Role
from itsm_tui.domain.patterns import Candidate, IncidentFacts
from itsm_tui.services import problems
from itsm_tui.services.actors import reload_actor
from itsm_tui.services.errors import NotFound, PermissionDenied, ValidationFailed
from itsm_tui.services.history import record_write
from itsm_tui.services.problems import ProblemCreate, ProblemRecord
from itsm_tui.services.tx import transaction
from itsm_tui.services.validation import Input, validate
from itsm_tui.store.models import CandidateDismissal, ConfigItem, Incident, Service, User

# Who may dismiss a candidate: anyone who works incidents (not viewers).
DISMISS_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR, Role.CHANGE_MANAGER, Role.ADMIN})
KEY_PREFIXES = ("ci:", "service:", "text:")
TITLE_LENGTH = 200


class Detection(Input):
    """How far back detection looks and how many incidents make a candidate, checked at the
    edge so a bad value is bad input rather than the detector's ValueError."""

    days: Annotated[int, Field(ge=1, le=3650)] = patterns.DEFAULT_DAYS
    min_size: Annotated[int, Field(ge=2)] = patterns.DEFAULT_MIN_SIZE


class Dismissal(Input):
    key: Annotated[str, Field(min_length=4, max_length=300)]
    incident_count: Annotated[int, Field(ge=1)]


def load_facts(session: Session, clock: Clock, *, days: int) -> list[IncidentFacts]:
    """The window's incidents not linked to a problem, as detection reads them. Cancelled
    incidents are left out: they were logged by mistake and say nothing about a fault."""
    now = clock.now()
    statement = (
        select(
            Incident.number,
            Incident.opened_at,
            Service.name,
            ConfigItem.name,
            Incident.category,
            Incident.title,
            func.substr(Incident.description, 1, patterns.DESCRIPTION_CHARS),
        )
        .join(Service, col(Service.id) == col(Incident.service_id), isouter=True)
        .join(ConfigItem, col(ConfigItem.id) == col(Incident.ci_id), isouter=True)
        .where(
            col(Incident.problem_id).is_(None),
            col(Incident.opened_at) >= now - timedelta(days=days),
            col(Incident.opened_at) <= now,
            col(Incident.state) != IncidentState.CANCELLED.value,
        )
    )
    return [
        IncidentFacts(
            number=number,
            opened_at=opened_at,
            service=service,
            ci=ci,
            category=category,
            title=title,
            description=description or "",
        )
        for number, opened_at, service, ci, category, title, description in session.exec(
            statement
        ).all()
    ]


def detect_all(
    session: Session,
    clock: Clock,
    *,
    days: int = patterns.DEFAULT_DAYS,
    min_size: int = patterns.DEFAULT_MIN_SIZE,
) -> list[Candidate]:
    """Every candidate, dismissed or not."""
    checked = validate(Detection, days=days, min_size=min_size)
    facts = load_facts(session, clock, days=checked.days)
    return patterns.detect(facts, clock.now(), days=checked.days, min_size=checked.min_size)


def find_candidates(
    session: Session,
    clock: Clock,
    *,
    days: int = patterns.DEFAULT_DAYS,
    min_size: int = patterns.DEFAULT_MIN_SIZE,
) -> list[Candidate]:
    """The candidates worth showing: those never dismissed, or grown since."""
    found = detect_all(session, clock, days=days, min_size=min_size)
    dismissed = dict(
        session.exec(select(CandidateDismissal.key, CandidateDismissal.incident_count)).all()
    )
    return [c for c in found if c.size > dismissed.get(c.key, 0)]


def dismiss_candidate(
    session: Session, actor: User, clock: Clock, key: str, incident_count: int
) -> None:
    """Remember that the candidate `key`, at `incident_count` incidents, is not a problem.
    Dismissing it again (after it grew) moves the bar up."""
    data = validate(Dismissal, key=key, incident_count=incident_count)
    if not data.key.startswith(KEY_PREFIXES):
        raise ValidationFailed(
            f"'{data.key}' is not a candidate key (ci:..., service:..., text:...)"
        )
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        if Role(actor.role) not in DISMISS_ROLES:
            raise PermissionDenied("viewers cannot dismiss recurring-incident candidates")
        row = session.get(CandidateDismissal, data.key)
        before = f"{row.key} ({row.incident_count})" if row else None
        if row is None:
            row = CandidateDismissal(key=data.key, incident_count=data.incident_count)
        row.incident_count = data.incident_count
        row.dismissed_by_id = actor.id
        row.dismissed_at = now
        session.add(row)
        # Candidates have no row of their own: the audit and feed entry go on record 0 of
        # the problem type, which a problem board refreshes on like any problem event.
        record_write(
            session,
            record_type=RecordType.PROBLEM,
            record_id=0,
            number=None,
            action="dismiss_candidate",
            actor=actor,
            at=now,
            changes={"dismissed_candidate": (before, f"{data.key} ({data.incident_count})")},
        )


def dismiss_current(
    session: Session,
    actor: User,
    clock: Clock,
    key: str,
    *,
    days: int = patterns.DEFAULT_DAYS,
    min_size: int = patterns.DEFAULT_MIN_SIZE,
) -> int:
    """Dismiss the candidate `key` at the size it has now (it comes back only if it grows);
    returns that size."""
    key = key.strip()
    found = {c.key: c for c in detect_all(session, clock, days=days, min_size=min_size)}
    candidate = found.get(key)
    if candidate is None:
        raise NotFound(f"no recurring-incident candidate '{key}' in the last {days} days")
    dismiss_candidate(session, actor, clock, key, candidate.size)
    return candidate.size


def promote_candidate(
    session: Session,
    actor: User,
    clock: Clock,
    key: str,
    *,
    title: str | None = None,
    days: int = patterns.DEFAULT_DAYS,
    min_size: int = patterns.DEFAULT_MIN_SIZE,
) -> ProblemRecord:
    """Open a problem for the candidate `key` with its incidents linked (dismissed or not)."""
    found = {c.key: c for c in detect_all(session, clock, days=days, min_size=min_size)}
    candidate = found.get(key)
    if candidate is None:
        raise NotFound(f"no recurring-incident candidate '{key}' in the last {days} days")
    data = validate(
        ProblemCreate,
        title=title or default_title(candidate),
        description=describe(candidate),
        service=candidate.service,
        cis=candidate.cis,
        incidents=candidate.members,
    )
    return problems.create_problem(session, actor, clock, data)


def default_title(candidate: Candidate) -> str:
    title = f"Recurring: {candidate.label} ({candidate.size} incidents)"
    return title if len(title) <= TITLE_LENGTH else title[: TITLE_LENGTH - 1] + "…"


def describe(candidate: Candidate) -> str:
    """The new problem's description: what the detector saw, for whoever picks it up."""
    return (
        f"Opened from recurring-incident candidate {candidate.key}: {candidate.size} incidents "
        f"between {candidate.first_seen:%Y-%m-%d %H:%M} and {candidate.last_seen:%Y-%m-%d %H:%M}"
        f" UTC ({candidate.per_week:.1f} a week)."
    )
