"""The acting user as the database knows them now, not as they were when the client started.

A desk stays open all day; a user demoted or deactivated meanwhile must lose the rights at
once, so every write re-reads its actor inside its own transaction before checking them, and
an open desk asks `still_active` whenever the feed reports a user-record change, so that a
deactivated user stops reading too.
"""

from __future__ import annotations

from sqlalchemy import bindparam
from sqlmodel import Session, select

from itsm_tui.services.errors import PermissionDenied
from itsm_tui.store.models import User

# Built once: every write reloads its actor, and session.get(populate_existing=True) set up
# its primary-key load afresh each time. populate_existing: the row as it is now, not the
# copy this session holds.
_ACTOR = (
    select(User).where(User.id == bindparam("actor_id")).execution_options(populate_existing=True)
)


def _current(session: Session, actor: User) -> User | None:
    return session.exec(_ACTOR, params={"actor_id": actor.id}).first() if actor.id else None


def still_active(session: Session, actor: User) -> User | None:
    """The actor as they are now (their role may have changed), or None once they were
    deactivated or deleted: a client holding a user for hours ends its session on None."""
    current = _current(session, actor)
    return current if current is not None and current.active else None


def reload_actor(session: Session, actor: User) -> User:
    current = _current(session, actor)
    if current is None:
        raise PermissionDenied(f"user '{actor.username}' no longer exists")
    if not current.active:
        raise PermissionDenied(f"user '{actor.username}' is deactivated; ask an admin")
    return current
