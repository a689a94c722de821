"""Saved queue views: a user names a filter and recalls it later, from a key or the palette.

Views are personal (each user sees only their own); saving an existing name replaces it, so
refining a view is one step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field
from sqlmodel import Session, col, select

from itsm_tui.clock import Clock
from itsm_tui.services.actors import reload_actor
from itsm_tui.services.errors import NotFound, ValidationFailed
from itsm_tui.services.queue import QueueFilter
from itsm_tui.services.tx import transaction
from itsm_tui.services.validation import Input, Name, validate
from itsm_tui.store.models import SavedView, User

MAX_VIEWS = 50


@dataclass(frozen=True)
class SavedViewRecord:
    name: str
    filter: QueueFilter


class _ViewName(Input):
    name: Annotated[Name, Field(max_length=60)]


def list_views(session: Session, actor: User) -> list[SavedViewRecord]:
    rows = session.exec(
        select(SavedView).where(SavedView.user_id == actor.id).order_by(col(SavedView.name))
    ).all()
    return [_record(row) for row in rows]


def save_view(
    session: Session, actor: User, clock: Clock, name: str, query: QueueFilter
) -> SavedViewRecord:
    name = validate(_ViewName, name=name).name
    with transaction(session):
        actor = reload_actor(session, actor)
        row = _find(session, actor, name)
        if row is None:
            existing = len(list_views(session, actor))
            if existing >= MAX_VIEWS:
                raise ValidationFailed(
                    f"you already have {MAX_VIEWS} saved views; delete one first"
                )
            row = SavedView(user_id=actor.id, name=name, created_at=clock.now())
        row.filters = query.model_dump(mode="json")
        session.add(row)
    return _record(row)


def delete_view(session: Session, actor: User, name: str) -> None:
    name = name.strip()
    with transaction(session):
        actor = reload_actor(session, actor)
        row = _find(session, actor, name)
        if row is None:
            raise NotFound(f"no saved view named '{name}'")
        session.delete(row)


def _find(session: Session, actor: User, name: str) -> SavedView | None:
    return session.exec(
        select(SavedView).where(SavedView.user_id == actor.id, SavedView.name == name)
    ).first()


def _record(row: SavedView) -> SavedViewRecord:
    return SavedViewRecord(name=row.name, filter=QueueFilter.model_validate(row.filters))
