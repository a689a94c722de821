"""Time SLA evaluator passes over many running clocks.

Seeds N running resolution clocks (default 100,000; `--quick`: 10,000) on P1 incidents
(24x7, 4 h target) straight into a fresh SQLite file, then times:
- an idle pass, where no clock has a threshold due (the common case, every 15 s);
- a busy pass, where about 1% of the clocks cross their 50% threshold (journal entry,
  notification, feed event each);
and, for each, a plain indexed SELECT of the same due rows, printing the ratios.

    python benchmarks/sla_evaluator.py [--quick] [--clocks N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select, text

from itsm_tui.clock import FixedClock
from itsm_tui.services import directory, slas
from itsm_tui.services.sla_evaluator import evaluate
from itsm_tui.store.database import open_database
from itsm_tui.store.models import Incident, SlaClockRow, SlaPolicyRow

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TARGET = 4 * 3600  # P1 resolution on 24x7
HALF = TARGET // 2


def seed(url: str, clocks: int) -> None:
    database = open_database(url)
    clock = FixedClock(T0)
    with database.session() as session:
        slas.ensure_defaults(session, clock, "UTC")
        admin = directory.resolve_actor(session, clock, "bench")
        policy_id = session.exec(
            select(SlaPolicyRow.id).where(SlaPolicyRow.priority == 1)
        ).scalar_one()
        admin_id = admin.id
    # Opened one second apart going back: clock i reaches 50% at T0 + HALF - i seconds.
    with database.engine.begin() as connection:
        step = 20_000
        for first in range(0, clocks, step):
            rows = []
            for i in range(first, min(first + step, clocks)):
                opened = T0 - timedelta(seconds=i)
                rows.append(
                    {
                        "id": i + 1,
                        "number": f"INC{i + 1:07d}",
                        "title": f"benchmark {i}",
                        "description": "",
                        "impact": 1,
                        "urgency": 1,
                        "priority": 1,
                        "state": "in_progress",
                        "major": False,
                        "opened_by_id": admin_id,
                        "assignee_id": admin_id,
                        "opened_at": opened,
                        "updated_at": opened,
                        "version": 1,
                    }
                )
            connection.execute(insert(Incident), rows)
            connection.execute(
                insert(SlaClockRow),
                [
                    {
                        "incident_id": r["id"],
                        "policy_id": policy_id,
                        "kind": "resolution",
                        "target_seconds": TARGET,
                        "started_at": r["opened_at"],
                        "paused_seconds": 0,
                        "due_at": r["opened_at"] + timedelta(seconds=TARGET),
                        "stage": "in_progress",
                        "fired": [],
                        "next_threshold": 50,
                        "next_check_at": r["opened_at"] + timedelta(seconds=HALF),
                        "created_at": r["opened_at"],
                    }
                    for r in rows
                ],
            )
        connection.execute(text("ANALYZE"))
    database.dispose()


def raw_select(url: str, now: datetime) -> tuple[float, int]:
    database = open_database(url)
    with database.engine.connect() as connection:
        started = time.perf_counter()
        rows = connection.execute(select(SlaClockRow).where(SlaClockRow.next_check_at <= now)).all()
        elapsed = time.perf_counter() - started
    database.dispose()
    return elapsed, len(rows)


def timed_pass(url: str, now: datetime) -> tuple[float, int, int]:
    database = open_database(url)
    with database.session() as session:
        started = time.perf_counter()
        result = evaluate(session, FixedClock(now), auto_close_days=0)
        elapsed = time.perf_counter() - started
    database.dispose()
    return elapsed, result.checked, len(result.fired)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 clocks")
    parser.add_argument("--clocks", type=int)
    args = parser.parse_args()
    clocks = args.clocks or (10_000 if args.quick else 100_000)
    due = max(1, clocks // 100)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.sqlite'}"
        started = time.perf_counter()
        seed(url, clocks)
        seed_s = time.perf_counter() - started
        # Clock i crosses 50% at T0 + HALF - i: at T0 + HALF - (clocks - due) exactly the
        # `due` oldest clocks are due; at T0 + HALF - clocks, none is yet.
        busy_now = T0 + timedelta(seconds=HALF - (clocks - due))
        idle_now = T0 + timedelta(seconds=HALF - clocks)
        idle_raw_s, idle_rows = raw_select(url, idle_now)
        idle_s, idle_checked, _ = timed_pass(url, idle_now)
        busy_raw_s, busy_rows = raw_select(url, busy_now)
        busy_s, busy_checked, busy_fired = timed_pass(url, busy_now)

    figures = {
        "clocks": clocks,
        "seed_s": round(seed_s, 2),
        "idle_pass_s": round(idle_s, 4),
        "idle_raw_select_s": round(idle_raw_s, 4),
        "idle_pass_vs_raw_select": round(idle_s / idle_raw_s, 1) if idle_raw_s else None,
        "busy_due_clocks": busy_rows,
        "busy_pass_s": round(busy_s, 3),
        "busy_raw_select_s": round(busy_raw_s, 4),
        "busy_pass_vs_raw_select": round(busy_s / busy_raw_s, 1) if busy_raw_s else None,
        "busy_fired": busy_fired,
    }
    assert idle_rows == 0 and idle_checked == 0, (idle_rows, idle_checked)
    assert busy_checked == busy_rows == due and busy_fired == due, (busy_checked, busy_fired)
    print(f"{'figure':<26}{'value':>12}")
    for name, value in figures.items():
        print(f"{name:<26}{value!s:>12}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
