"""Users, groups, services and configuration items: the reference data incidents point at."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field
from sqlalchemy import bindparam, func, text
from sqlmodel import Session, col, select

from itsm_tui.clock import Clock
from itsm_tui.domain.conflicts import MaintenanceWindow
from itsm_tui.domain.enums import Criticality, RecordType, Role
from itsm_tui.domain.permissions import may_manage_directory
from itsm_tui.services.actors import reload_actor
from itsm_tui.services.errors import NotFound, PermissionDenied, ValidationFailed
from itsm_tui.services.history import record_write
from itsm_tui.services.records import (
    ConfigItemRecord,
    GroupRecord,
    ServiceRecord,
    UserRecord,
)
from itsm_tui.services.tx import transaction
from itsm_tui.services.validation import Input, Name, ShortText, validate
from itsm_tui.store.models import ConfigItem, Group, GroupMembership, Service, User

USERNAME_PATTERN = re.compile(r"^[a-z_][a-z0-9_.-]{0,63}$")
# `me` and `none` are filter words in the CLI (`--assignee me|none`), so no user may take them.
RESERVED_USERNAMES = frozenset({"me", "none"})


def normalise_username(value: str) -> str:
    """Usernames are case-insensitive (login names, `--user Alice`): stored lowercase."""
    return value.strip().lower()


def _username(value: str) -> str:
    value = normalise_username(value)
    if not USERNAME_PATTERN.fullmatch(value):
        raise ValueError(
            "usernames are 1-64 characters: lowercase letters, digits, '_', '.', '-', "
            "starting with a letter or '_'"
        )
    if value in RESERVED_USERNAMES:
        raise ValueError(f"'{value}' is reserved; choose another username")
    return value


Username = Annotated[str, AfterValidator(_username)]


class UserCreate(Input):
    username: Username
    role: Role
    display_name: ShortText | None = None
    email: Annotated[ShortText | None, Field(max_length=254)] = None
    groups: tuple[Name, ...] = ()


class GroupCreate(Input):
    name: Name
    description: ShortText = ""
    escalates_to: Name | None = None


class ServiceCreate(Input):
    name: Name
    description: ShortText = ""
    criticality: Criticality = Criticality.MEDIUM


def _maintenance_text(text: str) -> str:
    """Checked and put in canonical form (`Sun 02:00-06:00 UTC`) at the edge."""
    return MaintenanceWindow.parse("-", text).label()


MaintenanceText = Annotated[ShortText, AfterValidator(_maintenance_text)]


class ConfigItemCreate(Input):
    name: Name
    service: Name
    ci_class: Annotated[ShortText, Field(min_length=1, max_length=40)] = "server"
    criticality: Criticality | None = None  # None: as critical as its service
    maintenance: tuple[MaintenanceText, ...] = ()  # weekly windows changes must fit in


class ConfigItemUpdate(Input):
    """None leaves a field alone; `inherit_criticality` and `maintenance=()` clear."""

    ci_class: Annotated[ShortText, Field(min_length=1, max_length=40)] | None = None
    criticality: Criticality | None = None
    inherit_criticality: bool = False
    maintenance: tuple[MaintenanceText, ...] | None = None


# ---------------------------------------------------------------------------- lookups


# Name look-ups built once: incident writes resolve their group, service, CI and assignee by
# name on every call.
_USER_BY_NAME = select(User).where(User.username == bindparam("name"))
_GROUP_BY_NAME = select(Group).where(Group.name == bindparam("name"))
_SERVICE_BY_NAME = select(Service).where(Service.name == bindparam("name"))
_CI_BY_NAME = select(ConfigItem).where(ConfigItem.name == bindparam("name"))


def find_user(session: Session, username: str) -> User | None:
    username = normalise_username(username)
    return session.exec(_USER_BY_NAME, params={"name": username}).first()


def user_by_username(session: Session, username: str, *, what: str = "user") -> User:
    """Resolve a username given as input; unknown names are bad input, not a missing record."""
    user = find_user(session, username)
    if user is None:
        raise ValidationFailed(f"unknown {what} '{username}'; list users with: itsm user list")
    return user


def assignee_by_username(session: Session, username: str) -> User:
    """Resolve someone work is handed to: viewers read only and deactivated users act no
    more, so neither can be assigned a change or problem (the forms never offer them)."""
    user = user_by_username(session, username, what="assignee")
    if not user.active or user.role == Role.VIEWER.value:
        raise ValidationFailed(f"'{user.username}' cannot take work (inactive or viewer role)")
    return user


def group_by_name(session: Session, name: str) -> Group:
    group = session.exec(_GROUP_BY_NAME, params={"name": name}).first()
    if group is None:
        raise ValidationFailed(f"unknown group '{name}'; list groups with: itsm group list")
    return group


def service_by_name(session: Session, name: str) -> Service:
    service = session.exec(_SERVICE_BY_NAME, params={"name": name}).first()
    if service is None:
        raise ValidationFailed(f"unknown service '{name}'; list services with: itsm service list")
    return service


def ci_by_name(session: Session, name: str) -> ConfigItem:
    ci = session.exec(_CI_BY_NAME, params={"name": name}).first()
    if ci is None:
        raise ValidationFailed(f"unknown CI '{name}'; list CIs with: itsm ci list")
    return ci


# Built once: every incident write asks for its actor's groups (the scope check).
_GROUP_IDS_OF = select(GroupMembership.group_id).where(
    GroupMembership.user_id == bindparam("user_id")
)


def group_ids_of(session: Session, user_id: int) -> set[int]:
    return set(session.exec(_GROUP_IDS_OF, params={"user_id": user_id}).all())


def is_member(session: Session, user_id: int, group_id: int) -> bool:
    return (
        session.get(GroupMembership, (user_id, group_id)) is not None
        if user_id is not None
        else False
    )


# ---------------------------------------------------------------------------- the acting user


def resolve_actor(session: Session, clock: Clock, username: str) -> User:
    """Find the acting user; on an empty database the first user becomes its admin.

    Bootstrapping this way means a fresh install needs no separate setup step, and nobody can
    grant themselves admin once any user exists.
    """
    user = find_user(session, username)
    if user is not None:
        if not user.active:
            raise PermissionDenied(f"user '{username}' is deactivated; ask an admin")
        return user
    with transaction(session):
        if session.get_bind().dialect.name == "postgresql":
            # Two first clients must not both become admin: serialise the check-then-insert.
            session.execute(text("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"))
        if (user := find_user(session, username)) is not None:
            return user
        if session.exec(select(func.count()).select_from(User)).one() == 0:
            data = validate(UserCreate, username=username, role=Role.ADMIN)
            user = _insert_user(session, None, clock, data)
            return user
    raise PermissionDenied(
        f"unknown user '{username}'. An admin can add you with: "
        f"itsm user add {username} --role agent [--group GROUP]; "
        "or act as an existing user with --user NAME or ITSM_USER"
    )


def require_admin(actor: User, what: str) -> None:
    """Refuse `what` unless `actor` is an admin; one wording for every admin-only service."""
    if not may_manage_directory(Role(actor.role)):
        raise PermissionDenied(f"{what} needs the admin role; '{actor.username}' is {actor.role}")


# ---------------------------------------------------------------------------- writes


def add_user(session: Session, actor: User, clock: Clock, data: UserCreate) -> UserRecord:
    with transaction(session):
        actor = reload_actor(session, actor)
        require_admin(actor, "adding users")
        if find_user(session, data.username) is not None:
            raise ValidationFailed(f"user '{data.username}' already exists")
        user = _insert_user(session, actor, clock, data)
    return user_record(session, user)


def _insert_user(session: Session, actor: User | None, clock: Clock, data: UserCreate) -> User:
    now = clock.now()
    groups = [group_by_name(session, name) for name in dict.fromkeys(data.groups)]
    user = User(
        username=data.username,
        display_name=data.display_name or data.username,
        email=data.email,
        role=data.role.value,
        active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    assert user.id is not None
    for group in groups:
        assert group.id is not None
        session.add(GroupMembership(user_id=user.id, group_id=group.id))
    author = actor or user
    record_write(
        session,
        record_type=RecordType.USER,
        record_id=user.id,
        number=user.username,
        action="create",
        actor=author,
        at=now,
        changes={
            "username": (None, user.username),
            "display_name": (None, user.display_name),
            "email": (None, user.email),
            "role": (None, user.role),
            "groups": (None, ", ".join(g.name for g in groups) or None),
        },
    )
    return user


def add_group(session: Session, actor: User, clock: Clock, data: GroupCreate) -> GroupRecord:
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        require_admin(actor, "adding groups")
        if session.exec(select(Group).where(Group.name == data.name)).first() is not None:
            raise ValidationFailed(f"group '{data.name}' already exists")
        escalation = group_by_name(session, data.escalates_to) if data.escalates_to else None
        group = Group(
            name=data.name,
            description=data.description,
            escalation_group_id=escalation.id if escalation else None,
            created_at=now,
        )
        session.add(group)
        session.flush()
        assert group.id is not None
        record_write(
            session,
            record_type=RecordType.GROUP,
            record_id=group.id,
            number=group.name,
            action="create",
            actor=actor,
            at=now,
            changes={
                "name": (None, group.name),
                "description": (None, group.description or None),
                "escalates_to": (None, escalation.name if escalation else None),
            },
        )
    return group_record(session, group)


def add_service(session: Session, actor: User, clock: Clock, data: ServiceCreate) -> ServiceRecord:
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        require_admin(actor, "adding services")
        if session.exec(select(Service).where(Service.name == data.name)).first() is not None:
            raise ValidationFailed(f"service '{data.name}' already exists")
        service = Service(
            name=data.name,
            description=data.description,
            criticality=data.criticality.value,
            created_at=now,
        )
        session.add(service)
        session.flush()
        assert service.id is not None
        record_write(
            session,
            record_type=RecordType.SERVICE,
            record_id=service.id,
            number=service.name,
            action="create",
            actor=actor,
            at=now,
            changes={
                "name": (None, service.name),
                "description": (None, service.description or None),
                "criticality": (None, service.criticality),
            },
        )
    return service_record(service)


def add_config_item(
    session: Session, actor: User, clock: Clock, data: ConfigItemCreate
) -> ConfigItemRecord:
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        require_admin(actor, "adding configuration items")
        if session.exec(select(ConfigItem).where(ConfigItem.name == data.name)).first():
            raise ValidationFailed(f"CI '{data.name}' already exists")
        service = service_by_name(session, data.service)
        ci = ConfigItem(
            name=data.name,
            ci_class=data.ci_class,
            service_id=service.id,
            created_at=now,
            criticality=data.criticality.value if data.criticality else None,
            maintenance=_maintenance_rows(data.name, data.maintenance),
        )
        session.add(ci)
        session.flush()
        assert ci.id is not None
        record_write(
            session,
            record_type=RecordType.CONFIG_ITEM,
            record_id=ci.id,
            number=ci.name,
            action="create",
            actor=actor,
            at=now,
            changes={
                "name": (None, ci.name),
                "ci_class": (None, ci.ci_class),
                "service": (None, service.name),
                "criticality": (None, ci.criticality),
                "maintenance": (None, _maintenance_label(ci)),
            },
        )
    return config_item_record(ci, service)


def update_config_item(
    session: Session, actor: User, clock: Clock, name: str, data: ConfigItemUpdate
) -> ConfigItemRecord:
    """Change a CI's class, criticality (read by change risk) or maintenance windows (read by
    change conflicts); admins only, audited field by field."""
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        require_admin(actor, "changing configuration items")
        ci = ci_by_name(session, name)
        before = {"ci_class": ci.ci_class, "criticality": ci.criticality}
        before["maintenance"] = _maintenance_label(ci)
        if data.ci_class is not None:
            ci.ci_class = data.ci_class
        if data.inherit_criticality:
            ci.criticality = None
        elif data.criticality is not None:
            ci.criticality = data.criticality.value
        if data.maintenance is not None:
            ci.maintenance = _maintenance_rows(ci.name, data.maintenance)
        after = {"ci_class": ci.ci_class, "criticality": ci.criticality}
        after["maintenance"] = _maintenance_label(ci)
        changed = {k: (before[k], after[k]) for k in after if before[k] != after[k]}
        if not changed:
            raise ValidationFailed(f"nothing to change on CI '{ci.name}'")
        session.add(ci)
        session.flush()
        assert ci.id is not None
        record_write(
            session,
            record_type=RecordType.CONFIG_ITEM,
            record_id=ci.id,
            number=ci.name,
            action="update",
            actor=actor,
            at=now,
            changes=changed,
        )
        service = session.get(Service, ci.service_id)
        assert service is not None
    return config_item_record(ci, service)


def _maintenance_rows(ci: str, texts: tuple[str, ...]) -> list[list[object]] | None:
    rows = [MaintenanceWindow.parse(ci, text).as_row() for text in dict.fromkeys(texts)]
    return rows or None


def _maintenance_label(ci: ConfigItem) -> str | None:
    return "; ".join(maintenance_labels(ci)) or None


def maintenance_labels(ci: ConfigItem) -> list[str]:
    return [MaintenanceWindow.from_row(ci.name, row).label() for row in ci.maintenance or []]


def config_item_record(ci: ConfigItem, service: Service) -> ConfigItemRecord:
    return ConfigItemRecord(
        name=ci.name,
        ci_class=ci.ci_class,
        service=service.name,
        criticality=ci.criticality,
        maintenance=maintenance_labels(ci),
    )


# ---------------------------------------------------------------------------- reads


def user_record(session: Session, user: User) -> UserRecord:
    names = session.exec(
        select(Group.name)
        .join(GroupMembership, col(GroupMembership.group_id) == col(Group.id))
        .where(GroupMembership.user_id == user.id)
        .order_by(Group.name)
    ).all()
    return UserRecord(
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        role=user.role,
        active=user.active,
        groups=list(names),
    )


def group_record(session: Session, group: Group) -> GroupRecord:
    escalation = (
        session.get(Group, group.escalation_group_id) if group.escalation_group_id else None
    )
    members = session.exec(
        select(User.username)
        .join(GroupMembership, col(GroupMembership.user_id) == col(User.id))
        .where(GroupMembership.group_id == group.id)
        .order_by(User.username)
    ).all()
    return GroupRecord(
        name=group.name,
        description=group.description,
        escalates_to=escalation.name if escalation else None,
        members=list(members),
    )


def service_record(service: Service) -> ServiceRecord:
    return ServiceRecord(
        name=service.name, description=service.description, criticality=service.criticality
    )


def list_users(session: Session) -> list[UserRecord]:
    users = session.exec(select(User).order_by(User.username)).all()
    return [user_record(session, u) for u in users]


def list_groups(session: Session) -> list[GroupRecord]:
    groups = session.exec(select(Group).order_by(Group.name)).all()
    return [group_record(session, g) for g in groups]


def list_services(session: Session) -> list[ServiceRecord]:
    return [service_record(s) for s in session.exec(select(Service).order_by(Service.name))]


def list_config_items(session: Session, service: str | None = None) -> list[ConfigItemRecord]:
    query = select(ConfigItem, Service).join(Service, col(Service.id) == col(ConfigItem.service_id))
    if service:
        query = query.where(Service.id == service_by_name(session, service).id)
    rows = session.exec(query.order_by(ConfigItem.name)).all()
    return [config_item_record(ci, s) for ci, s in rows]


def get_user(session: Session, username: str) -> UserRecord:
    user = find_user(session, username)
    if user is None:
        raise NotFound(f"no user '{username}'")
    return user_record(session, user)


def set_escalation_group(
    session: Session, actor: User, clock: Clock, group: str, escalates_to: str | None
) -> GroupRecord:
    """Point a group at the group its incidents escalate to (cycles are allowed: two
    second-line teams often escalate to each other)."""
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        require_admin(actor, "changing groups")
        target_group = group_by_name(session, group)
        target = group_by_name(session, escalates_to) if escalates_to else None
        if target is not None and target.id == target_group.id:
            raise ValidationFailed(f"group '{group}' cannot escalate to itself")
        old = (
            session.get(Group, target_group.escalation_group_id)
            if target_group.escalation_group_id
            else None
        )
        if (old.id if old else None) == (target.id if target else None):
            raise ValidationFailed(f"group '{group}' already escalates to {escalates_to}")
        target_group.escalation_group_id = target.id if target else None
        session.add(target_group)
        assert target_group.id is not None
        record_write(
            session,
            record_type=RecordType.GROUP,
            record_id=target_group.id,
            number=target_group.name,
            action="update",
            actor=actor,
            at=now,
            changes={"escalates_to": (old.name if old else None, target.name if target else None)},
        )
    return group_record(session, target_group)


def add_group_member(
    session: Session, actor: User, clock: Clock, group: str, username: str
) -> GroupRecord:
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        require_admin(actor, "changing group membership")
        target_group = group_by_name(session, group)
        user = user_by_username(session, username)
        assert user.id is not None and target_group.id is not None
        if is_member(session, user.id, target_group.id):
            raise ValidationFailed(f"'{username}' is already in group '{group}'")
        session.add(GroupMembership(user_id=user.id, group_id=target_group.id))
        record_write(
            session,
            record_type=RecordType.GROUP,
            record_id=target_group.id,
            number=target_group.name,
            action="update",
            actor=actor,
            at=now,
            changes={"member_added": (None, user.username)},
        )
    return group_record(session, target_group)
