"""Reading an import file into raw rows, each with where it came from (kind, line, index).

Nothing here judges the values: it decodes (strict UTF-8: a bad byte is reported with its
line), tells JSON from CSV, finds each JSON item's line, and turns CSV cells into values
(an empty cell is a missing value, list columns hold JSON arrays). Problems are collected as
`Issue`s so the caller can report every one of them at once.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from itsm_tui.services.errors import ValidationFailed
from itsm_tui.services.transfer_schema import FORMAT_NAME, FORMAT_VERSION, KINDS, ROW_MODELS


@dataclass(frozen=True)
class Issue:
    """One problem with the file: where, and what."""

    line: int | None
    where: str  # "incidents[3] INC0000004", "INC0000004", "file"
    message: str

    def text(self, source: str) -> str:
        at = f"{source}:{self.line}" if self.line is not None else source
        return f"{at}: {self.where}: {self.message}" if self.where else f"{at}: {self.message}"


@dataclass
class SourceRow:
    kind: str
    line: int | None
    index: int  # position within its kind, from 0
    values: dict[str, Any]
    fmt: str

    @property
    def where(self) -> str:
        key = self.values.get(ROW_MODELS[self.kind].KEY)
        label = f"{self.kind}[{self.index}]" if self.fmt == "json" else self.kind
        return f"{label} {key}" if isinstance(key, str) and key else label


@dataclass
class Source:
    rows: list[SourceRow] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)


CHUNK = 1 << 20  # read 1 MB at a time, so the limit is overshot by at most that


def read_bounded(path: Path, max_bytes: int, what: str) -> bytes:
    """The file's bytes, refused (`ValidationFailed`, before anything is parsed or written)
    once it passes `max_bytes`. The limit is checked while reading, not from the file's
    size: /dev/zero, a FIFO or a file still growing have none, and `read_bytes()` on
    /dev/zero grew to 5.4 GB before failing with MemoryError."""
    try:
        with path.open("rb") as stream:
            chunks: list[bytes] = []
            total = 0
            while chunk := stream.read(CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    raise ValidationFailed(
                        f"{path} is larger than {_size(max_bytes)}, the limit for {what}; "
                        "nothing was written"
                    )
                chunks.append(chunk)
    except FileNotFoundError:
        raise ValidationFailed(f"no file {path}") from None
    except IsADirectoryError:
        raise ValidationFailed(f"{path} is a directory, not a file") from None
    return b"".join(chunks)


def _size(count: int) -> str:
    return f"{count >> 20} MB" if count % (1 << 20) == 0 else f"{count} bytes"


def decode(data: bytes) -> tuple[str | None, list[Issue]]:
    """Strict UTF-8 (a BOM is dropped); the first bad byte is reported with its line."""
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        byte = data[error.start : error.start + 1].hex()
        message = f"the file is not valid UTF-8 (byte 0x{byte}); save it as UTF-8 and retry"
        return None, [Issue(line, "", message)]


def detect_format(name: str, text: str, given: str | None) -> str:
    if given:
        return given
    lower = name.lower()
    if lower.endswith(".json"):
        return "json"
    if lower.endswith(".csv"):
        return "csv"
    return "json" if text.lstrip().startswith("{") else "csv"


# ---------------------------------------------------------------------------- JSON


# No export nests more than a few levels; Python's parsers recurse per level, so a file of
# nothing but brackets ended in a RecursionError traceback.
TOO_DEEP = "not valid JSON: nested too deeply"


def read_json(text: str) -> Source:
    """Our export document: {"format", "version", and one list per kind}."""
    source = Source()
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        source.issues.append(Issue(error.lineno, "", f"not valid JSON: {error.msg}"))
        return source
    except RecursionError:  # the decoder recurses per level: `[` * 100000 exhausts the stack
        source.issues.append(Issue(1, "", TOO_DEEP))
        return source
    if not isinstance(document, dict):
        source.issues.append(Issue(1, "", "expected one JSON object (an itsm export)"))
        return source
    if document.get("format") != FORMAT_NAME or document.get("version") != FORMAT_VERSION:
        source.issues.append(
            Issue(
                1,
                "",
                f'expected "format": "{FORMAT_NAME}" and "version": {FORMAT_VERSION} '
                "(a file written by itsm export)",
            )
        )
        return source
    unknown = sorted(set(document) - {"format", "version", *KINDS})
    if unknown:
        source.issues.append(
            Issue(1, "", f"unknown keys {', '.join(unknown)}; kinds are {', '.join(KINDS)}")
        )
    lines = _item_lines(text)
    for kind in KINDS:
        items = document.get(kind)
        if items is None:
            continue
        if not isinstance(items, list):
            source.issues.append(Issue(1, kind, "expected a list of records"))
            continue
        for index, item in enumerate(items):
            line = lines.get((kind, index))
            if not isinstance(item, dict):
                source.issues.append(Issue(line, f"{kind}[{index}]", "expected an object"))
                continue
            source.rows.append(SourceRow(kind, line, index, item, "json"))
    return source


def _item_lines(text: str) -> dict[tuple[str, int], int]:
    """The line each item of each top-level list starts on. The text is known to be valid
    JSON, so this walks it with the decoder's `raw_decode` without re-checking syntax."""
    decoder = json.JSONDecoder()
    newlines = [i for i, char in enumerate(text) if char == "\n"]
    result: dict[tuple[str, int], int] = {}

    def line_of(position: int) -> int:
        return bisect.bisect_left(newlines, position) + 1

    def skip(position: int) -> int:
        while position < len(text) and text[position] in " \t\r\n,:":
            position += 1
        return position

    position = skip(text.index("{") + 1)
    while position < len(text) and text[position] != "}":
        key, position = decoder.raw_decode(text, position)
        position = skip(position)
        if text[position] == "[" and key in ROW_MODELS:
            position = skip(position + 1)
            index = 0
            while text[position] != "]":
                result[(key, index)] = line_of(position)
                _, position = decoder.raw_decode(text, position)
                position = skip(position)
                index += 1
            position += 1
        else:
            _, position = decoder.raw_decode(text, position)
        position = skip(position)
    return result


# ---------------------------------------------------------------------------- CSV


def read_csv_cells(text: str) -> tuple[list[str], list[tuple[int, dict[str, str]]], list[Issue]]:
    """Header and rows of cells, each with the line it starts on (quoted cells may span
    lines). Rows with a different number of cells than the header are issues."""
    reader = csv.reader(io.StringIO(text, newline=""))
    issues: list[Issue] = []
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        return [], [], [Issue(1, "", "the file is empty")]
    except csv.Error as error:
        return [], [], [Issue(1, "", f"not valid CSV: {error}")]
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        issues.append(Issue(1, "", f"repeated columns: {', '.join(duplicates)}"))
    rows: list[tuple[int, dict[str, str]]] = []
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            issues.append(Issue(start, "", f"not valid CSV: {error}"))
            break
        if cells and any(cell.strip() for cell in cells):
            if len(cells) != len(header):
                issues.append(
                    Issue(start, "", f"{len(cells)} cells where the header has {len(header)}")
                )
            else:
                rows.append((start, dict(zip(header, cells, strict=True))))
        start = reader.line_num + 1
    return header, rows, issues


def fits(kind: str, header: list[str]) -> bool:
    """The header has every required column of `kind` and no column `kind` lacks."""
    model = ROW_MODELS[kind]
    return model.required_columns() <= set(header) <= set(model.columns())


def detect_kind(header: list[str]) -> tuple[str | None, list[str]]:
    """The kind whose columns the header is: exactly; else, of the kinds it fits, the one
    whose required columns it has most of (`number,title,impact,urgency,opened_at` is all of
    an incident's and a few of a problem's: incidents). (None, the tied kinds) when that
    is not one kind; (None, []) when none fits."""
    columns = set(header)
    exact = [kind for kind, model in ROW_MODELS.items() if set(model.columns()) == columns]
    if exact:
        return exact[0], exact
    fitting = [kind for kind in ROW_MODELS if fits(kind, header)]
    if not fitting:
        return None, []
    most = max(len(ROW_MODELS[kind].required_columns()) for kind in fitting)
    best = [kind for kind in fitting if len(ROW_MODELS[kind].required_columns()) == most]
    return (best[0], best) if len(best) == 1 else (None, best)


def _header_issue(header: list[str], kind: str | None, tied: list[str]) -> Issue:
    """Why the header was not read as one kind, and what to do."""
    if kind is not None:  # asked for with --kind
        model = ROW_MODELS[kind]
        missing = sorted(model.required_columns() - set(header))
        foreign = [name for name in header if name not in model.columns()]
        parts = [f"lacks the required columns {', '.join(missing)}"] if missing else []
        if foreign:
            parts.append(f"has columns {kind} do not have: {', '.join(foreign)}")
        return Issue(1, "", f"the header does not fit {kind}: it {' and '.join(parts)}")
    if tied:
        return Issue(
            1,
            "",
            f"the header fits several kinds ({', '.join(tied)}); say which with --kind",
        )
    return Issue(
        1,
        "",
        "the header does not match the columns of any kind (see the README section "
        "'Import, export and backup'); for another tool's export give --mapping FILE",
    )


def cell_values(kind: str, cells: dict[str, str], line: int, issues: list[Issue]) -> dict[str, Any]:
    """CSV cells as row values: empty cells are left out (the field's default applies) and
    list columns are parsed as JSON arrays."""
    model = ROW_MODELS[kind]
    nested = model.nested_columns()
    key = cells.get(model.KEY, "")
    values: dict[str, Any] = {}
    for column, cell in cells.items():
        if cell == "":
            continue
        if column in nested:
            try:
                values[column] = json.loads(cell)
            except json.JSONDecodeError as error:
                issues.append(Issue(line, key, f"{column}: not a JSON list ({error.msg})"))
            except RecursionError:
                issues.append(Issue(line, key, f"{column}: {TOO_DEEP}"))
            continue
        values[column] = cell
    return values


class Mapper(Protocol):
    """Turns another tool's CSV rows into ours (see `transfer_mapping.Mapping`)."""

    kind: str

    def check_header(self, header: list[str]) -> list[Issue]: ...

    def convert(self, cells: dict[str, str], line: int, issues: list[Issue]) -> dict[str, Any]: ...


def read_csv(text: str, mapper: Mapper | None = None, kind: str | None = None) -> Source:
    """One kind per file: the kind comes from the header (or `kind`, which the header must
    fit), or from the mapping, which then turns the other tool's cells into ours."""
    source = Source()
    header, rows, source.issues = read_csv_cells(text)
    if not header:
        return source
    if mapper is not None:
        source.issues.extend(mapper.check_header(header))
        if source.issues:
            return source
        kind = mapper.kind
        for line, cells in rows:
            values = mapper.convert(cells, line, source.issues)
            source.rows.append(SourceRow(kind, line, len(source.rows), values, "csv"))
        return source
    if kind is not None:
        detected, tied = (kind, [kind]) if fits(kind, header) else (None, [])
    else:
        detected, tied = detect_kind(header)
    if detected is None:
        source.issues.append(_header_issue(header, kind, tied))
        return source
    for line, cells in rows:
        values = cell_values(detected, cells, line, source.issues)
        source.rows.append(SourceRow(detected, line, len(source.rows), values, "csv"))
    return source
