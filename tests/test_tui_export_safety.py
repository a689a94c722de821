"""Issue 16 point 1 in the desk: a remote desk's report export has no path field and lands in
the user's export folder (and, on the web, goes to the browser); a local export refuses the
database's -wal with the reason in the dialog; a remote desk has no "Screenshot" command."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandList
from textual.widgets import Input

from itsm_tui.app import ITSMApp
from itsm_tui.clock import FixedClock
from itsm_tui.first_run import FirstRunApp
from itsm_tui.screens.report_dialogs import ExportDialog
from itsm_tui.screens.reports import ReportsScreen
from itsm_tui.session_kind import REMOTE_ENV
from tests.conftest import T0, Desk
from tests.tui_helpers import app_for, palette_highlight, settle, until


async def _export_dialog(app: ITSMApp, pilot: Any) -> ExportDialog:
    app.open_reports()
    await until(pilot, lambda: isinstance(app.screen, ReportsScreen), "the reports screen")
    screen = app.screen
    assert isinstance(screen, ReportsScreen)
    await until(pilot, lambda: screen.report is not None, "the first report")
    await pilot.press("x")
    await until(pilot, lambda: isinstance(app.screen, ExportDialog), "the export dialog")
    dialog = app.screen
    assert isinstance(dialog, ExportDialog)
    return dialog


@pytest.mark.parametrize("kind", ["ssh", "web"])
async def test_a_remote_viewer_exports_to_their_folder_with_no_path_to_type(
    kind: str,
    desk_db: tuple[str, Desk],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(REMOTE_ENV, kind)
    url, _ = desk_db
    app = app_for(url, FixedClock(T0), user="vic", feed_interval_s=3600)
    delivered: list[tuple[Path, dict[str, Any]]] = []

    def deliver_text(path: Path, **options: Any) -> str:
        delivered.append((path, options))
        return "key"

    monkeypatch.setattr(app, "deliver_text", deliver_text)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        dialog = await _export_dialog(app, pilot)
        assert not dialog.query(Input)  # nothing to name a server path with
        await pilot.press(*str(tmp_path / "evil.csv"))  # typed anyway: lands nowhere
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, ExportDialog), "the export")
        await settle(pilot)
    folder = tmp_path / "xdg-data" / "itsm-tui" / "exports" / "vic"
    written = [p.name for p in folder.iterdir()]
    assert written == ["sla-20260302-090000.csv"]
    assert stat.S_IMODE((folder / written[0]).stat().st_mode) == 0o600
    assert not (tmp_path / "evil.csv").exists()
    # The toast names the file, never the server path.
    assert [n.message for n in app._notifications] == [f"Report saved as {written[0]}"]
    if kind == "web":  # offered to the browser, under the made-up name
        assert delivered == [
            (folder / written[0], {"save_filename": written[0], "name": "report-export"})
        ]
    else:  # ssh: Textual's delivery would save a copy in the server account's Downloads
        assert delivered == []


async def test_a_local_export_to_the_databases_wal_is_refused_in_the_dialog(
    desk_db: tuple[str, Desk],
) -> None:
    url, _ = desk_db
    wal = Path(url.removeprefix("sqlite:///") + "-wal")
    app = app_for(url, FixedClock(T0), feed_interval_s=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        dialog = await _export_dialog(app, pilot)
        before = wal.read_bytes() if wal.exists() else None
        path = dialog.query_one("#export-path", Input)
        path.value = str(wal)
        path.focus()
        await pilot.press("enter")
        await until(
            pilot,
            lambda: "Refused" in str(dialog.query_one(".dialog-error").render()),
            "the refusal",
        )
        assert "-wal file" in str(dialog.query_one(".dialog-error").render())
        assert app.screen is dialog and path.value == str(wal)  # kept for fixing
        assert (wal.read_bytes() if wal.exists() else None) == before


def _no_match(app: Any) -> bool:
    """The open command palette says "No matches found"."""
    found = app.screen.query(CommandList)
    return bool(found) and any(
        found.first().get_option_at_index(i).id == "--no-matches"
        for i in range(found.first().option_count)
    )


@pytest.mark.parametrize("remote", [False, True])
async def test_screenshot_is_a_command_only_in_a_local_desk(
    remote: bool, desk_db: tuple[str, Desk], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if remote:
        monkeypatch.setenv(REMOTE_ENV, "ssh")
    url, _ = desk_db
    app = app_for(url, FixedClock(T0), feed_interval_s=3600)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert ("Screenshot" in titles) is not remote
        assert "Quit" in titles  # the rest of Textual's system commands stay
        await pilot.press("ctrl+p", *"Screenshot")
        if remote:
            await until(pilot, lambda: _no_match(app), "'No matches found' for Screenshot")
            await pilot.press("escape")
            # Nor by its action, whatever binding someone adds later.
            await app.run_action("screenshot")
            await settle(pilot)
            assert any("not taken in a remote desk" in n.message for n in app._notifications)
            assert not list(tmp_path.rglob("*.svg"))
        else:
            await until(pilot, lambda: "Screenshot" in palette_highlight(app), "the command")
    # No key binding of the desk's takes a screenshot either.
    for screen_type in (ITSMApp, *ITSMApp.MODES.values()):
        actions = [getattr(b, "action", "") for b in getattr(screen_type, "BINDINGS", [])]
        assert not [a for a in actions if "screenshot" in a]


async def test_the_first_run_question_takes_no_screenshot_in_an_sshd_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`command="itsm"` in authorized_keys on a server with no database yet: the remote person
    gets the first-run question, a Textual app of its own, whose palette offered Textual's
    "Screenshot": an SVG written into the server account's Downloads at every use."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # where Downloads would be
    monkeypatch.setenv("SSH_CONNECTION", "203.0.113.9 50000 192.0.2.1 22")  # as sshd sets it
    app = FirstRunApp(default_path="/data/itsm.sqlite", demo_path=None)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Screenshot" not in titles and "Quit" in titles
        await pilot.press("ctrl+p", *"Screenshot")
        await until(pilot, lambda: _no_match(app), "'No matches found' for Screenshot")
        await pilot.press("escape")
        await app.run_action("screenshot")
        await settle(pilot)
        assert any("not taken in a remote desk" in n.message for n in app._notifications)
    assert app.return_value is None  # nothing chosen, nothing created
    assert not list(tmp_path.rglob("*.svg"))
