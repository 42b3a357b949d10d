"""The mutation script itself (tests/mutation/mutate.py), so that `make mutate` cannot rot
unnoticed: it makes the expected mutants of small sample modules, and on a tiny project it finds a
mutant its tests kill and one they let survive."""
from __future__ import annotations

import textwrap
from pathlib import Path

from tests.mutation import equivalents
from tests.mutation.mutate import (CORE_FILES, ROOT, Stage, Workspace, judge, make_mutants, mutants_of, run_campaign,
                                   summarise)

SAMPLE = textwrap.dedent('''\
    """A sample module."""
    LIMIT = 10


    def clamp(value, limit=LIMIT):
        if value > limit:
            return limit
        return value


    def describe(value):
        if value is None:
            return "none"
        return "some"
''')

SAMPLE_TESTS = textwrap.dedent('''\
    from sample import clamp, describe


    def test_clamp():
        assert clamp(11, 10) == 10
        assert clamp(10, 10) == 10
        assert clamp(3, 10) == 3


    def test_describe_none():
        assert describe(None) == "none"
''')


def changes(source: str) -> list:
    return [(m.scope, m.operator, m.change) for m in mutants_of(source, "pkg/sample.py")]


def test_the_sample_gets_exactly_the_expected_mutants():
    assert changes(SAMPLE) == [
        ("clamp", "negate-condition", "if value > limit: -> if not (value > limit):"),
        ("clamp", "flip-compare", "value > limit -> value >= limit"),
        ("clamp", "return-value", "return limit -> return None"),
        ("clamp", "delete-statement", "return limit -> pass"),  # an early return
        ("clamp", "return-value", "return value -> return None"),  # the last: deleting it is the same
        ("describe", "flip-compare", "value is None -> value is not None"),  # its negation would be the same
        ("describe", "return-value", "return 'none' -> return None"),
        ("describe", "delete-statement", "return 'none' -> pass"),
        ("describe", "return-value", "return 'some' -> return None"),
    ]


def test_every_operator_and_every_rule_of_what_is_left_alone():
    source = textwrap.dedent('''\
        """Docstring."""
        import logging
        logger = logging.getLogger(__name__)


        class Guard:
            ready: bool = False

            def check(self, a, b, items):
                """Not mutated."""
                logger.info("checking %s", a if a else b)
                if not a and b:
                    raise ValueError("no")
                elif len(items) > 3:
                    return True
                try:
                    items.remove(a)
                except KeyError:
                    logger.error("missing %s", a == b)
                    raise
                while items:
                    items.pop()
                    break
                for x in list(items):
                    try:
                        int(x)
                    except ValueError:
                        continue  # the loop goes round anyway: not mutated
                self.ready = True
                return [x for x in items if x < a]
    ''')
    mutants = changes(source)
    assert {scope for scope, _, _ in mutants} == {"Guard.check"}
    assert [(operator, change) for _, operator, change in mutants] == [
        ("negate-condition", "if not a and b: -> if not (not a and b):"),
        ("swap-and-or", "not a and b -> not a or b"),
        ("negate-operand", "not a and b -> not a and (not b)"),
        ("remove-not", "not a -> a"),
        ("delete-statement", "raise ValueError('no') -> pass"),
        ("negate-condition", "elif len(items) > 3: -> elif not (len(items) > 3):"),
        ("flip-compare", "len(items) > 3 -> len(items) >= 3"),
        ("return-value", "return True -> return False"),
        ("delete-statement", "return True -> pass"),
        ("delete-statement", "items.remove(a) -> pass"),
        ("delete-statement", "logger.error('missing %s', a == b) -> pass"),  # ERROR lines count
        ("drop-reraise", "raise -> pass"),
        ("negate-condition", "while items: -> while not (items):"),
        ("delete-statement", "items.pop() -> pass"),
        ("delete-statement", "break -> pass"),
        ("delete-statement", "int(x) -> pass"),
        ("delete-statement", "self.ready = True -> pass"),
        ("return-value", "return [x for x in items if x < a] -> return None"),
        ("negate-condition", "for x in items if x < a -> for x in items if not x < a"),
        ("flip-compare", "x < a -> x <= a"),
    ]


def test_a_change_made_twice_in_one_function_is_told_apart_and_mutants_do_not_name_lines():
    source = "def f(x):\n    x.a()\n    x.b()\n    x.a()\n"
    first = mutants_of(source, "m.py")
    moved = mutants_of("import os\n\n\n" + source, "m.py")
    assert [m.key for m in first] == [("m.py", "f", "x.a() -> pass"), ("m.py", "f", "x.b() -> pass"),
                                      ("m.py", "f", "x.a() -> pass #2")]
    assert [m.key for m in moved] == [m.key for m in first] and moved[0].line == first[0].line + 3
    assert "    pass\n    x.b()" in first[0].source  # the rest of the file as it was


def test_the_cores_mutants_compile_and_every_explained_equivalent_is_one_of_them():
    """An explanation keyed to a mutant that is no longer made is stale: the code it spoke of changed."""
    mutants = make_mutants(ROOT, CORE_FILES)
    assert {m.file for m in mutants} == {Path(path).name for path in CORE_FILES}
    for mutant in mutants:
        compile(mutant.source, mutant.path, "exec")
    keys = {m.key for m in mutants}
    assert [key for key in equivalents.explanations() if key not in keys] == []


def sample_project(root: Path) -> Path:
    root.mkdir(exist_ok=True)
    (root / "pytest.ini").write_text("[pytest]\n")  # the sample is its own project
    (root / "sample.py").write_text(SAMPLE)
    (root / "test_sample.py").write_text(SAMPLE_TESTS)
    return root


def test_a_campaign_on_a_tiny_project_finds_a_killed_and_a_surviving_mutant(tmp_path):
    sample_project(tmp_path)
    mutants = [m for m in mutants_of(SAMPLE, "sample.py")
               if m.change in ("value > limit -> value >= limit", "return limit -> return None",
                               "return 'some' -> return None")]
    lines = []
    results = run_campaign(mutants, [Stage("sample tests", ("test_sample.py",), traced=True)], root=tmp_path,
                           jobs=2, pythonpath=(".",), report=lines.append)
    verdicts = {r.mutant.change: (r.verdict, r.killer, r.stage, r.covering) for r in results}
    assert verdicts == {
        # clamp(10, 10) is 10 either way: run by test_clamp (the tracer saw it), then the whole stage
        "value > limit -> value >= limit": ("SURVIVED", "", "", 1),
        "return limit -> return None": ("KILLED", "test_sample.py::test_clamp",
                                        "sample tests: tests running its lines", 1),
        "return 'some' -> return None": ("SURVIVED", "", "", 0),  # no test runs that line
    }
    assert (tmp_path / "sample.py").read_text() == SAMPLE  # mutants run in copies
    assert len([line for line in lines if "sample.py:" in line]) == 3
    assert any(line.startswith("baseline: sample tests passes") for line in lines)
    assert any(line.startswith("baseline: sample tests traced") for line in lines)

    report = []
    equivalent = {results[0].mutant.key: "value == limit returns the same either way"}
    assert not summarise(results, equivalent, 1.0, 2, filtered=False, report=report.append)
    assert "mutants made 3: killed 1" in "\n".join(report) and "unexplained survivors 1" in "\n".join(report)
    both = {**equivalent, results[2].mutant.key: "nobody reads it"}
    assert summarise(results, both, 1.0, 2, filtered=False, report=report.append)
    assert not summarise(results, {**both, results[1].mutant.key: "wrong"}, 1.0, 2, filtered=False,
                         report=report.append), "an explained mutant that is killed fails the campaign"


def test_a_test_that_fails_once_and_then_passes_alone_kills_nothing(tmp_path):
    """A kill counts once its test fails again alone: a timing test that failed by chance on a
    busy machine must not hide a survivor."""
    root = sample_project(tmp_path / "project")
    (root / "test_flaky.py").write_text(
        "from pathlib import Path\n\n\ndef test_flaky():\n"
        "    seen = Path('flaked')  # in the tree's copy: the next run finds it\n"
        "    if not seen.exists():\n        seen.write_text('')\n        raise AssertionError('by chance')\n")
    (tmp_path / "work").mkdir()
    workspace = Workspace(root, tmp_path / "work", (".",))
    [untested] = [m for m in mutants_of(SAMPLE, "sample.py") if m.change == "return 'some' -> return None"]
    [killed] = [m for m in mutants_of(SAMPLE, "sample.py") if m.change == "return limit -> return None"]
    stage = Stage("sample tests", ("test_flaky.py", "test_sample.py"))
    result = judge(untested, workspace, [stage], {"sample tests": 60}, None)
    assert (result.verdict, result.flaky) == ("SURVIVED", ["test_flaky.py::test_flaky"])
    result = judge(killed, workspace, [stage], {"sample tests": 60}, None)
    assert (result.verdict, result.killer, result.flaky) == ("KILLED", "test_sample.py::test_clamp", [])
