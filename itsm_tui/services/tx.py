"""One transaction per use case, with database failures turned into service errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from itsm_tui.services.errors import Conflict, Unavailable
from itsm_tui.store.engine import begin_write


@contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """Commit when the block finishes, roll back everything when anything raises.

    A stale version (someone saved first) or a uniqueness race surfaces as `Conflict`, which
    callers can retry after reloading; nothing of the failed attempt is kept.
    """
    try:
        if session.in_transaction():
            # Close the read transaction left open by earlier lookups so this one starts
            # fresh. Ending a clean one with commit keeps loaded objects usable (rollback
            # would expire them all); unflushed edits from outside a use case are dropped.
            if session.new or session.dirty or session.deleted:
                session.rollback()
            else:
                session.commit()
        begin_write(session)
        yield session
        session.commit()
    except StaleDataError as error:
        session.rollback()
        raise Conflict(
            "someone else changed this record while you were editing; reload and try again"
        ) from error
    except IntegrityError as error:
        session.rollback()
        raise Conflict(f"the change clashes with existing data: {error.orig}") from error
    except (OperationalError, InterfaceError) as error:
        _rollback_quietly(session)
        reason = str(error.orig).lower()
        if any(word in reason for word in ("locked", "serializ", "deadlock")):
            # Another writer held the database past the busy timeout, or PostgreSQL broke a
            # lock cycle: retryable, like a version conflict, and nothing was written.
            raise Conflict("the database is busy with other writers; try again") from error
        raise unavailable(error) from error
    except DBAPIError as error:
        _rollback_quietly(session)
        if error.connection_invalidated:
            raise unavailable(error) from error
        raise
    except BaseException:
        _rollback_quietly(session)
        raise


def unavailable(error: DBAPIError) -> Unavailable:
    """The caller-facing form of a lost or refused connection; nothing was written."""
    reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
    return Unavailable(
        f"the database cannot be reached ({reason}); nothing was saved, try again when it is back"
    )


def database_failure(error: BaseException) -> Unavailable | None:
    """`Unavailable` for a connection failure raised outside `transaction` (a read), else None:
    screens show it like a service refusal instead of as a crash."""
    if isinstance(error, Unavailable):
        return error
    if isinstance(error, OperationalError | InterfaceError) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    ):
        reason = str(error.orig).lower() if error.orig else ""
        if not any(word in reason for word in ("locked", "serializ", "deadlock")):
            return unavailable(error)
    return None


def _rollback_quietly(session: Session) -> None:
    """Roll back; on a dead connection the rollback itself fails, which must not hide why."""
    try:
        session.rollback()
    except DBAPIError:
        session.invalidate()
