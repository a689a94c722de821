"""A compact panel of the known errors suggested for an incident: the top hits, why each was
suggested, and its workaround, so the agent can apply a known fix without opening anything.

Hidden while there is nothing to suggest (the `-empty` class), so screens without matches
look exactly as they did. Everything shown comes from people's typing (titles, workarounds)
and is rendered as `Text`, never markup.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from itsm_tui.display import user_text
from itsm_tui.services.known_errors import KnownErrorHit

# A workaround is shown to this many characters in the panel (the dialog shows more).
PANEL_WORKAROUND_CHARS = 120


def first_line(text: str, limit: int) -> str:
    """The first line of `text`, cut at `limit` characters; an ellipsis says there is more."""
    line, _newline, rest = text.strip().partition("\n")
    if len(line) > limit:
        return line[: limit - 1].rstrip() + "…"
    return line + (" …" if rest.strip() else "")


def hit_heading(hit: KnownErrorHit) -> Text:
    """`PRB0000001 Title · same CI mail-01`."""
    text = Text(hit.number, style="bold")
    text.append(" ").append_text(user_text(hit.title))
    if hit.reasons:
        text.append(" · ").append_text(user_text(hit.why, style="italic"))
    return text


def workaround_line(hit: KnownErrorHit, limit: int = PANEL_WORKAROUND_CHARS) -> Text:
    text = Text("  Workaround: ", style="bold")
    return text.append_text(user_text(first_line(hit.workaround, limit)))


def panel_text(hits: Sequence[KnownErrorHit], *, hint: str, shown: int) -> Text:
    """A heading with the count and the hint, then each of the first `shown` hits with its
    workaround; the rest are counted, not listed."""
    lines = [Text.assemble((f"Known errors ({len(hits)})", "bold"), "  ", hint)]
    for hit in hits[:shown]:
        lines += [hit_heading(hit), workaround_line(hit)]
    if len(hits) > shown:
        lines.append(Text(f"…and {len(hits) - shown} more", style="italic"))
    return Text("\n").join(lines)


class KnownErrorPanel(Static):
    """`KnownErrorPanel(hint="K: link one")`; `show(hits)` fills it, hiding it when empty."""

    DEFAULT_CLASSES = "-empty"

    def __init__(self, *, hint: str, shown: int = 2, id: str | None = None) -> None:
        super().__init__(Text(""), id=id)
        self.hint = hint
        self.shown = shown
        self.hits: list[KnownErrorHit] = []

    def show(self, hits: Sequence[KnownErrorHit]) -> None:
        self.hits = list(hits)
        self.update(panel_text(self.hits, hint=self.hint, shown=self.shown) if hits else Text(""))
        self.set_class(not self.hits, "-empty")
