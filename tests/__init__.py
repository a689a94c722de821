import pytest

# The shared helper modules hold asserts; have pytest rewrite them as it does test modules so a
# failing helper assert still shows the compared values.
pytest.register_assert_rewrite("tests.cli_helpers", "tests.service_helpers")
