"""`make build`: the code zip and a python/ layer built for CPython 3.10 on manylinux x86_64."""
from __future__ import annotations

import zipfile

import pytest

from local.package import build


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    build(out)
    return out


def test_function_zip_has_the_package_at_its_top(built):
    names = zipfile.ZipFile(built / "function.zip").namelist()
    assert "index.py" in names and "deleter/deletion.py" in names and "cloud/signing.py" in names
    assert "deleter/notification.schema.json" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or n.startswith("local/")]


def test_layer_zip_holds_the_pinned_requirements_under_python(built):
    names = zipfile.ZipFile(built / "layer.zip").namelist()
    assert names and all(name.startswith("python/") for name in names)
    for package in ("requests", "urllib3", "idna", "certifi", "charset_normalizer", "aws_lambda_powertools"):
        assert f"python/{package}/__init__.py" in names
    assert "python/requests-2.34.2.dist-info/METADATA" in names


def test_compiled_modules_are_for_the_runtimes_python_not_this_machines(built):
    extensions = [n for n in zipfile.ZipFile(built / "layer.zip").namelist() if n.endswith(".so")]
    assert extensions, "charset_normalizer ships compiled wheels; expected some"
    assert all("cpython-310-x86_64-linux-gnu" in name for name in extensions), extensions


def test_the_same_inputs_give_the_same_zip(built, tmp_path):
    build(tmp_path)
    for name in ("function.zip", "layer.zip"):
        assert (tmp_path / name).read_bytes() == (built / name).read_bytes()
