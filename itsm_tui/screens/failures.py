"""What a screen says when a worker failed in a way no service refusal covers.

A lost database is the common case (a PostgreSQL restart, a dropped SSH tunnel to it): it is
said plainly, with the promise the forms keep (nothing saved, your typing is still here),
instead of a driver's exception text.
"""

from __future__ import annotations

from itsm_tui.services.tx import database_failure


def failure_text(error: BaseException | None) -> str:
    lost = database_failure(error) if error is not None else None
    if lost is not None:
        return f"Not saved: {lost}. What you typed is kept; press ctrl+s to try again."
    return f"Something went wrong: {error}"
