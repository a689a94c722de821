"""The lock files agree with pyproject.toml, with each other, and with the commands that use
them (issue 15): what `.ci/run` tests is what the README installs."""

from __future__ import annotations

import re
import tomllib
from itertools import pairwise
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)(?: ;[^\\]*)? \\$", re.M)
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


def _pins(name: str) -> dict[str, tuple[str, frozenset[str]]]:
    """Package -> (version, its file hashes) of requirements/NAME."""
    text = (ROOT / "requirements" / name).read_text()
    starts = [(m.start(), m) for m in _PIN.finditer(text)] + [(len(text), None)]
    pins = {}
    for (start, match), (end, _) in pairwise(starts):
        assert match is not None
        hashes = frozenset(_HASH.findall(text, start, end))
        assert hashes, f"{match.group(1)} has no hash in {name}"
        pins[canonicalize_name(match.group(1))] = (match.group(2), hashes)
    return pins


def _declared() -> tuple[list[Requirement], list[Requirement]]:
    """(runtime + `postgres` extra + build requirements, `test` extra) from pyproject.toml."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project, build = pyproject["project"], pyproject["build-system"]["requires"]
    extras = project["optional-dependencies"]
    runtime = [*project["dependencies"], *extras["postgres"], *build]
    return [Requirement(r) for r in runtime], [Requirement(r) for r in extras["test"]]


def test_every_declared_range_is_pinned_within_range() -> None:
    runtime, test = _declared()
    app, tests = _pins("app.lock"), _pins("test.lock")
    for lock, requirements in ((app, runtime), (tests, runtime + test)):
        for requirement in requirements:
            name = canonicalize_name(requirement.name)
            assert name in lock, f"{name} is not in the lock: run requirements/refresh.sh"
            version = lock[name][0]
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{name}=={version} is outside {requirement}: run requirements/refresh.sh"
            )


def test_the_test_lock_holds_the_app_locks_pins_with_the_same_hashes() -> None:
    app, tests = _pins("app.lock"), _pins("test.lock")
    assert len(app) > 30
    for name, pin in app.items():
        assert tests.get(name) == pin, f"{name}: app {pin[0]}, test {tests.get(name, ('-',))[0]}"


def test_ci_runs_the_readmes_test_command_which_installs_from_the_lock() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^pip install -r requirements/\S+ .*$", readme, re.M)
    app = next(c for c in commands if "requirements/app.lock" in c)
    test = next(c for c in commands if "requirements/test.lock" in c)
    assert app.endswith("&& itsm demo") and "--no-deps" in app
    assert test.endswith("&& pytest") and "--no-deps" in test
    assert test in (ROOT / ".ci" / "run").read_text().splitlines()
