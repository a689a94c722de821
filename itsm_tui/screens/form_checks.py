"""Checking a form's values against a service input model, field by field: the incident and
change forms show pydantic's first complaint under the field it is about."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def field_errors(error: ValidationError) -> dict[str, str]:
    """First message per field, keyed by the field pydantic names in `loc[0]`."""
    found: dict[str, str] = {}
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else ""
        found.setdefault(name, item["msg"].removeprefix("Value error, "))
    return found


def checked(model: type[M], data: Mapping[str, object]) -> tuple[M | None, dict[str, str]]:
    """`(instance, {})` when `data` is valid for `model`, else `(None, field errors)`."""
    try:
        return model.model_validate(dict(data)), {}
    except ValidationError as error:
        return None, field_errors(error)
