"""The deterministic demo dataset behind `itsm demo`.

Everything is created through the public services with a stepped clock, so the demo has the
same audit trail, journal and feed a real desk would have, and it exercises the rules it shows.
The change calendar's part (changes, freezes, conflicts) is told in `demo_changes`, the
problems, known errors and unlinked recurring incidents in `demo_problems`.

Loading reports its progress through an optional callback (stage, done, total) so the CLI can
draw a bar; this module stays free of any display library. A demo built here records the
newest feed event it wrote (SQLite's `user_version`), so a later `itsm demo` can tell whether
anyone has worked in it since, and ask before wiping that work.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

from pydantic import Field
from sqlalchemy import func
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session, col, select

from itsm_tui.clock import Clock, FixedClock
from itsm_tui.config import demo_database_path, sqlite_url
from itsm_tui.domain.enums import (
    Criticality,
    HoldReason,
    IncidentState,
    ResolutionCode,
    Role,
)
from itsm_tui.services import directory, incidents, slas
from itsm_tui.services.demo_changes import ChangeBlame, load_changes, maintenance_windows
from itsm_tui.services.demo_problems import load_problems
from itsm_tui.services.errors import ValidationFailed
from itsm_tui.services.validation import Input, validate
from itsm_tui.store.database import open_database
from itsm_tui.store.models import (
    BusinessCalendarRow,
    ConfigItem,
    FeedEvent,
    Group,
    Incident,
    SavedView,
    Service,
    SlaPolicyRow,
    User,
)

DEMO_ADMIN = "ada"
WINDOW_DAYS = 30  # incidents are opened over this many days before now
HISTORY_DAYS = 60  # the desk was set up this long ago (changes were requested from then on)

# The stages of a load, in order, as the progress callback names them.
STAGES = ("database", "directory", "changes", "incidents", "problems")
Progress = Callable[[str, int, int], None]
"""Told (stage, done, total) as a load goes: once with done=0 when a stage starts, then after
each step of it. A load with no callback tells no one."""


def _silent(_stage: str, _done: int, _total: int) -> None:
    return None


class DemoOptions(Input):
    seed: int = 1
    incidents: Annotated[int, Field(ge=0, le=50_000)] = 300
    acting_user: directory.Username | None = None  # checked before anything is written
    timezone: str = "UTC"  # office-hours SLA calendar zone


# ---------------------------------------------------------------------------- the dataset

GROUPS: list[tuple[str, str, str]] = [  # name, escalates to, description
    ("Security", "Network", "Identity, firewalls and security incidents"),
    ("Network", "Security", "LAN, WAN, VPN and Wi-Fi"),
    ("Database", "Applications", "Database platforms and storage"),
    ("Applications", "Database", "Business applications second line"),
    ("Service Desk", "Applications", "First line: triage and quick fixes"),
]

USERS: list[tuple[str, str, Role, tuple[str, ...]]] = [
    ("ada", "Ada Lovelace", Role.ADMIN, ("Service Desk",)),
    ("sam", "Sam Carter", Role.SUPERVISOR, ("Service Desk", "Applications")),
    ("sofia", "Sofia Ramirez", Role.SUPERVISOR, ("Network", "Security", "Database")),
    ("alex", "Alex Kim", Role.AGENT, ("Service Desk",)),
    ("bea", "Bea Novak", Role.AGENT, ("Service Desk",)),
    ("chen", "Chen Wei", Role.AGENT, ("Network",)),
    ("dev", "Dev Patel", Role.AGENT, ("Network", "Security")),
    ("eli", "Eli Cohen", Role.AGENT, ("Database",)),
    ("fay", "Fay Okafor", Role.AGENT, ("Applications",)),
    ("gus", "Gus Larsen", Role.AGENT, ("Applications", "Database")),
    ("hana", "Hana Sato", Role.AGENT, ("Security",)),
    ("cora", "Cora Mendes", Role.CHANGE_MANAGER, ("Applications",)),
    ("noc", "NOC Wall", Role.VIEWER, ()),
]

# service, criticality, owning group, CIs (class, name)
SERVICES: list[tuple[str, Criticality, str, list[tuple[str, str]]]] = [
    ("Email", Criticality.HIGH, "Applications", [
        ("server", "mail-mx-01"), ("server", "mail-mx-02"), ("database", "mail-db-01"),
        ("application", "mail-web-01"), ("server", "mail-relay-01")]),
    ("VPN", Criticality.HIGH, "Network", [
        ("network", "vpn-gw-01"), ("network", "vpn-gw-02"), ("server", "vpn-radius-01"),
        ("network", "vpn-fw-01"), ("network", "vpn-lb-01")]),
    ("Payroll", Criticality.CRITICAL, "Applications", [
        ("application", "payroll-app-01"), ("database", "payroll-db-01"),
        ("server", "payroll-batch-01"), ("application", "payroll-web-01"),
        ("server", "payroll-sftp-01")]),
    ("CRM", Criticality.HIGH, "Applications", [
        ("application", "crm-app-01"), ("application", "crm-app-02"), ("database", "crm-db-01"),
        ("server", "crm-cache-01"), ("application", "crm-api-01")]),
    ("Website", Criticality.MEDIUM, "Applications", [
        ("network", "web-lb-01"), ("server", "web-01"), ("server", "web-02"),
        ("application", "web-cms-01"), ("network", "web-cdn-01")]),
    ("Wi-Fi", Criticality.MEDIUM, "Network", [
        ("network", "wifi-ctrl-01"), ("network", "wifi-ap-hq-1"), ("network", "wifi-ap-hq-2"),
        ("network", "wifi-ap-lab-1"), ("server", "wifi-radius-01")]),
    ("ERP", Criticality.CRITICAL, "Database", [
        ("application", "erp-app-01"), ("database", "erp-db-01"), ("database", "erp-db-02"),
        ("application", "erp-int-01"), ("application", "erp-report-01")]),
    ("File Storage", Criticality.MEDIUM, "Database", [
        ("storage", "fs-nas-01"), ("storage", "fs-nas-02"), ("storage", "fs-backup-01"),
        ("server", "fs-dfs-01"), ("server", "fs-sync-01")]),
]  # fmt: skip

CALLERS = [
    "Maria Lopez", "John Smith", "Priya Shah", "Tom Becker", "Aiko Tanaka", "Lars Nilsson",
    "Fatima Zahra", "Noah Brown", "Emma Dubois", "Raj Iyer", "Olga Petrova", "Kwame Mensah",
    "Lucia Rossi", "Ben Carter", "Mei Chen", "Jonas Weber", "Sara Haddad", "Pedro Alves",
]  # fmt: skip
SITES = ["HQ 3rd floor", "the Leeds office", "the warehouse", "remote staff", "the call centre"]

TITLES: list[tuple[str, str]] = [  # category, template
    ("software", "{service} is slow for {site}"),
    ("access", "Cannot log in to {service}"),
    ("hardware", "{ci} not responding"),
    ("software", "Error 500 when opening {service}"),
    ("access", "{service} password reset loop"),
    ("hardware", "Disk almost full on {ci}"),
    ("hardware", "High CPU on {ci}"),
    ("network", "Users at {site} cannot reach {service}"),
    ("software", "{service} sync failing since this morning"),
    ("network", "Packet loss towards {ci}"),
    ("database", "Slow queries on {ci}"),
    ("database", "Replication lag on {ci}"),
    ("inquiry", "How do I export reports from {service}?"),
    ("software", "{service} crashes when attaching files"),
    ("access", "New starter needs {service} access"),
]
DESCRIPTIONS = [
    "Reported by phone. {caller} says it started around {hour}:00 and affects their whole team.",
    "Monitoring alert raised for {ci}. Users at {site} confirm the symptoms.",
    "{caller} emailed the desk: the problem comes and goes, worst in the afternoon.",
    "Raised from the self-service portal. Screenshot attached by the caller.",
]
WORK_NOTES = [
    "Checked the logs on {ci}; nothing obvious yet.",
    "Restarted the service on {ci}, monitoring.",
    "Reproduced the issue from a test account.",
    "Vendor ticket opened; waiting for their first response.",
    "Correlates with last night's patch window on {ci}.",
]
COMMENTS = [
    "Hi {caller}, we are looking into this now.",
    "Could you confirm whether this still happens after a restart?",
    "Thanks for your patience, an engineer is on it.",
]
RESOLUTIONS = [
    "Restarted {ci} and confirmed with the caller.",
    "Cleared the cache and rebuilt the index on {ci}.",
    "Access granted after manager approval.",
    "Freed disk space on {ci} and added monitoring.",
    "Known issue; applied the documented workaround.",
]
ESCALATION_REASONS = [
    "Needs second-line expertise.",
    "Outside the desk's runbook; handing over.",
    "Root cause appears to be on their platform.",
]

# Final state weights by age bucket (days): realistic queues are mostly recent open tickets.
STATE_WEIGHTS: list[tuple[float, dict[IncidentState, int]]] = [
    (1, {IncidentState.NEW: 35, IncidentState.IN_PROGRESS: 45, IncidentState.ON_HOLD: 10,
         IncidentState.RESOLVED: 8, IncidentState.CANCELLED: 2}),
    (3, {IncidentState.NEW: 8, IncidentState.IN_PROGRESS: 40, IncidentState.ON_HOLD: 17,
         IncidentState.RESOLVED: 30, IncidentState.CANCELLED: 5}),
    (7, {IncidentState.NEW: 2, IncidentState.IN_PROGRESS: 18, IncidentState.ON_HOLD: 12,
         IncidentState.RESOLVED: 25, IncidentState.CLOSED: 38, IncidentState.CANCELLED: 5}),
    (WINDOW_DAYS + 1, {IncidentState.IN_PROGRESS: 3, IncidentState.ON_HOLD: 4,
                       IncidentState.RESOLVED: 3, IncidentState.CLOSED: 85,
                       IncidentState.CANCELLED: 5}),
]  # fmt: skip
IMPACT_WEIGHTS = [12, 38, 50]
URGENCY_WEIGHTS = [15, 40, 45]
# Typical time to resolve by priority, in hours.
RESOLVE_HOURS = {1: 4, 2: 8, 3: 24, 4: 48, 5: 96}


# ---------------------------------------------------------------------------- loading


def prepare_demo_database(
    url: str | None, options: DemoOptions, clock: Clock, progress: Progress | None = None
) -> str:
    """Create the demo database and load the dataset; returns its URL.

    With no URL the demo lives in its own file under the data dir, which is recreated each
    time (the CLI asks first when someone worked in it: `changed_since_built`). A URL the user
    named is never wiped: it must not already hold a desk.
    """
    path = demo_database_path() if url is None else _sqlite_file(url)
    if path is None:
        # A server database cannot be swapped in whole: load_demo refuses a non-empty one, and
        # an interrupted load leaves a partial desk to drop and recreate.
        assert url is not None
        _load_into(url, options, clock, progress)
        return url
    if url is not None and path.exists():
        _check_empty(url)  # a named file is never replaced if it already holds a desk
    # Build the demo beside its final place and swap it in only when complete, so a failure
    # or Ctrl-C halfway never leaves a half-loaded demo behind.
    loading = path.with_name(path.name + ".loading")
    _remove_sqlite_files(loading)
    try:
        _load_into(sqlite_url(loading), options, clock, progress)
        _remove_sqlite_files(path)
        loading.replace(path)
    finally:
        _remove_sqlite_files(loading)
    return url or sqlite_url(path)


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser()


def _check_empty(url: str) -> None:
    database = open_database(url)
    try:
        with database.session() as session:
            _refuse_non_empty(session)
    finally:
        database.dispose()


def _load_into(url: str, options: DemoOptions, clock: Clock, progress: Progress | None) -> None:
    tell = progress or _silent
    tell("database", 0, 1)
    database = open_database(url)
    try:
        with database.session() as session:
            _refuse_non_empty(session)
            slas.ensure_defaults(session, clock, options.timezone)
            tell("database", 1, 1)
            load_demo(session, clock, options, progress)
            _mark_built(session)
    finally:
        database.dispose()


def _mark_built(session: Session) -> None:
    """Remember the newest feed event the build wrote, in the file itself (SQLite's header
    integer reserved for applications; Alembic keeps its version in a table): a copied or
    restored demo carries its mark, and no table is added beside the schema's."""
    if session.get_bind().dialect.name != "sqlite":
        return
    newest = session.exec(select(func.max(FeedEvent.id))).one() or 0
    session.commit()  # PRAGMA user_version is written in a transaction of its own
    session.connection().exec_driver_sql(f"PRAGMA user_version = {int(newest)}")
    session.commit()


def changed_since_built(path: Path) -> bool:
    """Whether someone worked in the demo file at `path` since it was built: a write by a
    person (every one leaves a feed event with its actor) after the build's mark, or a saved
    view (those leave none; the demo makes none). The SLA evaluator's own writes (actor
    None) do not count: rebuilding makes them again. A demo with no mark (built before marks
    existed, or not by `itsm demo`) counts as changed when it holds any person's write, so
    nothing is wiped on a guess. Reads only; an unreadable file counts as changed."""
    database = open_database(sqlite_url(path), migrate=False)
    try:
        with database.session() as session:
            mark = session.connection().exec_driver_sql("PRAGMA user_version").scalar() or 0
            written = session.exec(
                select(func.count())
                .select_from(FeedEvent)
                .where(col(FeedEvent.id) > mark, col(FeedEvent.actor_id).is_not(None))
            ).one()
            views = session.exec(select(func.count()).select_from(SavedView)).one()
            return bool(written or views)
    except DatabaseError:
        return True
    finally:
        database.dispose()


def _remove_sqlite_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _refuse_non_empty(session: Session) -> None:
    if any(
        session.exec(select(func.count()).select_from(table)).one()
        for table in (User, Group, Incident)
    ):
        raise ValidationFailed(
            "demo data goes into an empty database; this one already has users, groups or "
            "incidents (omit --db to use the demo database under the data directory)"
        )


@dataclass
class _Cast:
    users: dict[str, User]
    members: dict[str, list[str]]  # group -> agent usernames
    supervisors: list[str]
    # Held for the whole load: see `_reference_rows`.
    reference: list[object] = field(default_factory=list, repr=False)


def load_demo(
    session: Session, clock: Clock, options: DemoOptions, progress: Progress | None = None
) -> None:
    _refuse_non_empty(session)
    tell = progress or _silent
    rng = random.Random(options.seed)
    now = clock.now().replace(microsecond=0)
    setup_clock = FixedClock(now - timedelta(days=HISTORY_DAYS))
    tell("directory", 0, 1)
    cast = _load_directory(session, setup_clock, options, maintenance_windows(now))
    tell("directory", 1, 1)
    # Changes first, so incidents opened after a troubled one can blame it; they draw from
    # their own generator, so the incidents a seed gives do not depend on them.
    blame = load_changes(session, cast.users, options.seed, now, tell)
    _load_incidents(session, rng, now, cast, options.incidents, blame, tell)
    # Problems and their incidents come after the random incidents (numbered after them) from
    # their own generator, so a seed's random incidents stay as they were.
    load_problems(session, cast.users, options.seed, now, CALLERS, tell)


def _reference_rows(session: Session) -> list[object]:
    """Every user, group, service, CI, SLA policy and calendar, to hold while the load runs.

    SQLAlchemy's identity map holds rows weakly, so a row nobody references is dropped at the
    end of each use case, and every later `Session.get` for it (the services name an
    incident's group, service and CI that way before and after each write) goes back to the
    database. Held here, those are answered from memory: on the 300-incident demo that is
    about 11,600 fewer SELECTs of ~47,000 (measured by counting cursor executes). The demo
    never edits these rows after the directory stage, and the services re-read whatever must be
    current (the actor, the incident) with `populate_existing`, so nothing written changes.
    """
    rows: list[object] = []
    for model in (User, Group, Service, ConfigItem, SlaPolicyRow, BusinessCalendarRow):
        rows.extend(session.exec(select(model)).all())
    return rows


def _load_directory(
    session: Session,
    clock: FixedClock,
    options: DemoOptions,
    maintenance: dict[str, tuple[str, ...]],
) -> _Cast:
    admin = directory.resolve_actor(session, clock, DEMO_ADMIN)
    if admin.role != Role.ADMIN.value:
        raise ValidationFailed(f"demo needs '{DEMO_ADMIN}' to be the first user (admin)")
    for name, _escalates, description in GROUPS:
        directory.add_group(
            session,
            admin,
            clock,
            validate(directory.GroupCreate, name=name, description=description),
        )
    # Escalation targets form cycles, so link them after every group exists.
    for name, escalates, _ in GROUPS:
        directory.set_escalation_group(session, admin, clock, name, escalates)
    for username, display, role, groups in USERS:
        if username == DEMO_ADMIN:
            continue
        directory.add_user(
            session,
            admin,
            clock,
            validate(
                directory.UserCreate,
                username=username,
                display_name=display,
                role=role,
                groups=groups,
                email=f"{username}@example.com",
            ),
        )
    admin_groups = next(groups for name, _, _, groups in USERS if name == DEMO_ADMIN)
    for group in admin_groups:
        directory.add_group_member(session, admin, clock, group, DEMO_ADMIN)
    acting = (options.acting_user or "").strip()
    if acting and directory.find_user(session, acting) is None:
        directory.add_user(
            session,
            admin,
            clock,
            validate(
                directory.UserCreate,
                username=acting,
                role=Role.SUPERVISOR,
                groups=("Service Desk",),
            ),
        )
    for service, criticality, _owner, cis in SERVICES:
        directory.add_service(
            session,
            admin,
            clock,
            validate(directory.ServiceCreate, name=service, criticality=criticality),
        )
        for ci_class, ci in cis:
            directory.add_config_item(
                session,
                admin,
                clock,
                validate(
                    directory.ConfigItemCreate,
                    name=ci,
                    service=service,
                    ci_class=ci_class,
                    maintenance=maintenance.get(ci, ()),
                ),
            )
    users = {u.username: u for u in session.exec(select(User)).all()}
    members = {
        group: [u for u, _, role, groups in USERS if group in groups and role is Role.AGENT]
        for group, _, _ in GROUPS
    }
    supervisors = [u for u, _, role, _ in USERS if role is Role.SUPERVISOR]
    return _Cast(
        users=users,
        members=members,
        supervisors=supervisors,
        reference=_reference_rows(session),
    )


def _load_incidents(
    session: Session,
    rng: random.Random,
    now: datetime,
    cast: _Cast,
    count: int,
    blame: ChangeBlame,
    tell: Progress,
) -> None:
    opened_times = sorted(
        now - timedelta(seconds=rng.randint(60, WINDOW_DAYS * 86_400)) for _ in range(count)
    )
    tell("incidents", 0, count)
    for done, opened_at in enumerate(opened_times, start=1):
        _one_incident(session, rng, now, cast, opened_at, blame)
        tell("incidents", done, count)


def _pick_state(rng: random.Random, age_days: float) -> IncidentState:
    weights = next(w for limit, w in STATE_WEIGHTS if age_days < limit)
    states, values = zip(*weights.items(), strict=True)
    return rng.choices(states, values)[0]


def _one_incident(
    session: Session,
    rng: random.Random,
    now: datetime,
    cast: _Cast,
    opened_at: datetime,
    blame: ChangeBlame,
) -> None:
    service, _criticality, owner, cis = rng.choice(SERVICES)
    _ci_class, ci = rng.choice(cis)
    category, template = rng.choice(TITLES)
    site, caller = rng.choice(SITES), rng.choice(CALLERS)
    fill = {"service": service, "ci": ci, "site": site, "caller": caller}
    impact = rng.choices([1, 2, 3], IMPACT_WEIGHTS)[0]
    urgency = rng.choices([1, 2, 3], URGENCY_WEIGHTS)[0]
    first_line = rng.random() < 0.6
    group = "Service Desk" if first_line else owner
    logger = rng.choice(cast.members["Service Desk"])
    clock = FixedClock(opened_at)
    record = incidents.create_incident(
        session,
        cast.users[logger],
        clock,
        validate(
            incidents.IncidentCreate,
            title=template.format(**fill),
            description=rng.choice(DESCRIPTIONS).format(hour=rng.randint(7, 18), **fill),
            impact=impact,
            urgency=urgency,
            service=service,
            ci=ci,
            category=category,
            group=group,
            caller=caller,
        ),
    )
    number = record.number
    final = _pick_state(rng, (now - opened_at).total_seconds() / 86_400)
    horizon = now - timedelta(seconds=30)

    def step(minutes_low: int, minutes_high: int) -> bool:
        """Advance the incident's clock; False when that would pass the present."""
        target = clock.now() + timedelta(minutes=rng.randint(minutes_low, minutes_high))
        if target >= horizon:
            return False
        clock.set(target)
        return True

    triager = logger if first_line else rng.choice(cast.members[group])
    if final is IncidentState.CANCELLED:
        if step(5, 240):
            incidents.transition(
                session, cast.users[triager], clock, number, IncidentState.CANCELLED,
                reason="Duplicate of an existing ticket; caller informed.",
            )  # fmt: skip
        return
    if final is IncidentState.NEW:
        if rng.random() < 0.4 and step(2, 60):
            incidents.add_note(
                session, cast.users[logger], clock, number, "Triage: gathering details."
            )
        return

    if first_line and rng.random() < 0.25 and step(10, 180):
        incidents.escalate(
            session, cast.users[logger], clock, number, reason=rng.choice(ESCALATION_REASONS),
            to_group=owner if owner != "Service Desk" else None,
        )  # fmt: skip
        group = owner
    worker = rng.choice(cast.members[group])
    if not step(3, 90):
        return
    incidents.update_incident(
        session,
        cast.users[worker],
        clock,
        number,
        incidents.IncidentChanges(assignee=worker, state=IncidentState.IN_PROGRESS),
        action="assign",
    )
    # No draw from `rng` here: blaming a change must not shift the rest of the dataset.
    cause = blame.claim(service, opened_at)
    if cause is not None:
        cause_number, cause_title = cause
        incidents.update_incident(
            session,
            cast.users[worker],
            clock,
            number,
            incidents.IncidentChanges(
                caused_by=cause_number,
                reason=f"Traced to {cause_number} ({cause_title}).",
            ),
        )
    if impact == 1 and urgency == 1 and rng.random() < 0.5 and step(1, 15):
        incidents.set_major(
            session, cast.users[rng.choice(cast.supervisors)], clock, number, True,
            reason="Wide business impact; major incident process started.",
        )  # fmt: skip
    for _ in range(rng.randint(0, 3)):
        if not step(10, 240):
            return
        if rng.random() < 0.4:
            text = rng.choice(COMMENTS).format(**fill)
            incidents.add_note(session, cast.users[worker], clock, number, text, comment=True)
        else:
            text = rng.choice(WORK_NOTES).format(**fill)
            incidents.add_note(session, cast.users[worker], clock, number, text)
    if final is IncidentState.IN_PROGRESS:
        return
    if final is IncidentState.ON_HOLD or rng.random() < 0.15:
        if not step(10, 120):
            return
        reason = rng.choice(list(HoldReason))
        incidents.transition(
            session, cast.users[worker], clock, number, IncidentState.ON_HOLD, hold_reason=reason
        )
        if final is IncidentState.ON_HOLD:
            return
    hours = RESOLVE_HOURS[impact + urgency - 1]
    if not step(30, int(hours * 60 * 1.5)):
        return
    incidents.transition(
        session,
        cast.users[worker],
        clock,
        number,
        IncidentState.RESOLVED,
        resolution_code=rng.choices(list(ResolutionCode), [50, 25, 10, 8, 7])[0],
        resolution_notes=rng.choice(RESOLUTIONS).format(**fill),
    )
    if final is IncidentState.CLOSED and step(60 * 24, 60 * 24 * 3):
        incidents.transition(session, cast.users[worker], clock, number, IncidentState.CLOSED)
