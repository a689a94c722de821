"""SSH public keys per user: who may log in to `itsm serve ssh` with which key.

Keys are directory data (audited like users and groups). A user may register and remove their
own keys; only an admin may touch someone else's. The SSH server reads them on every login
(`login_user`), so a removed key stops working at the next connection, and re-reads them when
the change feed reports a user change, so it also ends the sessions opened with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncssh
from pydantic import BaseModel, field_validator
from sqlmodel import Session, col, select

from itsm_tui.clock import Clock
from itsm_tui.domain.enums import RecordType, Role
from itsm_tui.domain.permissions import may_manage_directory
from itsm_tui.services.actors import reload_actor
from itsm_tui.services.directory import find_user, user_by_username
from itsm_tui.services.errors import NotFound, PermissionDenied, ValidationFailed
from itsm_tui.services.history import record_write
from itsm_tui.services.tx import transaction
from itsm_tui.services.validation import Input, one_line, validate
from itsm_tui.store.models import User, UserKey

MAX_KEY_TEXT = 16_384  # an RSA-16384 public key line is under 3 KB; anything bigger is junk


class PublicKeyText(Input):
    """One public key in OpenSSH format (`ssh-ed25519 AAAA... comment`). A private key, an
    authorized_keys line with options, or anything asyncssh cannot read is refused."""

    key: str

    @field_validator("key")
    @classmethod
    def _one_public_key(cls, value: str) -> str:
        return public_key_text(value)


def public_key_text(value: str) -> str:
    """The rules of a registrable key, shared by `add_key` and `itsm import`: the line as
    given, stripped; a `ValueError` saying what is wrong otherwise."""
    value = value.strip()
    if not value:
        raise ValueError("the key file is empty")
    if len(value) > MAX_KEY_TEXT:
        raise ValueError(f"a public key is at most {MAX_KEY_TEXT} characters")
    if "PRIVATE KEY" in value:
        raise ValueError("this is a private key; register the public half (the .pub file)")
    if len(value.splitlines()) != 1:
        raise ValueError("give exactly one public key (one line)")
    # The comment is free text asyncssh keeps as is: a NUL cannot be stored on PostgreSQL
    # and escape codes would reach terminals through the audit trail and key listings.
    try:
        one_line(value)
    except ValueError as error:
        raise ValueError(f"the key's comment: {error}") from None
    try:
        asyncssh.import_public_key(value)
    except (asyncssh.KeyImportError, ValueError) as error:
        if _has_options(value):
            raise ValueError(
                "authorized_keys options (from=, command=, no-pty, ...) are not kept with "
                "a registered key; register the bare key, or put the line in the "
                "--authorized-keys directory of itsm serve ssh, which honours from="
            ) from None
        raise ValueError(f"not an SSH public key ({error})") from None
    return value


def stored_parts(key: asyncssh.SSHKey) -> tuple[str, str, str]:
    """(key_type, key_data, comment) as a `UserKey` row keeps them."""
    blob = key.export_public_key("openssh").split()[1].decode("ascii")
    return key.get_algorithm(), blob, (key.get_comment() or "")[:200]


def key_line(key_type: str, key_data: str, comment: str) -> str:
    """A stored key as one OpenSSH public key line (`ssh-ed25519 AAAA... comment`)."""
    return f"{key_type} {key_data} {comment}".strip()


def canonical_key_line(text: str) -> str:
    """A valid key line as the desk stores and exports it (comment cut to 200 characters),
    so an imported key compares equal to its export."""
    return key_line(*stored_parts(asyncssh.import_public_key(public_key_text(text))))


def _has_options(line: str) -> bool:
    """Whether `line` is a key with authorized_keys options before it (refused, never
    stored without them: a key limited by `from=` must not become a key limited by nothing)."""
    try:
        asyncssh.import_authorized_keys(line)
    except (asyncssh.KeyImportError, ValueError):
        return False
    return True


class KeyRecord(BaseModel):
    """A registered key as commands and the CLI show it."""

    username: str
    key_type: str
    fingerprint: str
    comment: str
    added_at: datetime


def fingerprint_of(key: asyncssh.SSHKey) -> str:
    """OpenSSH's `SHA256:...` fingerprint (what `ssh-keygen -lf` prints)."""
    return key.get_fingerprint("sha256")


def _record(username: str, row: UserKey) -> KeyRecord:
    return KeyRecord(
        username=username,
        key_type=row.key_type,
        fingerprint=row.fingerprint,
        comment=row.comment,
        added_at=row.added_at,
    )


def _require_own_or_admin(actor: User, owner: User, what: str) -> None:
    if actor.id != owner.id and not may_manage_directory(Role(actor.role)):
        raise PermissionDenied(
            f"{what} of another user needs the admin role; '{actor.username}' is {actor.role}"
        )


def _keys_of(session: Session, user: User) -> list[UserKey]:
    return list(
        session.exec(select(UserKey).where(UserKey.user_id == user.id).order_by(col(UserKey.id)))
    )


def add_key(session: Session, actor: User, clock: Clock, username: str, key_text: str) -> KeyRecord:
    """Register a public key for `username` (yourself, or anyone if you are an admin)."""
    data = validate(PublicKeyText, key=key_text)
    key = asyncssh.import_public_key(data.key)
    key_type, key_data, comment = stored_parts(key)
    fingerprint = fingerprint_of(key)
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        owner = user_by_username(session, username)
        _require_own_or_admin(actor, owner, "adding a key")
        if any(row.fingerprint == fingerprint for row in _keys_of(session, owner)):
            raise ValidationFailed(f"key {fingerprint} is already registered for '{username}'")
        assert owner.id is not None
        row = UserKey(
            user_id=owner.id,
            key_type=key_type,
            key_data=key_data,
            comment=comment,
            fingerprint=fingerprint,
            added_at=now,
        )
        session.add(row)
        record_write(
            session,
            record_type=RecordType.USER,
            record_id=owner.id,
            number=owner.username,
            action="update",
            actor=actor,
            at=now,
            changes={"ssh_key": (None, f"{row.key_type} {fingerprint} {comment}".strip())},
        )
    return _record(owner.username, row)


def remove_key(
    session: Session, actor: User, clock: Clock, username: str, fingerprint: str
) -> KeyRecord:
    """Remove one of `username`'s keys by fingerprint (with or without the `SHA256:` prefix)."""
    wanted = fingerprint.strip()
    if not wanted.startswith("SHA256:"):
        wanted = f"SHA256:{wanted}"
    now = clock.now()
    with transaction(session):
        actor = reload_actor(session, actor)
        owner = user_by_username(session, username)
        _require_own_or_admin(actor, owner, "removing a key")
        row = next((r for r in _keys_of(session, owner) if r.fingerprint == wanted), None)
        if row is None:
            raise NotFound(f"no key {wanted} for '{username}'; see: itsm user key list {username}")
        record = _record(owner.username, row)
        session.delete(row)
        assert owner.id is not None
        record_write(
            session,
            record_type=RecordType.USER,
            record_id=owner.id,
            number=owner.username,
            action="update",
            actor=actor,
            at=now,
            changes={"ssh_key": (f"{row.key_type} {wanted} {row.comment}".strip(), None)},
        )
    return record


def list_keys(session: Session, actor: User, username: str) -> list[KeyRecord]:
    """A user's keys (yours, or anyone's for an admin): fingerprints, not the keys."""
    actor = reload_actor(session, actor)
    owner = user_by_username(session, username)
    _require_own_or_admin(actor, owner, "listing the keys")
    return [_record(owner.username, row) for row in _keys_of(session, owner)]


@dataclass(frozen=True)
class LoginUser:
    """Whom an SSH login name resolves to: the directory's username (names are
    case-insensitive, so `Alice` and `ALICE` are `alice`) and the keys registered for them."""

    username: str
    keys: list[asyncssh.SSHKey]


def login_user(session: Session, login_name: str) -> LoginUser | None:
    """The active user `login_name` resolves to, with their keys, or None when no active user
    has that name (the SSH server refuses every key then). Read fresh on every login and
    whenever the server re-checks an open session, no cache."""
    user = find_user(session, login_name)
    if user is None or not user.active:
        session.rollback()
        return None
    username, rows = user.username, _keys_of(session, user)
    keys = [asyncssh.import_public_key(f"{row.key_type} {row.key_data}") for row in rows]
    session.rollback()  # end the read transaction; the server keeps no session open
    return LoginUser(username, keys)


def login_keys(session: Session, username: str) -> list[asyncssh.SSHKey] | None:
    """The keys that may log in as `username`, or None when no active user has that name."""
    found = login_user(session, username)
    return None if found is None else found.keys
