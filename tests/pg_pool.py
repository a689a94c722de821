"""Pooled PostgreSQL test databases: a migrated clone is reset and reused instead of dropped.

`CREATE DATABASE ... TEMPLATE` costs about 0.4 s on this kind of machine (PostgreSQL copies
and fsyncs every file of the template), and the suite wants a fresh migrated database for
hundreds of tests. Emptying a used clone and restoring the template's few rows costs about
0.02 s. A test still sees exactly the template's state: the schema is compared with the
template's (a fingerprint of tables, columns, constraints, indexes, triggers, functions,
types and database settings) before the reset, and any difference (a test that dropped a
trigger, ran a downgrade, added a table) sends the clone to DROP instead of back to the pool.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import psycopg
from sqlalchemy.engine import make_url

# Everything a test could change about a database other than its rows.
FINGERPRINT_SQL = """
SELECT md5(string_agg(item, E'\\n' ORDER BY item)) FROM (
    SELECT 'rel:' || c.relname || ':' || c.relkind::text || ':' || coalesce(string_agg(
        a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull::text
        || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), ''), ';' ORDER BY a.attnum), '')
    FROM pg_class c
    LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
    WHERE c.relnamespace = 'public'::regnamespace
    GROUP BY c.relname, c.relkind
  UNION ALL
    SELECT 'con:' || conrelid::regclass::text || ':' || conname || ':' || pg_get_constraintdef(oid)
    FROM pg_constraint WHERE connamespace = 'public'::regnamespace
  UNION ALL
    SELECT 'idx:' || pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
    WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL
    SELECT 'trg:' || tgenabled::text || ':' || pg_get_triggerdef(oid)
    FROM pg_trigger WHERE NOT tgisinternal
  UNION ALL
    SELECT 'fn:' || proname || ':' || md5(prosrc)
    FROM pg_proc WHERE pronamespace = 'public'::regnamespace
  UNION ALL
    SELECT 'type:' || t.typname || ':' || t.typtype::text || ':' || coalesce(
        (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
         FROM pg_enum e WHERE e.enumtypid = t.oid), '')
    FROM pg_type t WHERE t.typnamespace = 'public'::regnamespace AND t.typtype <> 'c'
  UNION ALL
    SELECT 'rule:' || rulename || ':' || definition FROM pg_rules WHERE schemaname = 'public'
  UNION ALL
    SELECT 'ext:' || extname || ':' || extversion FROM pg_extension
  UNION ALL
    SELECT 'ns:' || nspname FROM pg_namespace
  UNION ALL
    SELECT 'db:' || datallowconn::text || ':' || datconnlimit::text || ':'
        || coalesce(array_to_string(s.setconfig, ','), '')
    FROM pg_database d LEFT JOIN pg_db_role_setting s ON s.setdatabase = d.oid
    WHERE d.datname = current_database()
) AS fingerprint(item)
"""


def conninfo(url: str, database: str | None = None) -> str:
    """A libpq URI for psycopg from a SQLAlchemy URL, optionally naming another database."""
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Snapshot:
    """The template's state: its schema fingerprint and every row (binary COPY) and
    sequence position, enough to put a used clone back exactly."""

    fingerprint: str
    tables: tuple[str, ...]
    rows: dict[str, bytes]
    sequences: tuple[tuple[str, int, bool], ...]

    @classmethod
    def of(cls, connection: psycopg.Connection[tuple[object, ...]]) -> Snapshot:
        tables = tuple(
            str(row[0])
            for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
        )
        rows: dict[str, bytes] = {}
        for table in tables:
            data = bytearray()
            with connection.cursor().copy(
                f"COPY {_quoted(table)} TO STDOUT (FORMAT binary)"
            ) as copy:
                for chunk in copy:
                    data += chunk
            count = connection.execute(f"SELECT count(*) FROM {_quoted(table)}").fetchone()
            if count and count[0]:
                rows[table] = bytes(data)
        sequences = tuple(
            (
                f"public.{_quoted(str(name))}",
                int(last if last is not None else start),
                last is not None,
            )
            for name, last, start in connection.execute(
                "SELECT sequencename, last_value, start_value FROM pg_sequences "
                "WHERE schemaname = 'public' ORDER BY sequencename"
            )
        )
        return cls(fingerprint(connection), tables, rows, sequences)


def fingerprint(connection: psycopg.Connection[tuple[object, ...]]) -> str:
    row = connection.execute(FINGERPRINT_SQL).fetchone()
    assert row is not None
    return str(row[0])


@dataclass
class PostgresPool:
    """Clones of one migrated template for one test process: `acquire` hands out a database
    in the template's exact state, `release` resets it for the next test (or drops it when
    the reset cannot prove that state), `close` drops them all."""

    base_url: str
    template: str
    _snapshot: Snapshot = field(init=False)
    _free: list[str] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        with psycopg.connect(conninfo(self.base_url, self.template)) as connection:
            self._snapshot = Snapshot.of(connection)

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(conninfo(self.base_url), autocommit=True)

    def acquire(self) -> str:
        if self._free:
            return self._free.pop()
        name = f"t_{uuid.uuid4().hex[:12]}"
        with self._admin() as admin:
            admin.execute(f"CREATE DATABASE {_quoted(name)} TEMPLATE {_quoted(self.template)}")
        return name

    def release(self, name: str) -> None:
        try:
            self._reset(name)
        except Exception:  # anything unexpected: the slow, certain way
            self.drop(name)
        else:
            self._free.append(name)

    def _reset(self, name: str) -> None:
        """Disconnect whatever the test left behind, check the schema is the template's, then
        delete every row and restore the template's rows and sequences in one transaction.
        Replica mode skips triggers (the audit trail refuses DELETE) and foreign keys."""
        with self._admin() as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
        snapshot = self._snapshot
        with psycopg.connect(conninfo(self.base_url, name)) as connection:
            connection.execute("SET lock_timeout = '10s'")
            if fingerprint(connection) != snapshot.fingerprint:
                raise RuntimeError(f"{name}: the schema differs from the template's")
            with connection.transaction():
                connection.execute("SET LOCAL session_replication_role = replica")
                for table in snapshot.tables:
                    connection.execute(f"DELETE FROM {_quoted(table)}")
                for table, data in snapshot.rows.items():
                    with connection.cursor().copy(
                        f"COPY {_quoted(table)} FROM STDIN (FORMAT binary)"
                    ) as copy:
                        copy.write(data)
                if snapshot.sequences:
                    names, values, called = zip(*snapshot.sequences, strict=True)
                    connection.execute(
                        "SELECT setval(s::regclass, v, c) "
                        "FROM unnest(%s::text[], %s::bigint[], %s::bool[]) AS u(s, v, c)",
                        (list(names), list(values), list(called)),
                    )

    def drop(self, name: str) -> None:
        with self._admin() as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {_quoted(name)} WITH (FORCE)")

    def close(self) -> None:
        while self._free:
            self.drop(self._free.pop())
