"""Libraries' deprecation warnings never reach the person at the terminal (issue 15): the CLI
filters them first thing, unless the user asked for warnings; our own warnings still show."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from itsm_tui.clock import FixedClock
from tests.tui_helpers import seeded_desk

ITSM = Path(sys.executable).with_name("itsm")  # the console script next to this interpreter
# The two entry points: the installed `itsm` script (cli.main) and `python -m itsm_tui`.
ENTRY_POINTS = {
    "itsm": [str(ITSM)],
    "python -m itsm_tui": [sys.executable, "-m", "itsm_tui"],
}


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "PYTHONDEVMODE")}
    return {**env, **extra}


def _run(argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=120, env=_environment(**env), check=False
    )


def test_key_commands_print_no_library_deprecation_unless_asked(
    sqlite_url: str, clock: FixedClock
) -> None:
    """`itsm user key list` imports asyncssh, which (with the locked cryptography 51) warns
    that DSA is deprecated: through either entry point the user sees only the command's
    output. Asked for warnings (PYTHONWARNINGS), the same command shows them, which also
    proves this environment has a deprecation to hide."""
    database, desk = seeded_desk(sqlite_url, clock)
    desk.session.close()
    database.dispose()
    command = ["--db", sqlite_url, "--user", "alice", "user", "key", "list", "alice"]
    for entry in ENTRY_POINTS.values():
        listed = _run([*entry, *command])
        assert listed.returncode == 0, listed.stderr
        assert "FINGERPRINT" in listed.stdout
        assert "Warning" not in listed.stderr, listed.stderr

    asked = _run([*ENTRY_POINTS["itsm"], *command], PYTHONWARNINGS="default")
    assert asked.returncode == 0, asked.stderr
    assert "DeprecationWarning" in asked.stderr, (
        "the locked libraries no longer warn on `import asyncssh`, so the first half of this "
        f"test proves nothing: give it another deprecated import. stderr: {asked.stderr!r}"
    )


LIBRARY = """
import warnings

class VendorDeprecationWarning(UserWarning):  # like cryptography's: not a DeprecationWarning
    pass

def use_old_api():
    warnings.warn("old_api is deprecated, use new_api", VendorDeprecationWarning)
    warnings.warn("legacy mode will change", FutureWarning)
    warnings.warn("pending removal", PendingDeprecationWarning)
    warnings.warn("the cache is cold", UserWarning)  # not a deprecation: still shown
"""

SCRIPT = """
import warnings
from itsm_tui.warnings_policy import quiet_library_deprecations

quiet_library_deprecations()
import vendorlib

vendorlib.use_old_api()
# Our own code's warnings, deprecation or not, are never hidden.
warnings.warn_explicit("our own old flag is deprecated", UserWarning, "cli.py", 1, "itsm_tui.cli")
warnings.warn_explicit("our FutureWarning", FutureWarning, "cli.py", 2, "itsm_tui.cli")
"""


@pytest.mark.parametrize(
    ("flags", "env", "hidden"),
    [
        ([], {}, True),
        (["-W", "default"], {}, False),
        ([], {"PYTHONWARNINGS": "default"}, False),
        (["-X", "dev"], {}, False),
    ],
    ids=["not asked", "-W", "PYTHONWARNINGS", "-X dev"],
)
def test_the_policy_hides_only_libraries_deprecations_and_only_when_not_asked(
    tmp_path: Path, flags: list[str], env: dict[str, str], hidden: bool
) -> None:
    (tmp_path / "vendorlib.py").write_text(textwrap.dedent(LIBRARY))
    result = _run(
        [sys.executable, *flags, "-c", textwrap.dedent(SCRIPT)],
        PYTHONPATH=str(tmp_path),
        **env,
    )
    assert result.returncode == 0, result.stderr
    err = result.stderr
    assert "the cache is cold" in err
    assert "our own old flag is deprecated" in err
    assert "our FutureWarning" in err
    for text in ("old_api is deprecated", "legacy mode will change", "pending removal"):
        assert (text not in err) is hidden, err
