"""Edge validation shared by every service input model.

Text is stored exactly as typed unless it cannot be stored faithfully on both engines (NUL,
lone surrogates from undecodable bytes) or would break a one-line field (control characters).
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from itsm_tui.services.errors import ValidationFailed


def _encodable(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError("text is not valid UTF-8") from error
    if "\x00" in value:
        raise ValueError("text may not contain NUL characters")
    return value


def _single_line(value: str) -> str:
    value = _encodable(value).strip()
    for char in value:
        # Cc: controls incl. \n \r \t; Zl/Zp: U+2028/U+2029, which splitlines() breaks on.
        if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            raise ValueError("a one-line field may not contain control characters or newlines")
    return value


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
LongText = Annotated[str, AfterValidator(_encodable), Field(max_length=100_000)]
RequiredLongText = Annotated[
    str, AfterValidator(_encodable), AfterValidator(_not_blank), Field(max_length=100_000)
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
