"""Hostile inputs shared by the fuzz tests (services, CLI) and the markup corpus (TUI).

`NASTY` is the hand-picked corpus: markup, terminal escapes, bidi overrides, SQL-looking text,
NUL, undecodable bytes, whitespace only, limits. `nasty_text()` mixes it with generated text
(any code point, surrogates included) and strings around the length limits. `single_line_ok`
and `multiline_ok` are the oracle: what the edge validation promises to accept or refuse, so
a test fails on a refusal of good text as well as on bad text being stored.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

MARKUP = [
    "[bold]x[/]",
    "[link=https://evil.example]click[/link]",
    "[@click=app.quit]x[/]",
    "[red on white]alarm[/red on white]",
    "[/]",
    "\\[escaped]",
]
ESCAPES = [
    "\x1b[31mred\x1b[0m",  # ANSI CSI colour
    "\x1b[2J\x1b[H",  # clear screen, home
    "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\",  # OSC 8 hyperlink
    "\x1b]52;c;ZXZpbA==\x07",  # OSC 52 clipboard write
    "\x1b]0;new title\x07",  # OSC 0 window title
    "\x9b31m",  # C1 CSI
    "bell\x07",
    "back\x08space",
]
BIDI = ["\u202eevil.exe", "\u2066isolate\u2069", "a\u202db"]
ZERO_WIDTH = ["zero\u200bwidth", "join\u200d\u200cer", "\ufeffbom"]
SQL = [
    "'; DROP TABLE incidents; --",
    "Robert'); DROP TABLE users;--",
    '" OR 1=1 --',
    "100% _under_ \\back",
    "%",
    "_",
]
UNSTORABLE = ["nul\x00byte", "\x00", "lone \udcff surrogate", "\ud800"]
SHAPES = [
    "",
    " ",
    "\t\n",
    "  padded  ",
    "two\nlines",
    "crlf\r\nline",
    "line\u2028separator",
    "naïve café 東京 🚨",
    "\u00a0nbsp\u00a0",
    "x" * 200,
    " " * 3 + "x" * 200,
]
NASTY = MARKUP + ESCAPES + BIDI + ZERO_WIDTH + SQL + UNSTORABLE + SHAPES

# Printable markup the validation accepts everywhere: what the TUI corpus stores through the
# services (the escapes are planted past the validation, as an import could).
STORABLE_MARKUP = " ".join([*MARKUP, *SQL[:2], *ZERO_WIDTH[:1]])

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def nasty_text(max_generated: int = 30) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(NASTY),
        st.text(st.characters(exclude_categories=()), max_size=max_generated),
        st.builds(
            lambda n, pad: pad + "y" * n + pad,
            st.sampled_from([1, 60, 61, 100, 101, 199, 200, 201, 100_000, 100_001]),
            st.sampled_from(["", " "]),
        ),
        st.lists(st.sampled_from(NASTY), min_size=2, max_size=4).map("".join),
    )


def storable(raw: str) -> bool:
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in raw


def single_line_ok(raw: str, max_length: int, *, required: bool = True) -> bool:
    """Whether a one-line field (title, name, short text) must accept `raw` (stored stripped)."""
    value = raw.strip()
    return (
        storable(raw)
        and (bool(value) or not required)
        and len(value) <= max_length
        and not any(
            unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in BIDI_CONTROLS for c in value
        )
    )


def multiline_ok(raw: str, *, required: bool = False, max_length: int = 100_000) -> bool:
    """Whether a multi-line field (description, note, plan) must accept `raw` (stored as is)."""
    return (
        storable(raw)
        and (bool(raw.strip()) or not required)
        and len(raw) <= max_length
        and not any(unicodedata.category(c) == "Cc" and c not in "\t\n\r" for c in raw)
    )


ZONES = [
    None,
    UTC,
    timezone(timedelta(hours=14)),
    timezone(timedelta(hours=-12)),
    timezone(timedelta(hours=5, minutes=30)),
]


EDGE_INSTANTS: list[Any] = [
    datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),  # no UTC form: before year 1
    datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-5))),  # after 9999
    datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(8999, 12, 31, 23, 0, tzinfo=UTC),  # the last hour a plan may name
    datetime(1900, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=-12))),
    datetime(2026, 3, 2, 10, 0),  # no zone
    "2026-03-02",
    "2026-03-02T10:00",
    "2026-03-02T10:00+05:30",
    "2026-03-02T10:00Z",
    "2026-02-30T10:00Z",
    "0001-01-01T00:00+01:00",
    "9999-12-31T23:59-05:00",
    "yesterday",
    "'; DROP TABLE changes; --",
    "",
]


def instants() -> st.SearchStrategy[Any]:
    """Datetimes with and without zones across the whole range, and typed text; the edges
    (no UTC form, no zone, not a date) drawn twice as often as arbitrary datetimes."""
    return st.one_of(
        st.sampled_from(EDGE_INSTANTS),
        st.sampled_from(EDGE_INSTANTS),
        st.datetimes(timezones=st.sampled_from(ZONES)),
    )


def fuzz_settings(max_examples: int) -> settings:
    """Small, deterministic budgets: the same examples on every run and in CI. One database
    serves every example (a function-scoped fixture on purpose)."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )
