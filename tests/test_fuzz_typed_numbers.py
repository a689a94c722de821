"""Numbers, durations, percentages, hours and times typed as text, wherever the desk reads
them (the SLA admin parsers, the policy editor, the problem link dialog, the change form's
times): any text gives a value or a refusal that says what was expected, never another
exception.

Unicode digits are the trap: '²' and '①' pass `str.isdigit()` but `int()` refuses them
(ValueError); a French keyboard types '²' with one key. Numbers are ASCII digits.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from itsm_tui.screens.change_time import parse_local
from itsm_tui.screens.problem_dialogs import incident_numbers
from itsm_tui.screens.sla_policy_dialogs import _percents
from itsm_tui.services import sla_admin
from itsm_tui.services.errors import ValidationFailed
from tests.fuzz_inputs import fuzz_settings, nasty_text

NUMERIC = st.characters(categories=["Nd", "No", "Nl"])
TYPED = st.one_of(
    nasty_text(),
    st.text(st.one_of(NUMERIC, st.sampled_from(list("0123456789 ,;=%:-hmsdINCinc"))), max_size=12),
    st.sampled_from(["²", "INC²", "50,²", "²=notify_assignee", "①h", "٣h", "mon-fri ٠٨:00-17:00"]),
)


@fuzz_settings(200)
@given(typed=TYPED)
def test_typed_numbers_give_a_value_or_a_clear_refusal(typed: str) -> None:
    numbers = incident_numbers(typed)
    assert all(isinstance(number, str) and number for number in numbers)
    for parse in (_percents, sla_admin.parse_actions, sla_admin.parse_duration):
        try:
            parse(typed)
        except ValidationFailed as error:
            assert "invalid literal" not in str(error), (parse, typed, error)
    try:
        sla_admin.parse_hours(typed)
    except ValidationFailed as error:
        assert str(error)


@fuzz_settings(100)
@given(
    typed=st.one_of(
        nasty_text(),
        st.datetimes().map(lambda moment: moment.strftime("%Y-%m-%d %H:%M")),
        st.sampled_from(["0001-01-01 00:30", "9999-12-31 23:59", "2026-03-29 02:30", "²"]),
    ),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Pacific/Kiritimati"]),
)
@example(typed="0001-01-01 00:30", zone="Europe/Berlin")
@example(typed="9999-12-31 23:59", zone="America/New_York")
def test_a_typed_window_time_is_an_instant_or_a_sentence(typed: str, zone: str) -> None:
    """The change form's planned times: an aware UTC instant, None for blank, or a
    ValueError the form shows; 0001-01-01 00:30 in Berlin overflowed (OverflowError)."""
    try:
        moment = parse_local(typed, zone)
    except ValueError as error:
        assert str(error)
        return
    assert moment is None or moment.utcoffset() == timedelta(0)


def test_superscript_digits_are_text_not_numbers() -> None:
    assert incident_numbers("INC² 5") == ["INC²", "INC0000005"]
    assert incident_numbers("٣") == ["٣"]  # as typed: the link refuses it as unknown
