"""One transaction per use case, with database failures turned into service errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from itsm_tui.services.errors import Conflict
from itsm_tui.store.engine import begin_write


@contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """Commit when the block finishes, roll back everything when anything raises.

    A stale version (someone saved first) or a uniqueness race surfaces as `Conflict`, which
    callers can retry after reloading; nothing of the failed attempt is kept.
    """
    if session.in_transaction():
        # Close the read transaction left open by earlier lookups so this one starts fresh.
        # Ending a clean one with commit keeps loaded objects usable (rollback would expire
        # them all and force reloads); unflushed edits from outside a use case are dropped.
        if session.new or session.dirty or session.deleted:
            session.rollback()
        else:
            session.commit()
    try:
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
    except OperationalError as error:
        session.rollback()
        if "locked" in str(error.orig).lower() or "serializ" in str(error.orig).lower():
            # Another writer held the database past the busy timeout: retryable, like a
            # version conflict, and nothing was written.
            raise Conflict("the database is busy with other writers; try again") from error
        raise
    except BaseException:
        session.rollback()
        raise
