"""Concurrency proof: N processes write at random to the same 50 incidents, then every
acceptance and every refusal is checked against what the database holds.

Each process (tests/concurrency_workers.py, forked from a clean "forkserver") assigns, moves
and notes incidents for a bounded time, field writes carrying `expect_version` from its last
read, and logs each attempt with its `at` (unique across processes), the outcome, and the
outcome its read predicted. Afterwards:
- every accepted field write is the audit group with its `at`, at the version it reported, with
  the values it reported, and announced by one feed event; every accepted note is journaled
  once; nothing refused or no-op left a row;
- every refusal is a `Conflict` whose reported version was really newer than the one read (or
  the database's "busy" refusal), or exactly the InvalidTransition / ValidationFailed that
  the read predicted (which is exact: the version matched, so the state was the one read); a
  refused note met an incident that ended (closed/cancelled are final);
- per incident, the audit trail replayed old -> new chains without a gap and ends at the
  final state, field by field, and the versions of accepted writes are 2, 3, ... final;
- `itsm sla verify` (through the CLI) finds every SLA clock equal to its replay;
- a feed reader polling during the run (ids after the last one seen, as clients do) saw every
  event: ids commit in order on both engines.

One more test covers a hazard the proof cannot reach (its field writes all carry
expect_version): a write that read the clock before another write committed must still land
after it in time, so the SLA clocks and their replay keep commit order.

ITSM_CONCURRENCY_PROCESSES (default 8) and ITSM_CONCURRENCY_SECONDS (default 2.5) tune it.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from itsm_tui.clock import FixedClock
from itsm_tui.domain.enums import IncidentState, JournalKind, RecordType
from itsm_tui.services import incidents, slas
from itsm_tui.services.history import audit_value
from itsm_tui.services.incident_changes import load_incident
from itsm_tui.services.incident_views import audited_fields
from itsm_tui.store.database import Database
from itsm_tui.store.feed import events_since, latest_event_id
from itsm_tui.store.models import AuditEntry, FeedEvent, Incident, JournalEntry
from tests.cli_helpers import Cli
from tests.concurrency_workers import OK, WriterSpec, random_writer
from tests.conftest import T0, Desk
from tests.service_helpers import make

PROCESSES = int(os.environ.get("ITSM_CONCURRENCY_PROCESSES", "8"))
SECONDS = float(os.environ.get("ITSM_CONCURRENCY_SECONDS", "2.5"))
INCIDENTS = 50
ACTORS = ["sue", "root"]  # supervisor and admin: every incident write is theirs to make
STALE = re.compile(r"is at version (\d+), not (\d+)")
FINAL = {IncidentState.CLOSED.value, IncidentState.CANCELLED.value}
# What the returned record reports, by the audited field it comes from.
REPORTED = ("state", "group", "assignee", "hold_reason", "resolution_notes")


def run_writers(database: Database, numbers: list[str], tmp_path: Path) -> list[dict[str, Any]]:
    """Start the writers from the fork server, together, and return every attempt logged."""
    context = multiprocessing.get_context("forkserver")
    # The fork server imports the worker module (and with it SQLAlchemy and the services)
    # once; each writer is then a fork of that clean server, never of this process and its
    # engines, and starts in milliseconds instead of re-importing everything.
    context.set_forkserver_preload(["tests.concurrency_workers"])
    barrier = context.Barrier(PROCESSES + 1)
    epoch = time.time()  # one epoch for all, so their clocks share a time line
    specs = [
        WriterSpec(
            url=database.url,
            index=index,
            count=PROCESSES,
            seed=int(os.environ.get("ITSM_CONCURRENCY_SEED", "8")),
            seconds=SECONDS,
            epoch=epoch,
            base=T0 + timedelta(minutes=1),
            numbers=numbers,
            actors=ACTORS,
            log_path=str(tmp_path / f"writer-{index}.json"),
        )
        for index in range(PROCESSES)
    ]
    processes = [context.Process(target=random_writer, args=(spec, barrier)) for spec in specs]
    listener = LiveReader(database)
    for process in processes:
        process.start()
    try:
        barrier.wait(timeout=120)
        listener.start()
        for process in processes:
            process.join(timeout=SECONDS + 120)
    finally:
        listener.stop()
        for process in processes:
            if process.is_alive():
                process.kill()
    assert [p.exitcode for p in processes] == [0] * PROCESSES, "a writer process failed"
    listener.check_saw_every_event()
    return [a for spec in specs for a in json.loads(Path(spec.log_path).read_text())]


class LiveReader:
    """A feed reader polling while the writers run, as every client's listener does: it asks
    for events after the last id it saw. If ids committed out of order (a lower id committing
    after a higher one was read), it would skip that event for good; it must see them all."""

    def __init__(self, database: Database) -> None:
        self.database = database
        with database.session() as session:
            self.start_id = self.last_id = latest_event_id(session)
        self.seen: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._read()
            time.sleep(0.02)

    def _read(self) -> None:
        with self.database.session() as session:
            while events := events_since(session, self.last_id, limit=1000):
                self.seen += [e.id for e in events if e.id is not None]
                self.last_id = self.seen[-1]

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def check_saw_every_event(self) -> None:
        self._read()  # the tail written after its last poll
        with self.database.session() as session:
            stored = [e.id for e in events_since(session, self.start_id, limit=1_000_000)]
        skipped = sorted(set(stored) - set(self.seen))
        assert skipped == [], f"a live feed reader skipped events {skipped[:20]}"
        assert len(self.seen) == len(stored) > 0


class Facts:
    """What the database holds after the run, grouped per incident."""

    def __init__(self, database: Database, numbers: list[str]) -> None:
        with database.session() as session:
            incidents = {n: load_incident(session, n) for n in numbers}
            self.final = {
                n: {k: audit_value(v) for k, v in audited_fields(session, i).items()}
                for n, i in incidents.items()
            }
            self.version = {n: i.version for n, i in incidents.items()}
            number_of = {i.id: n for n, i in incidents.items()}
            self.audit: dict[str, list[AuditEntry]] = defaultdict(list)
            for entry in session.exec(
                select(AuditEntry)
                .where(AuditEntry.record_type == RecordType.INCIDENT.value)
                .order_by(col(AuditEntry.id))
            ):
                self.audit[number_of[entry.record_id]].append(entry)
            self.notes = Counter(
                (number_of[j.record_id], j.body)
                for j in session.exec(
                    select(JournalEntry).where(
                        JournalEntry.record_type == RecordType.INCIDENT.value,
                        JournalEntry.kind == JournalKind.WORK_NOTE.value,
                    )
                )
            )
            self.events = Counter(
                (e.record_number, e.action, e.at)
                for e in session.exec(
                    select(FeedEvent).where(FeedEvent.record_type == RecordType.INCIDENT.value)
                )
            )
            self.incident_count = len(session.exec(select(Incident.id)).all())

    def groups(self, number: str) -> list[tuple[datetime, dict[str, str | None]]]:
        """The incident's audit entries as writes: runs of one `at`, in commit order."""
        groups: list[tuple[datetime, dict[str, str | None]]] = []
        for entry in self.audit[number]:
            if not groups or groups[-1][0] != entry.at:
                groups.append((entry.at, {}))
            groups[-1][1][entry.field] = entry.new_value
        return groups


def check_history(facts: Facts, number: str, problems: list[str]) -> dict[datetime, int]:
    """Replay the incident's audit trail; return the version each write's `at` produced."""
    values: dict[str, str | None] = {}
    for entry in facts.audit[number]:
        if values.get(entry.field) != entry.old_value:
            problems.append(
                f"{number}: audit #{entry.id} says {entry.field} was {entry.old_value!r}, "
                f"the trail before it says {values.get(entry.field)!r} (a lost update)"
            )
        values[entry.field] = entry.new_value
    final = {k: v for k, v in facts.final[number].items() if v is not None}
    replayed = {k: v for k, v in values.items() if v is not None}
    if replayed != final:
        problems.append(f"{number}: audit replay {replayed} != final state {final}")
    groups = facts.groups(number)
    if len({at for at, _ in groups}) != len(groups):
        problems.append(f"{number}: one `at` split into several audit runs")
    if facts.version[number] != len(groups):  # the create is version 1, each write one more
        problems.append(
            f"{number}: version {facts.version[number]} after {len(groups) - 1} audited writes"
        )
    return {at: version for version, (at, _) in enumerate(groups, start=1)}


def check_attempt(
    attempt: dict[str, Any],
    facts: Facts,
    versions: dict[str, dict[datetime, int]],
    problems: list[str],
) -> None:
    """Judge one logged attempt against the database."""
    number, outcome, op = attempt["number"], attempt["outcome"], attempt["op"]
    at = datetime.fromisoformat(attempt["at"])
    label = f"w{attempt['worker']}#{attempt['seq']} {op} {number} {attempt['args']}"
    if attempt["clock_calls"] != 1:
        problems.append(f"{label}: read the clock {attempt['clock_calls']} times")
    written = at in versions[number]
    if op == "note":
        kept = facts.notes[(number, attempt["args"]["body"])]
        if outcome == OK and kept != 1:
            problems.append(f"{label}: accepted note journaled {kept} times")
        if outcome != OK and kept:
            problems.append(f"{label}: refused note ({outcome}) was journaled")
        if outcome == "ValidationFailed" and facts.final[number]["state"] not in FINAL:
            problems.append(f"{label}: note refused on an incident that never ended")
        elif outcome == "Conflict" and "busy" not in attempt["message"]:
            problems.append(f"{label}: a note (no version) refused as stale: {attempt['message']}")
        elif outcome not in (OK, "ValidationFailed", "Conflict"):
            problems.append(f"{label}: unexpected {outcome}: {attempt['message']}")
        if outcome == OK and facts.events[(number, "work_note", at)] != 1:
            problems.append(f"{label}: accepted note without its one feed event")
        return
    if outcome == OK:
        result, expected = attempt["result"], attempt["expect_version"]
        if attempt["predicted"] != OK:
            problems.append(f"{label}: accepted, but its read predicted {attempt['predicted']}")
        if result["version"] == expected:  # already as asked: nothing may be written
            if written or facts.events[(number, op, at)]:
                problems.append(f"{label}: a no-op left audit rows or a feed event")
        elif result["version"] != expected + 1:
            problems.append(f"{label}: version {expected} became {result['version']}")
        elif versions[number].get(at) != result["version"]:
            problems.append(
                f"{label}: reported version {result['version']}, the audit trail has this write "
                f"at version {versions[number].get(at)}"
            )
        else:
            group = dict(facts.groups(number))[at]
            for name in REPORTED:
                if name in group and group[name] != result[name]:
                    problems.append(f"{label}: audit {name}={group[name]!r}, reported {result}")
            if facts.events[(number, op, at)] != 1:
                problems.append(f"{label}: accepted write without its one feed event")
        return
    if written or facts.events[(number, op, at)]:
        problems.append(f"{label}: refused ({outcome}) but left audit rows or a feed event")
    if outcome == "Conflict":
        stale = STALE.search(attempt["message"])
        if stale is None:
            if "busy" not in attempt["message"]:
                problems.append(f"{label}: Conflict without a stale version: {attempt['message']}")
            return
        current, expected = int(stale.group(1)), int(stale.group(2))
        if not (expected == attempt["expect_version"] < current <= facts.version[number]):
            problems.append(f"{label}: Conflict at version {current} after reading {expected}")
    elif outcome != attempt["predicted"]:
        problems.append(
            f"{label}: {outcome} ({attempt['message']}) but the read (v{attempt['read_version']}, "
            f"{attempt['read_state']}) predicted {attempt['predicted']}"
        )


def test_concurrent_writers_lose_nothing_and_refuse_only_stale_or_invalid_writes(
    db_url: str,
    database: Database,
    desk: Desk,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    slas.ensure_defaults(desk.session, desk.clock, "UTC")
    numbers = [
        make(desk, "sue", impact=1 + i % 3, urgency=1 + (i // 3) % 3, title=f"shared {i}").number
        for i in range(INCIDENTS)
    ]
    desk.session.commit()  # hold no snapshot while the writers run

    attempts = run_writers(database, numbers, tmp_path)

    facts = Facts(database, numbers)
    problems: list[str] = []
    versions = {n: check_history(facts, n, problems) for n in numbers}
    for attempt in attempts:
        check_attempt(attempt, facts, versions, problems)
    accepted = [a for a in attempts if a["outcome"] == OK and a["op"] != "note"]
    changed = Counter(a["number"] for a in accepted if a["result"]["version"] > a["expect_version"])
    for number in numbers:  # every audited write is one accepted write: nothing unaccounted
        if changed[number] != facts.version[number] - 1:
            problems.append(
                f"{number}: {changed[number]} accepted writes changed it, but it is at "
                f"version {facts.version[number]}"
            )
    if sum(facts.notes.values()) != sum(a["op"] == "note" and a["outcome"] == OK for a in attempts):
        problems.append("work notes in the journal != accepted notes")
    assert facts.incident_count == INCIDENTS
    assert problems == [], "\n".join(problems[:30])

    outcomes = Counter((a["op"], a["outcome"]) for a in attempts)
    # The run must have exercised what it proves: accepted writes of each kind, stale-version
    # conflicts and workflow refusals, from every process.
    assert len({a["worker"] for a in attempts}) == PROCESSES
    for kind in [("assign", OK), ("transition", OK), ("note", OK)]:
        assert outcomes[kind] > 0, (kind, outcomes)
    assert outcomes[("assign", "Conflict")] + outcomes[("transition", "Conflict")] > 0, outcomes
    refusals = (
        outcomes[("transition", "InvalidTransition")] + outcomes[("assign", "InvalidTransition")]
    )
    assert refusals > 0, outcomes

    end = FixedClock(T0 + timedelta(hours=1))
    verify = Cli(db_url, end, capsys).run("sla", "verify", "--json")
    assert verify.code == 0, verify.out + verify.err
    report = verify.json()
    assert report["mismatches"] == [] and report["clocks_checked"] >= INCIDENTS


def test_a_write_that_read_the_clock_before_an_earlier_commit_keeps_the_sla_clocks_true(
    desk: Desk,
) -> None:
    """Two writers on one incident, neither checking the version: B reads the clock at t2 and
    commits first (on_hold); A had read it at t1 < t2, queued for the lock, then resolved it.
    FixedClocks replay that interleaving exactly. The incident is resolved, so its resolution
    clock must have stopped, not be paused on B's hold."""
    slas.ensure_defaults(desk.session, desk.clock, "UTC")
    number = make(desk, "sue").number
    sue = desk["sue"]
    start = T0 + timedelta(minutes=1)
    incidents.transition(desk.session, sue, FixedClock(start), number, "in_progress")
    t1, t2 = start + timedelta(minutes=9), start + timedelta(minutes=9, seconds=2)
    incidents.transition(
        desk.session, sue, FixedClock(t2), number, "on_hold", hold_reason="awaiting_caller"
    )
    incidents.transition(
        desk.session,
        sue,
        FixedClock(t1),
        number,
        "resolved",
        resolution_code="solved_workaround",
        resolution_notes="fixed",
    )
    detail = incidents.incident_detail(desk.session, number, now=start + timedelta(hours=1))
    assert detail.incident.state == IncidentState.RESOLVED.value
    stages = {clock.kind: clock.stage for clock in detail.sla}
    assert stages == {"response": "achieved", "resolution": "achieved"}
