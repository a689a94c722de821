"""Keep a lease alive on its own thread, at a pace set by the lease, not by the work.

The SLA evaluator's lease used to be renewed only by its passes, so its time to live had to
outlast the pass interval: `itsm worker --interval 86400` took it for three days, and a
worker killed with SIGKILL kept every desk from evaluating for those three days. A heartbeat
renews a short lease (45 s) every third of its life whatever the interval, so a dead holder's
lease lapses within a minute and a live one never does.

Time comes from the injected clock (the lease's expiry is clock time); only the pause between
beats is real time. Tests drive `beat()` by hand with a fixed clock.
"""

from __future__ import annotations

import sys
import threading
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from itsm_tui.clock import Clock
from itsm_tui.services import leases
from itsm_tui.services.errors import ServiceError
from itsm_tui.store.database import Database


class LeaseHeartbeat:
    """Holds (or waits for) one lease. `holds()` is what a loop asks before each pass: it is
    false once a beat found someone else holding the lease, and also once the last good
    renewal has run out by the clock (a stalled heartbeat never leaves two runners)."""

    def __init__(
        self, database: Database, clock: Clock, name: str, holder: str, ttl: timedelta
    ) -> None:
        self.database, self.clock, self.name, self.holder, self.ttl = (
            database,
            clock,
            name,
            holder,
            ttl,
        )
        self._expires_at: datetime | None = None
        self._lock = threading.Lock()
        self._gained = threading.Event()  # set when the lease is (re)taken: wake the loop
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def period_s(self) -> float:
        """Renew three times per life: two beats can be missed before the lease lapses."""
        return self.ttl.total_seconds() / 3

    def beat(self) -> bool:
        """Take or renew the lease once; True while this holder has it."""
        was_held = self.holds()
        try:
            with self.database.session() as session:
                now = self.clock.now()
                got = leases.acquire(session, self.clock, self.name, self.holder, self.ttl)
        except (SQLAlchemyError, ServiceError) as error:
            # Unreachable for a moment: keep what the last renewal bought, no more.
            print(f"itsm worker: lease renewal failed: {error}", file=sys.stderr, flush=True)
            return self.holds()
        with self._lock:
            self._expires_at = now + self.ttl if got else None
        if got and not was_held:
            self._gained.set()
        return got

    def lost(self) -> None:
        """A pass found the lease held by another: stop counting on it until a beat wins."""
        with self._lock:
            self._expires_at = None

    def ready(self) -> bool:
        """Asked at the start of each pass: forgets an earlier wake-up and says whether this
        holder may run the pass."""
        self._gained.clear()
        return self.holds()

    def holds(self) -> bool:
        with self._lock:
            return self._expires_at is not None and self.clock.now() < self._expires_at

    def start(self) -> None:
        """Beat once now (so the first pass knows where it stands), then on a daemon thread."""
        self.beat()
        self._thread = threading.Thread(
            target=self._run, name=f"lease-heartbeat:{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=self.period_s + 5)

    def wait(self, seconds: float) -> None:
        """The pause between passes: `seconds`, or less if the lease is gained meanwhile (a
        standby worker with a day-long interval takes over at once when the holder dies)."""
        self._gained.wait(seconds)

    def _run(self) -> None:
        while not self._stopping.wait(self.period_s):
            self.beat()
