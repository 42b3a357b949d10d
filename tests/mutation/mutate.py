"""Mutation campaign over the exactly-once core (issue 8, point 11): `make mutate`.

One mutant at a time, a guard of submission.py, reconcile.py or idempotency.py is deleted or
flipped (OPERATORS), the tests that exercise the core run against it, and a mutant that no test
fails shows a hole in those tests. Every survivor must be killed by a test or explained in
equivalents.py. Mutants are found in the AST, never by line number, so the script works on any
version of the files, and a mutant is named (equivalents.py) by its file, the function it is in
and the change as normalised source. Each mutant runs in a private copy of the tree (one per job).

    python -m tests.mutation.mutate                      # the campaign (make mutate)
    python -m tests.mutation.mutate --list               # the mutants, nothing run
    python -m tests.mutation.mutate --only reconcile.py:101 --only "Submission._join"

How a mutant is judged: first by the core tests that run its lines (found by tracing them once on
the unmutated tree, tests/mutation/coverage.py), quickest first; a survivor then by every core
test (a test's path can depend on the clock: which lines it runs is not fixed); with --campaign, a
survivor also by the fault campaign (CAMPAIGN_TESTS: hundreds of racing, failing requests; it
killed nothing the core tests did not once they were complete, so it is left out by default).
Exit status: 0 when every mutant was killed or explained, 1 otherwise.
"""
from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, TypeVar

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
CORE_FILES = (
    "functions/ds_record_deleter/deleter/submission.py",
    "functions/ds_record_deleter/deleter/reconcile.py",
    "functions/ds_record_deleter/deleter/idempotency.py",
)
# What the tests import from, relative to the tree (as pyproject.toml and the Makefile say).
PYTHONPATH = ("functions/ds_record_deleter", ".")
PYTEST_OPTIONS = ("-x", "-q", "-p", "no:cacheprovider")
# The tests that exercise the core, the quickest to fail a broken store first (pytest runs files
# in the order given, and -x stops at the first failure).
CORE_TESTS = (
    "tests/unit/test_idempotency_stores.py",
    "tests/unit/test_core_guards.py",
    "tests/integration/test_core_guards.py",
    "tests/integration/test_exactly_once.py",
    "tests/integration/test_one_task_per_record.py",
    "tests/integration/test_call_budget.py",
    # The checks before a send and the per-record pending deletions run inside Submission._run.
    "tests/integration/test_guard.py",
    "tests/integration/test_review_core.py",
)
CAMPAIGN_TESTS = ("tests/integration/test_fault_campaign.py",)
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.pyc", ".pytest_cache", ".hypothesis",
                                     "build", "dist")
MIN_TIMEOUT_SECONDS = 30.0
TIMEOUT_FACTOR = 4.0  # a mutant's run may take this many times the unmutated run (two jobs share 2 cores)

OPERATORS = {
    "negate-condition": "an if, elif, while, conditional expression or comprehension condition negated",
    "negate-operand": "one operand of and/or negated",
    "remove-not": "a `not` removed",
    "swap-and-or": "`and` <-> `or`",
    "flip-compare": "< <-> <=, > <-> >=, == <-> !=, is <-> is not, in <-> not in",
    "return-value": "return True <-> return False; return X -> return None",
    "delete-statement": "a call, an assignment, a raise, a return before the function's end, a continue "
                        "before the loop body's end, a break or a del replaced by pass",
    "drop-reraise": "a raise in an except clause removed: the error is swallowed",
}
# Not mutated, and why:
# - docstrings, `...` bodies, imports, pass, module- and class-level assignments (constants and
#   dataclass fields: definitions, not guards; deleting one is a NameError or a TypeError);
# - anything inside a log call's arguments (message text), and the deletion of a logger.debug,
#   .info or .warning call: lines for an operator. ERROR lines (logger.error, logger.exception, a
#   `log(...)` chosen between levels) are mutated: the README promises an ERROR line carrying a
#   TaskNo that could not be stored or published;
# - f-strings (Python 3.10 gives their inner nodes no usable positions);
# - a negated condition that another operator makes already: `not (a == b)` is `a != b`
#   (flip-compare), `not (not a)` is `a` (remove-not).
QUIET_LOG_LEVELS = {"debug", "info", "warning"}
FLIPS = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
         ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
NEGATING_FLIPS = (ast.Eq, ast.NotEq, ast.Is, ast.IsNot, ast.In, ast.NotIn)


@dataclass(frozen=True)
class Mutant:
    path: str        # the mutated file, relative to the tree's root
    line: int
    end_line: int    # the last line of the mutated node
    scope: str       # the function or class it is in ("Submission._run"), "<module>" at the top
    operator: str
    change: str      # normalised source, no line number: 'if x:' -> 'if not (x):'
    occurrence: int  # 2, 3...: the same change in the same scope again (identical statements)
    source: str      # the whole mutated file

    @property
    def file(self) -> str:
        return Path(self.path).name

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def key(self) -> Tuple[str, str, str]:
        """How equivalents.py names it: edits elsewhere in the file leave it unchanged."""
        change = self.change if self.occurrence == 1 else f"{self.change} #{self.occurrence}"
        return self.file, self.scope, change


class _Edit(NamedTuple):
    node: ast.AST
    text: str        # what replaces the node's source
    operator: str
    change: str


def _u(node: ast.AST) -> str:
    return ast.unparse(node)


def _is_log_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return ((isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "logger")
            or (isinstance(func, ast.Name) and func.id == "log"))


def _quiet_log_call(node: ast.AST) -> bool:
    return (_is_log_call(node) and isinstance(node.func, ast.Attribute)
            and node.func.attr in QUIET_LOG_LEVELS)


def _negation_made_elsewhere(test: ast.AST) -> bool:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return True
    return isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], NEGATING_FLIPS)


def _clause(clause: ast.comprehension) -> str:
    """A comprehension's clause as a change names it: `for x in y if c`."""
    return f"for {_u(clause.target)} in {_u(clause.iter)}" + "".join(f" if {_u(c)}" for c in clause.ifs)


def _ending_statements(body: List[ast.stmt], ending: Optional[set] = None) -> set:
    """The ids of the statements after which the body is done: a function returns, a loop goes
    round again."""
    ending = set() if ending is None else ending
    if not body:
        return ending
    last = body[-1]
    ending.add(id(last))
    if isinstance(last, ast.If):
        _ending_statements(last.body, ending)
        _ending_statements(last.orelse, ending)
    elif isinstance(last, (ast.With, ast.AsyncWith)):
        _ending_statements(last.body, ending)
    elif isinstance(last, ast.Try):
        if not last.orelse:
            _ending_statements(last.body, ending)
        for handler in last.handlers:
            _ending_statements(handler.body, ending)
        _ending_statements(last.orelse, ending)
        _ending_statements(last.finalbody, ending)
    return ending


def _not(node: ast.AST) -> ast.AST:
    return ast.UnaryOp(op=ast.Not(), operand=copy.deepcopy(node))


class _Finder(ast.NodeVisitor):
    """Every edit OPERATORS allow, in source order, each with the scope it is in."""

    def __init__(self, lines: List[bytes]) -> None:
        self._lines = lines                                # the source, for what the AST does not say
        self.edits: List[Tuple[str, _Edit]] = []
        self._scope: List[str] = []
        self._ending: List[set] = []                       # per function: ids of statements it ends after
        self._handlers: List[int] = [0]                    # per function: except clauses we are in
        self._keyword: Dict[int, str] = {}                 # an If's keyword: if or elif
        self._loop_ends: set = set()                       # ids of statements that end a loop's body

    def _add(self, node: ast.AST, text: str, operator: str, change: str) -> None:
        self.edits.append((".".join(self._scope) or "<module>", _Edit(node, text, operator, change)))

    def _in_function(self) -> bool:
        return bool(self._ending)

    # --- scopes ---------------------------------------------------------------------------------

    def visit_FunctionDef(self, node) -> None:
        self._scope.append(node.name)
        self._ending.append(_ending_statements(node.body))
        self._handlers.append(0)
        for statement in node.body:  # decorators, defaults and annotations are not guards
            self.visit(statement)
        self._handlers.pop()
        self._ending.pop()
        self._scope.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node) -> None:
        self._scope.append(node.name)
        for statement in node.body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.visit(statement)
        self._scope.pop()

    def visit_ExceptHandler(self, node) -> None:
        self._handlers[-1] += 1
        for statement in node.body:
            self.visit(statement)
        self._handlers[-1] -= 1

    # --- statements ---------------------------------------------------------------------------

    def _delete(self, node: ast.AST, operator: str = "delete-statement") -> None:
        if self._in_function():
            self._add(node, "pass", operator, f"{_u(node)} -> pass")

    def visit_Expr(self, node) -> None:
        if isinstance(node.value, ast.Constant) or _quiet_log_call(node.value):
            return  # a docstring, `...`, or a line for an operator
        self._delete(node)
        self.visit(node.value)

    def visit_Assign(self, node) -> None:
        self._delete(node)
        self.generic_visit(node)

    visit_AugAssign = visit_Assign

    def visit_AnnAssign(self, node) -> None:
        if node.value is not None:
            self.visit_Assign(node)

    def visit_Delete(self, node) -> None:
        self._delete(node)

    visit_Break = visit_Delete

    def visit_Continue(self, node) -> None:
        if id(node) not in self._loop_ends:  # one that ends its loop's body changes nothing
            self._delete(node)

    def visit_For(self, node) -> None:
        self._loop_ends |= _ending_statements(node.body)
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def visit_Raise(self, node) -> None:
        self._delete(node, "drop-reraise" if self._handlers[-1] else "delete-statement")
        self.generic_visit(node)

    def visit_Return(self, node) -> None:
        value = node.value
        if isinstance(value, ast.Constant) and isinstance(value.value, bool):
            flipped = ast.Return(value=ast.Constant(value=not value.value))
            self._add(node, _u(flipped), "return-value", f"{_u(node)} -> {_u(flipped)}")
        elif value is not None and not (isinstance(value, ast.Constant) and value.value is None):
            self._add(node, "return None", "return-value", f"{_u(node)} -> return None")
        if self._in_function() and id(node) not in self._ending[-1]:
            self._delete(node)  # an early return; deleting one the function ends with is return None
        self.generic_visit(node)

    def visit_If(self, node) -> None:
        keyword = self._keyword.get(id(node), "if")
        if not _negation_made_elsewhere(node.test):
            self._add(node.test, f"not ({_u(node.test)})", "negate-condition",
                      f"{keyword} {_u(node.test)}: -> {keyword} not ({_u(node.test)}):")
        self.visit(node.test)
        for statement in node.body:
            self.visit(statement)
        if len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If) and self._source_says_elif(node.orelse[0]):
            self._keyword[id(node.orelse[0])] = "elif"
        for statement in node.orelse:
            self.visit(statement)

    def visit_While(self, node) -> None:
        self._loop_ends |= _ending_statements(node.body)
        if not _negation_made_elsewhere(node.test):
            self._add(node.test, f"not ({_u(node.test)})", "negate-condition",
                      f"while {_u(node.test)}: -> while not ({_u(node.test)}):")
        self.generic_visit(node)

    # --- expressions --------------------------------------------------------------------------

    def visit_Call(self, node) -> None:
        if not _is_log_call(node):  # a log call's arguments are message text
            self.generic_visit(node)

    def visit_JoinedStr(self, node) -> None:
        pass  # no usable positions inside an f-string on 3.10

    def visit_IfExp(self, node) -> None:
        if not _negation_made_elsewhere(node.test):
            mutated = ast.IfExp(test=_not(node.test), body=node.body, orelse=node.orelse)
            self._add(node, f"({_u(mutated)})", "negate-condition", f"{_u(node)} -> {_u(mutated)}")
        self.generic_visit(node)

    def visit_comprehension(self, node) -> None:
        for number, condition in enumerate(node.ifs):
            if not _negation_made_elsewhere(condition):
                mutated = copy.deepcopy(node)
                mutated.ifs[number] = _not(condition)
                self._add(condition, f"not ({_u(condition)})", "negate-condition",
                          f"{_clause(node)} -> {_clause(mutated)}")
        self.generic_visit(node)

    def visit_BoolOp(self, node) -> None:
        swapped = ast.BoolOp(op=ast.Or() if isinstance(node.op, ast.And) else ast.And(), values=node.values)
        self._add(node, f"({_u(swapped)})", "swap-and-or", f"{_u(node)} -> {_u(swapped)}")
        for number, value in enumerate(node.values):
            if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.Not):
                continue  # remove-not makes it
            values = list(node.values)
            values[number] = _not(value)
            mutated = ast.BoolOp(op=node.op, values=values)
            self._add(node, f"({_u(mutated)})", "negate-operand", f"{_u(node)} -> {_u(mutated)}")
        self.generic_visit(node)

    def visit_UnaryOp(self, node) -> None:
        if isinstance(node.op, ast.Not):
            self._add(node, f"({_u(node.operand)})", "remove-not", f"{_u(node)} -> {_u(node.operand)}")
        self.generic_visit(node)

    def visit_Compare(self, node) -> None:
        for number, op in enumerate(node.ops):
            flip = FLIPS.get(type(op))
            if flip is None:
                continue
            mutated = ast.Compare(left=node.left, ops=list(node.ops), comparators=node.comparators)
            mutated.ops[number] = flip()
            self._add(node, f"({_u(mutated)})", "flip-compare", f"{_u(node)} -> {_u(mutated)}")
        self.generic_visit(node)

    def _source_says_elif(self, node: ast.If) -> bool:
        return self._lines[node.lineno - 1][node.col_offset:].startswith(b"elif")


def mutants_of(source: str, path: str) -> List[Mutant]:
    """Every mutant of one file, in source order; identical mutants (the same AST) only once."""
    tree = ast.parse(source)
    raw = source.encode("utf-8")
    lines = raw.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    finder = _Finder(lines)
    finder.visit(tree)
    seen = {ast.dump(tree)}
    ranks: Dict[Tuple[str, str], int] = {}
    mutants = []
    for scope, edit in finder.edits:
        node = edit.node
        start = starts[node.lineno - 1] + node.col_offset
        end = starts[node.end_lineno - 1] + node.end_col_offset
        mutated = (raw[:start] + edit.text.encode("utf-8") + raw[end:]).decode("utf-8")
        dump = ast.dump(ast.parse(mutated, filename=path))  # a SyntaxError here is a bug of this script
        if dump in seen:
            continue
        seen.add(dump)
        ranks[(scope, edit.change)] = ranks.get((scope, edit.change), 0) + 1
        mutants.append(Mutant(path, node.lineno, node.end_lineno, scope, edit.operator, edit.change,
                              ranks[(scope, edit.change)], mutated))
    return mutants


def make_mutants(root: Path, paths: Sequence[str]) -> List[Mutant]:
    return [mutant for path in paths for mutant in mutants_of((root / path).read_text(encoding="utf-8"), path)]


# --- running ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stage:
    name: str
    tests: Tuple[str, ...]  # pytest's arguments: files or node ids
    traced: bool = False    # run once with tests/mutation/coverage.py: each mutant first meets only
                            # the tests of this stage that run its lines, quickest first


@dataclass
class Result:
    mutant: Mutant
    verdict: str        # KILLED, TIMEOUT (a kill too: the tests never finished), SURVIVED, ERROR
    stage: str = ""     # the stage that killed it
    killer: str = ""    # the first test that failed
    seconds: float = 0.0
    covering: Optional[int] = None  # how many tests of the traced stage run its lines (None: none traced)
    flaky: List[str] = field(default_factory=list)  # tests that failed once, then passed alone

    @property
    def killed(self) -> bool:
        return self.verdict in ("KILLED", "TIMEOUT")


class Run(NamedTuple):
    status: Optional[int]  # pytest's exit status; None: timed out
    output: str
    seconds: float


class Workspace:
    """A private copy of the tree; it runs one mutant at a time and puts the file back after."""

    def __init__(self, root: Path, parent: Path, pythonpath: Sequence[str]) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tree-", dir=parent))
        shutil.copytree(root, self.dir, ignore=COPY_IGNORE, dirs_exist_ok=True)
        self.pythonpath = [str(self.dir / entry) for entry in pythonpath]
        self._process: Optional[subprocess.Popen] = None

    def stop(self) -> None:
        """End the run in progress, if any, with every process it started."""
        process = self._process
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)

    def run(self, mutant: Optional[Mutant], tests: Sequence[str], timeout: float, *, options: Sequence[str] = (),
            env: Optional[Dict[str, str]] = None, pythonpath: Sequence[str] = ()) -> Run:
        target = original = None
        if mutant is not None:
            target = self.dir / mutant.path
            original = target.read_bytes()
            target.write_text(mutant.source, encoding="utf-8")
        # No bytecode is written, so none can be stale: a mutant and the original may share a
        # file size and an mtime second, which is all a .pyc is checked against.
        child_env = {**os.environ, **(env or {}), "PYTHONDONTWRITEBYTECODE": "1",
                     "PYTHONPATH": os.pathsep.join([*self.pythonpath, *pythonpath])}
        child_env.pop("PYTEST_ADDOPTS", None)
        started = time.monotonic()
        try:
            process = self._process = subprocess.Popen([sys.executable, "-m", "pytest", *PYTEST_OPTIONS, *options, *tests],
                                       cwd=self.dir, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       start_new_session=True)  # its own group: a timeout ends its children too
            try:
                output, _ = process.communicate(timeout=timeout)
                status: Optional[int] = process.returncode
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                output, _ = process.communicate()
                status = None
        finally:
            if target is not None:
                target.write_bytes(original)
        return Run(status, output.decode("utf-8", "replace"), time.monotonic() - started)

    def coverage(self, paths: Sequence[str], tests: Sequence[str], plugin_dir: Path) -> Tuple[Dict, Run]:
        """Which tests run which lines of paths ({path: {line: [nodeid...]}}), and their times."""
        out = Path(plugin_dir) / f"coverage-{self.dir.name}.json"
        run = self.run(None, tests, 30 * 60, options=("-p", "_mutate_coverage"), pythonpath=[str(plugin_dir)], env={
            "MUTATE_COVERAGE_FILES": os.pathsep.join(str(self.dir / path) for path in paths),
            "MUTATE_COVERAGE_OUT": str(out)})
        if not out.exists():
            raise SystemExit(f"the coverage run wrote nothing (exit status {run.status})\n{run.output[-3000:]}")
        data = json.loads(out.read_text(encoding="utf-8"))
        return data, run


class Coverage:
    """The tests of a traced stage that run a mutant's lines, quickest first."""

    def __init__(self, data: Dict, workspace_dir: Path) -> None:
        base = os.path.realpath(workspace_dir)
        self.seconds: Dict[str, float] = data["seconds"]
        self._runs: Dict[Tuple[str, int], set] = {}
        for test, files in data["lines"].items():
            for path, lines in files.items():
                relative = Path(os.path.relpath(os.path.realpath(path), base)).as_posix()
                for line in lines:
                    self._runs.setdefault((relative, line), set()).add(test)

    def tests_of(self, mutant: Mutant) -> List[str]:
        tests = set()
        for line in range(mutant.line, mutant.end_line + 1):
            tests |= self._runs.get((mutant.path, line), set())
        return sorted(tests, key=lambda test: (self.seconds.get(test, 0.0), test))


FAILED_TEST = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.MULTILINE)


def _timeout(seconds: float) -> float:
    return max(MIN_TIMEOUT_SECONDS, TIMEOUT_FACTOR * seconds)


def judge(mutant: Mutant, workspace: Workspace, stages: Sequence[Stage], timeouts: Dict[str, float],
          coverage: Optional[Coverage]) -> Result:
    """The stages in turn, the first that fails the mutant kills it. A traced stage is run first
    as `<name>: tests running its lines` (skipped when no test runs them), then whole. A kill
    counts once the failing test fails again alone: one that passes then failed by chance (a
    timing test on a busy machine), so it is noted as flaky and the run goes on without it."""
    result = Result(mutant, "SURVIVED")
    runs: List[Tuple[str, Tuple[str, ...], float]] = []
    for stage in stages:
        if stage.traced and coverage is not None:
            covering = coverage.tests_of(mutant)
            result.covering = len(covering)
            if covering:
                runs.append((f"{stage.name}: tests running its lines", tuple(covering),
                             _timeout(sum(coverage.seconds.get(test, 0.0) for test in covering))))
        runs.append((stage.name, stage.tests, timeouts[stage.name]))
    for name, tests, timeout in runs:
        while True:
            deselected = [option for test in result.flaky for option in ("--deselect", test)]
            run = workspace.run(mutant, tests, timeout, options=deselected)
            result.seconds += run.seconds
            found = FAILED_TEST.search(run.output)
            if run.status is None:
                result.verdict, result.stage, result.killer = "TIMEOUT", name, f"(over {timeout:.0f} s)"
                return result
            if run.status == 1 and found:
                again = workspace.run(mutant, (found.group(1),), timeout)
                result.seconds += again.seconds
                if again.status == 0:
                    result.flaky.append(found.group(1))
                    continue
                result.verdict, result.stage, result.killer = "KILLED", name, found.group(1)
                return result
            if run.status in (1, 2):  # collection failed: the mutant broke an import
                result.verdict, result.stage, result.killer = "KILLED", name, "(collection)"
                return result
            if run.status not in (0, 5):  # 5: no test left to run
                result.verdict, result.stage = "ERROR", name
                result.killer = f"pytest exit status {run.status}: {run.output[-500:]}"
                return result
            break
    return result


def run_campaign(mutants: Sequence[Mutant], stages: Sequence[Stage], *, root: Path = ROOT, jobs: int = 2,
                 pythonpath: Sequence[str] = PYTHONPATH, report: Callable[[str], None] = print) -> List[Result]:
    """Each mutant judged by the stages in turn (the first that fails it kills it), `jobs` at a
    time, each job in its own copy of the tree. The unmutated tree must pass every stage first."""
    with tempfile.TemporaryDirectory(prefix="mutate-") as parent:
        plugin_dir = Path(parent) / "plugin"
        plugin_dir.mkdir()
        shutil.copy(Path(__file__).with_name("coverage.py"), plugin_dir / "_mutate_coverage.py")
        workspaces = [Workspace(root, Path(parent), pythonpath) for _ in range(max(1, jobs))]
        paths = sorted({mutant.path for mutant in mutants})
        timeouts, coverage = _baseline(workspaces, stages, paths, plugin_dir, report)
        show = _print_result(report, len(mutants))
        done = [0]

        def judged(number: int, result: Result) -> None:
            done[0] += 1
            show(done[0], result)

        return _in_parallel(workspaces, [lambda workspace, mutant=mutant: judge(mutant, workspace, stages, timeouts,
                                                                               coverage)
                                         for mutant in mutants], judged)


def _in_parallel(workspaces: List[Workspace], tasks: Sequence[Callable[[Workspace], T]],
                 done: Callable[[int, T], None]) -> List[T]:
    """Each task with a workspace of its own, as many at once as there are workspaces; done(number,
    result) as each ends (one at a time). Interrupted (Ctrl-C, SIGTERM), it ends the runs in
    progress and starts no other."""
    free: "queue.Queue[Workspace]" = queue.Queue()
    for workspace in workspaces:
        free.put(workspace)
    results: List[Optional[T]] = [None] * len(tasks)
    lock = threading.Lock()

    def one(number: int) -> None:
        workspace = free.get()
        try:
            result = tasks[number](workspace)
        finally:
            free.put(workspace)
        with lock:
            results[number] = result
            done(number, result)

    pool = ThreadPoolExecutor(len(workspaces))
    try:
        list(pool.map(one, range(len(tasks))))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        for workspace in workspaces:
            workspace.stop()
        raise
    pool.shutdown()
    return [result for result in results if result is not None]


def _baseline(workspaces: List[Workspace], stages: Sequence[Stage], paths: Sequence[str], plugin_dir: Path,
              report: Callable[[str], None]) -> Tuple[Dict[str, float], Optional[Coverage]]:
    """Each stage on the unmutated tree, in parallel: it must pass, and its time sets the timeout.
    A traced stage also runs once under the tracer (its outcome there does not count: tracing
    slows the tests down, and a timing test may fail)."""
    timeouts: Dict[str, float] = {}
    coverage: List[Coverage] = []

    def plain(stage: Stage) -> Callable[[Workspace], None]:
        def run(workspace: Workspace) -> None:
            result = workspace.run(None, stage.tests, 30 * 60)
            if result.status != 0:
                raise SystemExit(f"the unmutated tree fails stage {stage.name!r} (exit status {result.status}): "
                                 f"fix that first\n{result.output[-3000:]}")
            timeouts[stage.name] = _timeout(result.seconds)
            report(f"baseline: {stage.name} passes unmutated in {result.seconds:.1f} s (a mutant's timeout: "
                   f"{timeouts[stage.name]:.0f} s)")
        return run

    def traced(stage: Stage) -> Callable[[Workspace], None]:
        def run(workspace: Workspace) -> None:
            data, result = workspace.coverage(paths, stage.tests, plugin_dir)
            coverage.append(Coverage(data, workspace.dir))
            report(f"baseline: {stage.name} traced in {result.seconds:.1f} s: {len(data['lines'])} tests run "
                   f"lines of {', '.join(Path(path).name for path in paths)}")
        return run

    tasks = [traced(stage) for stage in stages if stage.traced] + [plain(stage) for stage in stages]
    _in_parallel(workspaces, tasks, lambda number, result: None)
    return timeouts, (coverage[0] if coverage else None)


def _short(text: str, width: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 3] + "..."


def _print_result(report: Callable[[str], None], total: int) -> Callable[[int, Result], None]:
    def show(done: int, result: Result) -> None:
        mutant = result.mutant
        by = f"  <- {result.killer} [{result.stage}]" if result.killed else (
            "" if result.covering is None else f"  [{result.covering} tests run it]")
        if result.flaky:
            by += f"  (failed once, then passed alone: {', '.join(result.flaky)})"
        report(f"[{done:3d}/{total}] {result.verdict:8s} {mutant.where:18s} {mutant.operator:16s} "
               f"{_short(mutant.change)}{by} ({result.seconds:.1f} s)")
    return show


# --- the report -----------------------------------------------------------------------------------

def summarise(results: Sequence[Result], explained: Dict[Tuple[str, str, str], str], seconds: float, jobs: int,
              filtered: bool, report: Callable[[str], None] = print) -> bool:
    """The survivors, the explained ones and the figures; True when none is left unexplained."""
    killed = [r for r in results if r.killed]
    survivors = [r for r in results if r.verdict == "SURVIVED"]
    errors = [r for r in results if r.verdict == "ERROR"]
    equivalent = [r for r in survivors if r.mutant.key in explained]
    unexplained = [r for r in survivors if r.mutant.key not in explained]
    wrongly_explained = [r for r in killed if r.mutant.key in explained]
    keys = {r.mutant.key for r in results}
    stale = [key for key in explained if key not in keys]

    def section(title: str, rows: List[str]) -> None:
        if rows:
            report(f"\n{title}")
            for row in rows:
                report(f"  {row}")

    section("Explained survivors (equivalents.py):", [
        f"{r.mutant.where} {r.mutant.scope}: {r.mutant.change}\n      why: {explained[r.mutant.key]}"
        for r in equivalent])
    section("SURVIVORS: kill each with a test, or explain it in tests/mutation/equivalents.py as", [
        f"{r.mutant.where} ({r.mutant.operator})\n      Equivalent({r.mutant.key[0]!r}, {r.mutant.key[1]!r},\n"
        f"                 {r.mutant.key[2]!r},\n                 \"why it cannot be observed\")," for r in unexplained])
    section("Killed, yet explained as equivalent (remove these from equivalents.py):", [
        f"{r.mutant.where} {r.mutant.scope}: {r.mutant.change}  <- {r.killer}" for r in wrongly_explained])
    section("ERRORS (the tool could not judge these):", [f"{r.mutant.where} {r.mutant.change}: {r.killer}"
                                                        for r in errors])
    section("equivalents.py names mutants that were not made (the code changed?):",
            [] if filtered else [str(key) for key in stale])

    by_stage: Dict[str, int] = {}
    for r in killed:
        by_stage[r.stage] = by_stage.get(r.stage, 0) + 1
    made = len(results)
    rate = 100.0 * len(killed) / made if made else 0.0
    covered = 100.0 * (len(killed) + len(equivalent)) / made if made else 0.0
    timeouts = sum(1 for r in killed if r.verdict == "TIMEOUT")
    stages = ", ".join(f"{count} by {name}" for name, count in by_stage.items())
    traced = any(r.covering is not None for r in results)
    unrun = f"; {sum(1 for r in results if r.covering == 0)} mutants on lines no traced test runs" if traced else ""
    report(f"\nmutants made {made}: killed {len(killed)} ({stages or 'none'}; {timeouts} of them by timeout), "
           f"explained as equivalent {len(equivalent)}, unexplained survivors {len(unexplained)}, errors {len(errors)}"
           f"{unrun}")
    report(f"kill rate {rate:.1f}% (killed / made); killed or explained {covered:.1f}%; "
           f"wall time {seconds / 60:.1f} min ({seconds:.0f} s, {jobs} jobs)")
    return not unexplained and not errors and not wrongly_explained


def _interrupted(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _existing(tests: Sequence[str]) -> Tuple[str, ...]:
    missing = [test for test in tests if not (ROOT / test).exists()]
    if missing:
        print(f"not in this tree, left out: {', '.join(missing)}")
    return tuple(test for test in tests if test not in missing)


def main(argv: Optional[Sequence[str]] = None) -> int:
    global MIN_TIMEOUT_SECONDS
    from tests.mutation.equivalents import explanations

    parser = argparse.ArgumentParser(prog="python -m tests.mutation.mutate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", nargs="+", default=list(CORE_FILES), help="files to mutate, relative to the root")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="mutants run at once")
    parser.add_argument("--only", action="append", default=[],
                        help="only mutants whose file:line, scope or change contains this text (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("--campaign", action="store_true", help="also run the fault campaign against survivors")
    parser.add_argument("--min-timeout", type=float, default=MIN_TIMEOUT_SECONDS,
                        help="the least time a mutant's run may take (seconds) before it counts as a TIMEOUT kill: "
                             "raise it to see whether a mutant that only slows the tests down ever fails one")
    parser.add_argument("--tests", nargs="+", help="these tests instead of the core tests (e.g. whether a new test "
                        "kills a mutant: --only FILE:LINE --tests TEST)")
    options = parser.parse_args(argv)
    MIN_TIMEOUT_SECONDS = options.min_timeout

    mutants = make_mutants(ROOT, options.files)
    if options.only:
        mutants = [m for m in mutants if any(text in f"{m.where} {m.scope} {m.change}" for text in options.only)]
    if options.list:
        for m in mutants:
            print(f"{m.where:18s} {m.scope:40s} {m.operator:16s} {m.change}")
        print(f"{len(mutants)} mutants")
        return 0
    stages = [Stage("core tests", _existing(CORE_TESTS), traced=True) if not options.tests else
              Stage("the tests given", tuple(options.tests))]
    if options.campaign:
        stages.append(Stage("fault campaign", _existing(CAMPAIGN_TESTS)))
    print(f"{len(mutants)} mutants of {', '.join(Path(f).name for f in options.files)}; {options.jobs} jobs; "
          f"stages: " + "; ".join(f"{s.name} ({' '.join(s.tests)})" for s in stages), flush=True)
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _interrupted)
    results = run_campaign(mutants, stages, jobs=options.jobs, report=lambda line: print(line, flush=True))
    ok = summarise(results, explanations(), time.monotonic() - started, options.jobs, bool(options.only))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
