"""The known-error database on both engines: searching known errors by text, service and CI
(ranked by matching words, then priority), and suggesting them for an incident or a draft
(same CI, then same service, then similar text), never a problem that is no known error, a
cancelled one, or the one the incident is already linked to."""

from __future__ import annotations

import pytest

from itsm_tui.services import directory, incidents, known_errors, problems
from itsm_tui.services.errors import NotFound, ValidationFailed
from itsm_tui.services.known_errors import KnownErrorHit
from itsm_tui.services.validation import validate
from tests.conftest import Desk

STUCK = "Mail queue stuck"


def _ci(desk: Desk, name: str, service: str) -> None:
    data = validate(directory.ConfigItemCreate, name=name, service=service)
    directory.add_config_item(desk.session, desk["root"], desk.clock, data)


def _problem(desk: Desk, title: str, **fields: object) -> str:
    data = validate(problems.ProblemCreate, title=title, **fields)
    return problems.create_problem(desk.session, desk["alice"], desk.clock, data).number


def _known(desk: Desk, title: str, workaround: str = "restart it", **fields: object) -> str:
    fields.setdefault("root_cause", "unknown trigger")
    return _problem(desk, title, workaround=workaround, **fields)


def _incident(desk: Desk, title: str, **fields: object) -> str:
    data = validate(incidents.IncidentCreate, title=title, impact=3, urgency=3, **fields)
    return incidents.create_incident(desk.session, desk["alice"], desk.clock, data).number


def _cancel(desk: Desk, number: str) -> None:
    move = validate(problems.ProblemMove, state="cancelled", reason="duplicate")
    problems.move_problem(desk.session, desk["alice"], desk.clock, number, move)


def _numbers(hits: list[KnownErrorHit]) -> list[str]:
    return [hit.number for hit in hits]


def test_search_matches_words_filters_by_service_and_ci_and_ranks(desk: Desk) -> None:
    queue = _known(
        desk,
        "Mail queue stalls",
        cis=("mail-01",),
        impact=2,
        urgency=2,
        root_cause="queue disk fills up",
        workaround="Restart the mail queue",
    )
    vpn = _known(
        desk,
        "VPN drops sessions",
        cis=("vpn-gw-01",),
        impact=1,
        urgency=1,
        root_cause="gateway firmware bug",
        workaround="Reconnect with the backup profile",
    )
    bounce = _known(desk, "Attachments bounce", service="Email", workaround="Send a mail link")
    _problem(desk, "Mail queue slow", cis=("mail-01",), root_cause="no workaround yet")
    _cancel(desk, _known(desk, "Mail queue duplicate", cis=("mail-01",)))
    session = desk.session

    found = known_errors.search_known_errors(session, "MAIL queue")
    assert _numbers(found) == [queue, bounce]  # two words matched before one; the rest no KE
    assert found[0].why == "matches mail, queue"
    assert (found[0].service, found[0].cis, found[0].workaround) == (
        "Email", ("mail-01",), "Restart the mail queue",
    )  # fmt: skip
    # One word each: the more urgent one first.
    assert _numbers(known_errors.search_known_errors(session, "restart reconnect")) == [vpn, queue]
    assert _numbers(known_errors.search_known_errors(session, vpn.lower())) == [vpn]
    assert _numbers(known_errors.search_known_errors(session, "", service="Email")) == [
        queue,
        bounce,
    ]
    assert _numbers(known_errors.search_known_errors(session, "", ci="vpn-gw-01")) == [vpn]
    assert _numbers(known_errors.search_known_errors(session, "mail", ci="mail-01")) == [queue]
    assert known_errors.search_known_errors(session, "printer") == []
    assert len(known_errors.search_known_errors(session, "", limit=2)) == 2
    with pytest.raises(ValidationFailed, match="unknown service"):
        known_errors.search_known_errors(session, "mail", service="Nope")


def test_suggestions_rank_same_ci_over_same_service_over_similar_text(desk: Desk) -> None:
    """With the same wording, the same CI ranks above the same service, above text alone."""
    _ci(desk, "mail-02", "Email")
    on_ci = _known(desk, STUCK, cis=("mail-01",), workaround="Flush the queue on mail-01")
    on_service = _known(desk, STUCK, cis=("mail-02",))
    text_only = _known(desk, STUCK, cis=("vpn-gw-01",))
    unrelated_ci = _known(desk, "Backup job overruns", cis=("mail-01",))
    _known(desk, "Calendar sync lags", service="Email")  # same service, no word in common
    _known(desk, "Tunnel flaps", cis=("vpn-gw-01",))  # other service, other words
    _problem(desk, STUCK, cis=("mail-01",), root_cause="no workaround yet")  # no known error
    _cancel(desk, _known(desk, STUCK, cis=("mail-01",)))
    incident = _incident(desk, "Mail queue stuck since 08:00", service="Email", ci="mail-01")

    hits = known_errors.suggest_for_incident(desk.session, incident)
    assert [(h.number, h.why) for h in hits] == [
        (on_ci, "same CI mail-01, similar text"),
        (on_service, "same service Email, similar text"),
        (text_only, "similar text"),
        (unrelated_ci, "same CI mail-01"),  # on the CI, but its wording is nothing alike
    ]
    assert hits[0].workaround == "Flush the queue on mail-01"
    assert hits[0].score > hits[1].score > hits[2].score > hits[3].score
    assert len(known_errors.suggest_for_incident(desk.session, incident, limit=2)) == 2

    problems.link_incidents(desk.session, desk["alice"], desk.clock, on_ci, [incident])
    after = known_errors.suggest_for_incident(desk.session, incident)
    assert _numbers(after) == [on_service, text_only, unrelated_ci]
    with pytest.raises(NotFound):
        known_errors.suggest_for_incident(desk.session, "INC9999999")


def test_draft_suggestions_work_before_the_incident_exists(desk: Desk) -> None:
    mail = _known(desk, "Outlook cannot connect to mailbox", service="Email", impact=2)
    vpn = _known(desk, "VPN client cannot connect", cis=("vpn-gw-01",))
    session = desk.session

    by_text = known_errors.suggest_for_draft(session, title="Outlook won't connect")
    assert [(h.number, h.why) for h in by_text] == [(mail, "similar text")]
    # Words count from the description too, and stems meet ("connecting" finds "connect").
    described = known_errors.suggest_for_draft(
        session, title="Remote access", description="The VPN client keeps connecting"
    )
    assert _numbers(described) == [vpn]
    by_service = known_errors.suggest_for_draft(session, title="Client slow", service="VPN")
    assert [(h.number, h.why) for h in by_service] == [(vpn, "same service VPN")]
    # The service alone is not enough, nor is its name in the title; a CI alone is (below).
    assert known_errors.suggest_for_draft(session, title="", service="VPN") == []
    assert known_errors.suggest_for_draft(session, title="VPN slow", service="VPN") == []
    on_ci = known_errors.suggest_for_draft(session, title="", ci="vpn-gw-01")
    assert [(h.number, h.why) for h in on_ci] == [(vpn, "same CI vpn-gw-01")]
    # One shared word is not "similar"; an empty draft or an unknown name suggests nothing.
    assert known_errors.suggest_for_draft(session, title="connect") == []
    assert known_errors.suggest_for_draft(session, title="") == []
    assert known_errors.suggest_for_draft(session, title="", service="Nope", ci="nope-01") == []


def test_words_and_similarity() -> None:
    assert known_errors.words("The mail-01 queue STALLS; queue stalled (2x) on 3") == [
        "mail",
        "queue",
        "stall",
        "2x",
    ]
    assert known_errors.similarity(["mail", "queue"], ["queue", "disk"]) == 50.0
    assert known_errors.similarity(["auth"], ["authentication"]) == 100.0
    assert known_errors.similarity(["vpn"], ["vpnclient"]) == 0.0  # prefixes from four letters
    assert known_errors.similarity([], ["queue"]) == 0.0
