"""Who may be in `itsm serve ssh`, at login and for as long as the session lasts.

At login the SSH name resolves to a directory user (`Alice` is `alice`) with the keys that
may log in as them: those registered in the database and those in the authorized-keys
directory. While sessions are open, `watch_access` follows the change feed (polled on
SQLite, woken by NOTIFY on PostgreSQL) and re-reads the access of every connected user when
a user record changes (a deactivation, a key removed), and every `RECHECK_S` as a net for
edits the feed does not carry (a line deleted from the authorized-keys directory). A user
who lost access gets their session ended with the reason (`Revoked`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from itsm_tui.remote.keys import DirectoryKey, directory_keys
from itsm_tui.services import user_keys
from itsm_tui.store.database import Database

# How long one wait on the feed lasts: a stopping server waits at most this for the thread.
FEED_WAIT_S = 1.0
# The net for changes the feed does not carry (the authorized-keys directory is files).
RECHECK_S = 10.0


@dataclass(frozen=True)
class Login:
    """An active directory user and every key that may log in as them, read now."""

    username: str
    database_keys: list[asyncssh.SSHKey]
    directory_keys: list[DirectoryKey]

    def fingerprints(self) -> set[str]:
        keys = [*self.database_keys, *(entry.key for entry in self.directory_keys)]
        return {user_keys.fingerprint_of(key) for key in keys}


@dataclass(frozen=True)
class Revoked:
    """Why an open session ends: `message` for the user's screen, `audit` for the trail."""

    message: str
    audit: str


DEACTIVATED = Revoked("your account was deactivated", "account deactivated")
KEY_REMOVED = Revoked("the key you logged in with was removed", "login key removed")


def resolve(database: Database, directory: Path | None, login_name: str) -> Login | None:
    """The active user `login_name` names, with their keys; None for an unknown or
    deactivated user (who then has no key at all). The directory is looked up under the
    resolved name, so `ALICE` finds `DIR/alice.pub` and nobody else's file."""
    with database.session() as session:
        found = user_keys.login_user(session, login_name)
    if found is None:
        return None
    return Login(found.username, found.keys, directory_keys(directory, found.username))


def revoked(login: Login | None, fingerprint: str) -> Revoked | None:
    """What ends a session opened with `fingerprint`, now that access reads `login`."""
    if login is None:
        return DEACTIVATED
    if fingerprint not in login.fingerprints():
        return KEY_REMOVED
    return None


def check_sessions(
    database: Database, directory: Path | None, sessions: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], Revoked]:
    """For each open (username, fingerprint), the reason to end it, if any: one read per
    connected user."""
    pairs = set(sessions)
    logins = {name: resolve(database, directory, name) for name in {name for name, _ in pairs}}
    verdicts = {(name, fp): revoked(logins[name], fp) for name, fp in pairs}
    return {pair: verdict for pair, verdict in verdicts.items() if verdict is not None}


async def watch_access(
    database: Database,
    recheck: Callable[[], Awaitable[None]],
    log: Callable[[str], None],
    monotonic: Callable[[], float] = time.monotonic,
) -> None:
    """Call `recheck` when the feed reports a change to anything but incidents (users and
    their keys among them) and at least every RECHECK_S; runs until cancelled. A database
    that cannot be read is retried with the desk's backoff (workers/feed_health.py)."""
    from itsm_tui.workers.feed_health import FeedHealth
    from itsm_tui.workers.feed_listener import FeedListener

    health = FeedHealth(monotonic)
    listener: FeedListener | None = None
    due = monotonic() + RECHECK_S
    try:
        while True:
            try:
                if listener is None:
                    listener = await asyncio.to_thread(FeedListener, database)
                batch = await asyncio.to_thread(listener.wait, FEED_WAIT_S)
                if health.succeeded():
                    log("access checks: the database is reachable again")
                if (batch is not None and batch.other) or monotonic() >= due:
                    due = monotonic() + RECHECK_S
                    await recheck()
            except Exception as error:
                status = health.failed(error)
                log(f"access checks: cannot read the database ({status.reason}); retrying")
                await asyncio.sleep(status.retry_in_s)
    finally:
        if listener is not None:
            listener.close()
