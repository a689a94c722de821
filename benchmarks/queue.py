"""Time the incident queue over a million incidents, next to raw SQL for the same pages.

The issue's targets: first paint of the queue <= 0.5 s; scrolling a page, applying a quick
filter and a text search each within 3x the raw SQL time for the same page; the app's peak
RSS <= 200 MB.

What it does and why:
- Seeds N incidents (default 1,000,000; `--quick`: 100,000) into a SQLite file once and
  reuses it (`--db PATH`, else a file under the temp dir). The schema comes from the
  migrations (`open_database`), the directory from the services, the incidents from one
  Core `executemany` transaction (the services write one incident per transaction, far too
  slow for a million). About 5% are open, mostly recent, with running or paused SLA
  summaries; the rest are closed. Titles come from a vocabulary so the text search finds a
  few hundred open incidents. Then `ANALYZE`.
- Times plain SQL (the `sqlite3` module, the same columns, joins, filter and order, LIMIT 101)
  and the service layer (`queue.fetch_page` in a fresh session, as a screen worker calls it)
  for each page the app asks for, checking both return the same incidents. Two stress reads
  are added: a search that matches nothing, and the page after the last running SLA (the
  paused incidents share the NO_SLA_DUE sort key with every closed one).
- Runs the app (`ITSMApp` under Textual's pilot, 160x48, a FixedClock inside the seeded
  range) in a child process, so the seeding's memory does not count in its peak RSS. Hooks on
  `RecordTable` stamp when rows land (`set_rows`/`extend`) and when the table's bottom line is
  rendered (a frame complete), so the pilot's own idle waits never count. Times run from the
  key press (the first paint: from constructing the app) to the frame after the rows land.
  A second child measures the first paint again after the file is dropped from the OS cache.

App time over raw SQL time is dominated by fixed UI costs (a thread-worker hop, a table
repaint, Textual's layout and CSS work) while the raw query takes about a millisecond, so the
service layer's ratio to raw SQL is reported too: that one measures the query overhead.
Other processes on the machine move the app figures a lot: the load average is printed.

    python benchmarks/queue.py [--quick] [--incidents N] [--db PATH] [--explain]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python benchmarks/queue.py`, this folder heads sys.path and this file would shadow
# the standard library's `queue` module (concurrent.futures, logging and others import it).
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import asyncio
import bisect
import json
import math
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, text

from itsm_tui.clock import FixedClock
from itsm_tui.domain.enums import (
    HoldReason,
    IncidentState,
    ResolutionCode,
    Role,
)
from itsm_tui.services import directory, queue, slas
from itsm_tui.services.queue import OPEN_STATES, QueueFilter
from itsm_tui.services.validation import validate
from itsm_tui.store.database import open_database
from itsm_tui.store.models import NO_SLA_DUE, Incident, NumberSequence

SEED_VERSION = 1  # bump when the generated data changes, so cached files are rebuilt
SEED = 20260302
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the clock the app runs at: the newest incident
SPAN_DAYS = 3 * 365  # incidents are opened over the three years before T0, one id per opening
OPEN_PEAK, OPEN_DECAY_DAYS = 0.9, 60.0  # P(open) = 0.9 * exp(-age / 60 d): about 5% open
BATCH = 50_000
SIZE = (160, 48)
APP_USER = "alice"
BENCH_ADMIN = "bench"  # marks a file this script seeded (it may delete and rebuild those only)
SEARCH_WORD = "kerberos"
PAGE_LIMIT = 100  # IncidentQueueScreen.PAGE_SIZE: the screen reads 100 rows, LIMIT 101
FIRST_PAINT_TARGET_S = 0.5
RATIO_TARGET = 3.0
PEAK_RSS_TARGET_MB = 200.0

GROUPS = (  # name, escalates to
    ("Security", None),
    ("Network", "Security"),
    ("Service Desk", "Network"),
    ("Database", None),
    ("Applications", "Database"),
    ("Workplace", "Service Desk"),
    ("Cloud Ops", "Network"),
)
SERVICES = {
    "Email": ("mail-01", "mail-02"),
    "VPN": ("vpn-gw-01", "vpn-gw-02"),
    "ERP": ("erp-app-01", "erp-db-01"),
    "CRM": ("crm-app-01",),
    "HR Portal": ("hr-web-01",),
    "Payroll": ("pay-batch-01",),
    "Network Core": ("core-sw-01", "core-rtr-01", "wlc-01"),
    "Data Center": ("dc-ups-01", "dc-crac-01"),
}
SYMPTOMS = (
    "Cannot log in to",
    "Slow response from",
    "Error message in",
    "Outage of",
    "Intermittent failures in",
    "Timeout calling",
    "Access request for",
    "Crash when opening",
    "Data missing in",
    "Sync not working for",
    "Certificate expired on",
    "Unable to print from",
    "Licence warning in",
    "High CPU on",
    "Disk full on",
    "Password reset for",
)
_SYSTEM_WORDS = (  # one per title; none contains another, so SEARCH_WORD is exact
    "payroll kerberos sharepoint outlook jira confluence salesforce workday netsuite tableau "
    "zendesk okta citrix vmware hyperv docker kubernetes jenkins gitlab artifactory nexus "
    "sonarqube grafana prometheus splunk kibana logstash rabbitmq kafka redis postgres oracle "
    "mssql mongodb cassandra ldap radius dhcp ntp smtp imap exchange intranet extranet "
    "timesheet expenses procurement invoicing ledger treasury billing crm erp warehouse "
    "scanner plotter projector webcam headset docking laptop desktop tablet smartphone "
    "turnstile elevator hvac firewall router wifi loadbalancer storage backup tapelibrary "
    "archive sftp portal wiki chatbot telephony voicemail fax printer copier kiosk signage "
    "cctv alarm thermostat badge sso mfa antivirus edr siem patching inventory cmdb "
    "onboarding offboarding"
)
SYSTEMS = tuple(_SYSTEM_WORDS.split())
PLACES = ("HQ", "Berlin office", "Lyon plant", "Austin lab", "home office", "warehouse 3")
FIRST_NAMES = ("Maria", "Jan", "Aisha", "Chen", "Lukas", "Sofia", "Omar", "Ines", "Pavel", "Mei")
LAST_NAMES = ("Lopez", "Novak", "Khan", "Wang", "Berg", "Rossi", "Haddad", "Costa", "Ivanov")
CATEGORIES = ("software", "hardware", "network", "access", "database", "inquiry")
PRIORITY_WEIGHTS = {1: 2, 2: 8, 3: 40, 4: 35, 5: 15}
IMPACT_URGENCY = {1: (1, 1), 2: (1, 2), 3: (2, 2), 4: (2, 3), 5: (3, 3)}
TARGET_S = {1: 4 * 3600, 2: 8 * 3600, 3: 2 * 86_400, 4: 5 * 86_400, 5: 10 * 86_400}


# ---------------------------------------------------------------------------- seeding


def default_db_path(incidents: int) -> Path:
    return Path(tempfile.gettempdir()) / "itsm-bench" / f"queue-{incidents}-v{SEED_VERSION}.sqlite"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def seeded_count(path: Path) -> tuple[int | None, bool]:
    """(incidents in the file or None, whether this script seeded it)."""
    if not path.exists():
        return None, False
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
            ours = connection.execute(
                "SELECT count(*) FROM users WHERE username = ? AND role = 'admin'",
                (BENCH_ADMIN,),
            ).fetchone()[0]
            count = connection.execute("SELECT count(*) FROM incidents").fetchone()[0]
    except sqlite3.Error:
        return None, False
    return int(count), bool(ours)


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", ".json"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@dataclass(frozen=True)
class Directory:
    admin_id: int
    group_ids: list[int]
    members: dict[int, list[int]]  # group id -> agent ids
    services: dict[int, list[int]]  # service id -> CI ids


def seed_directory(url: str) -> Directory:
    """A small desk through the services, as an admin would build it."""
    database = open_database(url)
    clock = FixedClock(T0 - timedelta(days=SPAN_DAYS + 1))
    with database.session() as session:
        slas.ensure_defaults(session, clock, "UTC")
        admin = directory.resolve_actor(session, clock, BENCH_ADMIN)
        for name, escalates in GROUPS:
            directory.add_group(
                session,
                admin,
                clock,
                validate(directory.GroupCreate, name=name, escalates_to=escalates),
            )
        agents = [(APP_USER, ("Service Desk",)), ("sue", ("Service Desk", "Network"))]
        agents += [(f"agent{i:02d}", (GROUPS[i % len(GROUPS)][0],)) for i in range(1, 29)]
        for username, groups in agents:
            role = Role.SUPERVISOR if username == "sue" else Role.AGENT
            directory.add_user(
                session,
                admin,
                clock,
                validate(directory.UserCreate, username=username, role=role, groups=groups),
            )
        for service, cis in SERVICES.items():
            directory.add_service(
                session, admin, clock, validate(directory.ServiceCreate, name=service)
            )
            for ci in cis:
                directory.add_config_item(
                    session,
                    admin,
                    clock,
                    validate(directory.ConfigItemCreate, name=ci, service=service),
                )
        assert admin.id is not None
        admin_id = admin.id
    with database.engine.connect() as connection:
        groups = dict(connection.execute(text("SELECT name, id FROM groups")).all())
        members: dict[int, list[int]] = {group_id: [] for group_id in groups.values()}
        for user_id, group_id in connection.execute(
            text("SELECT user_id, group_id FROM group_memberships")
        ):
            members[group_id].append(user_id)
        services: dict[int, list[int]] = {
            service_id: [] for (service_id,) in connection.execute(text("SELECT id FROM services"))
        }
        for ci_id, service_id in connection.execute(
            text("SELECT id, service_id FROM config_items")
        ):
            services[service_id].append(ci_id)
    database.dispose()
    return Directory(admin_id, sorted(groups.values()), members, services)


def incident_rows(desk: Directory, count: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    """Incidents in id order, opened evenly over SPAN_DAYS up to T0; recent ones are open."""
    priorities = list(PRIORITY_WEIGHTS)
    weights = list(PRIORITY_WEIGHTS.values())
    every_agent = sorted({a for agents in desk.members.values() for a in agents})
    callers = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
    span_s = SPAN_DAYS * 86_400
    for number in range(1, count + 1):
        age_s = span_s * (count - number) / count
        opened = T0 - timedelta(seconds=age_s + rng.uniform(0, 60))
        priority = rng.choices(priorities, weights)[0]
        impact, urgency = IMPACT_URGENCY[priority]
        system = rng.choice(SYSTEMS)
        group_id = rng.choice(desk.group_ids) if rng.random() < 0.97 else None
        service_id = rng.choice(list(desk.services)) if rng.random() < 0.8 else None
        ci_id = (
            rng.choice(desk.services[service_id])
            if service_id is not None and rng.random() < 0.6
            else None
        )
        members = desk.members.get(group_id, []) if group_id is not None else every_agent
        is_open = rng.random() < OPEN_PEAK * math.exp(-age_s / 86_400 / OPEN_DECAY_DAYS)
        row: dict[str, Any] = {
            "id": number,
            "number": f"INC{number:07d}",
            "title": f"{rng.choice(SYMPTOMS)} {system} ({rng.choice(PLACES)})",
            "description": (
                f"User reports the {system} problem again since this morning; "
                f"ticket raised from the {rng.choice(PLACES)} queue."
            ),
            "caller": rng.choice(callers),
            "service_id": service_id,
            "ci_id": ci_id,
            "category": rng.choice(CATEGORIES),
            "impact": impact,
            "urgency": urgency,
            "priority": priority,
            "hold_reason": None,
            "major": priority == 1 and rng.random() < 0.05,
            "parent_id": None,
            "opened_by_id": rng.choice(every_agent),
            "opened_at": opened,
            "responded_at": None,
            "resolved_at": None,
            "closed_at": None,
            "resolution_code": None,
            "resolution_notes": None,
            "version": 1,
            "sla_due_at": NO_SLA_DUE,
            "sla_risk_at": None,
            "sla_state": "none",
            "sla_left_seconds": None,
            "sla_breached": False,
        }
        if is_open:
            _open_incident(row, rng, members, opened)
        else:
            _closed_incident(row, rng, members or every_agent, opened)
        yield row


def _open_incident(
    row: dict[str, Any], rng: random.Random, members: list[int], opened: datetime
) -> None:
    state = rng.choices(
        (IncidentState.NEW, IncidentState.IN_PROGRESS, IncidentState.ON_HOLD), (25, 55, 20)
    )[0]
    row["state"] = state.value
    assigned = state is not IncidentState.NEW and rng.random() < 0.85 and members
    row["assignee_id"] = rng.choice(members) if assigned else None
    if state is not IncidentState.NEW:
        row["responded_at"] = opened + timedelta(minutes=rng.uniform(1, 120))
    row["updated_at"] = max(opened, row["responded_at"] or opened)
    target = TARGET_S[row["priority"]]
    if state is IncidentState.ON_HOLD:
        row["hold_reason"] = rng.choice(list(HoldReason)).value
        if rng.random() < 0.85:  # waiting on the caller pauses the clock
            row["sla_state"] = "paused"
            row["sla_left_seconds"] = rng.randint(-target // 4, target)
            row["sla_breached"] = row["sla_left_seconds"] <= 0
            return
    if rng.random() < 0.02:
        return  # no policy matched: sla_state none, sorted with the closed ones
    # Due times spread from five days overdue to ten days ahead (never before the opening).
    due = max(opened + timedelta(hours=1), T0 + timedelta(seconds=rng.uniform(-5, 10) * 86_400))
    row["sla_state"] = "running"
    row["sla_due_at"] = due
    row["sla_risk_at"] = max(opened, due - timedelta(seconds=target / 4))
    row["sla_breached"] = due <= T0 or rng.random() < 0.03  # an earlier response breach


def _closed_incident(
    row: dict[str, Any], rng: random.Random, members: list[int], opened: datetime
) -> None:
    state = rng.choices(
        (IncidentState.RESOLVED, IncidentState.CLOSED, IncidentState.CANCELLED), (10, 85, 5)
    )[0]
    row["state"] = state.value
    row["assignee_id"] = rng.choice(members) if state is not IncidentState.CANCELLED else None
    ended = min(T0, opened + timedelta(hours=rng.uniform(0.5, 24 * 7)))
    if state is not IncidentState.CANCELLED:
        row["responded_at"] = opened + (ended - opened) * 0.1
        row["resolved_at"] = ended
        row["resolution_code"] = rng.choice(list(ResolutionCode)).value
        row["resolution_notes"] = "Fixed and confirmed with the caller."
        if state is IncidentState.CLOSED:
            row["closed_at"] = min(T0, ended + timedelta(days=3))
    row["updated_at"] = row["closed_at"] or ended
    row["sla_breached"] = rng.random() < 0.08


def seed(path: Path, incidents: int) -> float:
    """Build the file; returns seconds taken. The incidents go in as one transaction."""
    started = time.perf_counter()
    url = sqlite_url(path)
    desk = seed_directory(url)
    rng = random.Random(SEED)
    database = open_database(url)
    table = Incident.__table__  # type: ignore[attr-defined]
    with database.engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA cache_size=-1048576")  # 1 GiB: indexes stay hot
        batch: list[dict[str, Any]] = []
        for row in incident_rows(desk, incidents, rng):
            batch.append(row)
            if len(batch) == BATCH:
                connection.execute(insert(table), batch)
                batch = []
        if batch:
            connection.execute(insert(table), batch)
        connection.execute(
            insert(NumberSequence.__table__).prefix_with("OR REPLACE"),  # type: ignore[attr-defined]
            [{"prefix": "INC", "last_value": incidents}],
        )
    with database.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
        connection.commit()
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    database.dispose()
    seconds = time.perf_counter() - started
    Path(f"{path}.json").write_text(json.dumps({"seed_s": round(seconds, 1)}))
    return seconds


def ensure_seeded(path: Path, incidents: int) -> tuple[float | None, bool]:
    """(seeding seconds, reused). Rebuilds only files this script made."""
    count, ours = seeded_count(path)
    if count == incidents and ours:
        try:
            seconds = json.loads(Path(f"{path}.json").read_text())["seed_s"]
        except (OSError, ValueError, KeyError):
            seconds = None
        return seconds, True
    if path.exists():
        if not ours:
            raise SystemExit(f"{path} exists and was not seeded by this benchmark; not touching it")
        remove_sqlite(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return seed(path, incidents), False


# ---------------------------------------------------------------------------- raw SQL

RAW_QUERY = """
SELECT i.sla_due_at, i.id, i.number, i.title, i.priority, i.major, i.state, s.name, c.name,
       u.username, g.name, i.caller, i.opened_at, i.sla_state, i.sla_risk_at,
       i.sla_left_seconds, i.sla_breached
FROM incidents AS i
LEFT OUTER JOIN services AS s ON s.id = i.service_id
LEFT OUTER JOIN config_items AS c ON c.id = i.ci_id
LEFT OUTER JOIN users AS u ON u.id = i.assignee_id
LEFT OUTER JOIN groups AS g ON g.id = i.group_id
WHERE i.state IN (?, ?, ?){extra}
ORDER BY i.sla_due_at, i.id
LIMIT ?
"""
KEYSET_SQL = " AND (i.sla_due_at, i.id) > (?, ?)"
FILTER_SQL = {
    "unassigned": " AND i.assignee_id IS NULL",
    "breached": " AND (i.sla_breached = 1 OR (i.sla_state = 'running' AND i.sla_due_at <= ?))",
    "search": (
        " AND (lower(i.number) LIKE ? ESCAPE '\\' OR lower(i.title) LIKE ? ESCAPE '\\'"
        " OR lower(i.description) LIKE ? ESCAPE '\\')"
    ),
}
COUNT_QUERY = """
SELECT count(*), sum(i.assignee_id IS NULL),
       sum(i.sla_breached = 1 OR (i.sla_state = 'running' AND i.sla_due_at <= ?))
FROM incidents AS i WHERE i.state IN (?, ?, ?){extra}
"""
# The open queue's last running row: after it come the paused and SLA-less open incidents,
# which share the NO_SLA_DUE sort key with every closed incident.
LAST_RUNNING_SQL = """
SELECT sla_due_at, id FROM incidents
WHERE state IN (?, ?, ?) AND sla_state = 'running'
ORDER BY sla_due_at DESC, id DESC LIMIT 1
"""
NO_MATCH_WORD = "xylophone"  # a search that matches nothing: the page can never fill up
SLOW_KINDS = ("paused_page", "search_miss")  # about a second each: timed fewer times

Key = tuple[str, int]  # a queue position as stored: (sla_due_at text, id)


def sql_time(value: datetime) -> str:
    """How SQLAlchemy's SQLite DateTime stores an instant (UTC, naive, microseconds)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def stored_key(key: Key) -> tuple[datetime, int]:
    return datetime.fromisoformat(key[0]).replace(tzinfo=UTC), key[1]


def raw_query(
    flag: str | None = None, *, word: str | None = None, after: Key | None = None
) -> tuple[str, list[Any]]:
    """The queue's page as plain SQL: open states, one quick filter or a search, a key."""
    extra, params = "", [s.value for s in OPEN_STATES]
    if flag is not None:
        extra += FILTER_SQL[flag]
        if flag == "breached":
            params.append(sql_time(T0))
    if word is not None:
        extra += FILTER_SQL["search"]
        params += [f"%{word}%"] * 3
    if after is not None:
        extra += KEYSET_SQL
        params += list(after)
    return RAW_QUERY.format(extra=extra), [*params, PAGE_LIMIT + 1]


def timed(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median seconds of `repeat` runs after one warm-up, and the last result."""
    result = run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


@dataclass
class Baseline:
    """Raw SQL and service-layer seconds per operation, for the same pages the app reads."""

    raw: dict[str, float] = field(default_factory=dict)
    raw_py_lower: dict[str, float] = field(default_factory=dict)
    service: dict[str, float] = field(default_factory=dict)
    plans: dict[str, list[str]] = field(default_factory=dict)
    facts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    """One page the benchmark reads, as raw SQL and as a service call."""

    sql: str
    params: list[Any]
    query: QueueFilter
    after: Key | None = None


def operations(connection: sqlite3.Connection, pages: int) -> dict[str, list[Operation]]:
    """Each measured read; `page` holds the keyset pages after rows 100, 200, ... exactly as
    the screen reads them while scrolling."""
    open_queue = QueueFilter()
    ops: dict[str, list[Operation]] = {
        "first": [Operation(*raw_query(), open_queue)],
        "unassigned": [Operation(*raw_query("unassigned"), QueueFilter(unassigned=True))],
        "breached": [Operation(*raw_query("breached"), QueueFilter(breached=True))],
        "search": [Operation(*raw_query(word=SEARCH_WORD), QueueFilter(text=SEARCH_WORD))],
        "search_miss": [Operation(*raw_query(word=NO_MATCH_WORD), QueueFilter(text=NO_MATCH_WORD))],
        "page": [],
    }
    rows = connection.execute(*raw_query()).fetchall()
    while len(ops["page"]) < pages and len(rows) > PAGE_LIMIT:
        key = (rows[PAGE_LIMIT - 1][0], rows[PAGE_LIMIT - 1][1])
        ops["page"].append(Operation(*raw_query(after=key), open_queue, key))
        rows = connection.execute(*raw_query(after=key)).fetchall()
    last_running = connection.execute(LAST_RUNNING_SQL, [s.value for s in OPEN_STATES]).fetchone()
    if last_running is not None:
        key = (last_running[0], last_running[1])
        ops["paused_page"] = [Operation(*raw_query(after=key), open_queue, key)]
    return ops


def measure_baseline(path: Path, pages: int, repeat: int) -> Baseline:
    baseline = Baseline()
    with closing(sqlite3.connect(path)) as connection:
        opened, unassigned, breached = connection.execute(
            COUNT_QUERY.format(extra=""), [sql_time(T0), *[s.value for s in OPEN_STATES]]
        ).fetchone()
        (matches,) = connection.execute(
            COUNT_QUERY.format(extra=FILTER_SQL["search"]),
            [sql_time(T0), *raw_query(word=SEARCH_WORD)[1][:-1]],
        ).fetchone()[:1]
        baseline.facts |= {
            "open": opened,
            "open_unassigned": unassigned,
            "breached": breached,
            "search_matches": matches,
        }
        ops = operations(connection, pages)
        for kind, reads in ops.items():
            times = []
            for op in reads:
                seconds, rows = timed(
                    lambda op=op: connection.execute(op.sql, op.params).fetchall(),
                    max(1, repeat // 2) if kind in SLOW_KINDS else repeat,
                )
                times.append(seconds)
                baseline.facts[f"{kind}_rows"] = len(rows)
            baseline.raw[kind] = statistics.median(times)
            baseline.plans[kind] = plan(connection, reads[-1].sql, reads[-1].params)
        # The app registers a Python lower() (Unicode-aware search); time the search with it.
        connection.create_function("lower", 1, _py_lower, deterministic=True)
        for kind in ("search", "search_miss"):
            op = ops[kind][0]
            baseline.raw_py_lower[kind], _ = timed(
                lambda op=op: connection.execute(op.sql, op.params).fetchall(),
                max(1, repeat // 2) if kind in SLOW_KINDS else repeat,
            )
    baseline.service = measure_service(path, ops, repeat)
    return baseline


def _py_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def plan(connection: sqlite3.Connection, sql: str, params: list[Any]) -> list[str]:
    return [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params)]


def measure_service(path: Path, ops: dict[str, list[Operation]], repeat: int) -> dict[str, float]:
    """`queue.fetch_page` in a fresh session per call, exactly as the screen's workers do."""
    database = open_database(sqlite_url(path))
    with database.session() as session:
        actor = directory.user_by_username(session, APP_USER)

    def fetch(op: Operation) -> queue.QueuePage:
        after = stored_key(op.after) if op.after is not None else None
        with database.session() as session:
            return queue.fetch_page(session, actor, T0, op.query, after=after, limit=PAGE_LIMIT)

    seconds: dict[str, float] = {}
    for kind, reads in ops.items():
        times = []
        for op in reads:
            elapsed, page = timed(
                lambda op=op: fetch(op), max(1, repeat // 2) if kind in SLOW_KINDS else repeat
            )
            raw_numbers = [row[2] for row in sqlite_rows(path, op)][:PAGE_LIMIT]
            assert [row.number for row in page.rows] == raw_numbers, kind  # the same page
            times.append(elapsed)
        seconds[kind] = statistics.median(times)
    counted = {"counts": QueueFilter(), "counts_search": QueueFilter(text=SEARCH_WORD)}
    for kind, query in counted.items():
        with database.session() as session:
            seconds[kind], _ = timed(lambda q=query: queue.count(session, actor, T0, q), 1)
    database.dispose()
    return seconds


def sqlite_rows(path: Path, op: Operation) -> list[Any]:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute(op.sql, op.params).fetchall()


# ---------------------------------------------------------------------------- the app


class Probe:
    """Stamps, from inside the app, when rows land in the queue table and when the table has
    been drawn again; the pilot's own waits (it sleeps until the process is idle) never count.

    A repaint renders the table's lines top to bottom, so the bottom line being rendered marks
    a complete frame (headless, the frame is then not written to a terminal).
    """

    def __init__(self) -> None:
        self.landed: list[float] = []  # set_rows / extend finished
        self.drawn: list[float] = []  # the table's bottom line rendered (monotonic: sorted)
        self.counts: list[float] = []  # the counts reached the filter bar

    def install(self) -> None:
        from itsm_tui.screens.incident_queue import IncidentQueueScreen
        from itsm_tui.widgets.record_table import RecordTable

        probe = self
        set_rows, extend = RecordTable.set_rows, RecordTable.extend
        render_line, show_counts = RecordTable.render_line, IncidentQueueScreen._show_counts

        def hooked_set_rows(table: Any, *args: Any, **kwargs: Any) -> None:
            set_rows(table, *args, **kwargs)
            probe.landed.append(time.perf_counter())

        def hooked_extend(table: Any, *args: Any, **kwargs: Any) -> None:
            extend(table, *args, **kwargs)
            probe.landed.append(time.perf_counter())

        def hooked_render_line(table: Any, y: int) -> Any:
            strip = render_line(table, y)
            if y == table.size.height - 1:
                probe.drawn.append(time.perf_counter())
            return strip

        def hooked_show_counts(screen: Any, counts: Any) -> None:
            show_counts(screen, counts)
            probe.counts.append(time.perf_counter())

        RecordTable.set_rows = hooked_set_rows  # type: ignore[method-assign]
        RecordTable.extend = hooked_extend  # type: ignore[method-assign]
        RecordTable.render_line = hooked_render_line  # type: ignore[method-assign]
        IncidentQueueScreen._show_counts = hooked_show_counts  # type: ignore[method-assign]

    @staticmethod
    def after(stamps: list[float], since: float) -> float | None:
        index = bisect.bisect_left(stamps, since)
        return stamps[index] if index < len(stamps) else None

    def drawn_after_landing(self, since: float) -> tuple[float, float] | None:
        """(rows landed, the table drawn after that), both after `since`."""
        landed = self.after(self.landed, since)
        if landed is None:
            return None
        drawn = self.after(self.drawn, landed)
        return None if drawn is None else (landed, drawn)

    async def wait(self, what: Callable[[], Any], timeout: float = 120.0) -> Any:
        """Poll without touching the app: `pilot.pause` would force a repaint."""
        deadline = time.perf_counter() + timeout
        while (result := what()) is None:
            if time.perf_counter() > deadline:
                raise TimeoutError("the queue did not update")
            await asyncio.sleep(0.001)
        return result


async def quiet(app: Any) -> None:
    """Let every worker finish and the screen settle, between measurements."""
    await app.workers.wait_for_complete()
    await asyncio.sleep(0.05)
    await app.workers.wait_for_complete()


@dataclass(frozen=True)
class Timing:
    """Seconds after a key press: rows landed in the table (None if the press read nothing),
    the table drawn after that, and the counts shown (None if not re-counted)."""

    landed: float | None
    drawn: float
    counted: float | None


async def drive_app(path: Path, pages: int, repeat: int, first_paint_only: bool) -> dict[str, Any]:
    """Everything the app is timed on, in one run; figures are seconds unless named."""
    from itsm_tui.app import ITSMApp
    from itsm_tui.widgets.record_table import RecordTable

    probe = Probe()
    probe.install()
    figures: dict[str, Any] = {"launch_monotonic": time.monotonic()}
    started = time.perf_counter()
    app = ITSMApp(
        database_url=sqlite_url(path), username=APP_USER, clock=FixedClock(T0), run_evaluator=False
    )
    constructed = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        mounted = time.perf_counter()
        landed, drawn = await probe.wait(lambda: probe.drawn_after_landing(started))
        counted = await probe.wait(lambda: probe.after(probe.counts, started))
        figures |= {
            "constructor_s": constructed - started,
            "mounted_s": mounted - started,
            "first_rows_s": landed - started,
            "first_paint_s": drawn - started,
            "first_counts_s": counted - started,
        }
        if first_paint_only:
            return figures
        await quiet(app)
        table: RecordTable[Any] = app.screen.query_one("#queue-table", RecordTable)

        async def press(*keys: str) -> Timing:
            """Press the keys, timing the last one, and let everything it started finish."""
            if keys[:-1]:
                await pilot.press(*keys[:-1])
                await quiet(app)
            pressed = time.perf_counter()
            await pilot.press(keys[-1])
            await quiet(app)  # call_from_thread returns once the rows are in the table
            landed = probe.after(probe.landed, pressed)
            since = pressed if landed is None else landed
            drawn = await probe.wait(lambda: probe.after(probe.drawn, since))
            counted = probe.after(probe.counts, pressed)
            return Timing(
                None if landed is None else landed - pressed,
                drawn - pressed,
                None if counted is None else counted - pressed,
            )

        timings: dict[str, list[Timing]] = {}
        # Filters and search first, on a fresh 100-row window like the raw SQL's LIMIT 101.
        for name, keys, undo in (
            ("unassigned", ("u",), "u"),
            ("breached", ("b",), "b"),
            ("search", ("slash", *SEARCH_WORD, "enter"), "x"),
        ):
            for _ in range(repeat):
                assert len(table.rows) == PAGE_LIMIT, len(table.rows)
                timings.setdefault(name, []).append(await press(*keys))
                figures[f"{name}_rows"] = len(table.rows)
                await press(undo)
        # A search that matches nothing reads to the end of the open queue in queue order.
        timings["search_miss"] = [await press("slash", *NO_MATCH_WORD, "enter")]
        await press("x")
        # Scrolling: pagedown until the cursor leaves the window and a keyset page is read.
        for _ in range(pages * 10):
            if len(timings.get("page", [])) >= pages or not table.has_after:
                break
            timing = await press("pagedown")
            timings.setdefault("page" if timing.landed else "page_in_window", []).append(timing)
        figures["window_rows_after_scroll"] = len(table.rows)
        # A filter now re-reads as many rows as the scrolled window holds, not one page.
        timings["unassigned_after_scroll"] = [await press("u")]
        await press("u")
        timings["last_page"] = [await press("end")]
        timings["first_page"] = [await press("home")]
        # What one repaint of the table costs: every visible line, drawn on the main thread.
        height = table.size.height
        repaint_started = time.perf_counter()
        for _ in range(10):
            for y in range(height):
                table.render_line(y)
        figures["table_repaint_s"] = (time.perf_counter() - repaint_started) / 10
        figures["table_lines"] = height
    figures["bare_textual_mounted_s"] = await bare_textual()
    for name, values in timings.items():
        landings = [t.landed for t in values if t.landed is not None]
        counts = [t.counted for t in values if t.counted is not None]
        figures[f"{name}_s"] = statistics.median(t.drawn for t in values)
        if landings:
            figures[f"{name}_landed_s"] = statistics.median(landings)
        if counts:
            figures[f"{name}_counts_s"] = statistics.median(counts)
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return figures


async def bare_textual() -> float:
    """Seconds until a bare Textual app (header, one line, footer) is ready: the floor."""
    from textual.app import App, ComposeResult
    from textual.widgets import Footer, Header, Static

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield Header()
            yield Static("hello")
            yield Footer()

    started = time.perf_counter()
    async with Bare().run_test(size=SIZE):
        return time.perf_counter() - started


def measure_app(path: Path, pages: int, repeat: int, first_paint_only: bool) -> dict[str, Any]:
    return asyncio.run(drive_app(path, pages, repeat, first_paint_only))


def evict_from_page_cache(path: Path) -> None:
    """Drop the file's pages from the OS cache (no root needed), for a cold first paint."""
    for suffix in ("", "-wal", "-shm"):
        target = Path(f"{path}{suffix}")
        if target.exists():
            fd = os.open(target, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def warm_page_cache(path: Path) -> None:
    """Read the file back in, leaving the OS cache as the cold measurement found it."""
    with path.open("rb") as file:
        while file.read(1 << 24):
            pass


def run_child(
    path: Path, pages: int, repeat: int, *, first_paint_only: bool = False
) -> dict[str, Any]:
    """The app in a fresh process: its peak RSS is the app's alone."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--measure-app",
        "--db",
        str(path),
        "--pages",
        str(pages),
        "--repeat",
        str(repeat),
    ]
    if first_paint_only:
        command.append("--first-paint-only")
    spawned = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"the app run failed (exit {done.returncode})")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    launched = figures.pop("launch_monotonic")
    figures["process_start_s"] = launched - spawned  # interpreter start and imports
    figures["launch_to_first_paint_s"] = figures["process_start_s"] + figures["first_paint_s"]
    return figures


# ---------------------------------------------------------------------------- report


def ratio(app_s: float | None, raw_s: float | None) -> float | None:
    if app_s is None or not raw_s:
        return None
    return round(app_s / raw_s, 1)


def r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def report(
    incidents: int,
    path: Path,
    seeding: tuple[float | None, bool],
    base: Baseline,
    app: dict[str, Any],
    cold: dict[str, Any] | None,
    explain: bool,
    load: float,
) -> dict[str, Any]:
    """Print the table and return the figures for the JSON line."""
    raw, service = base.raw, base.service
    seed_s, reused = seeding
    app["first_s"], app["first_landed_s"] = app["first_paint_s"], app["first_rows_s"]
    worse = max(("unassigned", "breached"), key=lambda name: app[f"{name}_s"] / raw[name])
    figures: dict[str, Any] = {
        "incidents": incidents,
        "open_incidents": base.facts["open"],
        "search_matches": base.facts["search_matches"],
        "seed_s": r(seed_s, 1),
        "seed_reused": reused,
        "loadavg_1m": round(load, 2),
        "app_start_s": r(app["mounted_s"], 3),
        "bare_textual_start_s": r(app["bare_textual_mounted_s"], 3),
        "first_rows_s": r(app["first_rows_s"], 3),
        "first_paint_s": r(app["first_paint_s"], 3),
        "first_paint_cold_cache_s": r(cold["first_paint_s"], 3) if cold else None,
        "launch_to_first_paint_s": r(app["launch_to_first_paint_s"], 3),
        "first_page_raw_sql_s": r(raw["first"]),
        "page_s": r(app["page_s"]),
        "page_raw_sql_s": r(raw["page"]),
        "page_vs_raw_sql": ratio(app["page_s"], raw["page"]),
        "page_service_s": r(service["page"]),
        "page_service_vs_raw_sql": ratio(service["page"], raw["page"]),
        "page_in_window_s": r(app.get("page_in_window_s")),
        "table_repaint_s": r(app["table_repaint_s"]),
        "filter_s": r(app[f"{worse}_s"]),
        "filter_raw_sql_s": r(raw[worse]),
        "filter_vs_raw_sql": ratio(app[f"{worse}_s"], raw[worse]),
        "filter_service_vs_raw_sql": ratio(service[worse], raw[worse]),
    }
    for name in ("unassigned", "breached"):
        figures |= {
            f"filter_{name}_s": r(app[f"{name}_s"]),
            f"filter_{name}_raw_sql_s": r(raw[name]),
            f"filter_{name}_vs_raw_sql": ratio(app[f"{name}_s"], raw[name]),
            f"filter_{name}_service_s": r(service[name]),
            f"filter_{name}_service_vs_raw_sql": ratio(service[name], raw[name]),
        }
    figures |= {
        "filter_after_scroll_s": r(app["unassigned_after_scroll_s"]),
        "search_s": r(app["search_s"]),
        "search_raw_sql_s": r(raw["search"]),
        "search_vs_raw_sql": ratio(app["search_s"], raw["search"]),
        "search_service_s": r(service["search"]),
        "search_service_vs_raw_sql": ratio(service["search"], raw["search"]),
        "search_raw_sql_py_lower_s": r(base.raw_py_lower["search"]),
        "search_miss_s": r(app["search_miss_s"]),
        "search_miss_raw_sql_s": r(raw["search_miss"]),
        "search_miss_service_s": r(service["search_miss"]),
        "paused_page_raw_sql_s": r(raw.get("paused_page")),
        "paused_page_service_s": r(service.get("paused_page")),
        "counts_s": r(app["first_counts_s"]),
        "counts_service_s": r(service["counts"]),
        "search_counts_s": r(app.get("search_counts_s")),
        "search_counts_service_s": r(service["counts_search"]),
        "last_page_s": r(app["last_page_s"]),
        "peak_rss_mb": round(app["peak_rss_mb"], 1),
    }
    checks = {
        "first_paint": figures["first_paint_s"] <= FIRST_PAINT_TARGET_S,
        "page": (figures["page_vs_raw_sql"] or 0) <= RATIO_TARGET,
        "filter": (figures["filter_vs_raw_sql"] or 0) <= RATIO_TARGET,
        "search": (figures["search_vs_raw_sql"] or 0) <= RATIO_TARGET,
        "peak_rss": figures["peak_rss_mb"] <= PEAK_RSS_TARGET_MB,
    }
    figures["targets_missed"] = [name for name, ok in checks.items() if not ok]

    facts = base.facts
    print(
        f"queue benchmark: {incidents:,} incidents, {facts['open']:,} open "
        f"({facts['open_unassigned']:,} unassigned, {facts['breached']:,} breached, "
        f"{facts['search_matches']:,} matching '{SEARCH_WORD}')"
    )
    seeded = "?" if seed_s is None else f"{seed_s:.1f} s"
    print(f"database: {path} (seeded in {seeded}{', reused' if reused else ''})")
    print(
        f"app: ITSMApp under Textual's pilot, {SIZE[0]}x{SIZE[1]}, user {APP_USER}, "
        f"FixedClock {T0:%Y-%m-%d %H:%M} UTC; load average at start {load:.2f}"
    )
    print(
        "App times run from the key press (the first paint: from constructing the app) until "
        "the\ntable is drawn again after its rows land. Raw SQL: sqlite3, same columns, joins, "
        "filter\nand order, LIMIT 101. app/raw is dominated by UI work (a thread-worker hop, "
        "table\nrepaints, Textual layout and CSS); svc/raw (queue.fetch_page in a fresh session "
        "vs that\nSQL) is the query layer's overhead."
    )
    print()
    header = (
        f"{'operation':<30}{'landed s':>9}{'drawn s':>9}{'raw SQL s':>10}{'app/raw':>9}"
        f"{'service s':>10}{'svc/raw':>8}  target"
    )
    print(header)
    print("-" * (len(header) + 14))

    def cell(value: float | None, width: int, digits: int) -> str:
        return f"{value:>{width}.{digits}f}" if value is not None else " " * width

    def times(value: float | None, width: int) -> str:
        return f"{value:>{width - 1}}x" if value is not None else " " * width

    def line(label: str, name: str | None, kind: str | None, target: str = "") -> None:
        drawn = app.get(f"{name}_s") if name else None
        raw_s = raw.get(kind) if kind else None
        service_s = service.get(kind) if kind else None
        print(
            f"{label:<30}"
            + cell(app.get(f"{name}_landed_s") if name else None, 9, 4)
            + cell(drawn, 9, 4)
            + cell(raw_s, 10, 5)
            + times(ratio(drawn, raw_s), 9)
            + cell(service_s, 10, 5)
            + times(ratio(service_s, raw_s), 8)
            + (f"  {target}" if target else "")
        )

    def verdict(check: str) -> str:
        return "ok" if checks[check] else "MISSED"

    line("first paint (from the ctor)", "first", "first", f"<= 0.5 s   {verdict('first_paint')}")
    line("page (keyset fetch)", "page", "page", f"<= 3x raw  {verdict('page')}")
    line("filter: unassigned (u)", "unassigned", "unassigned", f"<= 3x raw  {verdict('filter')}")
    line("filter: breached (b)", "breached", "breached", f"<= 3x raw  {verdict('filter')}")
    line(f"text search /{SEARCH_WORD}", "search", "search", f"<= 3x raw  {verdict('search')}")
    line("page within the window", "page_in_window", None)
    line("filter u after scrolling", "unassigned_after_scroll", "unassigned")
    line("end (last page)", "last_page", None)
    line("home (first page again)", "first_page", "first")
    line(f"search, no match /{NO_MATCH_WORD}", "search_miss", "search_miss")
    line("page into the paused section", None, "paused_page")
    print()
    extras = [
        ("app constructor (open db, migration check)", f"{app['constructor_s']:.3f} s"),
        ("app ready (constructor + mount)", f"{app['mounted_s']:.3f} s"),
        ("bare Textual app ready, same size", f"{app['bare_textual_mounted_s']:.3f} s"),
        (
            "first rows landed / drawn, OS cache dropped",
            _pair(cold, "first_rows_s", "first_paint_s"),
        ),
        ("interpreter start + imports (not counted)", f"{app['process_start_s']:.3f} s"),
        ("launch to first paint (all of the above)", f"{app['launch_to_first_paint_s']:.3f} s"),
        (f"one table repaint ({app['table_lines']} lines)", f"{app['table_repaint_s']:.4f} s"),
        ("open counts shown (from the ctor)", f"{figures['counts_s']:.4f} s"),
        ("counts, service layer alone", f"{service['counts']:.4f} s"),
        ("search: press to counts shown", f"{app.get('search_counts_s', 0):.4f} s"),
        ("search counts, service layer alone", f"{service['counts_search']:.4f} s"),
        ("search raw SQL with the app's Python lower()", f"{base.raw_py_lower['search']:.5f} s"),
        ("no-match raw SQL with Python lower()", f"{base.raw_py_lower['search_miss']:.5f} s"),
        ("window rows after scrolling", str(app["window_rows_after_scroll"])),
        (
            "peak RSS of the app process",
            f"{figures['peak_rss_mb']:.1f} MB (<= 200 MB {verdict('peak_rss')})",
        ),
    ]
    for label, value in extras:
        print(f"{label:<46}{value}")
    if explain:
        print()
        print("EXPLAIN QUERY PLAN of the raw SQL (joins to the small name tables omitted):")
        for kind, steps in base.plans.items():
            shown = [step for step in steps if not step.endswith("LEFT-JOIN")]
            print(f"  {kind:<12} " + " | ".join(shown))
    print()
    return figures


def _pair(figures: dict[str, Any] | None, first: str, second: str) -> str:
    if figures is None:
        return "n/a"
    return f"{figures[first]:.3f} s / {figures[second]:.3f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 incidents")
    parser.add_argument("--incidents", type=int, help="default 1,000,000")
    parser.add_argument("--db", type=Path, help="SQLite file to seed or reuse")
    parser.add_argument("--pages", type=int, default=8, help="keyset page fetches to time")
    parser.add_argument("--repeat", type=int, default=5, help="samples per measured operation")
    parser.add_argument("--explain", action="store_true", help="print the raw queries' plans")
    parser.add_argument("--measure-app", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--first-paint-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    incidents = args.incidents or (100_000 if args.quick else 1_000_000)
    path: Path = args.db or default_db_path(incidents)
    if args.measure_app:
        figures = measure_app(path, args.pages, args.repeat, args.first_paint_only)
        print(json.dumps(figures))
        return
    if incidents < 10 * PAGE_LIMIT:
        parser.error(f"--incidents must be at least {10 * PAGE_LIMIT}")
    load = os.getloadavg()[0]  # before this run adds its own
    print(f"preparing {path} ...", file=sys.stderr, flush=True)
    seeding = ensure_seeded(path, incidents)
    print("timing raw SQL and the service layer ...", file=sys.stderr, flush=True)
    base = measure_baseline(path, args.pages, args.repeat)
    print("timing the app ...", file=sys.stderr, flush=True)
    app = run_child(path, args.pages, args.repeat)
    evict_from_page_cache(path)
    try:
        cold = run_child(path, args.pages, args.repeat, first_paint_only=True)
    finally:
        warm_page_cache(path)
    figures = report(incidents, path, seeding, base, app, cold, args.explain, load)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
