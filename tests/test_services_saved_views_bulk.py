"""Saved queue views, bulk actions on marked incidents, and @mention notifications."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from itsm_tui.domain.enums import IncidentState, Priority
from itsm_tui.services import bulk, incidents, notifications, saved_views
from itsm_tui.services.bulk import BulkAssign, BulkNote, BulkOutcome, BulkState
from itsm_tui.services.errors import NotFound, ValidationFailed
from itsm_tui.services.queue import QueueFilter
from itsm_tui.services.tx import transaction
from itsm_tui.store.database import Database
from itsm_tui.store.models import User
from tests.conftest import Desk
from tests.service_helpers import HOLD, RESOLUTION, drive, make, refused


def names(desk: Desk, user: str) -> list[str]:
    return [v.name for v in saved_views.list_views(desk.session, desk[user])]


def journal(desk: Desk, number: str) -> list[tuple[str, str | None, str]]:
    detail = incidents.incident_detail(desk.session, number)
    return [(j.kind, j.author, j.body) for j in detail.journal if j.kind != "system"]


def run(desk: Desk, actor: str, numbers: list[str], action: Any) -> bulk.BulkResult:
    return bulk.apply(desk.session, desk[actor], desk.clock, numbers, action)


def mentions(desk: Desk, user: str) -> list[str]:
    return [n.body for n in notifications.inbox(desk.session, desk[user]) if n.kind == "mention"]


# ---------------------------------------------------------------------------- saved views


def test_saved_views_round_trip_replace_and_stay_personal(desk: Desk, database: Database) -> None:
    alice, bob, clock, session = desk["alice"], desk["bob"], desk.clock, desk.session
    urgent = QueueFilter(
        mine=True,
        at_risk=True,
        priorities=(Priority.CRITICAL, Priority.HIGH),
        group="Service Desk",
        caller="Dana",
        text="50% _off_",
    )
    saved = saved_views.save_view(session, alice, clock, "urgent", urgent)
    assert (saved.name, saved.filter) == ("urgent", urgent)
    assert saved_views.list_views(session, alice) == [saved]

    # Same name (after trimming) replaces; an empty `states` (every state) is not the default.
    every = QueueFilter(states=(), breached=True)
    saved_views.save_view(session, alice, clock, "  urgent  ", every)
    assert saved_views.list_views(session, alice) == [saved_views.SavedViewRecord("urgent", every)]
    assert saved_views.list_views(session, alice)[0].filter.states == ()
    resolved = QueueFilter(states=(IncidentState.RESOLVED,))
    saved_views.save_view(session, alice, clock, "done", resolved)
    assert names(desk, "alice") == ["done", "urgent"]

    # Personal: bob sees none of alice's, cannot delete them, and may reuse a name.
    assert names(desk, "bob") == []
    refused(database, NotFound, lambda: saved_views.delete_view(session, bob, "urgent"))
    saved_views.save_view(session, bob, clock, "urgent", QueueFilter())
    assert saved_views.list_views(session, bob) == [
        saved_views.SavedViewRecord("urgent", QueueFilter())
    ]
    assert saved_views.list_views(session, alice)[1].filter == every

    # Names: not blank, one line, at most 60 characters.
    for bad in ("", "   ", "x" * 61, "two\nlines"):
        refused(
            database,
            ValidationFailed,
            lambda bad=bad: saved_views.save_view(session, alice, clock, bad, QueueFilter()),
        )
    assert saved_views.save_view(session, alice, clock, "y" * 60, QueueFilter()).name == "y" * 60

    saved_views.delete_view(session, alice, "urgent")
    assert names(desk, "alice") == ["done", "y" * 60]
    assert names(desk, "bob") == ["urgent"]
    refused(database, NotFound, lambda: saved_views.delete_view(session, alice, "urgent"))


def test_at_most_fifty_views_but_replacing_still_works(desk: Desk, database: Database) -> None:
    alice, clock, session = desk["alice"], desk.clock, desk.session
    for i in range(saved_views.MAX_VIEWS):
        saved_views.save_view(session, alice, clock, f"view {i:02d}", QueueFilter())
    refused(
        database,
        ValidationFailed,
        lambda: saved_views.save_view(session, alice, clock, "one more", QueueFilter()),
        match="50 saved views",
    )
    mine = QueueFilter(mine=True)
    saved_views.save_view(session, alice, clock, "view 07", mine)
    views = saved_views.list_views(session, alice)
    assert len(views) == 50 and views[7] == saved_views.SavedViewRecord("view 07", mine)
    saved_views.save_view(session, desk["bob"], clock, "one more", QueueFilter())  # per user


# ---------------------------------------------------------------------------- bulk


def test_bulk_assign_reports_each_incident_and_writes_only_the_successes(desk: Desk) -> None:
    first, closed, second = (make(desk).number for _ in range(3))
    drive(desk, closed, "cancelled")
    closed_version = incidents.get_incident(desk.session, closed).version

    result = run(desk, "sue", [first, closed, second, first, "INC9999999"], BulkAssign("alice"))
    assert [o.number for o in result.outcomes] == [first, closed, second, "INC9999999"]
    assert [o.number for o in result.succeeded] == [first, second]
    assert result.succeeded[0] == BulkOutcome(first, True, "assigned to alice in Service Desk")
    by_number = {o.number: o for o in result.refused}
    assert "cancelled" in by_number[closed].message
    assert "no incident INC9999999" in by_number["INC9999999"].message

    after = {n: incidents.get_incident(desk.session, n) for n in (first, closed, second)}
    assert [after[n].assignee for n in (first, closed, second)] == ["alice", None, "alice"]
    assert after[closed].version == closed_version

    unassigned = run(desk, "sue", [first, second], BulkAssign("none"))
    assert [o.message for o in unassigned.outcomes] == ["assigned to (nobody) in Service Desk"] * 2
    moved = run(desk, "sue", [first], BulkAssign(assignee="bob", group="Network"))
    assert moved.outcomes == [BulkOutcome(first, True, "assigned to bob in Network")]

    with pytest.raises(ValidationFailed, match="mark at least one"):
        run(desk, "sue", [], BulkAssign("alice"))
    with pytest.raises(ValidationFailed, match="at most 1000"):
        run(desk, "sue", [f"INC{i:07d}" for i in range(1001)], BulkAssign("alice"))


def test_an_agent_bulk_assigning_is_refused_outside_their_scope(desk: Desk) -> None:
    own = make(desk).number  # Service Desk
    foreign = make(desk, group="Network", assignee="bob").number
    pool = make(desk, group=None).number  # untriaged: any agent may pick it up
    foreign_before = incidents.get_incident(desk.session, foreign)

    result = run(desk, "alice", [own, foreign, pool], BulkAssign("alice"))
    assert [(o.number, o.ok) for o in result.outcomes] == [
        (own, True),
        (foreign, False),
        (pool, True),
    ]
    assert "'alice' (agent) may not assign incidents outside their groups" in (
        result.refused[0].message
    )
    assert incidents.get_incident(desk.session, foreign) == foreign_before
    assignees = [incidents.get_incident(desk.session, n).assignee for n in (own, pool)]
    assert assignees == ["alice", "alice"]
    # Notes are open to every agent, whatever the group.
    noted = run(desk, "alice", [own, foreign], BulkNote("seen on the switch too"))
    assert [o.ok for o in noted.outcomes] == [True, True]


def test_bulk_notes_and_state_changes(desk: Desk) -> None:
    a, b, gone = (make(desk, assignee="alice").number for _ in range(3))
    drive(desk, gone, "closed")
    versions = {n: incidents.get_incident(desk.session, n).version for n in (a, b)}

    noted = run(desk, "sue", [a, b, gone], BulkNote("Vendor ticket 4711 opened"))
    assert [(o.ok, o.message) for o in noted.succeeded] == [(True, "work note added")] * 2
    assert "closed records take no more notes" in noted.refused[0].message
    for number in (a, b):
        assert journal(desk, number) == [("work_note", "sue", "Vendor ticket 4711 opened")]
        assert incidents.get_incident(desk.session, number).version == versions[number]
    assert journal(desk, gone) == []
    commented = run(desk, "sue", [a], BulkNote("We are on it", comment=True))
    assert commented.outcomes == [BulkOutcome(a, True, "comment added")]
    assert journal(desk, a)[-1] == ("comment", "sue", "We are on it")

    # On hold needs a reason: refused for each, nothing changes.
    no_reason = run(desk, "sue", [a, b], BulkState("on_hold"))
    assert [o.ok for o in no_reason.outcomes] == [False, False]
    assert {incidents.get_incident(desk.session, n).state for n in (a, b)} == {"new"}
    held = run(desk, "sue", [a, b, gone], BulkState("on_hold", **HOLD))
    assert [(o.ok, o.message) for o in held.succeeded] == [(True, "now on_hold")] * 2
    assert [o.number for o in held.refused] == [gone]
    for number in (a, b):
        record = incidents.get_incident(desk.session, number)
        assert (record.state, record.hold_reason) == ("on_hold", "awaiting_caller")

    # Resolve with code and notes; one is in progress by then, one still on hold.
    incidents.transition(desk.session, desk["alice"], desk.clock, b, "in_progress")
    resolved = run(desk, "sue", [a, b], BulkState("resolved", **RESOLUTION))
    assert [o.message for o in resolved.outcomes] == ["now resolved"] * 2
    for number in (a, b):
        record = incidents.get_incident(desk.session, number)
        assert (record.state, record.resolution_code, record.resolution_notes) == (
            "resolved",
            "solved_workaround",
            "restarted",
        )
        assert record.resolved_at == desk.clock.now()

    # Back to in progress from resolved is a reopen: it needs a reason.
    no_reason = run(desk, "sue", [a], BulkState("in_progress"))
    assert not no_reason.outcomes[0].ok and "needs a reason" in no_reason.outcomes[0].message
    reopened = run(desk, "sue", [a, gone], BulkState("in_progress", reason="still bouncing"))
    assert [o.ok for o in reopened.outcomes] == [True, False]
    record = incidents.get_incident(desk.session, a)
    assert (record.state, record.resolution_code, record.resolved_at) == ("in_progress", None, None)
    assert incidents.get_incident(desk.session, gone).state == "closed"


# ---------------------------------------------------------------------------- mentions


def test_mentions_notify_the_named_users_only(desk: Desk, database: Database) -> None:
    number = make(desk).number
    cancelled = make(desk).number
    drive(desk, cancelled, "cancelled")
    incidents.add_note(
        desk.session,
        desk["alice"],
        desk.clock,
        number,
        "@bob please check, cc a@b.com and @nobody and @alice",
    )
    assert mentions(desk, "bob") == [
        f"{number}: alice mentioned you: @bob please check, cc a@b.com and @nobody and @alice"
    ]
    for other in ("root", "sue", "alice", "carl", "vic"):
        assert notifications.unread_count(desk.session, desk[other]) == 0, other
    (entry,) = notifications.inbox(desk.session, desk["bob"])
    assert (entry.kind, entry.incident, entry.read) == ("mention", number, False)

    # Any case, trailing punctuation, once per note, comments too; not inside addresses, not
    # inactive users.
    with transaction(desk.session):
        desk.session.execute(update(User).where(User.username == "carl").values(active=False))
    incidents.add_note(
        desk.session,
        desk["sue"],
        desk.clock,
        number,
        "Thanks @Bob. Mail ops@vic.example or @carl; (@root) @BOB",
        comment=True,
    )
    assert notifications.unread_count(desk.session, desk["bob"]) == 2
    assert notifications.unread_count(desk.session, desk["root"]) == 1
    assert [notifications.unread_count(desk.session, desk[u]) for u in ("vic", "carl")] == [0, 0]
    # A refused note (the record is cancelled) notifies nobody.
    refused(
        database,
        ValidationFailed,
        lambda: incidents.add_note(desk.session, desk["sue"], desk.clock, cancelled, "@bob"),
    )
    # A bulk note notifies once per incident.
    run(desk, "sue", [number, make(desk).number], BulkNote("@vic FYI"))
    assert notifications.unread_count(desk.session, desk["vic"]) == 2

    bobs = [n.id for n in notifications.inbox(desk.session, desk["bob"])]
    now = desk.clock.now()
    # Nobody marks another user's entries read: ignored, not an error.
    assert notifications.mark_read(desk.session, desk["alice"], now, bobs) == 0
    assert notifications.mark_read(desk.session, desk["vic"], now, bobs) == 0
    assert notifications.unread_count(desk.session, desk["bob"]) == 2
    assert notifications.mark_read(desk.session, desk["bob"], now, bobs[:1]) == 1
    assert notifications.mark_read(desk.session, desk["bob"], now, bobs[:1]) == 0  # already
    assert notifications.mark_read(desk.session, desk["bob"], now, []) == 0
    assert notifications.unread_count(desk.session, desk["bob"]) == 1
    assert [n.read for n in notifications.inbox(desk.session, desk["bob"])].count(True) == 1
    assert notifications.mark_all_read(desk.session, desk["bob"], now) == 1
    assert notifications.unread_count(desk.session, desk["bob"]) == 0
    assert notifications.unread_count(desk.session, desk["vic"]) == 2
