"""The base of every Textual app this package runs: no screenshot in a remote desk.

Textual gives each app a "Screenshot" system command (and a `screenshot` action) that saves
an SVG in the running account's Downloads. In a remote desk that is a file written on the
server at a remote person's word (issue 16: nothing they do may name or fill a server path).
Any of our apps can be the one a remote person sees: the desk under serve ssh/web, and under
an sshd forced command also the first-run question (`itsm` with no database yet) and the
wall, so each derives from `RemoteSafeApp` rather than from `App`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from textual.app import App, SystemCommand
from textual.screen import Screen

from itsm_tui import session_kind

ReturnType = TypeVar("ReturnType")

SCREENSHOT_COMMAND = "Screenshot"
NO_SCREENSHOT = "Screenshots are not taken in a remote desk."


class RemoteSafeApp(App[ReturnType]):
    """An `App` that, in a remote session, offers no "Screenshot" and takes none."""

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's system commands, less "Screenshot" in a remote desk."""
        remote = session_kind.is_remote()
        for command in super().get_system_commands(screen):
            if not (remote and command.title == SCREENSHOT_COMMAND):
                yield command

    def deliver_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str | None:
        """No screenshot at all in a remote desk, whatever asks (the `screenshot` action, a
        binding someone adds later)."""
        if session_kind.is_remote():
            self.notify(NO_SCREENSHOT, severity="warning")
            return None
        return super().deliver_screenshot(filename, path, time_format)
