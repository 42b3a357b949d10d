"""pytest plugin for the mutation campaign (`-p tests.mutation.coverage`): which lines of the
mutated files each test runs, and how long it takes, written as JSON when the session ends.

The campaign runs this once on the unmutated tree, then first runs against each mutant only the
tests that run its lines, quickest first. A trace function (sys.settrace, and threading.settrace
for the threads the function and the emulator start) sees only the frames of those files.

MUTATE_COVERAGE_FILES: the files (absolute paths, os.pathsep between them); MUTATE_COVERAGE_OUT:
where the JSON goes: {"lines": {nodeid: {path: [line, ...]}}, "seconds": {nodeid: seconds}}.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Dict, Optional, Set

import pytest

_FILES = {os.path.realpath(path): path for path in os.environ.get("MUTATE_COVERAGE_FILES", "").split(os.pathsep)
          if path}
_OUT = os.environ.get("MUTATE_COVERAGE_OUT", "")
_current: Dict[str, Optional[str]] = {"test": None}
_lines: Dict[str, Dict[str, Set[int]]] = {}
_seconds: Dict[str, float] = {}
_known: Dict[str, Optional[str]] = {}  # a code object's file name -> the target it is, or None


def _line(frame, event, arg):
    test = _current["test"]
    if event == "line" and test is not None:
        _lines.setdefault(test, {}).setdefault(_known[frame.f_code.co_filename], set()).add(frame.f_lineno)
    return _line


def _call(frame, event, arg):
    name = frame.f_code.co_filename
    target = _known.get(name, False)
    if target is False:
        target = _known[name] = _FILES.get(os.path.realpath(name))
    return _line if target is not None else None


def pytest_configure(config) -> None:
    if _FILES and _OUT:
        threading.settrace(_call)
        sys.settrace(_call)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _current["test"] = item.nodeid
    started = time.monotonic()
    yield
    _seconds[item.nodeid] = time.monotonic() - started
    _current["test"] = None


def pytest_sessionfinish(session) -> None:
    if not (_FILES and _OUT):
        return
    sys.settrace(None)
    threading.settrace(None)
    with open(_OUT, "w", encoding="utf-8") as out:
        json.dump({"lines": {test: {path: sorted(lines) for path, lines in files.items()}
                             for test, files in _lines.items()},
                   "seconds": _seconds}, out)
