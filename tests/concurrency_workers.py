"""Code that runs in other processes for the concurrency and crash-safety tests.

`random_writer` is the body of one of the N writer processes of
`test_concurrency_proofs.py`: it assigns, moves and notes the shared incidents at random,
each field write with `expect_version` from its last read, and logs every attempt with the
outcome the read predicted, so the test can judge every acceptance and every refusal.

`python -m tests.concurrency_workers crash-writer URL` is the writer that
`test_crash_safety.py` kills with SIGKILL: it writes incidents, notes and updates without
pause and prints a line for each one only after its commit returned.

Both are plain module-level functions so the "forkserver" (or "spawn") start method can
import them: a child forked from the test process would inherit its SQLAlchemy engines and
their open connections.
"""

from __future__ import annotations

import json
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session

from itsm_tui.domain.enums import HoldReason, IncidentState, ResolutionCode
from itsm_tui.domain.workflow import allowed_targets
from itsm_tui.services import directory, incidents
from itsm_tui.services.errors import ServiceError
from itsm_tui.services.records import IncidentRecord
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database, open_database
from itsm_tui.store.models import User

# Who may join which group on the seeded desk (tests/conftest.py seed_directory).
MEMBERS = {"alice": {"Service Desk"}, "bob": {"Network"}, "sue": {"Service Desk", "Network"}}
ASSIGNEES = ["alice", "bob", "sue", "none", None]
GROUPS = ["Service Desk", "Network", None]
# Weighted targets: mostly the working states, rarely the absorbing ones, so most incidents
# stay writable for the whole run while closed and cancelled ones still occur.
TARGETS = {
    IncidentState.NEW: 1.0,
    IncidentState.IN_PROGRESS: 4.0,
    IncidentState.ON_HOLD: 3.0,
    IncidentState.RESOLVED: 3.0,
    IncidentState.CLOSED: 0.3,
    IncidentState.CANCELLED: 0.3,
}
OPERATIONS = {"assign": 4.0, "transition": 4.0, "note": 2.0}
REREAD_CHANCE = 0.3  # otherwise write with the version of the last read, however old
HOT, HOT_CHANCE = 5, 0.5  # half the writes go to the first five incidents: real contention
MIN_ATTEMPTS = 15  # per process, however slow the machine, so every kind of outcome occurs
OK = "ok"


class UniqueClock:
    """Real elapsed time mapped onto a fixed base, unique across the writer processes.

    The microsecond is rounded down to a multiple of `count` plus this process's `index`, and
    forced to increase within the process, so every service call gets an instant no other
    call anywhere got: the audit rows and feed event of a write are found by their `at`.
    """

    def __init__(self, base: datetime, epoch: float, index: int, count: int) -> None:
        self.base, self.epoch, self.index, self.count = base, epoch, index, count
        self._last = -1
        self.calls = 0
        self.last = base

    def now(self) -> datetime:
        micros = int((time.time() - self.epoch) * 1_000_000)
        micros = micros - micros % self.count + self.index
        if micros <= self._last:
            micros = self._last + self.count
        self._last = micros
        self.calls += 1
        self.last = self.base + timedelta(microseconds=micros)
        return self.last


@dataclass(frozen=True)
class WriterSpec:
    url: str
    index: int
    count: int
    seed: int
    seconds: float
    epoch: float
    base: datetime
    numbers: list[str]
    actors: list[str]
    log_path: str


@dataclass
class Attempt:
    """One write as the process saw it: what it read, what it asked, what it predicted (from
    the read, exact whenever the version still matched), and what happened."""

    worker: int
    seq: int
    op: str
    number: str
    actor: str
    expect_version: int | None
    read_version: int
    read_state: str
    args: dict[str, Any]
    predicted: str
    outcome: str = ""
    message: str = ""
    at: str = ""
    clock_calls: int = 0
    result: dict[str, Any] = field(default_factory=dict)


def predict_assign(read: IncidentRecord, assignee: str | None, group: str | None) -> str:
    """The refusal (class name) or OK the service owes this assignment of `read`."""
    if not IncidentState(read.state).is_open:
        return "InvalidTransition"  # resolved: reopen first; closed/cancelled: final
    if assignee in (None, "none"):
        return OK
    target_group = group if group is not None else read.group
    if target_group is not None and target_group not in MEMBERS[assignee]:
        return "ValidationFailed"  # not a member of the group it would be in
    return OK


def predict_transition(read: IncidentRecord, target: IncidentState, reason: str | None) -> str:
    state = IncidentState(read.state)
    if state in (IncidentState.CLOSED, IncidentState.CANCELLED):
        return "InvalidTransition"
    if target is state:
        return OK  # open: a no-op; on_hold: a new reason; resolved: new resolution notes
    if target not in allowed_targets(state):
        return "InvalidTransition"
    if state is IncidentState.RESOLVED and target is IncidentState.IN_PROGRESS and not reason:
        return "InvalidTransition"  # a reopen needs a reason
    return OK


def _user_id(session: Session, username: str) -> int:
    user = directory.find_user(session, username)
    assert user is not None and user.id is not None, username
    return user.id


def _record_values(record: IncidentRecord) -> dict[str, Any]:
    return {
        "version": record.version,
        "state": record.state,
        "group": record.group,
        "assignee": record.assignee,
        "hold_reason": record.hold_reason,
        "resolution_notes": record.resolution_notes,
    }


def random_writer(spec: WriterSpec, barrier: Any) -> None:
    """Write at random for `spec.seconds` after every process is ready; log to JSON."""
    rng = random.Random(spec.seed * 1000 + spec.index)
    clock = UniqueClock(spec.base, spec.epoch, spec.index, spec.count)
    database = open_database(spec.url, migrate=False)
    with database.session() as session:
        actor_ids = {name: _user_id(session, name) for name in spec.actors}
    cache: dict[str, IncidentRecord] = {}
    log: list[Attempt] = []
    barrier.wait(timeout=120)
    deadline = time.monotonic() + spec.seconds
    seq = 0
    while time.monotonic() < deadline or seq < MIN_ATTEMPTS:
        seq += 1
        hot = rng.random() < HOT_CHANCE
        number = rng.choice(spec.numbers[:HOT] if hot else spec.numbers)
        if number not in cache or rng.random() < REREAD_CHANCE:
            with database.session() as session:
                cache[number] = incidents.get_incident(session, number)
        read = cache[number]
        op = rng.choices(list(OPERATIONS), weights=list(OPERATIONS.values()))[0]
        actor_name = rng.choice(spec.actors)
        attempt = Attempt(
            worker=spec.index,
            seq=seq,
            op=op,
            number=number,
            actor=actor_name,
            expect_version=read.version if op != "note" else None,
            read_version=read.version,
            read_state=read.state,
            args={},
            predicted=OK,
        )
        tag = f"w{spec.index}-{seq}"
        with database.session() as session:
            actor = session.get(User, actor_ids[actor_name])
            assert actor is not None
            calls_before = clock.calls
            try:
                result = _attempt(session, actor, clock, rng, read, attempt, tag)
            except ServiceError as error:
                attempt.outcome, attempt.message = type(error).__name__, str(error)
                cache.pop(number, None)  # read again before the next write
            except Exception as error:  # logged for the test to fail on, with the reason
                attempt.outcome, attempt.message = type(error).__name__, repr(error)
                cache.pop(number, None)
            else:
                attempt.outcome = OK
                if isinstance(result, IncidentRecord):
                    attempt.result = _record_values(result)
                    cache[number] = result
            attempt.at = clock.last.isoformat()
            attempt.clock_calls = clock.calls - calls_before
        log.append(attempt)
    database.dispose()
    Path(spec.log_path).write_text(json.dumps([asdict(a) for a in log]))


def _attempt(
    session: Session,
    actor: User,
    clock: UniqueClock,
    rng: random.Random,
    read: IncidentRecord,
    attempt: Attempt,
    tag: str,
) -> object:
    """Choose and make one write; fills in the attempt's arguments and prediction first."""
    number, expect = attempt.number, attempt.expect_version
    if attempt.op == "note":
        body = f"note {tag}"
        attempt.args = {"body": body}
        return incidents.add_note(session, actor, clock, number, body)
    if attempt.op == "assign":
        assignee = group = None
        while assignee is None and group is None:
            assignee, group = rng.choice(ASSIGNEES), rng.choice(GROUPS)
        attempt.args = {"assignee": assignee, "group": group}
        attempt.predicted = predict_assign(read, assignee, group)
        return incidents.assign(
            session, actor, clock, number, assignee=assignee, group=group, expect_version=expect
        )
    target = rng.choices(list(TARGETS), weights=list(TARGETS.values()))[0]
    extra: dict[str, Any] = {}
    if target is IncidentState.ON_HOLD:
        extra["hold_reason"] = rng.choice(list(HoldReason)).value
    if target is IncidentState.RESOLVED:
        extra["resolution_code"] = rng.choice(list(ResolutionCode)).value
        extra["resolution_notes"] = f"fixed {tag}"
    if read.state == IncidentState.RESOLVED.value and rng.random() < 0.8:
        extra["reason"] = f"reopened {tag}"
    attempt.args = {"state": target.value, **extra}
    attempt.predicted = predict_transition(read, target, extra.get("reason"))
    return incidents.transition(
        session, actor, clock, number, target, expect_version=expect, **extra
    )


# ---------------------------------------------------------------------------- crash writer

CRASH_ACTOR = "sue"


def crash_writer(url: str) -> None:
    """Create an incident, note it and move it on, again and again, printing after each
    commit: `incident NUMBER`, `note NUMBER BODY`, `update NUMBER VERSION`. Runs until
    killed. Uses the system clock: it is a separate program, like a real client."""
    from itsm_tui.clock import SystemClock

    database: Database = open_database(url, migrate=False)
    clock = SystemClock()
    with database.session() as session:
        actor_id = _user_id(session, CRASH_ACTOR)
    i = 0
    while True:
        i += 1
        with database.session() as session:
            user = session.get(User, actor_id)
            assert user is not None
            data = validate(
                incidents.IncidentCreate,
                title=f"crash stream {i}",
                impact=1 + i % 3,
                urgency=1 + (i // 3) % 3,
                group="Network",
            )
            number = incidents.create_incident(session, user, clock, data).number
            _say(f"incident {number}")
            body = f"crash note {i}"
            incidents.add_note(session, user, clock, number, body)
            _say(f"note {number} {body}")
            record = incidents.assign(session, user, clock, number, assignee="bob")
            record = incidents.transition(session, user, clock, number, "in_progress")
            _say(f"update {number} {record.version}")


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "crash-writer":
        sys.exit("usage: python -m tests.concurrency_workers crash-writer URL")
    crash_writer(sys.argv[2])
