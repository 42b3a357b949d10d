"""`make build`: the two zips FC deploys.

- function.zip: functions/ds_record_deleter/ (index.py at the top).
- layer.zip: the pinned run-time requirements under python/, which FC unpacks to /opt/python.
  Installed from manylinux x86_64 wheels for CPython 3.10 (the runtime's), never from this
  machine's own Python, so what ships is what python3.10 on FC can import.

Both carry `.pyc` compiled by Python 3.10 (`__pycache__/*.cpython-310.pyc`): without them FC's
python3.10 compiles every module on each cold start (about half of the cold import, make bench).
They are checked by hash, unchecked (`--invalidation-mode unchecked-hash`): the zips carry fixed
file times, so timestamp-checked `.pyc` would never match their sources, and a read-only /code
could not take a rewritten one. Only a Python 3.10 can write bytecode that 3.10 loads: the build
uses this interpreter when it is 3.10, else .ci/find-python310's, else it says so and ships
sources alone (correct, just slower to start).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
FUNCTION_DIR = ROOT / "functions" / "ds_record_deleter"
REQUIREMENTS = ROOT / "layers" / "deps" / "requirements.txt"
RUNTIME_PYTHON = "3.10"
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64")
FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # the same inputs give the same zip, byte for byte
# Where FC unpacks each zip: the path compiled into each .pyc (tracebacks), not the build's.
CODE_ROOT, LAYER_ROOT = "/code", "/opt"
BYTECODE_TAG = "cpython-310"


def _skip(path: Path, bytecode: bool) -> bool:
    if path.suffix == ".pyo":
        return True
    if "__pycache__" in path.parts or path.suffix == ".pyc":
        # Only bytecode this build compiled for the runtime; never a developer's stray cache.
        return not (bytecode and path.parent.name == "__pycache__" and f".{BYTECODE_TAG}." in path.name)
    return False


def write_zip(source: Path, target: Path, prefix: str = "", bytecode: bool = False) -> None:
    """Zip a directory tree in a stable order with fixed timestamps (with its 3.10 `.pyc` when
    bytecode is true)."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(source.rglob("*")):
            if path.is_dir() or _skip(path, bytecode):
                continue
            info = zipfile.ZipInfo(prefix + path.relative_to(source).as_posix(), FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


def runtime_python() -> Optional[str]:
    """A Python 3.10 interpreter: this one, else the one .ci/find-python310 finds; None if none."""
    if sys.version_info[:2] == (3, 10):
        return sys.executable
    try:
        found = subprocess.run([str(ROOT / ".ci" / "find-python310")], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):  # not there, or hung: build from sources only
        return None
    return found.stdout.strip() or None if found.returncode == 0 else None


def compile_tree(python: str, tree: Path, shipped_as: str) -> None:
    """Every .py under tree compiled by python (a 3.10) into __pycache__, as the runtime loads it
    from shipped_as. Fails loudly: a module that 3.10 cannot compile cannot be imported on FC."""
    completed = subprocess.run(
        [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
         "-s", str(tree), "-p", shipped_as, str(tree)],
        # A fixed hash seed: a set constant's order in the bytecode follows its strings' hashes,
        # and the same inputs must give the same zip.
        capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    if completed.returncode != 0:
        raise RuntimeError(f"compileall with {python} failed:\n{completed.stdout[-3000:]}{completed.stderr[-3000:]}")


# Parts of the pinned packages that the function never runs, left out of the layer. Safe only
# because tests/e2e/test_build.py runs every path of the function from the built zips alone on
# Python 3.10: a part left out that something needs fails it. (Glob patterns under python/;
# `!` keeps what a pattern before it would leave out.)
LEFT_OUT = (
    "aws_lambda_powertools/event_handler",  # API Gateway/ALB routing and its Swagger UI: we route ourselves
    "aws_lambda_powertools/middleware_factory",
    "aws_lambda_powertools/utilities/*",  # batch, idempotency, parser, data classes...: none is used
    "!aws_lambda_powertools/utilities/__init__.py",
    "!aws_lambda_powertools/utilities/jmespath_utils",  # the Logger imports it
    "certifi/tests",
    "cffi",  # cryptography needs cffi's compiled _cffi_backend alone, not the cffi package (a compiler)
)


def leave_out(site: Path) -> list:
    """Remove LEFT_OUT from an installed site; the paths removed, relative to it."""
    keep = [pattern[1:] for pattern in LEFT_OUT if pattern.startswith("!")]
    removed = []
    for pattern in (p for p in LEFT_OUT if not p.startswith("!")):
        for path in sorted(site.glob(pattern)):
            relative = path.relative_to(site).as_posix()
            if relative in keep:
                continue
            shutil.rmtree(path) if path.is_dir() else path.unlink()
            removed.append(relative)
    return removed


def install_layer(site: Path) -> None:
    platforms = [argument for platform in PLATFORMS for argument in ("--platform", platform)]
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
         "--no-deps", "--only-binary=:all:", *platforms, "--python-version", RUNTIME_PYTHON,
         "--implementation", "cp", "--target", str(site), "-r", str(REQUIREMENTS)],
        check=True,
    )
    shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts have no use on FC
    leave_out(site)


def build(out: Path, python: Optional[str] = "find") -> dict:
    """Both zips into out. python: the 3.10 that compiles the .pyc ("find": runtime_python();
    None: sources alone). The result's "bytecode" names the interpreter used, or is None."""
    if python == "find":
        python = runtime_python()
        if python is None:
            print("make build: no Python 3.10 found (python3.10 on PATH, or pyenv's 3.10.x): the zips carry "
                  "sources alone, and FC's python3.10 will compile every module on each cold start. "
                  "Install Python 3.10 to ship .pyc.", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    staging, code = out / "layer", out / "code"
    for tree in (staging, code):
        shutil.rmtree(tree, ignore_errors=True)
    install_layer(staging / "python")
    shutil.copytree(FUNCTION_DIR, code, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo"))
    if python is not None:
        compile_tree(python, code, CODE_ROOT)
        compile_tree(python, staging, LAYER_ROOT)
    function_zip, layer_zip = out / "function.zip", out / "layer.zip"
    write_zip(code, function_zip, bytecode=python is not None)
    write_zip(staging, layer_zip, bytecode=python is not None)
    return {"function.zip": function_zip.stat().st_size, "layer.zip": layer_zip.stat().st_size,
            "bytecode": python}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.environ.get("BUILD_DIR", "build"))
    parser.add_argument("--no-bytecode", action="store_true", help="ship sources alone (no .pyc)")
    args = parser.parse_args()
    built = build(Path(args.out), None if args.no_bytecode else "find")
    for name in ("function.zip", "layer.zip"):
        print(f"{name}: {built[name] / 1024:.0f} KiB")
    print(f".pyc compiled by {built['bytecode']}" if built["bytecode"] else "no .pyc in the zips")
    return 0


if __name__ == "__main__":
    sys.exit(main())
