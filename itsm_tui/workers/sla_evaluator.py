"""The SLA evaluator loop: hold the lease, run a pass, sleep, repeat.

Started headless by `itsm worker`; the business rules it runs live in
`services/sla_evaluator.py`. The lease lives `LEASE_TTL` (45 s) whatever the pass interval:
desks renew it with each pass (every 15 s), `run_forever` with a heartbeat thread, so a holder
that dies is replaced within a minute.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.exc import OperationalError

from itsm_tui.clock import Clock
from itsm_tui.domain.errors import DomainError
from itsm_tui.services import leases
from itsm_tui.services.errors import ServiceError
from itsm_tui.services.sla_evaluator import DEFAULT_AUTO_CLOSE_DAYS, PassResult, evaluate
from itsm_tui.store.database import Database
from itsm_tui.workers.lease_heartbeat import LeaseHeartbeat

DEFAULT_INTERVAL_S = 15.0
# Short enough that a killed holder's lease lapses within a minute (issue 16: a worker run with
# --interval 86400 held it for three days); renewed every 15 s, so two missed beats are fine.
LEASE_TTL = timedelta(seconds=45)
# Tests shorten the lease to watch several lives pass in seconds; clamped to 1..60 s so no
# setting brings back a lease that outlives a minute.
LEASE_TTL_ENV = "ITSM_LEASE_TTL_S"


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def lease_ttl() -> timedelta:
    """`LEASE_TTL`, or `ITSM_LEASE_TTL_S` seconds (1 to 60) when set."""
    raw = os.environ.get(LEASE_TTL_ENV, "").strip()
    try:
        seconds = float(raw) if raw else LEASE_TTL.total_seconds()
    except ValueError:
        seconds = LEASE_TTL.total_seconds()
    return timedelta(seconds=min(max(seconds, 1.0), 60.0))


def run_once(
    database: Database,
    clock: Clock,
    *,
    holder: str,
    interval_s: float = DEFAULT_INTERVAL_S,
    auto_close_days: int = DEFAULT_AUTO_CLOSE_DAYS,
    release: bool = False,
    ttl: timedelta | None = None,
) -> PassResult | None:
    """One pass if this holder gets the lease; None when another runner holds it.
    `release` gives the lease up afterwards (a one-off pass, not a loop). `interval_s` is
    kept for callers; the lease's life no longer depends on it."""
    ttl = ttl or lease_ttl()
    with database.session() as session:
        if not leases.acquire(session, clock, leases.SLA_EVALUATOR, holder, ttl):
            return None
        try:
            return evaluate(session, clock, auto_close_days=auto_close_days)
        finally:
            if release:
                leases.release(session, leases.SLA_EVALUATOR, holder)


def run_forever(
    database: Database,
    clock: Clock,
    *,
    interval_s: float = DEFAULT_INTERVAL_S,
    auto_close_days: int = DEFAULT_AUTO_CLOSE_DAYS,
    report: Callable[[PassResult | None], None] = lambda _: None,
    should_stop: Callable[[], bool] = lambda: False,
    ttl: timedelta | None = None,
) -> None:
    """Passes every `interval_s` while this process holds the lease. A heartbeat keeps the
    lease (see `lease_heartbeat.py`); a standby process runs its first pass as soon as its
    heartbeat takes the lease over, not a whole interval later."""
    holder = holder_name()
    heartbeat = LeaseHeartbeat(database, clock, leases.SLA_EVALUATOR, holder, ttl or lease_ttl())
    heartbeat.start()
    try:
        while not should_stop():
            if not heartbeat.ready():
                report(None)
            else:
                try:
                    result = run_once(
                        database,
                        clock,
                        holder=holder,
                        auto_close_days=auto_close_days,
                        ttl=heartbeat.ttl,
                    )
                except (OperationalError, ServiceError, DomainError) as error:
                    # A busy or briefly unreachable database must not end a headless worker:
                    # log it and try again next interval.
                    print(
                        f"itsm worker: pass failed, retrying: {error}", file=sys.stderr, flush=True
                    )
                else:
                    if result is None:  # taken over while the heartbeat was not looking
                        heartbeat.lost()
                    report(result)
            heartbeat.wait(interval_s)
    finally:
        heartbeat.stop()
        with database.session() as session:
            leases.release(session, leases.SLA_EVALUATOR, holder)
