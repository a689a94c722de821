"""Planned windows as people type and read them: local wall time in the desk's zone.

Changes are stored in UTC, but a change manager plans "Thursday 22:00" where the desk is.
The change form parses what was typed in `app.timezone` into an aware instant, and the detail
shows windows back in that zone, naming it, so nobody has to convert in their head.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.text import Text

from itsm_tui.display import MISSING

INPUT_FORMAT = "%Y-%m-%d %H:%M"
INPUT_HINT = "YYYY-MM-DD HH:MM"


def zone(name: str) -> ZoneInfo:
    """The desk's zone; an unknown name (a bad config) falls back to UTC rather than crash."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def parse_local(text: str, zone_name: str) -> datetime | None:
    """`YYYY-MM-DD HH:MM` in the desk's zone (or ISO 8601 with an offset) as an aware
    instant; "" is None. Raises ValueError with a sentence a person can act on.

    A wall time that falls in a DST gap or repeats is read with `fold=0` (the offset before
    the switch), as the domain calendar does.
    """
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.strptime(text, INPUT_FORMAT)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"not a time: write {INPUT_HINT}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(zone_name))
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01 00:30 in Berlin is before year 1 in UTC
        raise ValueError("out of range: the time falls outside years 1 to 9999 in UTC") from None


def input_text(moment: datetime | None, zone_name: str) -> str:
    """What the form's input shows for a stored instant."""
    if moment is None:
        return ""
    return moment.astimezone(zone(zone_name)).strftime(INPUT_FORMAT)


def window_text(start: datetime | None, end: datetime | None, zone_name: str) -> Text:
    """`2026-03-05 22:00 → 2026-03-06 01:00 Europe/Berlin`; the end's date only when it
    differs from the start's."""
    if start is None or end is None:
        return Text("not planned" if start is None and end is None else MISSING)
    tz = zone(zone_name)
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    end_format = "%H:%M" if local_end.date() == local_start.date() else INPUT_FORMAT
    return Text(f"{local_start.strftime(INPUT_FORMAT)} → {local_end.strftime(end_format)} {tz.key}")


def when_text(moment: datetime | None, zone_name: str) -> Text:
    if moment is None:
        return Text(MISSING)
    tz = zone(zone_name)
    return Text(f"{moment.astimezone(tz).strftime(INPUT_FORMAT)} {tz.key}")
