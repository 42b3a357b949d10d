"""make run (local/http_trigger.py): a PORT or EMULATOR_PORT that is no port is one line and
exit code 2, before anything starts, not a traceback."""
from __future__ import annotations

import pytest

from local import http_trigger


@pytest.mark.parametrize("name, value", [("PORT", "abc"), ("EMULATOR_PORT", "91OO"), ("PORT", "70000")])
def test_a_port_setting_that_is_no_port_is_one_line(monkeypatch, capsys, name, value):
    monkeypatch.setenv(name, value)
    assert http_trigger.main() == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and name in err and value in err and "Traceback" not in err
