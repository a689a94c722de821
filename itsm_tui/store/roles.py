"""The PostgreSQL grants of a desk role that can work the desk but not rewrite its history.

Why: the audit trail's append-only triggers stop an UPDATE or DELETE only while they are
enabled, and PostgreSQL lets a table's owner (and only its owner, or a superuser) drop or
disable them. So migrations run as an owner role, and desks connect as a role holding
row privileges alone: it cannot ALTER, DROP, TRUNCATE or disable triggers, and on the
audit trail it may only read and append (docs/audit.md).
"""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

DEFAULT_DESK_ROLE = "itsm_desk"

# Tables the desk touches with less than full DML: the schema version it only reads, the
# trail it only appends to, and the chain's one head row, which it locks and moves.
_NARROWER = {
    "alembic_version": "SELECT",
    "audit_entries": "SELECT, INSERT",
    "audit_chain_head": "SELECT, UPDATE",
}
_FULL = "SELECT, INSERT, UPDATE, DELETE"


def create_desk_role(engine: Engine, role: str = DEFAULT_DESK_ROLE) -> str:
    """The statement that makes the role (a password is then set with psql's \\password,
    never on a command line)."""
    return f"CREATE ROLE {engine.dialect.identifier_preparer.quote(role)} LOGIN;"


def desk_role_grants(engine: Engine, role: str = DEFAULT_DESK_ROLE) -> list[str]:
    """The statements an owner runs to give `role` exactly what a desk needs, for the
    tables that exist now (run again after an upgrade adds some)."""
    quote = engine.dialect.identifier_preparer.quote
    with engine.connect() as connection:
        database, schema = connection.execute(
            text("SELECT current_database(), current_schema()")
        ).one()
        tables = sorted(inspect(connection).get_table_names(schema=schema))
    who = quote(role)
    statements = [
        f"GRANT CONNECT ON DATABASE {quote(database)} TO {who};",
        f"GRANT USAGE ON SCHEMA {quote(schema)} TO {who};",
    ]
    full = [quote(t) for t in tables if t not in _NARROWER]
    if full:
        statements.append(f"GRANT {_FULL} ON {', '.join(full)} TO {who};")
    statements += [
        f"GRANT {privileges} ON {quote(table)} TO {who};"
        for table, privileges in _NARROWER.items()
        if table in tables
    ]
    statements.append(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {quote(schema)} TO {who};")
    return statements
