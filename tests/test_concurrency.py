"""Several clients at once on one database: first start, first user, numbering."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, update
from sqlmodel import select

from itsm_tui.clock import FixedClock
from itsm_tui.services import directory, incidents
from itsm_tui.services.errors import PermissionDenied
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database, open_database
from itsm_tui.store.migrate import current_revision, head_revision
from itsm_tui.store.models import Incident, User
from tests.conftest import Desk


def run_together(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Start `count` threads at the same instant; return each one's result or exception."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def runner(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except BaseException as error:  # returned for the test to inspect
            results[index] = error

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


def test_clients_opening_a_fresh_database_together_migrate_it_once(db_url: str) -> None:
    def open_and_close(_: int) -> str | None:
        database = open_database(db_url)
        try:
            return current_revision(database.engine)
        finally:
            database.dispose()

    results = run_together(4, open_and_close)
    assert results == [head_revision()] * 4


def test_only_one_of_two_first_users_becomes_admin(db_url: str, clock: FixedClock) -> None:
    database = open_database(db_url)
    try:

        def first_user(index: int) -> str:
            with database.session() as session:
                return directory.resolve_actor(session, clock, f"user{index}").role

        results = run_together(2, first_user)
        admins = [r for r in results if r == "admin"]
        refused = [r for r in results if isinstance(r, PermissionDenied)]
        assert (len(admins), len(refused)) == (1, 1), results
        with database.session() as session:
            assert session.exec(select(func.count()).select_from(User)).one() == 1
    finally:
        database.dispose()


def test_concurrent_creates_get_distinct_consecutive_numbers(
    desk: Desk, database: Database
) -> None:
    alice_id = desk["alice"].id
    desk.session.rollback()

    def create_five(index: int) -> list[str]:
        with database.session() as session:
            actor = session.get(User, alice_id)
            assert actor is not None
            data = validate(incidents.IncidentCreate, title=f"t{index}", impact=3, urgency=3)
            return [
                incidents.create_incident(session, actor, desk.clock, data).number for _ in range(5)
            ]

    results = run_together(4, create_five)
    numbers = [n for batch in results for n in batch]
    assert sorted(numbers) == [f"INC{i:07d}" for i in range(1, 21)]


def test_a_deactivated_user_loses_their_rights_at_once(desk: Desk, database: Database) -> None:
    """The desk keeps its actor object all day; the service re-reads it on every write."""
    alice = desk["alice"]
    number = incidents.create_incident(
        desk.session,
        alice,
        desk.clock,
        validate(incidents.IncidentCreate, title="x", impact=3, urgency=3),
    ).number
    with database.engine.begin() as connection:
        connection.execute(update(User).where(User.username == "alice").values(role="viewer"))
    with pytest.raises(PermissionDenied, match="viewer"):
        incidents.add_note(desk.session, alice, desk.clock, number, "still here?")
    with database.engine.begin() as connection:
        connection.execute(update(User).where(User.username == "alice").values(active=False))
    with pytest.raises(PermissionDenied, match="deactivated"):
        incidents.create_incident(
            desk.session,
            alice,
            desk.clock,
            validate(incidents.IncidentCreate, title="y", impact=3, urgency=3),
        )
    with database.session() as session:
        assert session.exec(select(func.count()).select_from(Incident)).one() == 1
