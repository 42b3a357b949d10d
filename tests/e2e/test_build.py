"""`make build`: the code zip and a python/ layer built for CPython 3.10 on manylinux x86_64."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from local.package import build
from tests.redis_server import redis_server, redis_url  # noqa: F401  (fixtures)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    build(out)
    return out


def test_function_zip_has_the_package_at_its_top(built):
    names = zipfile.ZipFile(built / "function.zip").namelist()
    assert "index.py" in names and "deleter/deletion.py" in names and "cloud/signing.py" in names
    assert "deleter/notification.schema.json" in names
    # Bytecode only as FC's python3.10 loads it (the .pyc tests below); nothing of local/.
    assert not [n for n in names if (n.endswith(".pyc") and not re.fullmatch(r"(.+/)?__pycache__/[^/]+\.cpython-310\.pyc", n))
                or n.endswith(".pyo") or n.startswith("local/")]


def test_layer_zip_holds_the_pinned_requirements_under_python(built):
    names = zipfile.ZipFile(built / "layer.zip").namelist()
    assert names and all(name.startswith("python/") for name in names)
    for package in ("requests", "urllib3", "idna", "certifi", "aws_lambda_powertools"):
        assert f"python/{package}/__init__.py" in names
    assert "python/requests-2.34.2.dist-info/METADATA" in names
    assert not [n for n in names if n.startswith("python/charset_normalizer")]  # left out on purpose


def test_every_wheel_in_the_layer_is_for_the_runtimes_python_or_pure(built):
    archive = zipfile.ZipFile(built / "layer.zip")
    tags = [line.split(":", 1)[1].strip() for name in archive.namelist() if name.endswith(".dist-info/WHEEL")
            for line in archive.read(name).decode().splitlines() if line.startswith("Tag:")]
    # cryptography ships stable-ABI wheels (cp39-abi3): built for 3.9 and later, so 3.10 runs them.
    assert tags and all(tag.startswith(("py3-none-any", "py2.py3-none-any", "cp310-cp310-manylinux"))
                        or re.fullmatch(r"cp3([0-9]|10)-abi3-manylinux.*_x86_64", tag) for tag in tags), tags
    extensions = [n for n in archive.namelist() if n.endswith(".so")]
    assert all("cpython-310-x86_64-linux-gnu" in name or name.endswith(".abi3.so") for name in extensions), extensions


def test_the_shipped_zips_run_a_deletion_on_their_own(built, tmp_path, emulator):
    """The two zips unpacked as FC lays them out (/code and /opt/python), imported by a Python that
    sees nothing else (no site-packages), delete a DS record against the emulator."""
    zipfile.ZipFile(built / "function.zip").extractall(tmp_path / "code")
    zipfile.ZipFile(built / "layer.zip").extractall(tmp_path / "opt")
    sts = emulator.sts_credentials
    script = (
        "import json, sys, warnings\n"
        "warnings.simplefilter('error')\n"  # a warning at import would be a defect here
        f"sys.path[:0] = [{str(tmp_path / 'code')!r}, {str(tmp_path / 'opt' / 'python')!r}]\n"
        "import index\n"
        "class Context: request_id = 'zip-test'; account_id = '1'; region = 'cn-hangzhou'; credentials = None\n"
        "print(json.dumps(index.handler(b'{\"DomainName\": \"example.net\", \"KeyTag\": 31589}', Context())))\n"
    )
    environ = {"PATH": os.environ["PATH"], "NOTIFY_TOPIC": "ds-record-deleter-notifications",
               "DOMAIN_API_ENDPOINT": emulator.url, "MNS_ENDPOINT": emulator.url,
               "ALIBABA_CLOUD_ACCESS_KEY_ID": sts["AccessKeyId"], "ALIBABA_CLOUD_ACCESS_KEY_SECRET": sts["AccessKeySecret"],
               "ALIBABA_CLOUD_SECURITY_TOKEN": sts["SecurityToken"],
               "SAFETY_CHECK": "off"}  # no name server serves the emulator's domains (the next test checks DNS)
    completed = subprocess.run([sys.executable, "-S", "-E", "-c", script], capture_output=True, text=True,
                               env=environ, timeout=60)
    assert completed.returncode == 0, completed.stderr
    [result] = json.loads(completed.stdout.splitlines()[-1])["Results"]
    assert result["Status"] == "SUBMITTED"
    assert [task["TaskNo"] for task in emulator.snapshot()["tasks"]] == [result["TaskNo"]]


def test_the_shipped_layer_runs_a_dnssec_safety_check(built, tmp_path):
    """dnspython, cryptography and cffi's _cffi_backend from the layer alone (no pycparser) fetch and
    verify a signed zone served by the local DNS servers."""
    from local.dns import LocalDnsServers, SignedZone

    zipfile.ZipFile(built / "function.zip").extractall(tmp_path / "code")
    zipfile.ZipFile(built / "layer.zip").extractall(tmp_path / "opt")
    assert not (tmp_path / "opt" / "python" / "pycparser").exists()
    zone = SignedZone.generate("layer.test", (13, 15))
    rows = [[row.key_tag, row.algorithm, row.digest_type, row.digest] for row in zone.ds_rows()]
    with LocalDnsServers.start([zone]) as servers:
        script = (
            "import sys, time\n"
            f"sys.path[:0] = [{str(tmp_path / 'code')!r}, {str(tmp_path / 'opt' / 'python')!r}]\n"
            "from cloud.dns import DnsClient\n"
            "from deleter.safety import judge\n"
            "Row = lambda r: type('Row', (), dict(zip(('key_tag', 'algorithm', 'digest_type', 'digest'), r)))()\n"
            f"answers = DnsClient(resolver={servers.resolver!r}, port={servers.port}).dnskey_answers('layer.test')\n"
            f"print(judge('layer.test', {rows[0][0]}, [Row(r) for r in {rows!r}], answers, time.time()).code)\n"
        )
        completed = subprocess.run([sys.executable, "-S", "-E", "-c", script], capture_output=True, text=True,
                                   env={"PATH": os.environ["PATH"]}, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["DeletionSafe"]


def test_the_same_inputs_give_the_same_zip(built, tmp_path):
    build(tmp_path)
    for name in ("function.zip", "layer.zip"):
        assert (tmp_path / name).read_bytes() == (built / name).read_bytes()


def test_the_layer_is_resolved_for_the_runtime_not_for_this_machine(monkeypatch, tmp_path):
    # Today's pinned requirements are all pure Python, so the built layer alone cannot show a
    # wrong target: what pip is asked for can (this machine runs 3.11; FC runs python3.10).
    import local.package as package
    calls = []
    monkeypatch.setattr(package.subprocess, "run", lambda command, **options: calls.append(command))
    package.install_layer(tmp_path)
    [command] = calls
    pairs = list(zip(command, command[1:]))
    assert ("--python-version", "3.10") in pairs and ("--implementation", "cp") in pairs
    assert ("--platform", "manylinux2014_x86_64") in pairs and "--only-binary=:all:" in command


# --- .pyc compiled by Python 3.10 -----------------------------------------------------------------

from local.package import runtime_python  # noqa: E402

PYTHON310 = runtime_python()
needs_310 = pytest.mark.skipif(PYTHON310 is None, reason="no Python 3.10 here (python3.10 on PATH or pyenv's "
                                                         "3.10.x): make build ships sources alone")
MAGIC_310 = 3439  # importlib.util.MAGIC_NUMBER of CPython 3.10


@needs_310
def test_both_zips_carry_a_310_pyc_for_every_module_checked_by_unchecked_hash(built):
    for zip_name in ("function.zip", "layer.zip"):
        archive = zipfile.ZipFile(built / zip_name)
        names = set(archive.namelist())
        sources = [n for n in names if n.endswith(".py")]
        missing = []
        for source in sources:
            folder, _, module = source.rpartition("/")
            cached = f"{folder + '/' if folder else ''}__pycache__/{module[:-3]}.cpython-310.pyc"
            if cached not in names:
                missing.append(source)
                continue
            header = archive.read(cached)[:16]
            assert int.from_bytes(header[:2], "little") == MAGIC_310, cached
            # PEP 552 flags: bit 0 hash-based, bit 1 check_source. 0b01: hash-based, never checked.
            assert int.from_bytes(header[4:8], "little") == 0b01, cached
        assert sources and not missing, (zip_name, missing[:5])


@needs_310
def test_python310_imports_the_shipped_bytecode_without_compiling_anything(built, tmp_path):
    """The unpacked zips, read-only as FC's /code and /opt are: Python 3.10 imports index and every
    module the safety check loads lazily, and compiles no source (every module's code comes from its
    .pyc; a missing, stale or wrong-version one would be compiled from source here)."""
    zipfile.ZipFile(built / "function.zip").extractall(tmp_path / "code")
    zipfile.ZipFile(built / "layer.zip").extractall(tmp_path / "opt")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    for path in tmp_path.rglob("*"):
        path.chmod(0o555 if path.is_dir() else 0o444)
    script = (
        "import sys, importlib._bootstrap_external as external\n"
        "compiled = []\n"
        "original = external.SourceLoader.source_to_code\n"
        "def counting(self, data, path, *, _optimize=-1):\n"
        "    compiled.append(path)\n"
        "    return original(self, data, path, _optimize=_optimize)\n"
        "external.SourceLoader.source_to_code = counting\n"
        f"sys.path[:0] = [{str(tmp_path / 'code')!r}, {str(tmp_path / 'opt' / 'python')!r}]\n"
        "import index, cloud.dns, deleter.safety, dns.dnssec, dns.query, dns.resolver\n"
        "from cryptography.hazmat.primitives.asymmetric import ec, ed25519, ed448, rsa\n"
        "shipped = [m for m in sys.modules.values() if getattr(m, '__file__', None) and m.__file__.startswith("
        f"{str(tmp_path)!r}) and m.__file__.endswith('.py')]\n"
        "print(len(shipped), len(compiled), compiled[:5])\n"
    )
    try:
        completed = subprocess.run([PYTHON310, "-S", "-E", "-c", script], capture_output=True, text=True,
                                   env={"PATH": os.environ["PATH"]}, timeout=120)
    finally:
        for path in tmp_path.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert completed.returncode == 0, completed.stderr
    shipped, compiled, first = completed.stdout.split(maxsplit=2)
    assert int(shipped) > 100, "the import should have loaded the function and its layer's modules"
    assert int(compiled) == 0, f"compiled from source at import: {first}"
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before  # nothing written either


def test_without_a_310_the_build_says_so_and_ships_sources(monkeypatch, tmp_path, capsys):
    import local.package as package
    monkeypatch.setattr(package, "runtime_python", lambda: None)
    monkeypatch.setattr(package, "install_layer", lambda site: (site / "idna").mkdir(parents=True))
    result = package.build(tmp_path)
    assert result["bytecode"] is None and "no Python 3.10 found" in capsys.readouterr().err
    assert not [n for n in zipfile.ZipFile(tmp_path / "function.zip").namelist() if n.endswith(".pyc")]


def test_every_path_of_the_function_runs_from_the_shipped_zips_alone(built, tmp_path, emulator, redis_url):
    """What the layer leaves out (local/package.py LEFT_OUT) is safe to leave out only if nothing
    the function does needs it: a Python 3.10 that sees only the unpacked zips runs every trigger
    (a signed webhook POST and GET, a queue message, a watch check, a timer's dry run, a topic
    message the safety check refuses, an invalid direct invocation, the Redis store) against the
    emulator and real signed name servers, and imports every module of the function."""
    from local.dns import LocalDnsServers
    from local.dns.zones import SignedZone

    zipfile.ZipFile(built / "function.zip").extractall(tmp_path / "code")
    zipfile.ZipFile(built / "layer.zip").extractall(tmp_path / "opt")
    zone = SignedZone.generate("zip-paths.test", (13, 13, 15))
    waiting = zone.add_key(13, signs_dnskey=False, signs_zone=False)  # a KSK published, not signing yet
    key_tags = [key.key_tag for key in zone.keys]
    assert len(set(key_tags)) == 4 and key_tags[3] == waiting.key_tag
    emulator.put_domain({"DomainName": "zip-paths.test", "DSRecords": zone.ds_seed()})
    sts = emulator.sts_credentials
    with LocalDnsServers.start([zone]) as servers:
        environ = {"PATH": os.environ["PATH"], "ZIP_CODE": str(tmp_path / "code"),
                   "ZIP_LAYER": str(tmp_path / "opt" / "python"), "ZIP_DOMAIN": "zip-paths.test",
                   "ZIP_KEY_TAGS": ",".join(map(str, key_tags)), "ZIP_REDIS_URL": redis_url,
                   "NOTIFY_TOPIC": "ds-record-deleter-notifications", "WATCH_QUEUE": "ds-record-deleter-watch",
                   "DOMAIN_API_ENDPOINT": emulator.url, "MNS_ENDPOINT": emulator.url, "SAFETY_CHECK": "on",
                   "WEBHOOK_SECRET": "zip-paths-webhook-secret-0123456789abcdef", "STS_ID": sts["AccessKeyId"],
                   "STS_SECRET": sts["AccessKeySecret"], "STS_TOKEN": sts["SecurityToken"],
                   **servers.environment()}
        completed = subprocess.run([PYTHON310 or sys.executable, "-S", "-E", str(Path(__file__).with_name("zip_paths.py"))],
                                   capture_output=True, text=True, env=environ, timeout=120)
    assert completed.returncode == 0, completed.stderr[-3000:]
    ran = json.loads(completed.stdout.splitlines()[-1])
    steps = ran["steps"]
    assert steps["webhook"][0] == 202 and steps["webhook"][1]["SafetyCheck"] == "passed"
    assert steps["task query"][0] == 200 and steps["task query"][1]["TaskNo"] == steps["webhook"][1]["TaskNo"]
    assert [r["Status"] for r in steps["queue"]["Results"]] == ["SUBMITTED"]
    assert [r["Event"] for r in steps["watch check"]["Results"]] == ["DSRecordDeletionCompleted"]
    [dry] = steps["timer dry run"]["Results"]
    assert (dry["Status"], dry["Code"]) == ("DRY_RUN", "DeletionWouldBreakDNSSEC")
    [refused] = steps["topic refusal"]["Results"]
    assert (refused["Status"], refused["Code"]) == ("FAILED", "DeletionWouldBreakDNSSEC")
    assert [r["Status"] for r in steps["direct invalid"]["Results"]] == ["REJECTED"]
    assert [r["Status"] for r in steps["direct on redis"]["Results"]] == ["SUBMITTED"]
    # Every module of the function ran (none is dead weight, none failed to import from the zips).
    shipped = sorted(name[:-3].replace("/", ".").removesuffix(".__init__")
                     for name in zipfile.ZipFile(built / "function.zip").namelist()
                     if name.endswith(".py"))
    assert set(shipped) - set(ran["imported"]) == set()
    assert {"dns", "cryptography", "requests", "aws_lambda_powertools"} <= set(ran["layer_packages"])


@pytest.mark.parametrize("left_out", ["python/aws_lambda_powertools/event_handler/", "python/certifi/tests/",
                                      "python/aws_lambda_powertools/utilities/parser/", "python/cffi/"])
def test_the_layer_leaves_out_what_never_runs(built, left_out):
    names = zipfile.ZipFile(built / "layer.zip").namelist()
    assert not [name for name in names if name.startswith(left_out)]
    assert "python/aws_lambda_powertools/utilities/jmespath_utils/__init__.py" in names  # the Logger needs it
    assert [name for name in names if name.startswith("python/_cffi_backend")]  # cryptography needs it
