"""Input models for flags the CLI checks itself, validated like the services' inputs.

They live apart from the command modules because those are loaded to build the parser:
`itsm --help` and `itsm --version` must not pay for pydantic and the services (about 0.8 s);
a handler imports this module when it runs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Self

from pydantic import Field, model_validator

from itsm_tui.domain import conflicts
from itsm_tui.services.incident_inputs import MAX_LIST_LIMIT
from itsm_tui.services.reports import Instant
from itsm_tui.services.validation import Input

# Open-ended periods for `--from` without `--to` and the other way round.
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


class Period(Input):
    """`--from`/`--to` as `sla report` reads them: bare dates and times are UTC."""

    start: Instant | None = None
    end: Instant | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError("--from must be before --to")
        if (self.start or EARLIEST) >= LATEST or (self.end or LATEST) <= EARLIEST:
            raise ValueError(
                f"give a period between {EARLIEST.date().isoformat()} and "
                f"{LATEST.date().isoformat()}"
            )
        return self

    def window(self) -> conflicts.Window | None:
        if self.start is None and self.end is None:
            return None
        return conflicts.Window(self.start or EARLIEST, self.end or LATEST)


class Search(Input):
    """`kedb search --limit`: the same bounds as every list command's."""

    limit: Annotated[int, Field(ge=1, le=MAX_LIST_LIMIT)]
