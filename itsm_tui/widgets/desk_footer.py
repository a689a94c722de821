"""Textual's Footer, rebuilt only when the keys it shows change.

Textual's Footer recomposes (a new widget per key, each styled twice as its `compact` flag is
set and then bound) whenever its screen's bindings may have changed: every focus move, every
`refresh_bindings()`. Most of those leave the same keys in the same states: over the pilot
tests of the incident detail 138 of 234 rebuilds were of identical keys, and the footer was
about 14% of their CPU time. This one keeps what it shows when nothing it would show changed.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer

Shown = tuple[tuple[Binding, bool, str], ...]


def _keys_of(screen: Screen[object]) -> Shown:
    """What Footer.compose draws from: each shown binding, whether enabled, its tooltip."""
    return tuple(
        (binding, enabled, tooltip)
        for (_, binding, enabled, tooltip) in screen.active_bindings.values()
        if binding.show
    )


class DeskFooter(Footer):
    _shown: Shown | None = None  # the keys the current children show; None: none composed

    def compose(self) -> ComposeResult:
        self._shown = _keys_of(self.screen) if self._bindings_ready else None
        yield from super().compose()

    def bindings_changed(self, screen: Screen[object]) -> None:
        if self._shown is not None and screen is self.screen and _keys_of(screen) == self._shown:
            return
        super().bindings_changed(screen)
