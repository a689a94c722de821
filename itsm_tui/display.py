"""Showing user-typed text safely, in the CLI and the TUI alike.

Whatever got stored (imported data, older versions, other clients), control characters and
bidirectional overrides are shown as visible escapes (`\\x1b`, `\\u202e`) so text can neither
drive the reader's terminal nor reorder what they see; and in the TUI it becomes a
`rich.text.Text`, which is never parsed as markup.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

_SAFE_CONTROLS = frozenset("\n\t")
MISSING = "-"


def _is_unsafe(char: str) -> bool:
    code = ord(char)
    return (
        code < 0x20 or 0x7F <= code < 0xA0 or 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069
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
    return Text(printable(text, multiline=multiline), **text_options)
