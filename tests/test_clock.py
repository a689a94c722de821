"""The clock: FixedClock moves only when told, refuses naive datetimes, and nothing else in the
package reads the wall clock (issue item 5)."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import itsm_tui
from itsm_tui.clock import Clock, FixedClock, SystemClock, ensure_utc

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_fixed_clock_stands_still_until_moved() -> None:
    clock = FixedClock(T0)
    assert clock.now() == T0
    assert clock.now() == T0
    assert clock.now().tzinfo is UTC


def test_advance_by_timedelta_and_by_keywords_returns_the_new_time() -> None:
    clock = FixedClock(T0)
    assert clock.advance(timedelta(hours=2)) == T0 + timedelta(hours=2)
    assert clock.advance(minutes=30, seconds=15) == T0 + timedelta(hours=2, minutes=30, seconds=15)
    assert clock.now() == T0 + timedelta(hours=2, minutes=30, seconds=15)
    assert clock.advance() == clock.now()  # no argument: a zero step, not an error


def test_advance_across_a_daylight_saving_change_is_exact_in_utc() -> None:
    # 2026-03-29 01:00 UTC is when Europe/Berlin springs forward; UTC arithmetic must not care.
    clock = FixedClock(datetime(2026, 3, 29, 0, 30, tzinfo=UTC))
    assert clock.advance(hours=1) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_set_jumps_to_any_instant_even_backwards() -> None:
    clock = FixedClock(T0)
    earlier = T0 - timedelta(days=3)
    clock.set(earlier)
    assert clock.now() == earlier


def test_aware_non_utc_times_are_normalised_to_utc() -> None:
    berlin = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    clock = FixedClock(berlin)
    assert clock.now() == T0
    assert clock.now().utcoffset() == timedelta(0)
    clock.set(datetime(2026, 3, 2, 4, 0, tzinfo=timezone(timedelta(hours=-5))))
    assert clock.now() == T0
    assert clock.now().tzinfo is UTC


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 3, 2, 9, 0)
    with pytest.raises(ValueError, match="no time zone"):
        FixedClock(naive)
    clock = FixedClock(T0)
    with pytest.raises(ValueError, match="no time zone"):
        clock.set(naive)
    assert clock.now() == T0  # a refused set leaves the clock where it was
    with pytest.raises(ValueError):
        ensure_utc(naive)


def test_system_clock_reads_aware_utc_now() -> None:
    clock: Clock = SystemClock()
    before = datetime.now(UTC)
    now = clock.now()
    after = datetime.now(UTC)
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
    assert before <= now <= after


def test_both_clocks_satisfy_the_protocol() -> None:
    clocks: list[Clock] = [SystemClock(), FixedClock(T0)]
    assert all(isinstance(c.now(), datetime) for c in clocks)


# Reading the wall clock anywhere else would make SLA maths, demo data and snapshots
# non-deterministic. Durations (time.monotonic, perf_counter) are not the wall clock.
_WALL_CLOCK_METHODS = {"now", "utcnow", "today", "fromtimestamp", "utcfromtimestamp"}
_TIME_FUNCTIONS = {"time", "time_ns", "localtime", "gmtime", "ctime", "asctime", "strftime"}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _wall_clock_reads(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            owner = _dotted(node.value)
            if node.attr in _WALL_CLOCK_METHODS and owner.split(".")[-1] in ("datetime", "date"):
                found.append((node.lineno, f"{owner}.{node.attr}"))
            if node.attr in _TIME_FUNCTIONS and owner == "time":
                found.append((node.lineno, f"time.{node.attr}"))
        elif isinstance(node, ast.ImportFrom) and node.module == "time":
            found += [
                (node.lineno, f"from time import {alias.name}")
                for alias in node.names
                if alias.name in _TIME_FUNCTIONS
            ]
    return found


def test_no_module_but_clock_reads_the_wall_clock() -> None:
    package = Path(itsm_tui.__file__).parent
    offenders = []
    for path in sorted(package.rglob("*.py")):
        if path.name == "clock.py" and path.parent == package:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        offenders += [
            f"{path.relative_to(package)}:{line}: {what}" for line, what in _wall_clock_reads(tree)
        ]
    assert offenders == [], "take a Clock instead of reading the wall clock:\n" + "\n".join(
        offenders
    )


def test_the_wall_clock_scan_catches_the_usual_spellings() -> None:
    source = (
        "import datetime, time\n"
        "from time import time as t\n"
        "datetime.datetime.now()\n"
        "datetime.date.today()\n"
        "time.time()\n"
    )
    found = sorted(what for _, what in _wall_clock_reads(ast.parse(source)))
    assert found == [
        "datetime.date.today",
        "datetime.datetime.now",
        "from time import time",
        "time.time",
    ]
