"""ITIL's default impact x urgency matrix.

Priority is derived, never typed in: agents judge impact and urgency, the matrix decides, so
the same situation gets the same priority whoever logs it.
"""

from __future__ import annotations

from itsm_tui.domain.enums import Impact, Priority, Urgency


def priority_for(impact: Impact | int, urgency: Impact | Urgency | int) -> Priority:
    """Return the priority for an impact and urgency, each 1 (high) to 3 (low).

    The ITIL default is a sum rule: (1,1)=P1, sum 3=P2, sum 4=P3, sum 5=P4, (3,3)=P5.
    """
    impact_level = _level(Impact, impact)
    urgency_level = _level(Urgency, urgency)
    return Priority(impact_level.value + urgency_level.value - 1)


def _level(kind: type[Impact] | type[Urgency], value: object) -> Impact | Urgency:
    # `int()` would turn 2.5 into 2 and "2" into 2; only whole numbers 1-3 are levels.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not a valid {kind.__name__} (1, 2 or 3)")
    return kind(value)
