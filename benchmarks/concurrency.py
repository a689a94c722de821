"""Concurrent writers and feed latency on SQLite and PostgreSQL.

Figures (issue 8): write throughput and conflict rate for 1, 4 and 16 writer processes on
each engine, and the p50/p99 time from a committed write in one process to the change
appearing in another process's feed listener. Targets: p99 feed latency under 1 s on SQLite
(polling) and under 100 ms on PostgreSQL (LISTEN/NOTIFY).

What it does and why:
- Each engine gets a fresh database: a SQLite file in a temporary folder, and on PostgreSQL
  (`--postgres URL` or ITSM_TEST_POSTGRES_URL) a database it creates and drops. A small desk
  is seeded through the services: users, two groups, the shipped SLA policies, 50 incidents.
- Throughput: W writer processes (started from a fork server, never forked from a process
  holding engines) start together and, for a fixed time, each picks one of the 50 incidents,
  reads it and writes at once with `expect_version` from that read, the way a desk saves a
  form: a group reassignment, an on_hold/in_progress move or a work note (a third each).
  Writes/s counts committed writes of all processes per second of the run; the conflict rate
  is the share of attempts refused with `Conflict` (someone saved the incident between the
  read and the write, or, on SQLite, the busy timeout ran out). Every write is a full use
  case: audit rows, feed event, SLA clock sync, one transaction.
- Feed latency: a listener process runs `workers.feed_listener.FeedListener` as the app does
  (`wait()` when the listener has it: woken by LISTEN/NOTIFY on PostgreSQL, polling every
  POLL_INTERVAL_S on SQLite; else, or with --poll, `poll()` every POLL_INTERVAL_S) and
  stamps each batch; this process writes a note to a different incident every 40-120 ms
  (random, so writes fall anywhere in the poll cycle) and stamps each commit the moment
  COMMIT returns (an `after_commit` hook). Latency is batch stamp minus commit stamp for the
  first batch naming the incident after the write began; a batch stamped before the writer's
  commit stamp (the writer was paused by the scheduler right after its commit) counts as
  0 ms and is counted.
Both processes read the same wall clock (time.time); the machine's load average is printed,
as other processes move these figures.

    python benchmarks/concurrency.py [--quick] [--postgres URL] [--no-postgres] [--poll]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python benchmarks/concurrency.py`, this folder heads sys.path and benchmarks/queue.py
# would shadow the standard library's `queue` module, which multiprocessing imports.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import json
import math
import multiprocessing
import os
import random
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from itsm_tui.clock import SystemClock
from itsm_tui.domain.enums import Role
from itsm_tui.services import directory, incidents, slas
from itsm_tui.services.errors import Conflict, ServiceError
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database, open_database
from itsm_tui.store.models import User
from itsm_tui.workers.feed_listener import POLL_INTERVAL_S, FeedListener

POSTGRES_ENV = "ITSM_TEST_POSTGRES_URL"
INCIDENTS = 50
WRITERS = (1, 4, 16)
ACTOR = "sue"
GROUPS = ("Service Desk", "Network")
GAP_S = (0.04, 0.12)  # between feed-latency writes


# ---------------------------------------------------------------------------- databases


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{Path(folder) / 'bench.sqlite'}"


@contextmanager
def postgres_database(base: str) -> Iterator[str]:
    """A database of our own on the server at `base`, dropped afterwards."""
    name = f"itsm_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed(url: str) -> list[str]:
    """Migrate, seed a desk and 50 open incidents; return their numbers."""
    database = open_database(url)
    clock = SystemClock()
    with database.session() as session:
        root = directory.resolve_actor(session, clock, "root")
        for name in GROUPS:
            directory.add_group(session, root, clock, validate(directory.GroupCreate, name=name))
        directory.add_user(
            session,
            root,
            clock,
            validate(directory.UserCreate, username=ACTOR, role=Role.SUPERVISOR, groups=GROUPS),
        )
        slas.ensure_defaults(session, clock, "UTC")
        sue = directory.find_user(session, ACTOR)
        assert sue is not None
        numbers = [
            incidents.create_incident(
                session,
                sue,
                clock,
                validate(
                    incidents.IncidentCreate,
                    title=f"shared {i}",
                    impact=1 + i % 3,
                    urgency=1 + (i // 3) % 3,
                    group=GROUPS[i % 2],
                ),
            ).number
            for i in range(INCIDENTS)
        ]
    database.dispose()
    return numbers


def actor_id(database: Database) -> int:
    with database.session() as session:
        user = directory.find_user(session, ACTOR)
        assert user is not None and user.id is not None
        return user.id


# ---------------------------------------------------------------------------- throughput


def writer(
    url: str, index: int, seconds: float, numbers: list[str], barrier: Any, out: Any
) -> None:
    """Read-then-write for `seconds` after every writer is ready; report the counts."""
    rng = random.Random(index)
    database = open_database(url, migrate=False)
    clock = SystemClock()
    user_id = actor_id(database)
    counts: Counter[str] = Counter()
    barrier.wait(timeout=300)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        number = rng.choice(numbers)
        with database.session() as session:
            actor = session.get(User, user_id)
            assert actor is not None
            try:
                write_once(session, actor, clock, rng, number)
            except Conflict as error:
                counts["busy" if "busy" in str(error) else "conflict"] += 1
            except ServiceError:
                counts["refused"] += 1
            except Exception as error:  # reported, not hidden: the figures say how many
                counts["errors"] += 1
                print(f"writer {index}: {error!r}", file=sys.stderr, flush=True)
            else:
                counts["committed"] += 1
    database.dispose()
    out.put(dict(counts))


def write_once(
    session: Any, actor: User, clock: SystemClock, rng: random.Random, number: str
) -> None:
    """One save as a desk makes it: read the incident, then write with its version."""
    kind = rng.randrange(3)
    if kind == 2:
        incidents.add_note(session, actor, clock, number, f"bench note {rng.random()}")
        return
    record = incidents.get_incident(session, number)
    if kind == 0:
        group = GROUPS[1] if record.group == GROUPS[0] else GROUPS[0]
        incidents.assign(session, actor, clock, number, group=group, expect_version=record.version)
    elif record.state == "on_hold":
        incidents.transition(
            session, actor, clock, number, "in_progress", expect_version=record.version
        )
    else:
        incidents.transition(
            session,
            actor,
            clock,
            number,
            "on_hold",
            hold_reason="awaiting_caller",
            expect_version=record.version,
        )


def throughput(
    context: Any, url: str, numbers: list[str], writers: int, seconds: float
) -> dict[str, float]:
    barrier = context.Barrier(writers + 1)
    out = context.Queue()
    processes = [
        context.Process(target=writer, args=(url, i, seconds, numbers, barrier, out), daemon=True)
        for i in range(writers)
    ]
    for process in processes:
        process.start()
    barrier.wait(timeout=300)
    started = time.perf_counter()
    results = [out.get(timeout=seconds + 300) for _ in processes]
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join(timeout=60)
    total: Counter[str] = Counter()
    for result in results:
        total.update(result)
    attempts = sum(total.values())
    return {
        "writes_per_s": total["committed"] / max(elapsed, seconds),
        "conflict_pct": 100 * (total["conflict"] + total["busy"]) / attempts if attempts else 0.0,
        "busy": total["busy"],
        "refused": total["refused"],
        "errors": total["errors"],
        "attempts": attempts,
    }


# ---------------------------------------------------------------------------- feed latency


def listener(url: str, force_poll: bool, ready: Any, stop: Any, out: Any) -> None:
    """Stamp every feed batch as the app's listener would receive it."""
    database = open_database(url, migrate=False)
    feed = FeedListener(database)
    wait = None if force_poll else getattr(feed, "wait", None)
    seen: list[tuple[float, list[str]]] = []
    ready.set()
    while not stop.is_set():
        batch = wait(0.5) if wait is not None else feed.poll()
        if batch is not None:
            seen.append((time.time(), sorted(batch.changed)))
        elif wait is None:
            time.sleep(POLL_INTERVAL_S)
    close = getattr(feed, "close", None)
    if close is not None:
        close()
    database.dispose()
    out.put(("wait" if wait is not None else "poll", seen))


def feed_latency(
    context: Any, url: str, numbers: list[str], samples: int, force_poll: bool
) -> tuple[str, list[float]]:
    ready, stop, out = context.Event(), context.Event(), context.Queue()
    process = context.Process(
        target=listener, args=(url, force_poll, ready, stop, out), daemon=True
    )
    process.start()
    assert ready.wait(timeout=300), "the listener did not start"
    database = open_database(url, migrate=False)
    clock = SystemClock()
    user_id = actor_id(database)
    rng = random.Random(7)
    commits: list[tuple[float, float, str]] = []  # (before the call, the commit, number)
    with database.session() as session:
        stamps: list[float] = []
        # Stamped the moment COMMIT returns, before the service builds its answer: a busy
        # machine may pause this process after that, and the listener may well be first.
        event.listen(session, "after_commit", lambda _session: stamps.append(time.time()))
        for i in range(samples):
            time.sleep(rng.uniform(*GAP_S))
            number = numbers[i % len(numbers)]
            actor = session.get(User, user_id)
            assert actor is not None
            before = time.time()
            incidents.add_note(session, actor, clock, number, f"latency {i}")
            commits.append((before, stamps[-1], number))
    time.sleep(1.0)  # let the last batches arrive
    stop.set()
    mode, seen = out.get(timeout=60)
    process.join(timeout=60)
    database.dispose()
    latencies = []
    for before, committed, number in commits:
        # The first batch naming the incident after the write began is this write's: the
        # next write to the same incident comes len(numbers) writes later.
        arrival = next((at for at, changed in seen if at >= before and number in changed), None)
        if arrival is None:
            raise SystemExit(f"the listener never saw the write to {number} at {committed}")
        latencies.append(arrival - committed)  # one wall clock; negative: the listener won
    return mode, latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# ---------------------------------------------------------------------------- main


def measure(
    context: Any, engine: str, url: str, seconds: float, samples: int, force_poll: bool
) -> dict[str, Any]:
    print(f"{engine}: seeding ...", file=sys.stderr, flush=True)
    numbers = seed(url)
    figures: dict[str, Any] = {}
    for writers in WRITERS:
        print(f"{engine}: {writers} writers for {seconds} s ...", file=sys.stderr, flush=True)
        result = throughput(context, url, numbers, writers, seconds)
        figures[f"{engine}_{writers}w_writes_per_s"] = round(result["writes_per_s"], 1)
        figures[f"{engine}_{writers}w_conflict_pct"] = round(result["conflict_pct"], 1)
        figures[f"{engine}_{writers}w_busy_count"] = result["busy"]
        figures[f"{engine}_{writers}w_refused_count"] = result["refused"]
        figures[f"{engine}_{writers}w_error_count"] = result["errors"]
    print(f"{engine}: feed latency over {samples} writes ...", file=sys.stderr, flush=True)
    mode, raw = feed_latency(context, url, numbers, samples, force_poll)
    latencies = [max(0.0, x) for x in raw]
    figures[f"{engine}_feed_mode"] = mode
    figures[f"{engine}_feed_p50_ms"] = round(1000 * percentile(latencies, 0.5), 1)
    figures[f"{engine}_feed_p99_ms"] = round(1000 * percentile(latencies, 0.99), 1)
    figures[f"{engine}_feed_max_ms"] = round(1000 * max(latencies), 1)
    figures[f"{engine}_feed_samples"] = len(latencies)
    # Batches stamped before the writer's own commit stamp (it was paused): counted as 0 ms.
    figures[f"{engine}_feed_before_commit_count"] = sum(x < 0 for x in raw)
    return figures


def print_table(figures: dict[str, Any], engines: list[str]) -> None:
    print(
        f"{'engine':<10}{'writers':>8}{'writes/s':>11}{'conflict %':>12}{'busy':>6}"
        f"{'refused':>9}{'errors':>8}"
    )
    for engine in engines:
        for w in WRITERS:
            key = f"{engine}_{w}w"
            print(
                f"{engine:<10}{w:>8}{figures[key + '_writes_per_s']:>11}"
                f"{figures[key + '_conflict_pct']:>12}{figures[key + '_busy_count']:>6}"
                f"{figures[key + '_refused_count']:>9}{figures[key + '_error_count']:>8}"
            )
    print()
    print(f"{'engine':<10}{'listener':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'samples':>9}")
    for engine in engines:
        print(
            f"{engine:<10}{figures[engine + '_feed_mode']:>9}{figures[engine + '_feed_p50_ms']:>9}"
            f"{figures[engine + '_feed_p99_ms']:>9}{figures[engine + '_feed_max_ms']:>9}"
            f"{figures[engine + '_feed_samples']:>9}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 s per level, 60 latency samples")
    parser.add_argument("--postgres", help=f"server URL (default: ${POSTGRES_ENV})")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--poll", action="store_true", help="listener polls every POLL_INTERVAL_S, never waits"
    )
    parser.add_argument("--seconds", type=float, help="per writer level (default 5)")
    parser.add_argument("--samples", type=int, help="feed latency writes (default 200)")
    args = parser.parse_args()
    seconds = args.seconds or (2.0 if args.quick else 5.0)
    samples = args.samples or (60 if args.quick else 200)
    postgres = None if args.no_postgres else (args.postgres or os.environ.get(POSTGRES_ENV))
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__"])
    load = os.getloadavg()[0]
    figures: dict[str, Any] = {"load_avg_1min": round(load, 2), "cpus": os.cpu_count()}
    engines = ["sqlite"]
    with sqlite_database() as url:
        figures |= measure(context, "sqlite", url, seconds, samples, args.poll)
    if postgres:
        engines.append("postgres")
        with postgres_database(postgres) as url:
            figures |= measure(context, "postgres", url, seconds, samples, args.poll)
    print_table(figures, engines)
    print(f"load average {load:.2f} on {os.cpu_count()} CPUs before the run")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
