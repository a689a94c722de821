"""Crash safety: a writer killed with SIGKILL in the middle of a stream of writes loses none
of the writes it saw committed and leaves no half-written record (SQLite with its WAL file
left behind, and PostgreSQL).

The writer (`python -m tests.concurrency_workers crash-writer URL`) creates an incident, notes
it, assigns and starts it, again and again, printing a line after each commit returns. The
test kills it once it has reported some cycles, then opens the database with a new engine
and checks every reported write, every record's companions (audit rows, feed event, SLA
clocks, journal entries), the numbering, SQLite's own integrity check, and that the next
write succeeds.
"""

from __future__ import annotations

import os
import select as io_select
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

from sqlalchemy import text
from sqlmodel import col, select

from itsm_tui.clock import SystemClock
from itsm_tui.domain.enums import JournalKind, RecordType
from itsm_tui.services import incidents, slas
from itsm_tui.services.audit_verify import verify_audit_chain
from itsm_tui.services.sla_verify import verify_clocks
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database, open_database
from itsm_tui.store.models import (
    AuditEntry,
    FeedEvent,
    Incident,
    JournalEntry,
    NumberSequence,
    SlaClockRow,
    User,
)
from tests.concurrency_workers import CRASH_ACTOR
from tests.conftest import Desk

REPO = Path(__file__).resolve().parents[1]
KILL_AFTER_LINES = 24  # eight full create/note/update cycles reported, then SIGKILL
START_TIMEOUT_S = 60


def run_and_kill(url: str) -> list[str]:
    """Start the writer, SIGKILL it once it has reported enough commits (without waiting for
    a pause: it writes without one), and return every line it reported."""
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.concurrency_workers", "crash-writer", url],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )
    assert writer.stdout is not None and writer.stderr is not None
    received = b""
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while received.count(b"\n") < KILL_AFTER_LINES:
            assert writer.poll() is None, writer.stderr.read().decode()
            assert time.monotonic() < deadline, "the writer reported too few commits"
            ready, _, _ = io_select.select([writer.stdout], [], [], 0.5)
            if ready:
                received += os.read(writer.stdout.fileno(), 65536)
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    received += writer.stdout.read()  # what it printed before dying is committed too
    writer.stdout.close()
    writer.stderr.close()
    return [line for line in received.decode().splitlines() if line]


def test_a_writer_killed_mid_stream_loses_no_committed_write_and_half_writes_nothing(
    db_url: str, database: Database, desk: Desk
) -> None:
    slas.ensure_defaults(desk.session, desk.clock, "UTC")
    desk.session.commit()
    desk.session.close()
    database.dispose()  # the writer alone has the database open when it dies

    lines = run_and_kill(database.url)

    if database.engine.dialect.name == "sqlite":
        wal = Path(str(database.engine.url.database) + "-wal")
        assert wal.exists() and wal.stat().st_size > 0, "the killed writer left no WAL file"
    reopened = open_database(db_url)  # a new engine: what a restarted client sees
    try:
        check_reported_writes(reopened, lines)
        check_nothing_half_written(reopened)
        if reopened.engine.dialect.name == "sqlite":
            with reopened.engine.connect() as connection:
                assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        check_next_write(reopened)
    finally:
        reopened.dispose()


def check_reported_writes(database: Database, lines: list[str]) -> None:
    created = [line.split()[1] for line in lines if line.startswith("incident ")]
    notes = [tuple(line.split(maxsplit=2)[1:]) for line in lines if line.startswith("note ")]
    updates = [line.split()[1:] for line in lines if line.startswith("update ")]
    assert len(created) >= KILL_AFTER_LINES // 3 and notes and updates, lines
    with database.session() as session:
        stored = {i.number: i for i in session.exec(select(Incident))}
        missing = [n for n in created if n not in stored]
        assert missing == [], f"reported incidents lost: {missing}"
        # At most the one write in flight may have committed without being reported.
        assert len(stored) - len(created) <= 1
        number_of = {i.id: n for n, i in stored.items()}
        bodies = {
            (number_of[j.record_id], j.body)
            for j in session.exec(select(JournalEntry))
            if j.kind == JournalKind.WORK_NOTE.value
        }
        lost_notes = [n for n in notes if n not in bodies]
        assert lost_notes == [], f"reported notes lost: {lost_notes}"
        bob = session.exec(select(User).where(User.username == "bob")).one()
        for number, version in updates:
            incident = stored[number]  # nothing writes it after its reported update
            assert (incident.version, incident.state, incident.assignee_id) == (
                int(version),
                "in_progress",
                bob.id,
            ), number


def check_nothing_half_written(database: Database) -> None:
    """Every incident has its creation audit, feed events matching its audited writes and
    notes, and its SLA clocks; no audit, journal, feed or clock row points at nothing; the
    numbering has no gap."""
    with database.session() as session:
        incidents_by_id = {i.id: i for i in session.exec(select(Incident))}
        audit_at: dict[int, list[datetime]] = defaultdict(list)
        for entry in session.exec(
            select(AuditEntry)
            .where(AuditEntry.record_type == RecordType.INCIDENT.value)
            .order_by(col(AuditEntry.id))
        ):
            assert entry.record_id in incidents_by_id, f"audit #{entry.id} of no incident"
            if not audit_at[entry.record_id] or audit_at[entry.record_id][-1] != entry.at:
                audit_at[entry.record_id].append(entry.at)
        events: dict[int, Counter[str]] = defaultdict(Counter)
        for event in session.exec(
            select(FeedEvent).where(FeedEvent.record_type == RecordType.INCIDENT.value)
        ):
            assert event.record_id in incidents_by_id, f"feed event #{event.id} of no incident"
            events[event.record_id][event.action] += 1
        notes: Counter[int] = Counter()
        for entry in session.exec(select(JournalEntry)):
            assert entry.record_id in incidents_by_id, f"journal #{entry.id} of no incident"
            notes[entry.record_id] += entry.kind == JournalKind.WORK_NOTE.value
        clocks: Counter[int] = Counter()
        for clock in session.exec(select(SlaClockRow)):
            assert clock.incident_id in incidents_by_id, f"SLA clock #{clock.id} of no incident"
            clocks[clock.incident_id] += 1
        for incident_id, incident in incidents_by_id.items():
            label = incident.number
            assert audit_at[incident_id][:1] == [incident.opened_at], f"{label}: no create audit"
            assert events[incident_id]["create"] == 1, f"{label}: no create event"
            assert events[incident_id]["work_note"] == notes[incident_id], label
            writes = events[incident_id]["assign"] + events[incident_id]["transition"]
            assert len(audit_at[incident_id]) == 1 + writes == incident.version, label
            assert clocks[incident_id] >= 1, f"{label}: no SLA clocks"
        sequence = session.get(NumberSequence, "INC")
        assert sequence is not None and sequence.last_value == len(incidents_by_id)
        assert sorted(i.number for i in incidents_by_id.values()) == [
            f"INC{n:07d}" for n in range(1, len(incidents_by_id) + 1)
        ]
        report = verify_clocks(session, SystemClock().now())  # the writer's clock
        assert report.mismatches == [], [m.describe() for m in report.mismatches]
        chain = verify_audit_chain(session, SystemClock().now())  # no torn chain either
        assert chain.ok and chain.entries_checked == chain.chain_length, chain.breaks


def check_next_write(database: Database) -> None:
    with database.session() as session:
        sue = session.exec(select(User).where(User.username == CRASH_ACTOR)).one()
        clock = SystemClock()
        count = len(session.exec(select(Incident.id)).all())
        record = incidents.create_incident(
            session,
            sue,
            clock,
            validate(incidents.IncidentCreate, title="after the crash", impact=2, urgency=2),
        )
        assert record.number == f"INC{count + 1:07d}"
        incidents.add_note(session, sue, clock, record.number, "still writing")
    with database.session() as session:
        assert incidents.incident_detail(session, record.number).journal[-1].body == (
            "still writing"
        )
