"""Changing who someone is on the desk after they were added: deactivate, reactivate, and edit
their role, groups, display name and email (admins only).

Each change is one transaction: the user row, one audit entry per field that changed (the
fields `itsm user add` and `itsm import` audit: `active`, `role`, `groups`, ...) and one feed
event on the user record. The feed event is what ends a deactivated user's open desks within
seconds: `itsm serve ssh` sessions (remote/ssh_access.py watches it) and every other desk,
which re-reads its own user on such an event (`actors.still_active`); every write re-reads
its actor anyway (services/actors.py).

The desk must never lose its last active admin (nobody could then add, fix or reactivate
anyone), so deactivating yourself and demoting or deactivating the last active admin are
refused. Two admins demoting each other at once could otherwise both pass that count, so
these writes take the write-order lock (the audit chain's head row) before they read
anything: they run one after another, and the second sees the first's commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field
from sqlalchemy import bindparam, delete, func
from sqlmodel import Session, col, select

from itsm_tui.clock import Clock
from itsm_tui.domain.enums import RecordType, Role
from itsm_tui.services.actors import reload_actor
from itsm_tui.services.directory import (
    group_by_name,
    normalise_username,
    require_admin,
    user_record,
)
from itsm_tui.services.errors import NotFound, ValidationFailed
from itsm_tui.services.history import lock_write_order, record_write
from itsm_tui.services.records import UserRecord
from itsm_tui.services.tx import transaction
from itsm_tui.services.validation import Input, Name, ShortText
from itsm_tui.store.models import Group, GroupMembership, User

# The user as the database holds them now (populate_existing), not a copy this session kept
# from an earlier read: the checks below decide on `active` and `role`.
_TARGET = (
    select(User).where(User.username == bindparam("name")).execution_options(populate_existing=True)
)


class UserUpdate(Input):
    """None leaves a field alone; `groups=()` takes the user out of every group, an empty
    email clears it and an empty display name falls back to the username (as `user add`)."""

    role: Role | None = None
    groups: tuple[Name, ...] | None = None
    display_name: ShortText | None = None
    email: Annotated[ShortText | None, Field(max_length=254)] = None

    def is_empty(self) -> bool:
        return all(v is None for v in (self.role, self.groups, self.display_name, self.email))


@dataclass(frozen=True)
class UserChange:
    """The user as they are now, and whether this call changed anything (a re-run does not)."""

    record: UserRecord
    changed: bool


def deactivate_user(session: Session, actor: User, clock: Clock, username: str) -> UserChange:
    """Switch an account off: no login, no write, no SSH session; history stays theirs."""
    return _set_active(session, actor, clock, username, active=False)


def activate_user(session: Session, actor: User, clock: Clock, username: str) -> UserChange:
    """Switch a deactivated account back on, with the role and groups it had."""
    return _set_active(session, actor, clock, username, active=True)


def update_user(
    session: Session, actor: User, clock: Clock, username: str, data: UserUpdate
) -> UserChange:
    """Change a user's role, groups, display name or email, audited field by field."""
    if data.is_empty():
        raise ValidationFailed(
            "nothing to change: give --role, --group/--no-groups, --display-name or --email"
        )
    with transaction(session):
        actor, user = _admin_and_target(session, actor, "changing users", username)
        assert user.id is not None
        old_groups = _group_names(session, user.id)
        before = _fields(user, old_groups)
        new_groups = old_groups
        if data.groups is not None:
            groups = {g.name: g for g in (group_by_name(session, n) for n in data.groups)}
            new_groups = sorted(groups)
        if data.role is not None and data.role.value != user.role:
            if user.role == Role.ADMIN.value and user.active:
                _keep_an_admin(session, f"'{user.username}' is the last active admin")
            user.role = data.role.value
        if data.display_name is not None:
            user.display_name = data.display_name or user.username
        if data.email is not None:
            user.email = data.email or None
        after = _fields(user, new_groups)
        changed = {k: (before[k], after[k]) for k in after if before[k] != after[k]}
        if not changed:
            return UserChange(user_record(session, user), changed=False)
        if new_groups != old_groups:
            _replace_groups(session, user.id, [groups[name] for name in new_groups])
        session.add(user)
        _audit(session, actor, clock, user, "update", changed)
    return UserChange(user_record(session, user), changed=True)


# ---------------------------------------------------------------------------- steps


def _set_active(
    session: Session, actor: User, clock: Clock, username: str, *, active: bool
) -> UserChange:
    what = "reactivating users" if active else "deactivating users"
    with transaction(session):
        actor, user = _admin_and_target(session, actor, what, username)
        if user.active == active:
            return UserChange(user_record(session, user), changed=False)
        if not active:
            if user.id == actor.id:
                raise ValidationFailed("you cannot deactivate yourself; ask another admin to do it")
            if user.role == Role.ADMIN.value:
                _keep_an_admin(session, f"'{user.username}' is the last active admin")
        user.active = active
        session.add(user)
        _audit(
            session,
            actor,
            clock,
            user,
            "activate" if active else "deactivate",
            {"active": (not active, active)},
        )
    return UserChange(user_record(session, user), changed=True)


def _admin_and_target(session: Session, actor: User, what: str, username: str) -> tuple[User, User]:
    """The checks every write here starts with, in this order: the write-order lock (so the
    admin count below cannot race), the actor as they are now and their right, then the
    target (so a non-admin learns nothing about which usernames exist)."""
    lock_write_order(session)
    actor = reload_actor(session, actor)
    require_admin(actor, what)
    user = session.exec(_TARGET, params={"name": normalise_username(username)}).first()
    if user is None:
        raise NotFound(f"no user '{username}'; list users with: itsm user list")
    return actor, user


def _keep_an_admin(session: Session, why: str) -> None:
    """Refuse a change that would leave no active admin (the target is one of those counted)."""
    count = session.exec(
        select(func.count())
        .select_from(User)
        .where(User.role == Role.ADMIN.value, col(User.active).is_(True))
    ).one()
    if count <= 1:
        raise ValidationFailed(
            f"{why}; make another user admin first (itsm user update NAME --role admin)"
        )


def _group_names(session: Session, user_id: int) -> list[str]:
    return list(
        session.exec(
            select(Group.name)
            .join(GroupMembership, col(GroupMembership.group_id) == col(Group.id))
            .where(GroupMembership.user_id == user_id)
            .order_by(Group.name)
        ).all()
    )


def _replace_groups(session: Session, user_id: int, groups: list[Group]) -> None:
    session.execute(delete(GroupMembership).where(col(GroupMembership.user_id) == user_id))
    for group in groups:
        assert group.id is not None
        session.add(GroupMembership(user_id=user_id, group_id=group.id))


def _fields(user: User, groups: list[str]) -> dict[str, object]:
    """The audited fields, in the form `user add` audits them (groups: 'A, B' or None)."""
    return {
        "display_name": user.display_name,
        "email": user.email,
        "role": user.role,
        "groups": ", ".join(groups) or None,
    }


def _audit(
    session: Session,
    actor: User,
    clock: Clock,
    user: User,
    action: str,
    changes: dict[str, tuple[object, object]],
) -> None:
    session.flush()
    assert user.id is not None
    record_write(
        session,
        record_type=RecordType.USER,
        record_id=user.id,
        number=user.username,
        action=action,
        actor=actor,
        at=clock.now(),
        changes=changes,
    )
