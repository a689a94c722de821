"""Persistence: SQLModel tables, engine setup, Alembic migrations and the change feed."""
