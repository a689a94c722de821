"""Recurring-incident candidates through the service on both engines: what the window's
unlinked incidents form, dismissals that hold until a candidate grows, and promotion to a
problem with the incidents linked."""

from __future__ import annotations

from datetime import timedelta

import pytest

from itsm_tui.services import incidents, problems
from itsm_tui.services.errors import NotFound, PermissionDenied, ValidationFailed
from itsm_tui.services.problem_candidates import (
    detect_all,
    dismiss_candidate,
    find_candidates,
    promote_candidate,
)
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database
from tests.conftest import T0, Desk
from tests.service_helpers import drive, mark, refused, written


def _incident(desk: Desk, title: str, days_ago: float = 1, **fields: object) -> str:
    """An incident opened `days_ago` before T0; the desk's clock is back at T0 afterwards."""
    desk.clock.set(T0 - timedelta(days=days_ago))
    try:
        data = validate(incidents.IncidentCreate, title=title, impact=2, urgency=2, **fields)
        return incidents.create_incident(desk.session, desk["alice"], desk.clock, data).number
    finally:
        desk.clock.set(T0)


def _seed(desk: Desk) -> dict[str, list[str]]:
    """A mail-01 cluster (one cancelled, one too old, one linked to a problem), paraphrased
    Outlook crashes with nothing else in common, and noise."""
    mail = [
        _incident(desk, "Queue backs up", 2, ci="mail-01"),
        _incident(desk, "Relay refuses partner mail", 9, ci="mail-01", category="delivery"),
        _incident(desk, "Disk alarm on the mail store", 20, ci="mail-01"),
    ]
    linked = _incident(desk, "Mail store fills again", 3, ci="mail-01")
    problems.create_problem(
        desk.session,
        desk["alice"],
        desk.clock,
        validate(problems.ProblemCreate, title="Mail store fills", incidents=(linked,)),
    )
    cancelled = _incident(desk, "Logged twice", 4, ci="mail-01")
    drive(desk, cancelled, "cancelled")
    _incident(desk, "Old mail outage", 31, ci="mail-01")
    outlook = [
        _incident(desk, "Outlook keeps crashing on start", 1, service="VPN"),
        _incident(desk, "Outlook crashes when starting", 5),
        _incident(desk, "outlook crash at startup", 6, category="software"),
    ]
    _incident(desk, "VPN slow from home", 1, service="VPN")
    _incident(desk, "VPN down in Berlin", 2, service="VPN", ci="vpn-gw-01")
    return {"mail": sorted(mail), "outlook": sorted(outlook)}


def test_candidates_come_from_the_windows_unlinked_incidents(desk: Desk) -> None:
    seeded = _seed(desk)
    found = {c.key: c for c in find_candidates(desk.session, desk.clock)}
    assert set(found) == {"ci:mail-01", "text:crash+outlo+start"}
    mail = found["ci:mail-01"]
    assert list(mail.members) == seeded["mail"]  # not the linked, cancelled or old ones
    assert (mail.service, mail.cis) == ("Email", ("mail-01",))
    assert (mail.first_seen, mail.last_seen) == (T0 - timedelta(days=20), T0 - timedelta(days=2))
    assert list(found["text:crash+outlo+start"].members) == seeded["outlook"]
    # A shorter window or a bigger minimum leaves less.
    assert [c.key for c in find_candidates(desk.session, desk.clock, days=10)] == [
        "text:crash+outlo+start"
    ]
    assert find_candidates(desk.session, desk.clock, min_size=4) == []


def test_a_dismissed_candidate_stays_hidden_until_it_grows(desk: Desk, database: Database) -> None:
    _seed(desk)
    refused(
        database,
        PermissionDenied,
        lambda: dismiss_candidate(desk.session, desk["vic"], desk.clock, "ci:mail-01", 3),
    )
    refused(
        database,
        ValidationFailed,
        lambda: dismiss_candidate(desk.session, desk["bob"], desk.clock, "mail-01", 3),
    )
    since = mark(database)
    dismiss_candidate(desk.session, desk["bob"], desk.clock, "ci:mail-01", 3)
    event = written(database, since).one_event()
    assert (event.record_type, event.action) == ("problem", "dismiss_candidate")
    assert written(database, since).fields() == {"dismissed_candidate": (None, "ci:mail-01 (3)")}

    assert [c.key for c in find_candidates(desk.session, desk.clock)] == ["text:crash+outlo+start"]
    assert "ci:mail-01" in {c.key for c in detect_all(desk.session, desk.clock)}

    fourth = _incident(desk, "Queue backs up again", 0.5, ci="mail-01")
    (grown,) = [c for c in find_candidates(desk.session, desk.clock) if c.key == "ci:mail-01"]
    assert grown.size == 4 and fourth in grown.members

    # Dismissed again at its new size: the bar moves up.
    since = mark(database)
    dismiss_candidate(desk.session, desk["alice"], desk.clock, "ci:mail-01", 4)
    assert "ci:mail-01" not in {c.key for c in find_candidates(desk.session, desk.clock)}
    assert written(database, since).fields()["dismissed_candidate"] == (
        "ci:mail-01 (3)",
        "ci:mail-01 (4)",
    )


def test_promoting_a_candidate_opens_a_problem_with_its_incidents_linked(desk: Desk) -> None:
    seeded = _seed(desk)
    with pytest.raises(NotFound, match="text:nothing"):
        promote_candidate(desk.session, desk["alice"], desk.clock, "text:nothing+like+this")

    dismiss_candidate(desk.session, desk["bob"], desk.clock, "ci:mail-01", 3)
    record = promote_candidate(desk.session, desk["sue"], desk.clock, "ci:mail-01")
    assert record.title == "Recurring: CI mail-01 (3 incidents)"
    assert (record.service, record.cis, record.state) == ("Email", ["mail-01"], "new")
    assert sorted(i.number for i in record.incidents) == seeded["mail"]
    assert "ci:mail-01" in record.description

    text = promote_candidate(
        desk.session, desk["alice"], desk.clock, "text:crash+outlo+start", title="Outlook crashes"
    )
    assert text.title == "Outlook crashes"
    assert sorted(i.number for i in text.incidents) == seeded["outlook"]
    assert text.service == "VPN"  # the one service its incidents name
    for number in seeded["outlook"]:
        assert incidents.get_incident(desk.session, number).problem == text.number
    # Both are linked now, so neither is a candidate any more.
    assert find_candidates(desk.session, desk.clock) == []
    assert detect_all(desk.session, desk.clock) == []
