"""The known-error database: problems whose root cause and workaround are written down, found
by text, service and CI, and offered on incidents that look like them.

Two reads, two different questions:
- `search_known_errors` is the agent looking something up: every query word counts, and a
  known error matching more of them ranks higher (then the more urgent one first).
- `suggest_for_incident` / `suggest_for_draft` are the desk guessing for the agent: known
  errors on the incident's CI, then its service, then anywhere with similar text, scored by
  how much of the incident's wording they share. The same CI is reason enough; the same
  service only with a word in common besides the service's own name (a busy service's
  known errors would otherwise sit on every one of its incidents); another service only
  with similar text. Only open ones (not
  closed or cancelled) are suggested, because a suggestion is offered for linking and
  `problems.link_incidents` refuses those; the one the incident is already linked to is
  left out.

Linking an incident to a known error is `problems.link_incidents(..., apply_workaround=True)`,
which writes the workaround on the incident as a work note; this module only reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, func, or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from itsm_tui.domain.enums import ProblemState
from itsm_tui.services.directory import ci_by_name, service_by_name
from itsm_tui.services.incidents import get_incident
from itsm_tui.store.models import ConfigItem, Problem, ProblemConfigItem, Service

# Not a reason to suggest anything: words every incident and problem has.
_STOPWORDS = (
    "a an and are as at be by can cannot do does did for from has have how in is it its my no "
    "not of on or our the this that to was were we what when why with without you your after "
    "before down up"
)
STOPWORDS = frozenset(_STOPWORDS.split())
# Extra score for where a suggestion comes from; text similarity adds 0-100 on top, so with
# equal wording the same CI ranks above the same service, which ranks above text alone.
SAME_CI_WEIGHT = 40.0
SAME_SERVICE_WEIGHT = 20.0
# A known error on another service is suggested for its text alone only when it shares at
# least this many words and this share of the incident's words.
TEXT_ONLY_MIN_SHARED = 2
TEXT_ONLY_MIN_SIMILARITY = 40.0
# At most this many words of a query or an incident narrow the candidates in SQL.
MAX_TERMS = 40
_WORD = re.compile(r"[^\W_]+")
_NOT_SEARCHED = (ProblemState.CANCELLED.value,)
_NOT_SUGGESTED = (ProblemState.CANCELLED.value, ProblemState.CLOSED.value)
# Searched by `search_known_errors`; compared with an incident's wording by suggestions.
SEARCHED: tuple[ColumnElement[str], ...] = (
    col(Problem.number),
    col(Problem.title),
    col(Problem.description),
    col(Problem.root_cause),
    col(Problem.workaround),
)
COMPARED: tuple[ColumnElement[str], ...] = (
    col(Problem.title),
    col(Problem.description),
    col(Problem.root_cause),
)


@dataclass(frozen=True)
class KnownErrorHit:
    """One known error found; `reasons` says why ("same CI mail-01", "similar text")."""

    number: str
    title: str
    state: str
    priority: int
    service: str | None
    cis: tuple[str, ...]
    root_cause: str
    workaround: str
    score: float
    reasons: tuple[str, ...]

    @property
    def why(self) -> str:
        return ", ".join(self.reasons)


# ---------------------------------------------------------------------------- words


def _stem(word: str) -> str:
    """A crude stem so "stalls", "stalled" and "stalling" meet; good enough to compare an
    incident's wording with a known error's, and predictable."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def words(text: str) -> list[str]:
    """The meaningful words of `text`, lower-cased and stemmed, in order, without repeats:
    no stopwords, no bare numbers, no single letters."""
    found = (w.lower() for w in _WORD.findall(text))
    kept = (_stem(w) for w in found if len(w) > 1 and not w.isdigit() and w not in STOPWORDS)
    return list(dict.fromkeys(kept))


def similarity(incident_words: Sequence[str], known_words: Iterable[str]) -> float:
    """How much of the incident's wording the known error shares, 0-100: the share of the
    incident's words found among its words (a word matches one it starts, or that starts it,
    from four letters on: "auth" finds "authentication")."""
    if not incident_words:
        return 0.0
    theirs = set(known_words)
    shared = sum(1 for word in incident_words if _found(word, theirs))
    return 100.0 * shared / len(incident_words)


def _found(word: str, among: set[str]) -> bool:
    if word in among:
        return True
    if len(word) < 4:
        return False
    return any(
        len(other) >= 4 and (other.startswith(word) or word.startswith(other)) for other in among
    )


# ---------------------------------------------------------------------------- search


def search_known_errors(
    session: Session,
    text: str,
    *,
    service: str | None = None,
    ci: str | None = None,
    limit: int = 20,
) -> list[KnownErrorHit]:
    """Known errors (not cancelled) matching `text` in number, title, description, root cause
    or workaround, optionally only those of `service` and/or on `ci`. Every word of `text`
    that matches counts: more matching words first, then priority, then number. Empty text
    lists them all (by priority). An unknown service or CI is refused (ValidationFailed),
    as `list_problems` refuses it."""
    terms = list(dict.fromkeys(w.lower() for w in _WORD.findall(text)))
    conditions: list[ColumnElement[bool]] = [col(Problem.state).notin_(_NOT_SEARCHED)]
    if service:
        conditions.append(col(Problem.service_id) == service_by_name(session, service).id)
    if ci:
        conditions.append(col(Problem.id).in_(_problems_on_ci(_id(ci_by_name(session, ci)))))
    if terms:
        conditions.append(or_(*(_mentions(term) for term in terms[:MAX_TERMS])))
    hits = []
    for problem, service_name, cis in _known_errors(session, conditions):
        haystack = " ".join(
            (problem.number, problem.title, problem.description, problem.root_cause,
             problem.workaround)
        ).lower()  # fmt: skip
        matched = [term for term in terms if term in haystack]
        if terms and not matched:
            continue
        reasons = (f"matches {', '.join(matched)}",) if matched else ()
        score = 100.0 * len(matched) / len(terms) if terms else 0.0
        hits.append(_hit(problem, service_name, cis, score, reasons))
    hits.sort(key=lambda h: (-h.score, h.priority, h.number))
    return hits[:limit]


def _mentions(term: str, columns: Sequence[ColumnElement[str]] = SEARCHED) -> ColumnElement[bool]:
    """`term` appears in one of `columns` (terms are letters and digits only, so they need no
    LIKE escaping). The columns are joined into one string, one LIKE per term: SQLite caps
    expression depth at 1000, and a long description would pass that as a LIKE per column."""
    joined = columns[0]
    for column in columns[1:]:
        joined = joined + " " + column
    return func.lower(joined).like(f"%{term}%")


# ---------------------------------------------------------------------------- suggestions


def suggest_for_incident(session: Session, number: str, *, limit: int = 5) -> list[KnownErrorHit]:
    """Known errors that may explain incident `number`, best first, without the problem it
    is already linked to."""
    incident = get_incident(session, number)
    return _suggest(
        session,
        Draft(incident.title, incident.description, incident.service, incident.ci),
        exclude=incident.problem,
        limit=limit,
    )


def suggest_for_draft(
    session: Session,
    *,
    title: str,
    description: str = "",
    service: str | None = None,
    ci: str | None = None,
    limit: int = 5,
) -> list[KnownErrorHit]:
    """Known errors for an incident still being typed (the create form). A service or CI
    name that does not exist (yet) matches nothing rather than failing: it is a draft."""
    return _suggest(session, Draft(title, description, service, ci), exclude=None, limit=limit)


@dataclass(frozen=True)
class Draft:
    """What suggestions are made from: an incident's wording and where it happens."""

    title: str
    description: str
    service: str | None
    ci: str | None


def _suggest(
    session: Session, draft: Draft, *, exclude: str | None, limit: int
) -> list[KnownErrorHit]:
    title_words = words(draft.title)
    all_words = list(dict.fromkeys(title_words + words(draft.description)))
    service_id = _id_or_none(session, Service, draft.service)
    ci_id = _id_or_none(session, ConfigItem, draft.ci)
    related: list[ColumnElement[bool]] = []
    if ci_id is not None:
        related.append(col(Problem.id).in_(_problems_on_ci(ci_id)))
    if service_id is not None:
        related.append(col(Problem.service_id) == service_id)
    related += [_mentions(word, COMPARED) for word in all_words[:MAX_TERMS]]
    if not related:
        return []
    conditions = [col(Problem.state).notin_(_NOT_SUGGESTED), or_(*related)]
    if exclude:
        conditions.append(col(Problem.number) != exclude)
    hits = []
    for problem, service_name, cis in _known_errors(session, conditions):
        theirs = set(words(f"{problem.title}\n{problem.description}\n{problem.root_cause}"))
        # The title says what is wrong; a long description must not drown it.
        text_score = max(similarity(title_words, theirs), similarity(all_words, theirs))
        score = text_score
        reasons: list[str] = []
        if ci_id is not None and draft.ci and draft.ci.strip() in cis:
            reasons.append(f"same CI {draft.ci.strip()}")
            score += SAME_CI_WEIGHT
        shared = [word for word in all_words if _found(word, theirs)]
        if (
            not reasons
            and service_id is not None
            and problem.service_id == service_id
            and set(shared) - set(words(service_name or ""))  # "File Storage" shares "file"
        ):
            reasons.append(f"same service {service_name}")
            score += SAME_SERVICE_WEIGHT
        if len(shared) >= TEXT_ONLY_MIN_SHARED and text_score >= TEXT_ONLY_MIN_SIMILARITY:
            reasons.append("similar text")
        if reasons:
            hits.append(_hit(problem, service_name, cis, round(score, 1), tuple(reasons)))
    hits.sort(key=lambda h: (-h.score, h.priority, h.number))
    return hits[:limit]


# ---------------------------------------------------------------------------- loading


def _id(row: Service | ConfigItem) -> int:
    assert row.id is not None
    return row.id


def _id_or_none(
    session: Session, model: type[Service] | type[ConfigItem], name: str | None
) -> int | None:
    if not name or not name.strip():
        return None
    return session.exec(select(model.id).where(model.name == name.strip())).first()


def _problems_on_ci(ci_id: int) -> SelectOfScalar[int]:
    return select(ProblemConfigItem.problem_id).where(ProblemConfigItem.ci_id == ci_id)


def _known_errors(
    session: Session, conditions: Sequence[ColumnElement[bool]]
) -> list[tuple[Problem, str | None, tuple[str, ...]]]:
    """Known errors meeting `conditions`, each with its service name and CI names (two
    queries in all, however many are found)."""
    rows = session.exec(
        select(Problem, Service.name)
        .join(Service, col(Service.id) == col(Problem.service_id), isouter=True)
        .where(col(Problem.known_error) != false(), *conditions)
        .order_by(col(Problem.priority), col(Problem.id))
    ).all()
    ids = [problem.id for problem, _name in rows]
    cis: dict[int, list[str]] = {}
    if ids:
        for problem_id, ci_name in session.exec(
            select(ProblemConfigItem.problem_id, ConfigItem.name)
            .join(ConfigItem, col(ConfigItem.id) == col(ProblemConfigItem.ci_id))
            .where(col(ProblemConfigItem.problem_id).in_(ids))
            .order_by(col(ConfigItem.name))
        ).all():
            cis.setdefault(problem_id, []).append(ci_name)
    return [(problem, name, tuple(cis.get(problem.id or 0, ()))) for problem, name in rows]


def _hit(
    problem: Problem,
    service: str | None,
    cis: tuple[str, ...],
    score: float,
    reasons: tuple[str, ...],
) -> KnownErrorHit:
    return KnownErrorHit(
        number=problem.number,
        title=problem.title,
        state=problem.state,
        priority=problem.priority,
        service=service,
        cis=cis,
        root_cause=problem.root_cause,
        workaround=problem.workaround,
        score=score,
        reasons=reasons,
    )
