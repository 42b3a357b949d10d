"""`make build`: the two zips FC deploys.

- function.zip: functions/ds_record_deleter/ as it is (index.py at the top).
- layer.zip: the pinned run-time requirements under python/, which FC unpacks to /opt/python.
  Installed from manylinux x86_64 wheels for CPython 3.10 (the runtime's), never from this
  machine's own Python, so what ships is what python3.10 on FC can import.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTION_DIR = ROOT / "functions" / "ds_record_deleter"
REQUIREMENTS = ROOT / "layers" / "deps" / "requirements.txt"
RUNTIME_PYTHON = "3.10"
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64")
FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # the same inputs give the same zip, byte for byte


def _skip(path: Path) -> bool:
    return "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo")


def write_zip(source: Path, target: Path, prefix: str = "") -> None:
    """Zip a directory tree in a stable order with fixed timestamps."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(source.rglob("*")):
            if path.is_dir() or _skip(path):
                continue
            info = zipfile.ZipInfo(prefix + path.relative_to(source).as_posix(), FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


def install_layer(site: Path) -> None:
    platforms = [argument for platform in PLATFORMS for argument in ("--platform", platform)]
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
         "--no-deps", "--only-binary=:all:", *platforms, "--python-version", RUNTIME_PYTHON,
         "--implementation", "cp", "--target", str(site), "-r", str(REQUIREMENTS)],
        check=True,
    )
    shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts have no use on FC


def build(out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    staging = out / "layer"
    shutil.rmtree(staging, ignore_errors=True)
    install_layer(staging / "python")
    function_zip, layer_zip = out / "function.zip", out / "layer.zip"
    write_zip(FUNCTION_DIR, function_zip)
    write_zip(staging, layer_zip)
    return {"function.zip": function_zip.stat().st_size, "layer.zip": layer_zip.stat().st_size}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.environ.get("BUILD_DIR", "build"))
    sizes = build(Path(parser.parse_args().out))
    for name, size in sizes.items():
        print(f"{name}: {size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
