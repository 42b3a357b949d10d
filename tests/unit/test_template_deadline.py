"""The shortest function timeout the template allows leaves the function time to work: the
deadline keeps DEADLINE_MARGIN_SECONDS for publishing and needs 0.5 s more, or every invocation
fails as misconfigured (deleter/deadline.py)."""
from __future__ import annotations

import pytest

from local.ros_template import parameter_values
from tests.unit.test_template_settings import REQUIRED, environment, settings, template  # noqa: F401 (a fixture)


def test_the_shortest_timeout_the_template_allows_is_one_the_function_can_work_in(template):
    from deleter.deadline import Deadline

    shortest = template["Parameters"]["Timeout"]["MinValue"]
    margin = settings.Settings.from_environ(environment(template, Timeout=str(shortest))).deadline_margin_seconds
    assert not parameter_values(template, {**REQUIRED, "Timeout": str(shortest)})[1]
    Deadline(0.0, shortest, margin)  # no ConfigurationError
    # One second less the function refuses, and ROS refuses it first.
    with pytest.raises(settings.ConfigurationError):
        Deadline(0.0, shortest - 1, margin)
    assert parameter_values(template, {**REQUIRED, "Timeout": str(shortest - 1)})[1]
