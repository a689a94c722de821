"""How the app's live link to the database is doing, and when to try it again.

The feed poller and the PostgreSQL listener both report here. After a failure they wait
before the next attempt, doubling the wait up to a ceiling (a restarting server is not
hammered by twenty desks at four polls a second), and the header says "reconnecting" with
the next attempt's delay until a read succeeds again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

FIRST_RETRY_S = 0.5
MAX_RETRY_S = 15.0


@dataclass(frozen=True)
class LinkStatus:
    """What the header shows: empty while the link is up."""

    down: bool = False
    retry_in_s: float = 0.0
    reason: str = ""

    @property
    def text(self) -> str:
        if not self.down:
            return ""
        return f"reconnecting… (retry in {max(1, round(self.retry_in_s))}s)"


class FeedHealth:
    """Thread-safe: the poller and the listener run in different worker threads."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._delay = 0.0
        self._retry_at = 0.0
        self._reason = ""

    @property
    def down(self) -> bool:
        with self._lock:
            return self._delay > 0

    def may_try(self) -> bool:
        """False while a failed link is backing off."""
        with self._lock:
            return self._delay == 0 or self._monotonic() >= self._retry_at

    def failed(self, error: BaseException) -> LinkStatus:
        with self._lock:
            self._delay = min(MAX_RETRY_S, self._delay * 2 if self._delay else FIRST_RETRY_S)
            self._retry_at = self._monotonic() + self._delay
            self._reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            return LinkStatus(True, self._delay, self._reason)

    def succeeded(self) -> bool:
        """Record a good read; True when it ends an outage (the caller says "reconnected")."""
        with self._lock:
            was_down = self._delay > 0
            self._delay = 0.0
            self._reason = ""
            return was_down
