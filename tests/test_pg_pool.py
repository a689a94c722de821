"""The pooled PostgreSQL test databases (tests/pg_pool.py) hand every test the template's
exact state: a used clone comes back with the template's rows and sequence positions, and a
clone whose schema a test changed is dropped rather than handed out again."""

from __future__ import annotations

import psycopg
import pytest

from tests.conftest import _POOLS
from tests.pg_pool import PostgresPool, Snapshot, conninfo

pytestmark = pytest.mark.postgres


@pytest.fixture
def pool(_postgres_template: str | None) -> PostgresPool:
    if _postgres_template is None:
        pytest.skip("PostgreSQL tests need ITSM_TEST_POSTGRES_URL")
    return _POOLS[_postgres_template]


def _snapshot(pool: PostgresPool, name: str) -> Snapshot:
    with psycopg.connect(conninfo(pool.base_url, name)) as connection:
        return Snapshot.of(connection)


def _exists(pool: PostgresPool, name: str) -> bool:
    with psycopg.connect(conninfo(pool.base_url)) as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return found.fetchone() is not None


def test_a_used_clone_comes_back_in_the_templates_state(pool: PostgresPool) -> None:
    template = _snapshot(pool, pool.template)
    name = pool.acquire()
    with psycopg.connect(conninfo(pool.base_url, name)) as connection:
        connection.execute(  # advances groups_id_seq too
            "INSERT INTO groups (name, description, created_at) VALUES ('Left', '', now())"
        )
        connection.execute("UPDATE number_sequences SET last_value = last_value + 7")
        connection.execute("UPDATE audit_chain_head SET seq = 99")
    assert _snapshot(pool, name) != template
    left_open = psycopg.connect(conninfo(pool.base_url, name))  # a test that leaked a connection
    left_open.execute("LOCK TABLE groups IN ACCESS EXCLUSIVE MODE")  # in an open transaction
    pool.release(name)
    again = pool.acquire()
    try:
        assert again == name  # reused, not recreated
        assert _snapshot(pool, again) == template
    finally:
        pool.release(again)
        left_open.close()


def test_a_clone_whose_schema_changed_is_dropped(pool: PostgresPool) -> None:
    name = pool.acquire()
    with psycopg.connect(conninfo(pool.base_url, name)) as connection:
        connection.execute("DROP TRIGGER audit_entries_append_only ON audit_entries")
    pool.release(name)
    assert not _exists(pool, name)
    fresh = pool.acquire()
    try:
        assert fresh != name
        assert _snapshot(pool, fresh) == _snapshot(pool, pool.template)
    finally:
        pool.release(fresh)
