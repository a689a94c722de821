"""The acting user as the database knows them now, not as they were when the client started.

A desk stays open all day; a user demoted or deactivated meanwhile must lose the rights at
once, so every write re-reads its actor inside its own transaction before checking them.
"""

from __future__ import annotations

from sqlmodel import Session

from itsm_tui.services.errors import PermissionDenied
from itsm_tui.store.models import User


def reload_actor(session: Session, actor: User) -> User:
    current = session.get(User, actor.id, populate_existing=True) if actor.id else None
    if current is None:
        raise PermissionDenied(f"user '{actor.username}' no longer exists")
    if not current.active:
        raise PermissionDenied(f"user '{actor.username}' is deactivated; ask an admin")
    return current
