"""The major-incident broadcast: one line under the desk header while a major incident is open.

Every connected desk shows it: the banner reads the open majors when it mounts and again
whenever the change feed reports changed incidents (declaring, clearing or resolving a major
is an incident change), and hides itself when the last one is resolved. The query is the
service's (`services.majors.open_majors`); the read runs in a thread worker.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.widgets import Static

from itsm_tui.display import user_text
from itsm_tui.services.majors import OpenMajors, open_majors
from itsm_tui.store.database import Database
from itsm_tui.workers.feed_listener import FeedBatch


class MajorBanner(Static):
    def __init__(self, database: Database) -> None:
        super().__init__(id="major-banner")
        self.database = database
        self.majors = OpenMajors(total=0, incidents=())

    def on_mount(self) -> None:
        signal = getattr(self.app, "feed_changed", None)
        if signal is not None:
            signal.subscribe(self, self._feed_changed)
        self.read_majors()

    def _feed_changed(self, batch: FeedBatch) -> None:
        if batch.changed:
            self.read_majors()

    @work(thread=True, exclusive=True, group="major-banner", exit_on_error=False)
    def read_majors(self) -> None:
        with self.database.session() as session:
            majors = open_majors(session, limit=3)
        self.app.call_from_thread(self.show, majors)

    def show(self, majors: OpenMajors) -> None:
        self.majors = majors
        self.set_class(majors.total > 0, "-open")
        if not majors.total:
            self.update("")
            return
        line = Text(" ★ MAJOR INCIDENT ", style="reverse")
        if majors.total > 1:
            line = Text(f" ★ {majors.total} MAJOR INCIDENTS ", style="reverse")
        for major in majors.incidents:
            line.append(f" {major.number} P{major.priority} ")
            line.append_text(user_text(major.title))
            line.append(" ·")
        line.rstrip()
        line.right_crop(1)
        self.update(line)
