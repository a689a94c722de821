"""Regenerate the README screenshots in `assets/` from the demo dataset.

Deterministic like the snapshot tests: the demo at seed 7 built at a fixed clock, no SLA
evaluator, no feed polling while the shot is taken. Run from the repository root:

    python tools/screenshots.py [--size 120x36] [--only queue,calendar,...]

Each view is opened through the same keys a user presses; a view whose screen does not exist
yet is skipped with a note.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual.app import App
from textual.pilot import Pilot

from itsm_tui.app import ITSMApp
from itsm_tui.clock import FixedClock
from itsm_tui.services.demo import DemoOptions, prepare_demo_database
from itsm_tui.wall import WallApp

SHOT_TIME = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
ASSETS = Path(__file__).resolve().parent.parent / "assets"
Steps = Callable[[Pilot[Any]], Awaitable[None]]


async def _keys(pilot: Pilot[Any], *keys: str) -> None:
    await pilot.press(*keys)
    for _ in range(6):
        await pilot.pause(0.1)


VIEWS: dict[str, Steps] = {
    "queue": lambda pilot: _keys(pilot),
    "calendar": lambda pilot: _keys(pilot, "2"),
    "board": lambda pilot: _keys(pilot, "3"),
    "dashboard": lambda pilot: _keys(pilot, "4"),
    "wall": lambda pilot: _keys(pilot),
}


def _app(url: str, name: str) -> App[Any]:
    if name == "wall":  # the NOC wall is its own read-only app; show its queue panel
        return WallApp(database_url=url, username="sam", clock=FixedClock(SHOT_TIME), rotate_s=3600)
    return ITSMApp(
        database_url=url,
        username="sam",
        clock=FixedClock(SHOT_TIME),
        run_evaluator=False,
        feed_interval_s=3600,
    )


async def shoot(url: str, name: str, steps: Steps, size: tuple[int, int]) -> Path:
    app = _app(url, name)
    async with app.run_test(size=size) as pilot:
        for _ in range(6):
            await pilot.pause(0.1)
        await steps(pilot)
        ASSETS.mkdir(exist_ok=True)
        app.save_screenshot(filename=f"{name}.svg", path=str(ASSETS))
    return ASSETS / f"{name}.svg"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="120x36")
    parser.add_argument("--only", default=",".join(VIEWS))
    args = parser.parse_args()
    width, height = (int(part) for part in args.size.split("x"))
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'demo.sqlite'}"
        prepare_demo_database(url, DemoOptions(seed=7, incidents=300), FixedClock(SHOT_TIME))
        for name in args.only.split(","):
            path = asyncio.run(shoot(url, name, VIEWS[name], (width, height)))
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
