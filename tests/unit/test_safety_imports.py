"""dnspython and cryptography load when a safety check runs, not with the function (its cold start)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
def loaded():
    return sorted({name.split(".")[0] for name in sys.modules} & {"dns", "cryptography", "_cffi_backend"})
import index, deleter.safety, cloud.dns
seen = {"after_import": loaded()}
from cloud.dns import DnsClient, ServerAnswer
from deleter.safety import judge
Row = type("Row", (), {"key_tag": 1, "algorithm": 13, "digest_type": 2, "digest": "00" * 32})
judge("example.com", 2, [Row()], [ServerAnswer("ns1.example.com", "192.0.2.1")], 0)
seen["after_not_found"] = loaded()  # no row with the key tag: nothing to check
judge("example.com", 1, [Row()], [ServerAnswer("ns1.example.com", "192.0.2.1", error="down")], 0)
seen["after_a_check_without_answers"] = loaded()
judge("example.com", 1, [Row()], [ServerAnswer("ns1.example.com", "192.0.2.1")], 0)
seen["after_a_check"] = loaded()
print(json.dumps(seen))
"""


def test_the_function_imports_neither_dnspython_nor_cryptography_until_a_check_runs():
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "functions" / "ds_record_deleter"), str(ROOT)])}
    completed = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=environ, timeout=60)
    assert completed.returncode == 0, completed.stderr
    seen = json.loads(completed.stdout)
    assert seen["after_import"] == [] and seen["after_not_found"] == []
    assert seen["after_a_check_without_answers"] == []
    assert seen["after_a_check"] == ["_cffi_backend", "cryptography", "dns"]
