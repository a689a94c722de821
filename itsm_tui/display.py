"""Showing user-typed text safely, in the CLI and the TUI alike.

Whatever got stored (imported data, older versions, other clients), control characters,
bidirectional overrides and invisible characters are shown as visible escapes (`\\x1b`,
`\\u202e`, `\\u200b`) so text can neither drive the reader's terminal nor reorder or hide what
they see; and in the TUI it becomes a `rich.text.Text`, which is never parsed as markup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.text import Text  # imported in `user_text`: the CLI's output never needs rich

_SAFE_CONTROLS = frozenset("\n\t")
MISSING = "-"
# Invisible characters that can hide or reorder text without being control codes: zero-width
# space, left-to-right/right-to-left and Arabic letter marks, word joiner and the invisible
# operators, the byte-order mark, line and paragraph separators. Zero-width (non-)joiners stay:
# emoji sequences and several scripts need them.
_INVISIBLE = frozenset("\u200b\u200e\u200f\u061c\u2060\u2061\u2062\u2063\u2064\ufeff\u2028\u2029")


def _is_unsafe(char: str) -> bool:
    code = ord(char)
    return (
        code < 0x20
        or 0x7F <= code < 0xA0
        or 0x202A <= code <= 0x202E
        or 0x2066 <= code <= 0x2069
        or char in _INVISIBLE
    )


def printable(text: str | None, *, multiline: bool = False) -> str:
    if text is None:
        return MISSING
    if not any(_is_unsafe(char) for char in text):
        return text
    return "".join(
        char.encode("unicode_escape").decode("ascii")
        if _is_unsafe(char) and not (multiline and char in _SAFE_CONTROLS)
        else char
        for char in text
    )


def user_text(text: str | None, *, multiline: bool = False, **text_options: Any) -> Text:
    """A `Text` for a widget: literal brackets, escaped controls, no markup parsing."""
    from rich.text import Text

    return Text(printable(text, multiline=multiline), **text_options)


def compact_duration(seconds: float) -> str:
    """A short signed duration for narrow columns: 45s, 14m09s, 3h05m, 2d04h."""
    sign = "-" if seconds < 0 else ""
    total = int(abs(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d{hours:02d}h"
    if hours:
        return f"{sign}{hours}h{minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m{secs:02d}s"
    return f"{sign}{secs}s"


def compact_age(seconds: float) -> str:
    """How long ago, in the one largest unit: 12m, 5h, 3d, 7w."""
    total = max(0, int(seconds))
    for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)):
        if total >= size:
            return f"{total // size}{unit}"
    return f"{total}s"
