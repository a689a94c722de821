"""Settings for slow links (`--low-bandwidth`): fewer frames, no animations, ANSI colours.

Over SSH or a browser tab every repaint is bytes on the wire. Three knobs cut them:
- a lower frame rate: Textual coalesces the refreshes of one frame, so key repeats while
  scrolling send fewer intermediate screens. Textual reads it once, from `TEXTUAL_FPS`, when
  it is first imported, so the CLI sets it before the app module loads (`limit_frame_rate`);
- animations off: a scroll jumps instead of sending every step of its easing;
- the ANSI theme: colours go out as short 16-colour codes (`ESC[34m`) instead of 24-bit ones
  (`ESC[38;2;R;G;Bm`), and the terminal's own palette is used.
The desk's header clock also drops its seconds and is checked every few seconds, so an idle
desk repaints it once a minute instead of every second.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing textual here would fix its frame rate before it is limited
    from textual.app import App

THEME = "ansi-dark"
FRAMES_PER_SECOND = 10  # Textual's default is 60
FPS_ENV = "TEXTUAL_FPS"
HEADER_TICK_S = 5.0  # default: every second


def limit_frame_rate(environ: MutableMapping[str, str]) -> None:
    """Cap Textual's frame rate for an app started after this call in this process (or a
    child given this environment). It overrides a higher value on purpose: textual-serve sets
    60 for every app it launches."""
    environ[FPS_ENV] = str(FRAMES_PER_SECOND)


def apply(app: App[object]) -> None:
    """Switch animations off and the theme to ANSI colours on an app (in its __init__)."""
    app.animation_level = "none"
    app.theme = THEME
