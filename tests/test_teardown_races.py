"""An app's timer ticks and thread hand-backs that land after its screens are gone.

Textual stops an App's own timers only after it has closed every screen, and a timer's
callback runs in the timer's own task; a thread worker hands its result back with
`call_from_thread`. On a loaded machine either can land while the app tears down, after the
widgets it draws on are gone: `WallApp.rotate` did, and a loaded test run failed with
`NoMatches: 'ContentSwitcher'`. The interleaving depends on the scheduler, so it is made
deterministic here: every app method handed to a timer or handed back from a worker thread
during a normal run is recorded, and all are called again once the app has unmounted (its
screens closed), where each must be a harmless no-op.

(A screen's own timers need no such care: Textual stops them before it removes the screen's
widgets.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.message_pump import MessagePump

from itsm_tui.app import ITSMApp
from itsm_tui.clock import FixedClock
from itsm_tui.wall import WallApp
from tests.tui_helpers import LOADED_TIMEOUT_S, create, seeded_desk, settle, until


@dataclass
class Recorded:
    """App methods given to timers (`set_interval`, `set_timer`) and hand-backs from threads."""

    ticks: list[Callable[[], Any]] = field(default_factory=list)
    handbacks: list[tuple[Callable[..., Any], tuple[Any, ...]]] = field(default_factory=list)
    started: list[str] = field(default_factory=list)  # workers the replay started

    def names(self) -> set[str]:
        return {tick.__name__ for tick in self.ticks} | {
            callback.__name__ for callback, _ in self.handbacks
        }

    def replay(self, app: App[Any]) -> None:
        before = set(app.workers)
        for tick in self.ticks:
            tick()
        for callback, args in self.handbacks:
            callback(*args)
        self.started = [worker.group for worker in app.workers if worker not in before]


def _app_method(callback: Any) -> bool:
    """Only the app's own methods: a screen's are bound to widgets that close together."""
    return isinstance(getattr(callback, "__self__", None), App)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorded]:
    record = Recorded()
    set_interval = MessagePump.set_interval
    set_timer = MessagePump.set_timer
    call_from_thread = App.call_from_thread

    def interval(self: MessagePump, delay: float, callback: Any = None, **kw: Any) -> Any:
        if _app_method(callback):
            record.ticks.append(callback)
        return set_interval(self, delay, callback, **kw)

    def timer(self: MessagePump, delay: float, callback: Any = None, **kw: Any) -> Any:
        if _app_method(callback):
            record.ticks.append(callback)
        return set_timer(self, delay, callback, **kw)

    def handback(self: App[Any], callback: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        if _app_method(callback):
            record.handbacks.append((callback, args))
        return call_from_thread(self, callback, *args, **kw)

    monkeypatch.setattr(MessagePump, "set_interval", interval)
    monkeypatch.setattr(MessagePump, "set_timer", timer)
    monkeypatch.setattr(App, "call_from_thread", handback)
    yield record


def _replaying_on_unmount(app_class: type[App[Any]], recorded: Recorded) -> type[App[Any]]:
    """The app, calling every recorded callback again when it unmounts (screens closed)."""

    class Replaying(app_class):  # type: ignore[valid-type,misc]
        def on_unmount(self) -> None:
            recorded.replay(self)

    return Replaying


def _seeded_url(tmp_path: Path, clock: FixedClock) -> str:
    url = f"sqlite:///{tmp_path / 'itsm.sqlite'}"
    database, desk = seeded_desk(url, clock)
    desk.session.close()
    database.dispose()
    return url


async def test_wall_ticks_and_reads_landing_after_teardown_do_nothing(
    tmp_path: Path, clock: FixedClock, recorded: Recorded
) -> None:
    wall = _replaying_on_unmount(WallApp, recorded)
    # Long periods: only the callbacks matter here, never a real tick.
    app = wall(database_url=_seeded_url(tmp_path, clock), username="vic", clock=clock,
               rotate_s=600, refresh_s=600)  # fmt: skip
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.figures is not None
        view = app.view
    assert {"rotate", "_draw_header", "_show", "_read_again"} <= recorded.names()
    assert app.view == view  # the rotation after teardown did nothing
    assert recorded.started == []  # nor did a read: no new connection while closing


async def test_desk_ticks_and_hand_backs_landing_after_teardown_do_nothing(
    tmp_path: Path, clock: FixedClock, recorded: Recorded
) -> None:
    url = f"sqlite:///{tmp_path / 'itsm.sqlite'}"
    database, desk = seeded_desk(url, clock)
    desk_app = _replaying_on_unmount(ITSMApp, recorded)
    app = desk_app(database_url=url, username="alice", clock=clock, feed_interval_s=0.05,
                   evaluator_interval_s=600)  # fmt: skip
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        create(desk.session, desk, clock, title="Printer on fire")  # the feed hands a batch
        await until(pilot, lambda: "_publish" in recorded.names(), "the feed's hand-back",
                    timeout=LOADED_TIMEOUT_S)  # fmt: skip
    desk.session.close()
    database.dispose()
    assert len(recorded.ticks) == 2  # the feed poll and the SLA pass
    assert recorded.started == []  # no feed poll or SLA pass starts while the desk closes
