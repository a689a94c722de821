"""The SLA evaluator loop: hold the lease, run a pass, sleep, repeat.

Started headless by `itsm worker`; the business rules it runs live in
`services/sla_evaluator.py`.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.exc import OperationalError

from itsm_tui.clock import Clock
from itsm_tui.services import leases
from itsm_tui.services.errors import ServiceError
from itsm_tui.services.sla_evaluator import DEFAULT_AUTO_CLOSE_DAYS, PassResult, evaluate
from itsm_tui.store.database import Database

DEFAULT_INTERVAL_S = 15.0


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_once(
    database: Database,
    clock: Clock,
    *,
    holder: str,
    interval_s: float = DEFAULT_INTERVAL_S,
    auto_close_days: int = DEFAULT_AUTO_CLOSE_DAYS,
    release: bool = False,
) -> PassResult | None:
    """One pass if this holder gets the lease; None when another runner holds it.
    `release` gives the lease up afterwards (a one-off pass, not a loop)."""
    ttl = timedelta(seconds=max(interval_s * 3, 30))
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
    sleep: Callable[[float], None] = time.sleep,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    holder = holder_name()
    try:
        while not should_stop():
            try:
                result = run_once(
                    database,
                    clock,
                    holder=holder,
                    interval_s=interval_s,
                    auto_close_days=auto_close_days,
                )
            except (OperationalError, ServiceError) as error:
                # A busy or briefly unreachable database must not end a headless worker:
                # log it and try again next interval.
                print(f"itsm worker: pass failed, retrying: {error}", file=sys.stderr, flush=True)
            else:
                report(result)
            sleep(interval_s)
    finally:
        with database.session() as session:
            leases.release(session, leases.SLA_EVALUATOR, holder)
