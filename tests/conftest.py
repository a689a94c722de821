"""Shared fixtures: a fixed clock, a migrated database per test on SQLite and (when
ITSM_TEST_POSTGRES_URL is set) PostgreSQL, and a small seeded directory of users and groups."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from itsm_tui.clock import FixedClock
from itsm_tui.domain.enums import Role
from itsm_tui.services import directory
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database, open_database
from itsm_tui.store.models import User

POSTGRES_ENV = "ITSM_TEST_POSTGRES_URL"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday morning


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the real user's config or data directories or environment."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.delenv("ITSM_DATABASE_URL", raising=False)
    monkeypatch.delenv("ITSM_USER", raising=False)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


def postgres_base_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def _postgres_schema_url(base: str) -> Iterator[str]:
    """A throwaway schema per test, so tests never see each other's rows and can run in
    parallel against the one shared database."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database, once per engine."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'itsm.sqlite'}"
        return
    base = postgres_base_url()
    if base is None:
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )
    yield from _postgres_schema_url(base)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """SQLite only: for CLI and app tests where the engine is not what is being tested."""
    return f"sqlite:///{tmp_path / 'itsm.sqlite'}"


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    db = open_database(db_url)
    yield db
    db.dispose()


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    with database.session() as s:
        yield s


@dataclass
class Desk:
    """A small seeded directory. Users: root (admin), sue (supervisor), alice (agent, Service
    Desk), bob (agent, Network), carl (change_manager, Network), vic (viewer).
    Groups: Service Desk -> Network -> Security. Services: Email (CI mail-01), VPN (vpn-gw-01)."""

    session: Session
    clock: FixedClock
    users: dict[str, User]

    def __getitem__(self, username: str) -> User:
        return self.users[username]


def seed_directory(session: Session, clock: FixedClock) -> Desk:
    root = directory.resolve_actor(session, clock, "root")
    for name, escalates in (
        ("Security", None),
        ("Network", "Security"),
        ("Service Desk", "Network"),
    ):
        directory.add_group(
            session, root, clock, validate(directory.GroupCreate, name=name, escalates_to=escalates)
        )
    people = [
        ("sue", Role.SUPERVISOR, ("Service Desk", "Network")),
        ("alice", Role.AGENT, ("Service Desk",)),
        ("bob", Role.AGENT, ("Network",)),
        ("carl", Role.CHANGE_MANAGER, ("Network",)),
        ("vic", Role.VIEWER, ()),
    ]
    for username, role, groups in people:
        directory.add_user(
            session,
            root,
            clock,
            validate(directory.UserCreate, username=username, role=role, groups=groups),
        )
    for service, ci in (("Email", "mail-01"), ("VPN", "vpn-gw-01")):
        directory.add_service(session, root, clock, validate(directory.ServiceCreate, name=service))
        directory.add_config_item(
            session, root, clock, validate(directory.ConfigItemCreate, name=ci, service=service)
        )
    users = {
        u: directory.find_user(session, u) for u in ("root", "sue", "alice", "bob", "carl", "vic")
    }
    return Desk(session=session, clock=clock, users={k: v for k, v in users.items() if v})


@pytest.fixture
def desk(session: Session, clock: FixedClock) -> Desk:
    return seed_directory(session, clock)
