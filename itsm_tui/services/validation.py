"""Edge validation shared by every service input model.

Text is stored exactly as typed unless it cannot be stored faithfully on both engines (NUL,
lone surrogates from undecodable bytes) or would break a one-line field (control characters).
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Annotated, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from itsm_tui.services.errors import ValidationFailed

# Bidirectional overrides and isolates reorder how the rest of a line is displayed (the
# "Trojan Source" trick); a title or name has no business carrying them.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Multi-line text keeps tabs and line breaks; any other control character (ESC sequences that
# recolour or retitle a terminal, OSC 52 clipboard writes, C1 codes) is refused.
MULTILINE_ALLOWED_CONTROLS = frozenset("\t\n\r")


def _encodable(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError("text is not valid UTF-8") from error
    if "\x00" in value:
        raise ValueError("text may not contain NUL characters")
    return value


def _multiline(value: str) -> str:
    value = _encodable(value)
    for char in value:
        if unicodedata.category(char) == "Cc" and char not in MULTILINE_ALLOWED_CONTROLS:
            raise ValueError(
                f"text may not contain control character U+{ord(char):04X} "
                "(terminal escape codes are refused; tabs and line breaks are fine)"
            )
    return value


def _single_line(value: str) -> str:
    value = _encodable(value).strip()
    for char in value:
        # Cc: controls incl. \n \r \t; Zl/Zp: U+2028/U+2029, which splitlines() breaks on.
        if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            raise ValueError("a one-line field may not contain control characters or newlines")
        if char in BIDI_CONTROLS:
            raise ValueError(
                f"a one-line field may not contain bidirectional control U+{ord(char):04X}"
            )
    return value


def one_line(value: str) -> str:
    """`value` stripped, refused (ValueError) unless it is one line of storable, plain text:
    the rule of every one-line field, for text checked outside an `Input` model."""
    return _single_line(value)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("may not be empty")
    return value


Title = Annotated[
    str, AfterValidator(_single_line), AfterValidator(_not_blank), Field(max_length=200)
]
Name = Annotated[
    str, AfterValidator(_single_line), AfterValidator(_not_blank), Field(max_length=100)
]
ShortText = Annotated[str, AfterValidator(_single_line), Field(max_length=200)]
LongText = Annotated[str, AfterValidator(_multiline), Field(max_length=100_000)]
RequiredLongText = Annotated[
    str, AfterValidator(_multiline), AfterValidator(_not_blank), Field(max_length=100_000)
]


class Input(BaseModel):
    """Base for service inputs: unknown fields are refused, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)


M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], **values: object) -> M:
    """Build `model` from keyword values, turning pydantic's errors into `ValidationFailed`."""
    try:
        return model(**values)
    except ValidationError as error:
        raise ValidationFailed(describe_validation_error(error)) from None


def describe_validation_error(error: Exception) -> str:
    if not isinstance(error, ValidationError):
        return str(error)
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "input"
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


# What a plan may name: conflict checks walk weekly maintenance windows and freezes around a
# planned window, in every zone, so a plan needs room on both sides of it in the calendar.
PLANNING_RANGE = (datetime(1900, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC))


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give a time zone (e.g. 2026-03-02T22:00+00:00)")
    return in_planning_range(value)


def in_planning_range(value: datetime) -> datetime:
    """Refuse an aware instant outside PLANNING_RANGE (as ValueError, for validators)."""
    earliest, latest = PLANNING_RANGE
    if not earliest <= in_utc_range(value) < latest:
        raise ValueError(f"plan between the years {earliest.year} and {latest.year - 1}")
    return value


def in_utc_range(value: datetime) -> datetime:
    """Refuse an instant that has no UTC form (0001-01-01T00:00+01:00 falls before year 1):
    it is stored in UTC, and converting it would overflow deep in the database layer."""
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range (years 1 to 9999 in UTC)") from None
    return value


# An instant with its zone, for plans (change windows, freezes): a bare local time is
# ambiguous for anyone in another zone.
AwareDateTime = Annotated[datetime, AfterValidator(_aware)]
