"""Deactivating, reactivating and editing users on SQLite and PostgreSQL: each change is one
transaction with an audit entry per changed field and one feed event on the user record (the
event `itsm serve ssh` follows to end a deactivated user's sessions); a re-run writes
nothing; the desk never loses its last active admin; refusals write nothing."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import text

from itsm_tui.services import directory, incidents, user_admin
from itsm_tui.services.errors import NotFound, PermissionDenied, ValidationFailed
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database
from itsm_tui.store.models import User
from tests.conftest import T0, Desk
from tests.service_helpers import footprint, mark, refused, written


def _update(desk: Desk, who: str, username: str, **values: Any) -> user_admin.UserChange:
    data = validate(user_admin.UserUpdate, **values)
    return user_admin.update_user(desk.session, desk[who], desk.clock, username, data)


def test_deactivate_audits_active_and_announces_it_on_the_feed(
    desk: Desk, database: Database
) -> None:
    before = mark(database)
    change = user_admin.deactivate_user(desk.session, desk["root"], desk.clock, "Alice")
    assert change.changed and change.record.username == "alice"
    assert change.record.active is False
    w = written(database, before)
    assert w.fields() == {"active": ("true", "false")}
    alice_id = desk["alice"].id
    assert [(a.record_type, a.record_id, a.actor_id, a.at) for a in w.audit] == [
        ("user", alice_id, desk["root"].id, T0)
    ]
    event = w.one_event()
    assert (event.record_type, event.record_id, event.record_number, event.action) == (
        "user",
        alice_id,
        "alice",
        "deactivate",
    )
    assert event.actor_id == desk["root"].id
    refused(
        database,
        PermissionDenied,
        lambda: directory.resolve_actor(desk.session, desk.clock, "alice"),
        match="deactivated",
    )


def test_deactivating_twice_says_so_and_writes_nothing(desk: Desk, database: Database) -> None:
    user_admin.deactivate_user(desk.session, desk["root"], desk.clock, "bob")
    before = footprint(database)
    again = user_admin.deactivate_user(desk.session, desk["root"], desk.clock, "bob")
    assert (again.changed, again.record.active) == (False, False)
    assert footprint(database) == before


def test_activate_brings_a_user_back_with_role_and_groups(desk: Desk, database: Database) -> None:
    user_admin.deactivate_user(desk.session, desk["root"], desk.clock, "sue")
    before = mark(database)
    change = user_admin.activate_user(desk.session, desk["root"], desk.clock, "sue")
    assert change.changed and change.record.active
    assert (change.record.role, change.record.groups) == ("supervisor", ["Network", "Service Desk"])
    w = written(database, before)
    assert w.fields() == {"active": ("false", "true")}
    assert w.one_event().action == "activate"
    assert directory.resolve_actor(desk.session, desk.clock, "sue").username == "sue"
    footprint_before = footprint(database)
    assert not user_admin.activate_user(desk.session, desk["root"], desk.clock, "sue").changed
    assert footprint(database) == footprint_before


def test_an_open_desk_loses_its_rights_at_its_next_write(desk: Desk, database: Database) -> None:
    """alice's desk holds her user row from before; her next write re-reads it and is refused,
    whether she was deactivated or demoted to viewer meanwhile."""
    alice_desk_actor, bob_desk_actor = desk["alice"], desk["bob"]
    user_admin.deactivate_user(desk.session, desk["root"], desk.clock, "alice")
    _update(desk, "root", "bob", role="viewer")
    for actor, says in ((alice_desk_actor, "deactivated"), (bob_desk_actor, "viewer")):
        refused(
            database,
            PermissionDenied,
            lambda a=actor: incidents.create_incident(
                desk.session,
                a,
                desk.clock,
                validate(incidents.IncidentCreate, title="Mail down", impact=2, urgency=2),
            ),
            match=says,
        )


def test_update_audits_each_changed_field_and_publishes_once(
    desk: Desk, database: Database
) -> None:
    before = mark(database)
    change = _update(
        desk,
        "root",
        "alice",
        role="supervisor",
        groups=("Security", "Network", "Security"),
        display_name="Alice Ops",
        email="alice@example.com",
    )
    assert change.changed
    assert change.record.model_dump() == {
        "username": "alice",
        "display_name": "Alice Ops",
        "email": "alice@example.com",
        "role": "supervisor",
        "active": True,
        "groups": ["Network", "Security"],
    }
    w = written(database, before)
    assert w.fields() == {
        "display_name": ("alice", "Alice Ops"),
        "email": (None, "alice@example.com"),
        "role": ("agent", "supervisor"),
        "groups": ("Service Desk", "Network, Security"),
    }
    event = w.one_event()
    assert (event.record_type, event.record_number, event.action) == ("user", "alice", "update")
    assert directory.get_user(desk.session, "alice") == change.record

    # Only what differs is audited; empty values clear (display name: back to the username).
    before = mark(database)
    change = _update(desk, "root", "alice", groups=(), email="", display_name="", role="supervisor")
    assert (change.record.groups, change.record.email, change.record.display_name) == (
        [],
        None,
        "alice",
    )
    assert written(database, before).fields() == {
        "display_name": ("Alice Ops", "alice"),
        "email": ("alice@example.com", None),
        "groups": ("Network, Security", None),
    }


def test_an_update_to_what_the_user_already_is_writes_nothing(
    desk: Desk, database: Database
) -> None:
    before = footprint(database)
    change = _update(desk, "root", "sue", role="supervisor", groups=("Service Desk", "Network"))
    assert not change.changed and change.record.role == "supervisor"
    assert footprint(database) == before


def test_an_admin_may_step_down_while_another_admin_is_active(
    desk: Desk, database: Database
) -> None:
    _update(desk, "root", "sue", role="admin")
    assert _update(desk, "root", "root", role="agent").record.role == "agent"
    # sue is now the only active admin: she may not step down, nor be demoted.
    refused(
        database,
        ValidationFailed,
        lambda: _update(desk, "sue", "sue", role="supervisor"),
        match="last active admin",
    )


def test_refusals_write_nothing(desk: Desk, database: Database) -> None:
    # A deactivated admin does not count: root stays the last active one.
    dee = validate(directory.UserCreate, username="dee", role="admin")
    directory.add_user(desk.session, desk["root"], desk.clock, dee)
    desk.users["dee"] = directory.user_by_username(desk.session, "dee")  # her desk, still open
    user_admin.deactivate_user(desk.session, desk["root"], desk.clock, "dee")

    def off(who: str, username: str) -> object:
        return user_admin.deactivate_user(desk.session, desk[who], desk.clock, username)

    def on(who: str, username: str) -> object:
        return user_admin.activate_user(desk.session, desk[who], desk.clock, username)

    cases: list[tuple[type[Exception], Any, str]] = [
        (ValidationFailed, lambda: off("root", "ROOT"), "yourself"),
        (ValidationFailed, lambda: _update(desk, "root", "root", role="agent"), "last active"),
        (NotFound, lambda: off("root", "ghost"), "ghost"),
        (NotFound, lambda: on("root", "ghost"), "ghost"),
        (NotFound, lambda: _update(desk, "root", "ghost", role="agent"), "ghost"),
        (ValidationFailed, lambda: _update(desk, "root", "alice"), "nothing to change"),
        (ValidationFailed, lambda: _update(desk, "root", "alice", groups=("Nope",)), "Nope"),
        (ValidationFailed, lambda: _update(desk, "root", "alice", role="root"), "role"),
        (ValidationFailed, lambda: _update(desk, "root", "alice", email="a\nb"), "control"),
        (ValidationFailed, lambda: _update(desk, "root", "alice", email="a" * 201), "200"),
        (ValidationFailed, lambda: _update(desk, "root", "alice", active=False), "active"),
        # Permission comes before existence: a non-admin learns nothing about usernames.
        (PermissionDenied, lambda: _update(desk, "sue", "ghost", role="admin"), "admin role"),
        (PermissionDenied, lambda: _update(desk, "alice", "alice", role="admin"), "admin role"),
        (PermissionDenied, lambda: on("vic", "dee"), "admin role"),
        (PermissionDenied, lambda: off("dee", "alice"), "deactivated"),
    ]
    codes = {ValidationFailed: 2, NotFound: 3, PermissionDenied: 4}
    for error, call, says in cases:
        assert refused(database, error, call, match=says).exit_code == codes[error]


def test_an_admin_may_deactivate_another_admin_but_not_themselves(
    desk: Desk, database: Database
) -> None:
    """Deactivating oneself is refused even with another admin active (ask them): it is how
    a desk would lose its last admin, one step at a time."""
    _update(desk, "root", "sue", role="admin")
    refused(
        database,
        ValidationFailed,
        lambda: user_admin.deactivate_user(desk.session, desk["sue"], desk.clock, "sue"),
        match="yourself",
    )
    assert user_admin.deactivate_user(desk.session, desk["sue"], desk.clock, "root").changed


def test_two_admins_demoting_each_other_at_once_leave_one_admin(
    desk: Desk, database: Database
) -> None:
    """PostgreSQL (SQLite's single writer serialises these already): root and sue, the only
    admins, demote each other at the same moment. Both calls are held at the write-order lock
    until both wait there; then one wins and the other, re-reading its actor after the win,
    is no admin any more. Counting admins before taking that lock let both through."""
    if database.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's BEGIN IMMEDIATE serialises writers already")
    _update(desk, "root", "sue", role="admin")

    def demote(who: str, whom: str) -> str:
        with database.session() as session:
            actor = session.get(User, desk[who].id)
            assert actor is not None
            data = validate(user_admin.UserUpdate, role="agent")
            try:
                user_admin.update_user(session, actor, desk.clock, whom, data)
            except PermissionDenied:
                return "refused"
            return "demoted"

    with database.engine.connect() as holder, ThreadPoolExecutor(2) as pool:
        holder.execute(text("SELECT seq FROM audit_chain_head WHERE id = 1 FOR UPDATE"))
        futures = [pool.submit(demote, "root", "sue"), pool.submit(demote, "sue", "root")]
        deadline = time.monotonic() + 60
        while _waiting_on_locks(database) < 2:  # a condition, polled: both calls are queued
            assert time.monotonic() < deadline, "the two demotions never both waited"
            assert not any(f.done() for f in futures), [f.result() for f in futures if f.done()]
            time.sleep(0.05)
        holder.rollback()
        outcomes = sorted(f.result(timeout=60) for f in futures)
    assert outcomes == ["demoted", "refused"]
    with database.session() as session:
        admins = [u for u in directory.list_users(session) if u.role == "admin" and u.active]
    assert len(admins) == 1


def _waiting_on_locks(database: Database) -> int:
    with database.engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )
