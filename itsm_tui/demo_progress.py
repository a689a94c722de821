"""What `itsm demo` shows on stderr while the demo loads.

On a terminal: rich's progress bars, one per stage of the load (the schema, the directory,
changes, incidents N/300, problems), so a load of several seconds visibly moves. Anywhere else
(a pipe, a log file, CI): the one line "Loading demo data…" it always printed, because bars
redrawn with control codes make a mess of a file. The services stay free of display code:
`prepare_demo_database` only calls the callback this yields.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from itsm_tui.services.demo import Progress

LABELS = {
    "database": "Database",
    "directory": "People, groups, services",
    "changes": "Changes",
    "incidents": "Incidents",
    "problems": "Problems",
}


@contextmanager
def demo_progress(stream: TextIO, headline: str) -> Iterator[Progress]:
    """Yield the progress callback for one demo load, showing it on `stream`.

    The headline is printed either way, so a log shows what was loaded. rich is imported only
    on a terminal: a scripted `itsm demo --no-launch` does not pay for it.
    """
    print(headline, file=stream, flush=True)
    if not stream.isatty():
        yield _silent
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import Progress as Bars

    bars = Bars(
        TextColumn("{task.description:<26}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(file=stream),
    )
    tasks: dict[str, TaskID] = {}

    def tell(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bars.add_task(LABELS.get(stage, stage.capitalize()), total=total)
        bars.update(tasks[stage], completed=done, total=total)

    with bars:
        yield tell


def _silent(_stage: str, _done: int, _total: int) -> None:
    return None
