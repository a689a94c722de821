"""The layering rules of DESIGN.md, checked by parsing the source (nothing is imported).

- domain/ and services/ never import textual;
- domain/ never imports sqlmodel or sqlalchemy, nor any layer above it;
- imports point downwards: store never reaches up into services or the UI, services never
  into workers or the UI;
- only itsm_tui/clock.py reads the wall clock.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "itsm_tui"
UI = ("textual", "itsm_tui.app", "itsm_tui.screens", "itsm_tui.widgets", "itsm_tui.cli")


def modules(layer: str = "") -> list[Path]:
    root = PACKAGE / layer if layer else PACKAGE
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """Every module an import statement in `path` names (also inside functions)."""
    package = module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    return imports_in(path.read_text(encoding="utf-8"), package)


def imports_in(source: str, package: str) -> Iterator[tuple[int, str]]:
    """(line, module) for each import, relative imports resolved against `package`."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names:  # `from itsm_tui import app` imports itsm_tui.app
                yield node.lineno, f"{target}.{alias.name}"


def violations(layer: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in modules(layer):
        for line, name in imported_modules(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}")
    return found


def test_the_layers_exist() -> None:
    # Guards against the checks passing vacuously after a rename.
    for layer in ("domain", "services", "store"):
        assert len(modules(layer)) >= 2, layer
    assert (PACKAGE / "clock.py").exists()


@pytest.mark.parametrize("layer", ["domain", "services"])
def test_no_textual_below_the_ui(layer: str) -> None:
    assert violations(layer, ("textual",)) == []


def test_domain_is_free_of_persistence_and_upper_layers() -> None:
    forbidden = (
        "sqlmodel",
        "sqlalchemy",
        "alembic",
        "psycopg",
        "itsm_tui.store",
        "itsm_tui.services",
        "itsm_tui.workers",
        "itsm_tui.config",
        *UI,
    )
    assert violations("domain", forbidden) == []


def test_store_does_not_reach_up() -> None:
    assert violations("store", ("itsm_tui.services", "itsm_tui.workers", *UI)) == []


def test_services_do_not_reach_up() -> None:
    assert violations("services", ("itsm_tui.workers", *UI)) == []


def test_import_scanner_sees_what_it_should() -> None:
    """The scanner itself: absolute, relative, nested and `from package import module`."""
    source = (
        "import textual.app\n"
        "from sqlmodel import Session\n"
        "from . import permissions\n"
        "from ..store import models\n"
        "def f():\n"
        "    from itsm_tui import app\n"
    )
    names = {name for _, name in imports_in(source, "itsm_tui.domain")}
    assert {
        "textual.app",
        "sqlmodel",
        "itsm_tui.domain.permissions",
        "itsm_tui.store.models",
        "itsm_tui.app",
    } <= names


# ---------------------------------------------------------------------------- the wall clock

CLOCK_ATTRIBUTES = {
    "datetime": {"now", "utcnow", "today"},
    "date": {"today"},
    "time": {"time", "time_ns"},
}


def wall_clock_reads(source: str) -> list[tuple[int, str]]:
    """Lines that read the current time through datetime, date or time, however imported."""
    tree = ast.parse(source)
    modules_bound: dict[str, str] = {}  # local name -> "datetime" | "time" (the module)
    classes_bound: dict[str, str] = {}  # local name -> "datetime" | "date" (the class)
    functions_bound: set[str] = set()  # `from time import time` and friends
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in ("datetime", "time"):
                    modules_bound[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module in ("datetime", "time"):
            for alias in node.names:
                local = alias.asname or alias.name
                if node.module == "datetime" and alias.name in ("datetime", "date"):
                    classes_bound[local] = alias.name
                if node.module == "time" and alias.name in CLOCK_ATTRIBUTES["time"]:
                    functions_bound.add(local)

    def owner(node: ast.expr) -> str | None:
        """What `node` refers to: a clock-reading class or module, by its canonical name."""
        if isinstance(node, ast.Name):
            if node.id in classes_bound:
                return classes_bound[node.id]
            if modules_bound.get(node.id) == "time":
                return "time"
            return None
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and modules_bound.get(node.value.id) == "datetime"
            and node.attr in ("datetime", "date")
        ):
            return node.attr
        return None

    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            kind = owner(node.value)
            if kind is not None and node.attr in CLOCK_ATTRIBUTES[kind]:
                found.append((node.lineno, f"{kind}.{node.attr}"))
        elif (
            isinstance(node, ast.Name)
            and node.id in functions_bound
            and isinstance(node.ctx, ast.Load)
        ):
            found.append((node.lineno, node.id))
    return found


def test_only_the_clock_module_reads_the_wall_clock() -> None:
    offenders = []
    for path in modules():
        if path == PACKAGE / "clock.py":
            continue
        for line, what in wall_clock_reads(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line} calls {what}")
    assert offenders == [], "take a Clock instead:\n" + "\n".join(offenders)


def test_the_clock_module_is_where_time_is_read() -> None:
    # Proves the detector finds the one legitimate read, so an empty result elsewhere means
    # something.
    assert wall_clock_reads((PACKAGE / "clock.py").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "source",
    [
        "import datetime\nx = datetime.datetime.now()",
        "import datetime as dt\nx = dt.datetime.utcnow()",
        "import datetime\nx = datetime.date.today()",
        "from datetime import datetime\nx = datetime.now(tz=None)",
        "from datetime import datetime as DT\nx = DT.today()",
        "from datetime import date\nx = date.today()",
        "import time\nx = time.time()",
        "import time as t\nx = t.time_ns()",
        "from time import time\nx = time()",
        "from datetime import datetime\nf = datetime.now  # passed along as a factory",
    ],
)
def test_clock_detector_catches(source: str) -> None:
    assert wall_clock_reads(source)


@pytest.mark.parametrize(
    "source",
    [
        "def f(clock):\n    return clock.now()",
        "from datetime import datetime\nx = datetime.fromisoformat('2026-01-01')",
        "from datetime import datetime, UTC\nx = datetime(2026, 1, 1, tzinfo=UTC)",
        "import time\ntime.sleep(0)",
        "import time\nx = time.monotonic()",
    ],
)
def test_clock_detector_leaves_alone(source: str) -> None:
    assert wall_clock_reads(source) == []
