"""Human-facing record numbers (INC0000001) from a per-prefix counter row."""

from __future__ import annotations

from sqlalchemy import bindparam, update
from sqlmodel import Session, col

from itsm_tui.store.models import NumberSequence

NUMBER_DIGITS = 7


# Built once: every record created takes a number, and building the statement cost about
# what running it does.
_TAKE = (
    update(NumberSequence)
    .where(col(NumberSequence.prefix) == bindparam("wanted_prefix"))
    .values(last_value=col(NumberSequence.last_value) + 1)
    .returning(col(NumberSequence.last_value))
)


def next_number(session: Session, prefix: str) -> str:
    """Take the next number atomically: the UPDATE locks the counter row until commit, so
    concurrent writers queue instead of colliding, and a rolled-back insert gives its number
    back."""
    value = session.execute(_TAKE, {"wanted_prefix": prefix}).scalar_one_or_none()
    if value is None:
        session.add(NumberSequence(prefix=prefix, last_value=1))
        session.flush()
        value = 1
    return f"{prefix}{value:0{NUMBER_DIGITS}d}"
