"""What one client may take from `itsm serve ssh`: places (sessions overall and per user),
connections still logging in per address, and the terminal size a desk is drawn at.

Every session costs a desk process, so these are the server's defences against a client
(or a crowd of them) exhausting the machine.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from itsm_tui.remote.screen_limits import MAX_COLUMNS, MAX_ROWS

DEFAULT_COLUMNS, DEFAULT_ROWS = 80, 24


def clamp_size(columns: int, rows: int) -> tuple[int, int]:
    """The window size the desk gets for the one the client asked for: 0 (unknown) means
    the default, anything beyond MAX_COLUMNS x MAX_ROWS is cut down to it."""
    columns = min(columns, MAX_COLUMNS) if columns > 0 else DEFAULT_COLUMNS
    rows = min(rows, MAX_ROWS) if rows > 0 else DEFAULT_ROWS
    return columns, rows


@dataclass
class Sessions:
    """Who is connected now, to enforce the overall and per-user limits. Counted by the
    directory user a login resolved to, so `Alice`, `alice` and `ALICE` share one count."""

    limit: int
    per_user: int
    by_user: Counter[str] = field(default_factory=Counter)

    def admit(self, username: str) -> str | None:
        """Take a place for `username`, or say why not."""
        if sum(self.by_user.values()) >= self.limit:
            return f"the desk is full ({self.limit} sessions); try again later"
        if self.by_user[username] >= self.per_user:
            sessions = "session" if self.per_user == 1 else "sessions"
            return f"'{username}' already has {self.per_user} {sessions} open; close one first"
        self.by_user[username] += 1
        return None

    def release(self, username: str) -> None:
        self.by_user[username] -= 1
        if self.by_user[username] <= 0:
            del self.by_user[username]


@dataclass
class PendingLogins:
    """Connections from one address that have not authenticated yet. Each costs a key
    exchange and a database read per attempt while holding no place in `Sessions`, so one
    address gets at most `per_address` of them at once (OpenSSH's MaxStartups, per source)."""

    per_address: int
    by_address: Counter[str] = field(default_factory=Counter)

    def enter(self, address: str) -> bool:
        """Count a new connection from `address`; False when it is one too many."""
        if self.by_address[address] >= self.per_address:
            return False
        self.by_address[address] += 1
        return True

    def leave(self, address: str) -> None:
        """The connection authenticated or went away."""
        self.by_address[address] -= 1
        if self.by_address[address] <= 0:
            del self.by_address[address]
