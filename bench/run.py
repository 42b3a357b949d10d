"""`make bench`: the function against the official SDK stack, side by side in one run.

Every figure comes from fresh processes (bench/probe.py) that can import only their own stack,
installed in isolation for this machine's Python: ours is the layer's pinned requirements, the
SDK stack is alibabacloud-domain20180129 (with alibabacloud-tea-openapi) and aliyun-mns-sdk with
their dependencies. The emulator runs in a process of its own, so it does not share the measured
process's interpreter. Times vary between runs on these machines: compare the ratios.

Prints one table and writes bench/results.json. Goals are printed PASS or MISS; they are not
test assertions.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # local/ makes the function's package importable itself

from local.emulator.credentials import Credential  # noqa: E402
from local.emulator.seed import load_seed  # noqa: E402
from local.package import FUNCTION_DIR, REQUIREMENTS, build, write_zip  # noqa: E402

ENVS = ROOT / "build" / "bench-envs"
SDK_PACKAGES = ("alibabacloud-domain20180129==5.1.1", "alibabacloud-tea-openapi==0.4.6", "aliyun-mns-sdk==1.3.0")
BENCH_DOMAINS = 3000
GOALS = {
    "cold_import_ratio": ("cold import <= 0.40x the SDK stack's", lambda r: r <= 0.40),
    "rss_after_import_ratio": ("memory after import <= 0.50x", lambda r: r <= 0.50),
    "throughput_ratio": ("throughput >= 2x the SDK baseline", lambda r: r >= 2.0),
    "concurrent_batch_seconds": ("16 messages at 100 ms latency in <= 0.5 s", lambda s: s <= 0.5),
    "in_flight_within_limit": ("never more than MAX_CONCURRENCY calls in flight", lambda ok: ok),
    "size_ratio": ("function + layer zip <= 0.25x the SDK stack zipped", lambda r: r <= 0.25),
    "size_under_5_mb": ("function + layer zip under 5 MB", lambda ok: ok),
    "memory_per_request_flat": ("memory per request flat from 100 to 1,000", lambda ok: ok),
}


def pip_install(target: Path, *arguments: str) -> Path:
    """Install into an empty target once; a stamp of what was asked says whether it is current."""
    stamp = target / ".stamp"
    asked = " ".join(arguments).encode()
    if "-r" in arguments:
        asked += Path(arguments[arguments.index("-r") + 1]).read_bytes()
    wanted = hashlib.sha256(asked).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return target
    shutil.rmtree(target, ignore_errors=True)  # nothing left over from an earlier set
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--no-compile", "--target", str(target), *arguments], check=True,
                   stderr=subprocess.DEVNULL)  # pip warns about every local index it cannot read
    stamp.write_text(wanted)
    return target


def prepare_stacks() -> dict:
    ours = pip_install(ENVS / "ours", "--no-deps", "-r", str(REQUIREMENTS))
    sdk = pip_install(ENVS / "sdk", *SDK_PACKAGES)
    return {"ours": f"{FUNCTION_DIR}{os.pathsep}{ours}", "sdk": str(sdk)}


def sizes() -> dict:
    built = build(ROOT / "build")
    ours = built["function.zip"] + built["layer.zip"]
    sdk_dir = pip_install(ENVS / "sdk-cp310", "--only-binary=:all:", "--platform", "manylinux2014_x86_64",
                          "--python-version", "3.10", "--implementation", "cp", *SDK_PACKAGES)
    sdk_zip = ENVS / "sdk-cp310.zip"
    write_zip(sdk_dir, sdk_zip, prefix="python/")
    return {"function_zip_bytes": built["function.zip"], "layer_zip_bytes": built["layer.zip"],
            "ours_bytes": ours, "sdk_zip_bytes": sdk_zip.stat().st_size}


class Emulator:
    """The emulator in a process of its own, seeded with BENCH_DOMAINS domains."""

    def __init__(self) -> None:
        seed = load_seed()
        seed["domains"] += [{"DomainName": f"bench-{i:05d}.example", "DSRecords": [
            {"KeyTag": 7, "Algorithm": 13, "DigestType": 2, "Digest": "AB" * 32}]} for i in range(BENCH_DOMAINS)]
        self._seed = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump(seed, self._seed)
        self._seed.close()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        credentials = [Credential.from_dict(c) for c in seed["credentials"]]
        self.credentials = next(c.as_dict() for c in credentials if c.is_sts and not c.is_expired(time.time()))
        self._process = subprocess.Popen(
            [sys.executable, "-m", "local.emulator", "--port", str(self.port), "--seed", self._seed.name,
             "--task-delays", "0,0"], cwd=ROOT, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.admin("GET", "stats")
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the emulator did not start")

    def admin(self, method: str, path: str, body=None):
        data = json.dumps(body).encode() if body is not None else (b"" if method != "GET" else None)
        request = urllib.request.Request(f"{self.url}/__emulator__/{path}", data=data, method=method)
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.load(answer)

    def reset(self, faults=None) -> None:
        self.admin("POST", "reset")
        if faults:
            self.admin("PUT", "faults", faults)

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=10)
        os.unlink(self._seed.name)


def probe_environ(url: str, credentials: dict) -> dict:
    """What a probe process sees: the emulator at url, the STS credentials, nothing else."""
    return {
        "PATH": os.environ.get("PATH", ""), "NOTIFY_TOPIC": "ds-record-deleter-notifications",
        "DOMAIN_API_ENDPOINT": url, "MNS_ENDPOINT": url,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": credentials["AccessKeySecret"],
        "ALIBABA_CLOUD_SECURITY_TOKEN": credentials["SecurityToken"],
        # Raw capacity: the production rate limit (20/s by default) would measure itself.
        "MAX_REQUESTS_PER_SECOND": "0", "MAX_BATCH": "1000",
        # The same two calls per request as the SDK baseline: no pre-check (QueryDSRecord), and no
        # DNSSEC safety check (the bench's domains have no name servers).
        "PRECHECK": "off", "SAFETY_CHECK": "off",
    }


def run_probe(paths: str, stack: str, kind: str, arguments, environ: dict) -> dict:
    """One measurement in a fresh process (bench/probe.py) that can import only `paths`."""
    completed = subprocess.run(
        [sys.executable, "-S", "-E", str(ROOT / "bench" / "probe.py"), paths, stack, kind, *map(str, arguments)],
        capture_output=True, text=True, env=environ, timeout=600)
    if completed.returncode != 0:
        raise RuntimeError(f"probe {stack} {kind} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


class Bench:
    def __init__(self, emulator: Emulator, paths: dict) -> None:
        self.emulator = emulator
        self.paths = paths
        self.environ = probe_environ(emulator.url, emulator.credentials)

    def probe(self, stack: str, kind: str, *arguments, faults=None, **environ) -> dict:
        self.emulator.reset(faults)
        return run_probe(self.paths[stack], stack, kind, arguments, {**self.environ, **environ})

    def repeated(self, runs: int, stack: str, kind: str, *arguments, **options) -> list:
        return [self.probe(stack, kind, *arguments, **options) for _ in range(runs)]


def median_of(results: list, key: str) -> float:
    return statistics.median(result[key] for result in results)


def measure(bench: Bench, quick: bool) -> dict:
    runs = 3 if quick else 11
    figures: dict = {}
    for stack in ("ours", "sdk"):  # warm-up: the page cache, the stamps, pyc files
        bench.probe(stack, "import")
    cold = {stack: bench.repeated(runs, stack, "import") for stack in ("ours", "sdk")}
    first = {stack: bench.repeated(max(3, runs // 2), stack, "first") for stack in ("ours", "sdk")}
    for stack in ("ours", "sdk"):
        figures[stack] = {
            "cold_import_ms": median_of(cold[stack], "import_ms"),
            "rss_after_import_kb": median_of(cold[stack], "rss_after_import_kb"),
            "first_invocation_ms": median_of(first[stack], "first_invocation_ms"),
        }
    # Memory after a 100-message batch, then throughput over 1,000 requests in batches of 100.
    total = 200 if quick else 1000
    for stack in ("ours", "sdk"):
        batch = bench.probe(stack, "workload", 100, 100, 8, 0)
        figures[stack]["peak_rss_after_batch_kb"] = batch["peak_rss_kb"]
        throughput = bench.repeated(1 if quick else 3, stack, "workload", total, 100, 8, 100)
        figures[stack]["requests_per_second"] = median_of(throughput, "requests_per_second")
        figures[stack]["cpu_ms_per_request"] = median_of(throughput, "cpu_ms_per_request")
    # Concurrency: 16 messages, 100 ms on every call, against the same batch one at a time.
    latency = {"rules": [{"service": "*", "action": "*", "fault": "latency", "rate": 1, "latency_ms": 100}]}
    parallel = bench.probe("ours", "workload", 16, 16, 8, 0, faults=latency)
    serial = bench.probe("ours", "workload", 16, 16, 1, 0, faults=latency)
    figures["concurrency"] = {"batch_seconds": parallel["seconds"], "one_at_a_time_seconds": serial["seconds"],
                              "in_flight_peak": parallel["in_flight_peak"], "max_concurrency": 8}
    # Scale: 10, 100 and 1,000 requests per batch.
    figures["scale"] = {}
    for size in (10, 100, 1000):
        result = bench.probe("ours", "workload", size, size, 8, 0)
        figures["scale"][size] = {
            "requests_per_second": result["requests_per_second"],
            "memory_per_request_kb": (result["peak_rss_kb"] - result["rss_before_batches_kb"]) / size,
            "peak_rss_kb": result["peak_rss_kb"]}
    figures["size"] = sizes()
    return figures


def evaluate(figures: dict) -> dict:
    ours, sdk, size = figures["ours"], figures["sdk"], figures["size"]
    peak = figures["concurrency"]["in_flight_peak"]
    per_request = figures["scale"]
    values = {
        "cold_import_ratio": ours["cold_import_ms"] / sdk["cold_import_ms"],
        "rss_after_import_ratio": ours["rss_after_import_kb"] / sdk["rss_after_import_kb"],
        "throughput_ratio": ours["requests_per_second"] / sdk["requests_per_second"],
        "concurrent_batch_seconds": figures["concurrency"]["batch_seconds"],
        "in_flight_within_limit": all(count <= 8 for count in peak.values()),
        "size_ratio": size["ours_bytes"] / size["sdk_zip_bytes"],
        "size_under_5_mb": size["ours_bytes"] < 5 * 1024 * 1024,
        # Flat: the 1,000-request batch costs no more memory per request than the 100 one
        # (a 10% allowance for the allocator's granularity).
        "memory_per_request_flat": per_request[1000]["memory_per_request_kb"]
        <= per_request[100]["memory_per_request_kb"] * 1.10 + 1,
    }
    return {name: {"goal": GOALS[name][0], "value": value, "met": bool(GOALS[name][1](value)),
                   "shown": f"{value:.2f}x" if name.endswith("_ratio") else ""}
            for name, value in values.items()}


def table(figures: dict, goals: dict) -> str:
    ours, sdk, concurrency = figures["ours"], figures["sdk"], figures["concurrency"]
    mb = 1024 * 1024
    rows = [
        ("cold import (median)", f"{ours['cold_import_ms']:.1f} ms", f"{sdk['cold_import_ms']:.1f} ms",
         goals["cold_import_ratio"]),
        ("RSS after import", f"{ours['rss_after_import_kb'] / 1024:.1f} MB", f"{sdk['rss_after_import_kb'] / 1024:.1f} MB",
         goals["rss_after_import_ratio"]),
        ("first invocation", f"{ours['first_invocation_ms']:.1f} ms", f"{sdk['first_invocation_ms']:.1f} ms", None),
        ("peak RSS, 100-message batch", f"{ours['peak_rss_after_batch_kb'] / 1024:.1f} MB",
         f"{sdk['peak_rss_after_batch_kb'] / 1024:.1f} MB", None),
        ("throughput", f"{ours['requests_per_second']:.0f} req/s", f"{sdk['requests_per_second']:.0f} req/s",
         goals["throughput_ratio"]),
        ("client CPU per request", f"{ours['cpu_ms_per_request']:.2f} ms", f"{sdk['cpu_ms_per_request']:.2f} ms",
         None),
        ("16 messages, 100 ms per call", f"{concurrency['batch_seconds']:.3f} s",
         f"{concurrency['one_at_a_time_seconds']:.3f} s one at a time", goals["concurrent_batch_seconds"]),
        ("calls in flight at most", json.dumps(concurrency["in_flight_peak"]), "limit 8",
         goals["in_flight_within_limit"]),
        ("function + layer zip", f"{figures['size']['ours_bytes'] / mb:.2f} MB",
         f"{figures['size']['sdk_zip_bytes'] / mb:.2f} MB", goals["size_ratio"]),
    ]
    lines = [f"{'':32s} {'ds-record-deleter':>20s} {'SDK stack':>26s}   goal", "-" * 110]
    for label, left, right, goal in rows:
        verdict = ""
        if goal is not None:
            verdict = f"{'PASS' if goal['met'] else 'MISS'} {goal['shown']} ({goal['goal']})"
        lines.append(f"{label:32s} {left:>20s} {right:>26s}   {verdict}")
    lines.append(f"{'size under 5 MB':32s} {'':>20s} {'':>26s}   "
                 f"{'PASS' if goals['size_under_5_mb']['met'] else 'MISS'}")
    lines.append("")
    lines.append("scale (ours)          req/s    memory per request   peak RSS")
    for size, result in figures["scale"].items():
        lines.append(f"  {size:>5} per batch  {result['requests_per_second']:8.0f}    "
                     f"{result['memory_per_request_kb']:8.1f} KB         {result['peak_rss_kb'] / 1024:6.1f} MB")
    lines.append(f"  memory per request flat from 100 to 1,000: "
                 f"{'PASS' if goals['memory_per_request_flat']['met'] else 'MISS'}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs: for a smoke test, not for figures")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    args = parser.parse_args()
    paths = prepare_stacks()
    emulator = Emulator()
    try:
        figures = measure(Bench(emulator, paths), args.quick)
    finally:
        emulator.stop()
    goals = evaluate(figures)
    print(table(figures, goals))
    Path(args.out).write_text(json.dumps({"python": sys.version.split()[0], "quick": args.quick,
                                          "figures": figures, "goals": goals}, indent=2))
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
