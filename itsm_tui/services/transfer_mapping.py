"""Mapping files: how to read another tool's CSV export (e.g. ServiceNow's incident list).

A TOML file names the kind, maps the tool's columns to our fields, translates values per
field ("1 - High" -> 1, "In Progress" -> in_progress, "Alice Smith" -> alice) and says how
its times are written (a strptime format and the zone they are local to). Unmapped columns
are ignored; `[defaults]` fills fields the tool does not export. The result goes through
the same validation as our own files. Example: assets/mappings/servicenow_incidents.toml.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from itsm_tui.services.errors import ValidationFailed
from itsm_tui.services.transfer_read import Issue, cell_values, read_bounded
from itsm_tui.services.transfer_schema import KINDS, ROW_MODELS
from itsm_tui.services.validation import describe_validation_error

Scalar = str | int | bool


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(
            f"unknown time zone '{name}' (an IANA name, e.g. Europe/London)"
        ) from error
    return name


class Mapping(BaseModel):
    """A parsed, checked mapping file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    columns: Annotated[dict[str, str], Field(min_length=1)]  # their column -> our field
    values: dict[str, dict[str, Scalar]] = {}  # our field -> {their value: ours}
    defaults: dict[str, Scalar] = {}  # our field -> value when the column is absent or empty
    time_format: str | None = None  # strptime format; None: ISO 8601
    time_zone: Annotated[str, AfterValidator(_zone)] = "UTC"

    @model_validator(mode="after")
    def _known_fields(self) -> Mapping:
        if self.kind not in ROW_MODELS:
            raise ValueError(f"kind '{self.kind}' is not one of {', '.join(KINDS)}")
        fields = set(ROW_MODELS[self.kind].columns()) - {"journal"}
        named = {*self.columns.values(), *self.values, *self.defaults}
        unknown = sorted(named - fields)
        if unknown:
            raise ValueError(
                f"unknown {self.kind} fields {', '.join(unknown)}; fields are "
                f"{', '.join(sorted(fields))}"
            )
        targets = list(self.columns.values())
        repeated = sorted({t for t in targets if targets.count(t) > 1})
        if repeated:
            raise ValueError(f"several columns map to {', '.join(repeated)}")
        return self

    # ------------------------------------------------------------------ applied to a file

    def check_header(self, header: list[str]) -> list[Issue]:
        missing = [column for column in self.columns if column not in header]
        if not missing:
            return []
        return [Issue(1, "", f"the mapping's columns {', '.join(missing)} are not in the file")]

    def convert(self, cells: dict[str, str], line: int, issues: list[Issue]) -> dict[str, Any]:
        """Their cells as our row values: renamed, translated, times made UTC ISO 8601."""
        ours = {field: cells[column].strip() for column, field in self.columns.items()}
        values: dict[str, Any] = {k: v for k, v in self.defaults.items()}
        key = ours.get(ROW_MODELS[self.kind].KEY, "")
        times = ROW_MODELS[self.kind].time_columns()
        for field, cell in ours.items():
            if cell == "":
                continue
            mapped: Any = self.values.get(field, {}).get(cell, cell)
            if field in times and isinstance(mapped, str):
                mapped = self._time(field, mapped, key, line, issues)
                if mapped is None:
                    continue
            values[field] = mapped
        converted = {k: v for k, v in values.items() if not isinstance(v, str)}
        texts = {k: v for k, v in values.items() if isinstance(v, str)}
        return {**cell_values(self.kind, texts, line, issues), **converted}

    def _time(self, field: str, text: str, key: str, line: int, issues: list[Issue]) -> str | None:
        if self.time_format is None:
            return text
        try:
            local = datetime.strptime(text, self.time_format)
        except ValueError:
            issues.append(
                Issue(line, key, f"{field}: '{text}' does not match time_format {self.time_format}")
            )
            return None
        if local.tzinfo is None:
            local = local.replace(tzinfo=ZoneInfo(self.time_zone))
        return local.astimezone(UTC).isoformat()


MAX_MAPPING_BYTES = 1 << 20  # the shipped ServiceNow mapping is under 2 KB


def load_mapping(path: Path) -> Mapping:
    try:
        data = tomllib.loads(read_bounded(path, MAX_MAPPING_BYTES, "a mapping").decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ValidationFailed(f"{path}: the mapping file is not valid UTF-8") from error
    except OSError as error:
        raise ValidationFailed(f"cannot read mapping {path}: {error.strerror}") from error
    except tomllib.TOMLDecodeError as error:
        raise ValidationFailed(f"{path}: not valid TOML: {error}") from error
    except RecursionError:  # tomllib recurses per nested array: `[` * 5000 exhausts the stack
        raise ValidationFailed(f"{path}: not valid TOML: nested too deeply") from None
    try:
        return Mapping.model_validate(data)
    except ValidationError as error:
        raise ValidationFailed(f"{path}: {describe_validation_error(error)}") from None
