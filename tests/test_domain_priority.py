"""The ITIL default impact x urgency matrix, cell by cell, and refusal of anything off the grid."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from itsm_tui.domain.enums import Impact, Priority, Urgency
from itsm_tui.domain.priority import priority_for

# Written out from DESIGN.md, not derived from the implementation's sum rule.
MATRIX = {
    (1, 1): 1,
    (1, 2): 2,
    (2, 1): 2,
    (1, 3): 3,
    (2, 2): 3,
    (3, 1): 3,
    (2, 3): 4,
    (3, 2): 4,
    (3, 3): 5,
}


def test_matrix_covers_every_cell() -> None:
    assert set(MATRIX) == {(i, u) for i in (1, 2, 3) for u in (1, 2, 3)}


@pytest.mark.parametrize(("impact", "urgency", "expected"), [(*k, v) for k, v in MATRIX.items()])
def test_priority_matrix_with_plain_ints(impact: int, urgency: int, expected: int) -> None:
    result = priority_for(impact, urgency)
    assert isinstance(result, Priority)
    assert result == expected
    assert result.label == f"P{expected}"


@pytest.mark.parametrize(("impact", "urgency", "expected"), [(*k, v) for k, v in MATRIX.items()])
def test_priority_matrix_with_enums(impact: int, urgency: int, expected: int) -> None:
    assert priority_for(Impact(impact), Urgency(urgency)) is Priority(expected)


def test_named_corners() -> None:
    assert priority_for(Impact.HIGH, Urgency.HIGH) is Priority.CRITICAL
    assert priority_for(Impact.LOW, Urgency.LOW) is Priority.PLANNING
    assert priority_for(Impact.MEDIUM, Urgency.MEDIUM) is Priority.MODERATE


@pytest.mark.parametrize(
    ("impact", "urgency"),
    [
        (0, 1),
        (4, 1),
        (1, 0),
        (1, 4),
        (7, 2),
        (2, 7),
        (-1, 1),
        (0, 0),
        (2.5, 1),
        (1, 1.5),
        ("2", 1),
        (1, "x"),
        (None, 1),
        (1, None),
        (True, 1),
    ],
)
def test_values_off_the_grid_are_refused(impact: object, urgency: object) -> None:
    with pytest.raises(ValueError):
        priority_for(impact, urgency)  # type: ignore[arg-type]


@given(st.integers().filter(lambda n: n not in (1, 2, 3)), st.sampled_from([1, 2, 3]))
def test_any_other_integer_is_refused(bad: int, good: int) -> None:
    with pytest.raises(ValueError):
        priority_for(bad, good)
    with pytest.raises(ValueError):
        priority_for(good, bad)


@given(st.sampled_from([1, 2, 3]), st.sampled_from([1, 2, 3]))
def test_symmetric_and_monotonic(impact: int, urgency: int) -> None:
    here = priority_for(impact, urgency)
    # Judging impact and urgency the other way round gives the same priority.
    assert priority_for(urgency, impact) is here
    # Raising either one (a lower number) never lowers the priority (a higher number).
    if impact > 1:
        assert priority_for(impact - 1, urgency) < here
    if urgency > 1:
        assert priority_for(impact, urgency - 1) < here
