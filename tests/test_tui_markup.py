"""User text is data: a title full of Rich markup and a terminal escape shows literally in the
queue, the command palette and the new-incident toast (the detail and the timeline are
covered in test_tui_detail.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text as sa_text
from textual.command import CommandList
from textual.widgets._toast import Toast

from itsm_tui.clock import FixedClock
from itsm_tui.workers.feed_listener import FeedBatch
from tests.tui_helpers import app_for, create, seeded_desk, settle, table_lines

CLEAN = "[red]x[/red] [link=http://e.x]y[/link]"
STORED = CLEAN + " \x1b[2J"  # validation refuses the escape; an import around it would not
SHOWN = CLEAN + " \\x1b[2J"


@pytest.fixture
def marked_up(sqlite_url: str, clock: FixedClock) -> Iterator[tuple[str, str]]:
    database, desk = seeded_desk(sqlite_url, clock)
    number = create(desk.session, desk, clock, title=CLEAN, impact=1, urgency=1)
    desk.session.close()
    with database.engine.begin() as connection:
        connection.execute(
            sa_text("UPDATE incidents SET title = :t WHERE number = :n"),
            {"t": STORED, "n": number},
        )
    database.dispose()
    yield sqlite_url, number


def _literal(text: str) -> None:
    assert SHOWN in text
    assert "\x1b" not in text


async def test_the_queue_palette_and_toast_show_markup_and_escapes_literally(
    marked_up: tuple[str, str], clock: FixedClock
) -> None:
    url, number = marked_up
    app = app_for(url, clock, feed_interval_s=3600)
    async with app.run_test(size=(200, 30), notifications=True) as pilot:
        await settle(pilot)
        _literal(next(line for line in table_lines(app) if number in line))

        app.feed_changed.publish(FeedBatch(frozenset({number}), (number,)))
        await settle(pilot, rounds=3)
        await pilot.pause(0.2)
        assert [n.markup for n in app._notifications] == [False]
        toasts = list(app.screen.query(Toast))
        assert toasts, "a new P1 raises a toast"
        shown = toasts[0].render()
        _literal(shown.plain)
        assert not any("link" in str(span.style) for span in shown.spans)

        await pilot.press("ctrl+p", *number[-4:])
        await pilot.pause(0.5)
        await settle(pilot)
        prompts = [option.prompt for option in app.screen.query_one(CommandList).options]
        hit = next(p for p in prompts if number in str(p))
        _literal(str(hit))
        assert not any("link" in str(span.style) for span in hit.spans)  # type: ignore[union-attr]
