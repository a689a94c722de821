"""The one base of the domain's own refusals.

A `DomainError` says, in words a user can act on, why a rule refused: the CLI maps any that
reaches it to exit 2 (bad input) with the message, never a traceback. Still a `ValueError`, so
code that caught the specific errors as `ValueError` keeps working.
"""

from __future__ import annotations


class DomainError(ValueError):
    """A business rule refused; `str(error)` is the message to show."""
