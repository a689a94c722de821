"""SSH logins and logouts in the audit trail (issue 9): who came in, from where, with which
key, and how long they stayed. Entries go through `record_changes`, so the hash chain holds.

The functions take the login name, not a `User`: the SSH server acts for nobody, it reports
what the user did at the door.
"""

from __future__ import annotations

from sqlmodel import Session

from itsm_tui.clock import Clock
from itsm_tui.domain.enums import RecordType
from itsm_tui.services.directory import user_by_username
from itsm_tui.services.history import record_changes
from itsm_tui.services.tx import transaction

FIELD = "ssh_session"


def _record(session: Session, clock: Clock, username: str, text: str) -> None:
    with transaction(session):
        user = user_by_username(session, username)
        assert user.id is not None
        record_changes(
            session,
            record_type=RecordType.USER,
            record_id=user.id,
            actor=user,
            at=clock.now(),
            changes={FIELD: (None, text)},
        )


def record_login(
    session: Session, clock: Clock, username: str, peer: str, fingerprint: str
) -> None:
    """`login from 127.0.0.1:53422 key SHA256:...`, acted by the user who logged in."""
    _record(session, clock, username, f"login from {peer} key {fingerprint}")


def record_logout(
    session: Session, clock: Clock, username: str, seconds: float, closed_because: str = ""
) -> None:
    """`logout after 12 s`, or `logout after 12 s (closed by the server: account
    deactivated)` when the server ended the session because the user lost access."""
    reason = f" (closed by the server: {closed_because})" if closed_because else ""
    _record(session, clock, username, f"logout after {round(seconds)} s{reason}")
