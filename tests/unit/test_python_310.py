"""The shipped code runs on FC's python3.10 although this machine has 3.11: vermin holds it there."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FUNCTION_DIR = Path(__file__).resolve().parents[2] / "functions" / "ds_record_deleter"


def vermin(*arguments: str) -> subprocess.CompletedProcess:
    executable = Path(sys.executable).with_name("vermin")  # installed beside this interpreter
    return subprocess.run([str(executable), "--no-tips", "--eval-annotations", *arguments],
                          capture_output=True, text=True)


def test_function_code_needs_nothing_newer_than_python_3_10():
    result = vermin("-t=3.10-", "--violations", str(FUNCTION_DIR))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_check_does_catch_3_11_only_code(tmp_path):
    sample = tmp_path / "uses_311.py"
    sample.write_text("import tomllib\nfrom datetime import UTC\n")
    result = vermin("-t=3.10-", "--violations", str(sample))
    assert result.returncode != 0 and "tomllib" in result.stdout
