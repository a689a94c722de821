"""The acting user as the database knows them now, not as they were when the client started.

A desk stays open all day; a user demoted or deactivated meanwhile must lose the rights at
once, so every write re-reads its actor inside its own transaction before checking them.
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


def reload_actor(session: Session, actor: User) -> User:
    current = session.exec(_ACTOR, params={"actor_id": actor.id}).first() if actor.id else None
    if current is None:
        raise PermissionDenied(f"user '{actor.username}' no longer exists")
    if not current.active:
        raise PermissionDenied(f"user '{actor.username}' is deactivated; ask an admin")
    return current
