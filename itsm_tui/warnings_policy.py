"""Keep libraries' deprecation warnings away from the people using the desk.

A deprecation in a dependency (cryptography 51 deprecating DSA, printed five times whenever
asyncssh is imported) is news for whoever maintains itsm-tui, who sees it in the test run and
when refreshing the lock file, not for an agent typing `itsm user key list`: to them it reads
like an error. So every entry point calls `quiet_library_deprecations()` first.

Only deprecations are hidden, and only those raised from other packages' code: warnings from
`itsm_tui` itself still show (and the test suite turns them into errors). Someone who asks for
warnings (`python -W ...`, `PYTHONWARNINGS`, `-X dev`) gets them all, untouched.

This module imports nothing but the standard library: it runs before every command, and the
warning classes of the libraries (e.g. cryptography's `CryptographyDeprecationWarning`, a
`UserWarning`) are matched by their message instead of being imported.
"""

from __future__ import annotations

import sys
import warnings

# Any module but ours: warnings' `module` is a regular expression matched at the start of the
# module the warning is attributed to.
NOT_OURS = r"(?!itsm_tui(\.|$))"
# Deprecation warnings that are not DeprecationWarning subclasses (cryptography's derives from
# UserWarning) say so in their text; `message` is matched case-insensitively from the start.
DEPRECATION_TEXT = r".*deprecat"


def user_asked_for_warnings() -> bool:
    """True when warnings were configured on the command line, in PYTHONWARNINGS (both end up
    in sys.warnoptions) or by Python's development mode."""
    return bool(sys.warnoptions) or sys.flags.dev_mode


def quiet_library_deprecations() -> None:
    """Ignore deprecation warnings raised from libraries' code, unless the user asked for
    warnings. Cheap and idempotent (warnings drops a duplicate filter)."""
    if user_asked_for_warnings():
        return
    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category, module=NOT_OURS)
    warnings.filterwarnings("ignore", DEPRECATION_TEXT, UserWarning, NOT_OURS)
