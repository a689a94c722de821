"""An incident's history as one merged, time-ordered stream of journal and audit entries.

Agents need to read "what happened" in one place: who wrote which note, which fields moved
and who moved them. The two sources are merged here rather than in the service because the
merge is purely presentational (grouping and order), and the service keeps returning the
raw records the CLI and JSON output also use.

Every piece of user text (note bodies, field values, names) goes through `user_text`, so a
title such as `[red]x[/red]` is shown literally and stored escape codes cannot reach the
terminal. Styles per entry kind come from the stylesheet via component classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from itsm_tui.display import user_text
from itsm_tui.domain.enums import JournalKind
from itsm_tui.services.records import AuditRecord, JournalRecord

TIME_FORMAT = "%Y-%m-%d %H:%M"
AUDIT = "audit"
KIND_LABELS: dict[str, str] = {
    JournalKind.WORK_NOTE.value: "work note",
    JournalKind.COMMENT.value: "comment (caller sees this)",
    JournalKind.SYSTEM.value: "system",
    AUDIT: "changed",
}
# At the same instant, field changes come before the journal entry that explains them
# (a reopen writes the state change and then its reason).
_AUDIT_FIRST, _JOURNAL_NEXT = 0, 1


@dataclass(frozen=True)
class TimelineEntry:
    """One block of the timeline: a journal entry, or the audit rows one actor wrote at one
    instant (a create or an edit touching several fields reads as one change)."""

    at: datetime
    kind: str  # a JournalKind value or "audit"
    author: str | None
    lines: tuple[Text, ...]


def merge_entries(
    journal: Sequence[JournalRecord],
    audit: Sequence[AuditRecord],
    *,
    newest_first: bool = True,
) -> list[TimelineEntry]:
    """Journal and audit records as timeline entries, ordered by time.

    Consecutive audit rows with the same time and actor are grouped into one entry; ties in
    time keep the services' own order (audit before journal), so the result is stable.
    """
    entries: list[tuple[datetime, int, int, TimelineEntry]] = []
    group: list[AuditRecord] = []

    def flush() -> None:
        if group:
            first = group[0]
            lines = tuple(_audit_line(row) for row in group)
            entries.append(
                (
                    first.at,
                    _AUDIT_FIRST,
                    len(entries),
                    TimelineEntry(first.at, AUDIT, first.actor, lines),
                )
            )
            group.clear()

    for row in audit:
        if group and (row.at, row.actor) != (group[0].at, group[0].actor):
            flush()
        group.append(row)
    flush()
    for note in journal:
        # One line per body line, so each is indented under its heading.
        lines = tuple(user_text(note.body, multiline=True).split("\n"))
        entry = TimelineEntry(note.created_at, note.kind, note.author, lines)
        entries.append((note.created_at, _JOURNAL_NEXT, len(entries), entry))
    entries.sort(key=lambda item: item[:3])
    ordered = [item[3] for item in entries]
    return ordered[::-1] if newest_first else ordered


def _audit_line(row: AuditRecord) -> Text:
    """`field: old -> new`; both values are user data, so never markup."""
    return Text.assemble(
        (row.field, "bold"),
        ": ",
        user_text(row.old_value),
        " -> ",
        user_text(row.new_value),
    )


class Timeline(Widget):
    """Renders the merged timeline; call `show(journal, audit)` to replace its contents."""

    COMPONENT_CLASSES = {
        "timeline--time",
        "timeline--author",
        "timeline--work_note",
        "timeline--comment",
        "timeline--system",
        "timeline--audit",
        "timeline--body",
        "timeline--empty",
    }

    def __init__(
        self,
        *,
        newest_first: bool = True,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.newest_first = newest_first
        self.entries: list[TimelineEntry] = []

    def show(self, journal: Sequence[JournalRecord], audit: Sequence[AuditRecord]) -> None:
        self.entries = merge_entries(journal, audit, newest_first=self.newest_first)
        self.refresh(layout=True)  # the height follows the number of lines

    def plain(self) -> str:
        """The timeline's text without styles: what a reader sees, for tests and copying."""
        return self._text(styled=False).plain

    def render(self) -> Text:
        return self._text(styled=True)

    def _text(self, *, styled: bool) -> Text:
        def style(name: str) -> Style:
            return self.get_component_rich_style(f"timeline--{name}") if styled else Style()

        if not self.entries:
            return Text("No history yet.", style=style("empty"))
        text = Text()
        for index, entry in enumerate(self.entries):
            if index:
                text.append("\n")
            author = user_text(entry.author or "system")
            author.stylize(style("author"))
            text.append(entry.at.strftime(TIME_FORMAT) + " UTC", style("time"))
            text.append("  ")
            text.append_text(author)
            text.append("  ")
            text.append(KIND_LABELS.get(entry.kind, entry.kind), style(entry.kind))
            for line in entry.lines:
                body = Text("\n  ")
                body.append_text(line)
                body.stylize(style("body"))
                text.append_text(body)
        return text
