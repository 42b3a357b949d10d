"""make emulator (python -m local.emulator): an EMULATOR_PORT or --port that is no port is one
line naming it and exit code 2, not a traceback."""
from __future__ import annotations

import pytest

from local.emulator.__main__ import parse_args


@pytest.mark.parametrize("environ, argv", [({"EMULATOR_PORT": "abc"}, []), ({}, ["--port", "70000"])])
def test_a_port_that_is_no_port_is_one_line(monkeypatch, capsys, environ, argv):
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "EMULATOR_PORT" in err and "Traceback" not in err


def test_a_port_in_range_is_taken(monkeypatch):
    monkeypatch.setenv("EMULATOR_PORT", "9101")
    assert parse_args([]).port == 9101 and parse_args(["--port", "0"]).port == 0
