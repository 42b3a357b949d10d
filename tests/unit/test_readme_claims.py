"""README.md's claims, read against the code and the template they describe: the settings'
ranges, the deploy parameters and their defaults, the stack's outputs, the runbook's ERROR lines,
the notification fields and the layout. (The settings' defaults: tests/unit/test_settings.py.)"""
from __future__ import annotations

import ast
import json
import re
import subprocess
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest

from local.ros_template import load

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = ROOT / "functions" / "ds_record_deleter"
README = (ROOT / "README.md").read_text()
NUMBER = r"\d+(?:\.\d+)?"


def section(title: str) -> str:
    return README.split(f"\n## {title}", 1)[1].split("\n## ", 1)[0]


def table_rows(text: str, first_header: str) -> List[List[str]]:
    """The rows of the markdown table whose header starts with `| first_header |`."""
    table = text.split(f"| {first_header} |", 1)[1].split("\n\n", 1)[0]
    return [[cell.strip() for cell in line.strip().strip("|").split(" | ")]
            for line in table.splitlines()[2:] if line.startswith("|")]


def names_in(cell: str) -> List[str]:
    """`Name`, and `"Name": value` (a field shown with its value)."""
    return re.findall(r'`"?([A-Za-z_][A-Za-z0-9_]*)(?:"[^`]*)?`', cell)


def without_asides(cell: str) -> str:
    return re.sub(r"\([^)]*\)", "", cell)


# --- Configuration: every number setting states the range the settings reader accepts -------------

def reader_ranges() -> Dict[str, Tuple[float, float]]:
    import deleter.settings as settings

    source = (FUNCTION / "deleter" / "settings.py").read_text()
    ranges = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "number":
            name, _default, _type, low, high = node.args
            evaluate = lambda expr: eval(compile(ast.Expression(expr), "settings.py", "eval"), vars(settings))  # noqa: E731
            ranges[name.value] = (evaluate(low), evaluate(high))
    return ranges


def test_the_configuration_table_states_each_number_setting_s_range_as_the_code_accepts_it():
    ranges = reader_ranges()
    assert len(ranges) > 10
    stated = {}
    for variables, _default, meaning in table_rows(section("Configuration"), "variable"):
        found = re.findall(rf"({NUMBER})\.\.({NUMBER})", meaning)
        for name, pair in zip(names_in(variables), found):
            stated[name] = (float(pair[0]), float(pair[1]))
    assert stated == {name: (float(low), float(high)) for name, (low, high) in ranges.items()}
