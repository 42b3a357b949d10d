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


# --- Deploying: the parameter table is the template's ---------------------------------------------

def parameter_rows() -> List[List[str]]:
    return table_rows(section("Deploying"), "parameter")


def test_the_parameter_table_names_every_template_parameter():
    parameters = load()["Parameters"]
    named = {name for row in parameter_rows() for name in names_in(row[0] + " " + row[2])}
    # make deploy sets the two code objects: the CodeBucket row says so.
    assert set(parameters) - named == set()
    assert named & set(parameters) == set(parameters)


def test_the_parameter_table_states_the_template_s_defaults_and_ranges():
    parameters = load()["Parameters"]
    checked = 0
    for names_cell, default_cell, meaning in parameter_rows():
        names = [n for n in names_in(names_cell) if n in parameters]
        defaults = re.findall(r"`([^`]*)`", without_asides(default_cell))
        if defaults and len(defaults) == len(names):  # the rows whose defaults are all literal values
            for name, stated in zip(names, defaults):
                assert stated == str(parameters[name]["Default"]), name
                checked += 1
        numbers = [name for name in names if "MinValue" in parameters[name]]
        for name, (low, high) in zip(numbers, re.findall(rf"({NUMBER})\.\.({NUMBER})", meaning)):
            definition = parameters[name]
            assert (float(low), float(high)) == (definition["MinValue"], definition["MaxValue"]), name
    assert checked >= 10


def test_the_outputs_make_deploy_prints_are_the_stack_s():
    listed = section("Deploying").split("prints its outputs:", 1)[1].split(".\n", 1)[0]
    assert set(names_in(listed)) == set(load()["Outputs"])


# --- Runbook: a row for every ERROR line, and every row's message is logged at ERROR --------------

def error_messages() -> Set[str]:
    """What the function logs at ERROR or above: logger.error's (and .exception's, .critical's) literal messages, the follow-up's
    `_not_done` ones, a reconciliation's claim, and a 5xx refusal's (triggers/common.py)."""
    messages = {"Request refused"}
    for path in FUNCTION.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            first = node.args[0]
            if name in ("error", "exception", "critical", "_not_done") and isinstance(first, ast.Constant) and \
                    isinstance(first.value, str):
                messages.add(first.value)
            # log = logger.info if ... else logger.error; log("..." + ("" if ... else " and ..."))
            if name == "log" and isinstance(first, ast.BinOp) and isinstance(first.right, ast.IfExp):
                messages.add(first.left.value + first.right.orelse.value)
    return messages


def runbook_messages() -> Set[str]:
    rows = table_rows(section("Runbook"), "log message")
    return {message for row in rows for message in re.findall(r"`([^`]+)`", without_asides(row[0]))}


def test_every_runbook_message_is_one_the_function_logs_at_error():
    assert runbook_messages() - error_messages() == set()


def test_every_error_line_of_the_function_has_a_runbook_row():
    assert error_messages() - runbook_messages() == set()


# --- Notifications: the table names the schema's fields; `?` marks the optional ones --------------

def test_the_notification_table_is_the_schema_s():
    from deleter.notifications import TAGS

    schema = json.loads((FUNCTION / "deleter" / "notification.schema.json").read_text())
    events = {}
    for ref in schema["oneOf"]:
        definition = schema["$defs"][ref["$ref"].rsplit("/", 1)[1]]
        events[definition["properties"]["Event"]["const"]] = definition
    text = section("Notifications")
    rows = {names_in(row[0])[0]: row for row in table_rows(text, "event")}
    assert set(rows) == set(events) == set(TAGS)
    # The Submitted row's checks fields are in the paragraph below the table.
    extra = text.split("A `DSRecordDeletionSubmitted` for a task", 1)[1].split("\n\n", 1)[0]
    for event, (_, tag, fields) in rows.items():
        assert tag == f"`{TAGS[event]}`", event
        definition = events[event]
        named = set(names_in(fields + (extra if event == "DSRecordDeletionSubmitted" else "")))
        assert set(definition["properties"]) - {"Event"} <= named, event
        optional = set(re.findall(r"`([A-Za-z]+)`\?", fields))
        assert not optional & set(definition["required"]), event


# --- The layout names what is there -----------------------------------------------------------------

def test_the_layout_names_every_part_of_local_and_paths_that_exist():
    block = section("How the code is laid out").split("```", 2)[1]
    for path in re.findall(r"^([\w./-]+/?)\s", block, re.M):
        assert (ROOT / path).exists() or (FUNCTION / path).exists(), path
    local = block.split("\nlocal/", 1)[1].split("\ntests/", 1)[0]
    for entry in sorted((ROOT / "local").iterdir()):
        if entry.name.startswith(("_", ".")):
            continue
        shown = entry.name + "/" if entry.is_dir() else entry.name
        assert shown in local, shown


# --- make help lists every target; the README shows each -------------------------------------------

def phony_targets() -> List[str]:
    """The targets a user runs (`install` is the others' first step)."""
    makefile = (ROOT / "Makefile").read_text()
    return [t for t in re.search(r"^\.PHONY:(.*)$", makefile, re.M).group(1).split() if t not in ("help", "install")]


def test_make_help_lists_every_target():
    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    listed = set(re.findall(r"^make (\w+)", out, re.M))
    assert set(phony_targets()) == listed


@pytest.mark.parametrize("target", phony_targets())
def test_the_readme_s_command_table_has_a_row_per_target(target):
    commands = table_rows(section("Quick start"), "command")
    assert any(row[0].startswith(f"`make {target}") for row in commands), target
