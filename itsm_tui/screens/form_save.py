"""The end of a record form's save, run in its thread worker: write, then hand the form the
saved record, the service's refusal, or — when someone else saved first — their version for
the conflict dialog. Shared by the change and problem forms."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from textual.app import App

from itsm_tui.screens.context import desk
from itsm_tui.services.errors import Conflict, ServiceError
from itsm_tui.services.tx import database_failure

R = TypeVar("R")
R_contra = TypeVar("R_contra", contravariant=True)


class SavingForm(Protocol, Generic[R_contra]):
    @property
    def app(self) -> App[object]: ...

    def saved(self, record: R_contra) -> None: ...

    def save_failed(self, error: ServiceError) -> None: ...

    def on_conflict(self, theirs: R_contra) -> None: ...


def write_and_report(
    form: SavingForm[R],
    write: Callable[[Session], R],
    reread: Callable[[Session], R] | None,
) -> None:
    """Call from the save worker thread. `reread` loads the stored record (None on create)."""
    database = desk(form.app).database
    try:
        with database.session() as session:
            record = write(session)
    except Conflict as conflict:
        theirs = _reread(form, reread) if reread is not None else None
        if theirs is None:
            form.app.call_from_thread(form.save_failed, conflict)
        else:
            form.app.call_from_thread(form.on_conflict, theirs)
        return
    except ServiceError as error:
        form.app.call_from_thread(form.save_failed, error)
        return
    except SQLAlchemyError as error:
        lost = database_failure(error)
        if lost is None:
            raise
        form.app.call_from_thread(form.save_failed, lost)  # the form keeps its content
        return
    form.app.call_from_thread(form.saved, record)


def _reread(form: SavingForm[R], reread: Callable[[Session], R]) -> R | None:
    try:
        with desk(form.app).database.session() as session:
            return reread(session)
    except ServiceError:
        return None
