"""Directory use cases (users, groups, services, CIs) on SQLite and PostgreSQL: each write audits
every field it sets and publishes one feed event; bad input is refused with nothing written;
the first user of an empty database becomes its admin."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update
from sqlmodel import Session

from itsm_tui.clock import FixedClock
from itsm_tui.services import directory
from itsm_tui.services.errors import NotFound, PermissionDenied, ValidationFailed
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database
from itsm_tui.store.models import GroupMembership, User
from tests.conftest import T0, Desk
from tests.service_helpers import mark, refused, written


def test_add_user_audits_each_field_and_publishes_once(desk: Desk, database: Database) -> None:
    before = mark(database)
    record = directory.add_user(
        desk.session,
        desk["root"],
        desk.clock,
        validate(
            directory.UserCreate,
            username="dave",
            role="agent",
            display_name="Dave Dee",
            email="dave@example.com",
            groups=("Network", "Service Desk", "Network"),
        ),
    )
    assert (record.username, record.display_name, record.email, record.role, record.active) == (
        "dave",
        "Dave Dee",
        "dave@example.com",
        "agent",
        True,
    )
    assert record.groups == ["Network", "Service Desk"]
    w = written(database, before)
    assert w.fields() == {
        "username": (None, "dave"),
        "display_name": (None, "Dave Dee"),
        "email": (None, "dave@example.com"),
        "role": (None, "agent"),
        "groups": (None, "Network, Service Desk"),
    }
    with database.session() as s:
        dave = s.scalars(select(User).where(User.username == "dave")).one()
        memberships = s.scalars(
            select(GroupMembership).where(GroupMembership.user_id == dave.id)
        ).all()
    assert len(memberships) == 2
    assert all(
        (a.record_type, a.record_id, a.actor_id, a.at) == ("user", dave.id, desk["root"].id, T0)
        for a in w.audit
    )
    event = w.one_event()
    assert (event.record_type, event.record_id, event.record_number, event.action) == (
        "user",
        dave.id,
        "dave",
        "create",
    )
    assert event.actor_id == desk["root"].id
    assert directory.get_user(desk.session, "dave") == record


def test_add_user_defaults(desk: Desk, database: Database) -> None:
    before = mark(database)
    data = validate(directory.UserCreate, username="eve", role="viewer")
    record = directory.add_user(desk.session, desk["root"], desk.clock, data)
    assert (record.display_name, record.email, record.groups) == ("eve", None, [])
    w = written(database, before)
    assert w.fields() == {
        "username": (None, "eve"),
        "display_name": (None, "eve"),
        "role": (None, "viewer"),
    }
    w.one_event()


def test_add_group_service_and_ci(desk: Desk, database: Database) -> None:
    root, s, clock = desk["root"], desk.session, desk.clock

    before = mark(database)
    group = directory.add_group(
        s,
        root,
        clock,
        validate(
            directory.GroupCreate, name="Database", description="DBAs", escalates_to="Network"
        ),
    )
    assert (group.name, group.description, group.escalates_to, group.members) == (
        "Database",
        "DBAs",
        "Network",
        [],
    )
    w = written(database, before)
    assert w.fields() == {
        "name": (None, "Database"),
        "description": (None, "DBAs"),
        "escalates_to": (None, "Network"),
    }
    assert (w.one_event().record_type, w.one_event().record_number) == ("group", "Database")

    before = mark(database)
    service = directory.add_service(
        s, root, clock, validate(directory.ServiceCreate, name="Payroll", criticality="critical")
    )
    assert (service.name, service.description, service.criticality) == ("Payroll", "", "critical")
    w = written(database, before)
    assert w.fields() == {"name": (None, "Payroll"), "criticality": (None, "critical")}
    assert (w.one_event().record_type, w.one_event().action) == ("service", "create")

    before = mark(database)
    data = validate(
        directory.ConfigItemCreate, name="pay-db-01", service="Payroll", ci_class="database"
    )
    ci = directory.add_config_item(s, root, clock, data)
    assert (ci.name, ci.ci_class, ci.service) == ("pay-db-01", "database", "Payroll")
    w = written(database, before)
    assert w.fields() == {
        "name": (None, "pay-db-01"),
        "ci_class": (None, "database"),
        "service": (None, "Payroll"),
    }
    assert (w.one_event().record_type, w.one_event().record_number) == ("config_item", "pay-db-01")

    assert [c.name for c in directory.list_config_items(s, "Payroll")] == ["pay-db-01"]
    assert "Payroll" in [x.name for x in directory.list_services(s)]
    groups = {g.name: g for g in directory.list_groups(s)}
    assert groups["Service Desk"].escalates_to == "Network"
    assert groups["Network"].members == ["bob", "carl", "sue"]


def test_directory_refuses_bad_input_and_writes_nothing(desk: Desk, database: Database) -> None:
    cases: list[tuple[str, type[Any], dict[str, Any]]] = [
        ("user", directory.UserCreate, {"username": "alice", "role": "agent"}),  # exists
        ("user", directory.UserCreate, {"username": "ALICE", "role": "agent"}),  # same, any case
        ("user", directory.UserCreate, {"username": "da ve", "role": "agent"}),
        ("user", directory.UserCreate, {"username": "", "role": "agent"}),
        ("user", directory.UserCreate, {"username": "9lives", "role": "agent"}),
        ("user", directory.UserCreate, {"username": "me", "role": "agent"}),
        ("user", directory.UserCreate, {"username": "none", "role": "agent"}),
        ("user", directory.UserCreate, {"username": "x" * 65, "role": "agent"}),
        ("user", directory.UserCreate, {"username": "dave", "role": "root"}),
        ("user", directory.UserCreate, {"username": "dave"}),
        ("user", directory.UserCreate, {"username": "dave", "role": "agent", "groups": ["Nope"]}),
        ("user", directory.UserCreate, {"username": "dave", "role": "agent", "email": "a\nb"}),
        ("user", directory.UserCreate, {"username": "dave", "role": "agent", "admin": True}),
        ("group", directory.GroupCreate, {"name": "Network"}),  # exists
        ("group", directory.GroupCreate, {"name": ""}),
        ("group", directory.GroupCreate, {"name": "Two\nLines"}),
        ("group", directory.GroupCreate, {"name": "DBA", "escalates_to": "Nowhere"}),
        ("group", directory.GroupCreate, {"name": "DBA", "description": "nul\x00"}),
        ("service", directory.ServiceCreate, {"name": "Email"}),  # exists
        ("service", directory.ServiceCreate, {"name": "   "}),
        ("service", directory.ServiceCreate, {"name": "Fax", "criticality": "extreme"}),
        ("ci", directory.ConfigItemCreate, {"name": "mail-01", "service": "Email"}),  # exists
        ("ci", directory.ConfigItemCreate, {"name": "fax-01", "service": "Fax"}),
        ("ci", directory.ConfigItemCreate, {"name": "fax-01"}),
        ("ci", directory.ConfigItemCreate, {"name": "fax-01", "service": "Email", "ci_class": ""}),
    ]
    add = {
        "user": directory.add_user,
        "group": directory.add_group,
        "service": directory.add_service,
        "ci": directory.add_config_item,
    }
    for kind, model, values in cases:
        error = refused(
            database,
            ValidationFailed,
            lambda k=kind, m=model, v=values: add[k](
                desk.session, desk["root"], desk.clock, validate(m, **v)
            ),
        )
        assert error.exit_code == 2
        assert str(error), values


def test_get_unknown_user_is_not_found(desk: Desk) -> None:
    with pytest.raises(NotFound):
        directory.get_user(desk.session, "nobody")


# ---------------------------------------------------------------------------- the acting user


def test_first_user_of_an_empty_database_becomes_admin(
    session: Session, database: Database, clock: FixedClock
) -> None:
    before = mark(database)
    first = directory.resolve_actor(session, clock, "olga")
    assert (first.username, first.role) == ("olga", "admin")
    w = written(database, before)
    assert w.fields() == {
        "username": (None, "olga"),
        "display_name": (None, "olga"),
        "role": (None, "admin"),
    }
    # The bootstrap entry is signed by the new admin herself.
    assert {a.actor_id for a in w.audit} == {first.id}
    event = w.one_event()
    assert (event.record_type, event.action, event.actor_id) == ("user", "create", first.id)

    # Nobody else can bootstrap themselves once a user exists.
    error = refused(
        database,
        PermissionDenied,
        lambda: directory.resolve_actor(session, clock, "mallory"),
        match="itsm user add mallory",
    )
    assert error.exit_code == 4
    assert directory.resolve_actor(session, clock, "olga").id == first.id


def test_deactivated_user_cannot_act(desk: Desk, database: Database) -> None:
    desk.session.execute(update(User).where(User.username == "bob").values(active=False))
    desk.session.commit()
    refused(
        database,
        PermissionDenied,
        lambda: directory.resolve_actor(desk.session, desk.clock, "bob"),
        match="deactivated",
    )


def test_usernames_are_case_insensitive(desk: Desk) -> None:
    data = validate(directory.UserCreate, username=" Dave ", role="agent")
    record = directory.add_user(desk.session, desk["root"], desk.clock, data)
    assert record.username == "dave"
    assert directory.resolve_actor(desk.session, desk.clock, "DAVE").username == "dave"
