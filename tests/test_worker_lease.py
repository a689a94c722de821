"""The SLA evaluator's lease outlives its holder by under a minute, whatever `--interval` is.

Issue 16, point 7: the lease lived three pass intervals, so a crashed `itsm worker --interval
86400` kept every desk from evaluating SLAs for three days. The lease now lives 45 s and a
heartbeat renews it independently of the interval. Real `itsm worker` processes are killed
with SIGKILL here; everything else runs on a fixed clock.
"""

from __future__ import annotations

import os
import select as io_select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from itsm_tui.clock import FixedClock, SystemClock
from itsm_tui.services import leases
from itsm_tui.store.database import Database, open_database
from itsm_tui.store.models import WorkerLease
from itsm_tui.workers import sla_evaluator

REPO = Path(__file__).resolve().parents[1]
TTL_ENV = "ITSM_LEASE_TTL_S"  # a short lease for tests (the default is 45 s)
CONDITION_TIMEOUT_S = 90.0  # a loaded 2-core machine starts Python slowly; passing runs take ~5 s


def lease_row(url: str) -> WorkerLease | None:
    database = open_database(url, migrate=False, create=False)
    try:
        with database.session() as session:
            row = session.get(WorkerLease, leases.SLA_EVALUATOR)
            if row is not None:
                session.expunge(row)
            return row
    finally:
        database.dispose()


def wait_for(what: str, condition: Callable[[], object], *, timeout: float = CONDITION_TIMEOUT_S):
    """Poll `condition` until it returns something truthy (and return that)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@contextmanager
def worker(url: str, *, ttl_s: float | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """A real `itsm worker --interval 86400` (one pass a day), killed at the end."""
    env = os.environ.copy()
    env.pop(TTL_ENV, None)
    if ttl_s is not None:
        env[TTL_ENV] = str(ttl_s)
    process = subprocess.Popen(
        [sys.executable, "-m", "itsm_tui", "--db", url, "worker", "--interval", "86400"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        yield process
    finally:
        process.kill()
        process.wait(timeout=30)
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        process.stderr.close()


def holder(process: subprocess.Popen[bytes]) -> str:
    return f"{socket.gethostname()}:{process.pid}"


def held_by(url: str, process: subprocess.Popen[bytes]) -> WorkerLease | None:
    assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
    row = lease_row(url)
    return row if row is not None and row.holder == holder(process) else None


def read_lines(process: subprocess.Popen[bytes], buffer: list[bytes]) -> str:
    """Everything the process printed so far (without blocking)."""
    assert process.stdout is not None
    while io_select.select([process.stdout], [], [], 0)[0]:
        chunk = os.read(process.stdout.fileno(), 65536)
        if not chunk:
            break
        buffer.append(chunk)
    return b"".join(buffer).decode()


def initialised(url: str) -> str:
    open_database(url).dispose()
    return url


def test_a_killed_day_interval_worker_frees_the_lease_within_a_minute(sqlite_url: str) -> None:
    url = initialised(sqlite_url)
    with worker(url) as process:
        wait_for("the worker to take the lease", lambda: held_by(url, process))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        died = SystemClock().now()
    row = lease_row(url)
    assert row is not None
    assert row.expires_at - died <= timedelta(seconds=60), (
        f"a dead worker's lease runs {row.expires_at - died} past its death"
    )
    # A desk defers while the lease is live and takes over once it lapses.
    database = open_database(url)
    try:
        desk = "desk-host:1"
        assert sla_evaluator.run_once(database, FixedClock(died), holder=desk) is None
        after = FixedClock(died + timedelta(seconds=60))
        assert sla_evaluator.run_once(database, after, holder=desk) is not None
        with database.session() as session:
            assert leases.holder_of(session, after, leases.SLA_EVALUATOR) == desk
    finally:
        database.dispose()


def test_a_live_worker_keeps_the_lease_and_a_standby_takes_over_when_it_dies(
    sqlite_url: str,
) -> None:
    """With a 2 s lease: the live worker's heartbeat renews it across several lives with one
    pass in all (interval a day), a standby worker defers, and once the holder is killed the
    standby takes the lease and runs its pass at once, not a day later."""
    url = initialised(sqlite_url)
    ttl = 2.0
    with worker(url, ttl_s=ttl) as first:
        first_lease = wait_for("the first worker to take the lease", lambda: held_by(url, first))
        with worker(url, ttl_s=ttl) as standby:
            out: list[bytes] = []
            wait_for(
                "the standby to defer",
                lambda: "Another evaluator holds the lease" in read_lines(standby, out),
            )
            renewed_past = first_lease.expires_at + timedelta(seconds=3 * ttl)
            wait_for(
                "the heartbeat to renew the lease past three lives",
                lambda: (row := held_by(url, first)) and row.expires_at >= renewed_past,
            )
            passes: list[bytes] = []
            assert read_lines(first, passes).count("Checked ") == 1  # renewals are not passes
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
            wait_for("the standby to take the lease", lambda: held_by(url, standby))
            wait_for("the standby's first pass", lambda: "Checked " in read_lines(standby, out))


# ---------------------------------------------------------------------------- fixed clock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_the_heartbeat_renews_a_short_lease_whatever_the_interval(database: Database) -> None:
    from itsm_tui.workers.lease_heartbeat import LeaseHeartbeat

    clock = FixedClock(T0)
    ttl = sla_evaluator.lease_ttl()
    assert ttl <= timedelta(seconds=60)
    beating = LeaseHeartbeat(database, clock, leases.SLA_EVALUATOR, "worker:1", ttl)
    assert beating.beat() and beating.holds()
    for _ in range(10):  # ten beats a third of a life apart: over three lives held
        clock.advance(ttl / 3)
        assert beating.beat()
        assert sla_evaluator.run_once(database, clock, holder="desk:2") is None
    # the heartbeat stops (the process died): another runner takes over within one life
    clock.advance(ttl)
    assert not beating.holds()
    assert sla_evaluator.run_once(database, clock, holder="desk:2") is not None


def test_a_heartbeat_that_lost_the_lease_stops_the_passes(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A heartbeat stalled past the lease's life: another runner took over, so this one's
    loop neither evaluates nor takes the lease back while the new holder lives."""
    from itsm_tui.workers.lease_heartbeat import LeaseHeartbeat

    clock = FixedClock(T0)
    ttl = timedelta(seconds=45)
    stalled = LeaseHeartbeat(database, clock, leases.SLA_EVALUATOR, "worker:1", ttl)
    assert stalled.beat()
    clock.advance(seconds=46)
    assert not stalled.ready()  # its last renewal ran out: no pass, even before it looks
    other = LeaseHeartbeat(database, clock, leases.SLA_EVALUATOR, "worker:2", ttl)
    assert other.beat()
    assert not stalled.beat() and not stalled.ready()
    reports: list[object] = []
    passes = iter([True, False])
    monkeypatch.setattr(sla_evaluator, "holder_name", lambda: "worker:1")
    sla_evaluator.run_forever(
        database,
        clock,
        interval_s=0.01,
        report=reports.append,
        should_stop=lambda: not next(passes),
        ttl=ttl,
    )
    assert reports == [None]  # it ran no pass
    with database.session() as session:
        assert leases.holder_of(session, clock, leases.SLA_EVALUATOR) == "worker:2"
