"""Shared fixtures: a fixed clock, a database per test on SQLite and (when
ITSM_TEST_POSTGRES_URL is set) PostgreSQL, cloned from a migrated template per test process,
and a small seeded directory of users and groups."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from itsm_tui.clock import FixedClock
from itsm_tui.domain.enums import Role
from itsm_tui.services import directory
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database, open_database
from itsm_tui.store.models import User
from tests.pg_pool import PostgresPool

if TYPE_CHECKING:
    from tests.cli_helpers import Cli

POSTGRES_ENV = "ITSM_TEST_POSTGRES_URL"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday morning


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the real user's config or data directories or environment."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.delenv("ITSM_DATABASE_URL", raising=False)
    monkeypatch.delenv("ITSM_USER", raising=False)
    # A suite run from an SSH login must still test the local desk; remote tests set these.
    for name in ("ITSM_REMOTE_SESSION", "SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session", autouse=True)
def _quick_pilot_pauses() -> Iterator[None]:
    """Textual's pilot waits for the app to go idle in slices of 1/50 s (two per key press,
    one per `pause()`), so pilot and snapshot tests spent about 40% of their time asleep.
    Slices of 5 ms with the same idle test (under 5% of the slice spent on the CPU) wait for
    the same thing in a quarter of the time."""
    import textual._wait as wait

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(wait, "SLEEP_GRANULARITY", 0.005)
        patch.setattr(wait, "SLEEP_IDLE", 0.005 / 20)
        yield


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


def postgres_base_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def _admin_engine(base: str) -> Engine:
    return create_engine(base, isolation_level="AUTOCOMMIT")


def _database_url(base: str, name: str) -> str:
    return make_url(base).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per test process; tests that want a migrated database get a
    copy (a millisecond) instead of running every migration again (a tenth of a second)."""
    path = tmp_path_factory.mktemp("template") / "itsm.sqlite"
    open_database(f"sqlite:///{path}").dispose()
    return path


_POOLS: dict[str, PostgresPool] = {}  # template name -> its clones, per test process


@pytest.fixture(scope="session")
def _postgres_template() -> Iterator[str | None]:
    """One migrated PostgreSQL database per test process. Tests that want a migrated database
    get a clone from its pool (tests/pg_pool.py): cloned once with CREATE DATABASE ...
    TEMPLATE, then reset to the template's state after each test and handed out again."""
    base = postgres_base_url()
    if base is None:
        yield None
        return
    name = f"itsm_tpl_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(base)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        open_database(_database_url(base, name)).dispose()
        _POOLS[name] = PostgresPool(base, name)
        yield name
    finally:
        seeded = [n for (t, _), n in _SEEDED.items() if t == name]
        for template in [*seeded, name]:
            pool = _POOLS.pop(template, None)
            if pool is not None:
                pool.close()
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))
        admin.dispose()


_SEEDED: dict[tuple[str, datetime], str] = {}  # (migrated template, clock time) -> template


def _seeded_postgres_template(base: str, migrated: str, when: datetime) -> str:
    """A template in the migrated one's state plus `seed_directory` at `when`, made (and
    given its own pool) the first time a test process asks for it."""
    name = _SEEDED.get((migrated, when))
    if name is None:
        name = f"itsm_tpl_{uuid.uuid4().hex[:12]}"
        admin = _admin_engine(base)
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{migrated}"'))
        admin.dispose()
        _seed_directory_into(_database_url(base, name), when)
        _POOLS[name] = PostgresPool(base, name)
        _SEEDED[(migrated, when)] = name
    return name


def _seed_directory_into(url: str, when: datetime) -> None:
    database = open_database(url)
    try:
        with database.session() as session:
            seed_directory(session, FixedClock(when))
    finally:
        database.dispose()


def _postgres_database_url(base: str, template: str | None) -> Iterator[str]:
    """A throwaway database per test (empty, or in the migrated template's state), so tests
    never see each other's rows and can run in parallel on one server. Migrated ones come
    from the template's pool and go back to it, reset, when the generator finishes."""
    pool = _POOLS.get(template) if template else None
    if pool is not None:
        pooled = pool.acquire()
        try:
            yield _database_url(base, pooled)
        finally:
            pool.release(pooled)
        return
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(base)
    clause = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"{clause}'))
    try:
        yield _database_url(base, name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database, once per engine: already migrated when the test also uses the
    `database` fixture (a copy of a per-process template), else empty, for tests of
    migrations and first opens. When the test uses `desk` too, the copy already holds the
    seeded directory (`seed_directory` at the `clock` fixture's time, run once per process
    and time), which `desk` then reads instead of seeding again."""
    migrated = "database" in request.fixturenames
    seeded_at = request.getfixturevalue("clock").now() if "desk" in request.fixturenames else None
    if request.param == "sqlite":
        path = tmp_path / "itsm.sqlite"
        url = f"sqlite:///{path}"
        if seeded_at is not None:
            sqlite_template = request.getfixturevalue("_sqlite_template")

            def build(target: str) -> None:
                shutil.copyfile(sqlite_template, target.removeprefix("sqlite:///"))
                _seed_directory_into(target, seeded_at)

            copy_of_built(url, ("desk", seeded_at), build)
        elif migrated:
            shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        yield url
        return
    base = postgres_base_url()
    if base is None:
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )
    template = request.getfixturevalue("_postgres_template") if migrated else None
    if template is not None and seeded_at is not None:
        template = _seeded_postgres_template(base, template, seeded_at)
    yield from _postgres_database_url(base, template)


DEMO_TIME = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # a Wednesday morning


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo (seed 7, 80 random incidents, built at DEMO_TIME) once per test process; the
    snapshot and demo tests read it or copy it, never write to it."""
    from itsm_tui.services.demo import DemoOptions, prepare_demo_database

    path = tmp_path_factory.mktemp("demo") / "itsm.sqlite"
    prepare_demo_database(
        f"sqlite:///{path}", DemoOptions(seed=7, incidents=80), FixedClock(DEMO_TIME)
    )
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """SQLite only: for CLI and app tests where the engine is not what is being tested."""
    return f"sqlite:///{tmp_path / 'itsm.sqlite'}"


@pytest.fixture
def desk_db(sqlite_url: str, clock: FixedClock) -> Iterator[tuple[str, Desk]]:
    """SQLite with SLA defaults and the small test directory, for pilot tests."""
    from tests.tui_helpers import seeded_desk  # it imports this module

    database, desk = seeded_desk(sqlite_url, clock)
    yield sqlite_url, desk
    desk.session.close()
    database.dispose()


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
    return desk_of(session, clock)


def desk_of(session: Session, clock: FixedClock) -> Desk:
    """The `Desk` of a database `seed_directory` already seeded (a copy of a seeded one)."""
    users = {
        u: directory.find_user(session, u) for u in ("root", "sue", "alice", "bob", "carl", "vic")
    }
    return Desk(session=session, clock=clock, users={k: v for k, v in users.items() if v})


_BUILT: dict[Hashable, Path] = {}  # key -> a SQLite file built once per test process


def copy_of_built(url: str, key: Hashable, build: Callable[[str], None]) -> None:
    """Make the SQLite database at `url` a copy of what `build(url)` makes, running `build`
    only the first time a test process asks for `key` (the key must name everything the
    build depends on, e.g. its clock's time). Migrating and seeding a desk costs about
    0.2 s; copying the file a millisecond."""
    template = _BUILT.get(key)
    if template is None:
        folder = Path(tempfile.mkdtemp(prefix="itsm-built-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        template = folder / "itsm.sqlite"
        build(f"sqlite:///{template}")
        _BUILT[key] = template
    target = Path(url.removeprefix("sqlite:///"))
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        source = template.with_name(template.name + suffix)
        if source.exists():
            shutil.copyfile(source, target.with_name(target.name + suffix))


@pytest.fixture
def desk(session: Session, clock: FixedClock) -> Desk:
    """The seeded directory: `db_url` already copied it in (see there) unless the database
    came from elsewhere, in which case it is seeded now."""
    if directory.find_user(session, "sue") is not None:
        return desk_of(session, clock)
    return seed_directory(session, clock)


@pytest.fixture(scope="session")
def desk_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded CLI desk, built once per test process (`cli` copies it for each test)."""
    from tests.cli_helpers import built_desk

    return built_desk(tmp_path_factory, "desk")


@pytest.fixture
def cli(
    desk_template: Path, sqlite_url: str, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> Cli:
    """The CLI on a fresh copy of the seeded desk, acting as root unless told otherwise. Test
    modules needing another desk define their own `cli` over their own template."""
    from tests.cli_helpers import fresh_cli

    return fresh_cli(desk_template, sqlite_url, clock, capsys)
