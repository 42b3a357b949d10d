"""`make deploy DRY_RUN=1` end to end: the make target run in a network namespace of its own (no
route anywhere) with a scrubbed environment (no credentials), building the zips and printing the
whole plan, with no secret in what it prints.

Building the layer installs wheels; the test downloads them first (like test_build, the one step
that needs the registry) and hands them to pip inside the namespace as a local wheelhouse.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from local import ros_template
from local.package import PLATFORMS, REQUIREMENTS, RUNTIME_PYTHON

ROOT = Path(__file__).resolve().parents[2]
SECRET = "webhook-secret-that-must-never-be-printed-0123456789"
REDIS_PASSWORD = "redis-password-never-printed"
KEPT_VARIABLES = ("PATH", "HOME", "PYENV_ROOT", "LANG", "LC_ALL", "TMPDIR")


def isolated() -> list:
    """The command prefix that runs a command with no network at all (a new, empty network
    namespace; root or user namespaces needed). CI must have it: there a skip would hide the test."""
    for prefix in (["unshare", "--net"], ["unshare", "--user", "--map-root-user", "--net"]):
        if shutil.which("unshare") and subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    if os.environ.get("CI"):
        pytest.fail("no way to run without network here (unshare --net)")
    pytest.skip("unshare --net is not available")


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("wheels")
    platforms = [argument for platform in PLATFORMS for argument in ("--platform", platform)]
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
                    "--only-binary=:all:", *platforms, "--python-version", RUNTIME_PYTHON, "--implementation", "cp",
                    "--dest", str(target), "-r", str(REQUIREMENTS)], check=True)
    return target


def scrubbed(wheelhouse: Path, **extra: str) -> dict:
    environ = {name: os.environ[name] for name in KEPT_VARIABLES if name in os.environ}
    # pip inside the namespace: this wheelhouse only, no index, no configuration of this machine.
    environ.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheelhouse), PIP_CONFIG_FILE=os.devnull,
                   PIP_DISABLE_PIP_VERSION_CHECK="1")
    return {**environ, **extra}


def test_the_dry_run_prints_the_whole_plan_offline_and_no_secret(wheelhouse):
    given = {"REGION": "cn-shanghai", "STACK_NAME": "dsrd-test", "CodeBucket": "my-code-bucket",
             "WebhookSecret": SECRET, "RedisUrl": f"rediss://:{REDIS_PASSWORD}@redis.internal:6379/0",
             "MemorySize": "512", "FcServiceLinkedRole": "create"}
    completed = subprocess.run([*isolated(), "make", "-s", "deploy", "DRY_RUN=1"], cwd=ROOT, capture_output=True,
                               text=True, timeout=600, env=scrubbed(wheelhouse, **given))
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "no credentials read, no network" in output

    # The artifacts make build just wrote, with their sizes and sha256, and where they would go.
    for name in ("function.zip", "layer.zip"):
        data = (ROOT / "build" / name).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        assert f"{len(data):,} bytes  sha256 {digest}" in output, name
        stem = name.split(".")[0]
        assert f"-> oss://my-code-bucket/ds-record-deleter/{stem}-{digest[:16]}.zip" in output, name

    # The parameters, secrets masked; the roles not given are left to GetRole.
    assert "WebhookSecret = ***\n" in output and "RedisUrl = ***\n" in output
    assert "MemorySize = '512'\n" in output and "FcServiceLinkedRole = 'create'\n" in output
    assert "EventBridgeServiceLinkedRole = decided at deploy time by RAM GetRole" in output
    assert SECRET not in output and REDIS_PASSWORD not in output

    # Exactly the resources these values make: Redis set, so no single-instance cap; the FC
    # service-linked role asked for; no custom domain.
    template = ros_template.load()
    values, problems = ros_template.parameter_values(
        template, {key: value for key, value in given.items() if key in template["Parameters"]})
    assert not problems
    expected = ros_template.resources(template, ros_template.Context(template, values))
    listed = [tuple(line.split()) for line in output.splitlines()
              if line.startswith("  ") and len(line.split()) == 2 and line.split()[1].startswith("ALIYUN::")]
    assert listed == expected
    assert ("FcLinkedRole", "ALIYUN::ResourceManager::ServiceLinkedRole") in listed
    assert "SingleInstance" not in dict(listed) and "CustomDomain" not in dict(listed)
    assert "cannot know what would change" in output
    assert f"creates it with the {len(expected)} resources above" in output


def test_the_dry_run_refuses_bad_values_and_names_them_not_their_value(wheelhouse):
    given = {"REGION": "cn-shanghai", "CodeBucket": "my-code-bucket", "WebhookSecret": "too-short-secret-value",
             "MemorySize": "300"}
    completed = subprocess.run([*isolated(), "make", "-s", "deploy", "DRY_RUN=1"], cwd=ROOT, capture_output=True,
                               text=True, timeout=600, env=scrubbed(wheelhouse, **given))
    assert completed.returncode != 0
    assert "WebhookSecret must be at least 32 characters" in completed.stdout
    assert "MemorySize must be one of" in completed.stdout
    assert "too-short-secret-value" not in completed.stdout + completed.stderr
