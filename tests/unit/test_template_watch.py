"""The watch settings an operator tunes are template parameters, with the range the function
accepts (as MaxBatch and the others in test_template_settings.py)."""
from __future__ import annotations

from tests.unit.test_template_settings import environment, settings, template  # noqa: F401 (a fixture)
# Imported under another name, so that pytest does not collect its cases here again.
from tests.unit.test_template_settings import \
    test_a_number_parameter_spans_exactly_what_the_function_accepts as spans_what_the_function_accepts


def test_the_first_check_s_delay_is_a_parameter_with_the_function_s_range(template):
    spans_what_the_function_accepts(template, "WatchFirstDelaySeconds", "WATCH_FIRST_DELAY_SECONDS")
    definition = template["Parameters"]["WatchFirstDelaySeconds"]
    default = settings.Settings.from_environ(environment(template)).watch_first_delay_seconds
    assert definition["Default"] == default == settings.Settings.watch_first_delay_seconds
