"""`make bench`: the function against the official SDK stack, side by side in one run.

Every figure comes from fresh processes (bench/probe.py) that can import only their own stack.
By default (`--stacks shipped`) both stacks are what would be deployed, run by Python 3.10 (FC's
python3.10): ours is `make build`'s function.zip and layer.zip, unpacked; the SDK stack is
alibabacloud-domain20180129 (on alibabacloud-tea-openapi) and aliyun-mns-sdk with every
dependency their wheels need, plus the safety check's dnspython, cryptography and cffi, installed
for CPython 3.10 on manylinux x86_64, compiled to .pyc by 3.10 and zipped the same way, then
unpacked. `--stacks dev` runs this interpreter's own site-packages instead (the smoke test's
mode: nothing to install; the cold start is then not the shipped zips').

Ours and the baseline run alternately (A B A B ...), and a goal is judged on the median of the
pair ratios (or differences), so the machine's drift cancels out. The emulator runs in a
process of its own: its CPU is reported apart from the client's. Goals print PASS or MISS; they
are not test assertions. Writes bench/results.json.

The measured paths. `calls`: a request is SaveSingleTaskForDeletingDSRecord then PublishMessage
(G1, G4, G5: what both stacks can do alike). `full`: the function as it ships, with whatever of
the pre-check, the DNSSEC safety check and the watch queue its settings have (found in
deleter/settings.py at run time), against local signed zones (local/dns) whose DS rows the
emulator is seeded with; the SDK stack then does the same (stacks.py) (G2, G3, G7).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # local/ makes the function's package importable itself

from local.emulator.credentials import Credential  # noqa: E402
from local.emulator.seed import load_seed  # noqa: E402
from local.package import (FUNCTION_DIR, LAYER_ROOT, PLATFORMS, REQUIREMENTS, RUNTIME_PYTHON, build,  # noqa: E402
                           compile_tree, runtime_python, write_zip)

ENVS = ROOT / "build" / "bench-envs"
SETTINGS_FILE = FUNCTION_DIR / "deleter" / "settings.py"
SDK_PACKAGES = ("alibabacloud-domain20180129==5.1.1", "alibabacloud-tea-openapi==0.4.6", "aliyun-mns-sdk==1.3.0")
DNS_PACKAGES = ("dnspython", "cryptography", "cffi")  # at the layer's pins
WATCH_QUEUE = "ds-record-deleter-followup"  # in the emulator's seed
VCPU_SHARES = (0.1, 0.2)  # the template's two smallest sizes (InstanceSizes): 128 MB on 0.1 vCPU, 256 MB on 0.2
MB = 1024 * 1024
WEBHOOK_SECRET = "bench-webhook-secret-of-at-least-32-characters"  # both stacks' webhooks check it

GOALS = {
    "G1": "client CPU per request <= 0.8x the SDK baseline's (same two calls), 1 and 8 threads",
    "G2": "cold start CPU <= 0.30x the SDK stack's, and <= 2 s at 0.1 vCPU",
    "G3": "peak RSS with a 100- and a 1,000-message batch <= 64 MB",
    "G4": "drain N requests under MAX_REQUESTS_PER_SECOND <= 1.05x (N - burst) / r + one round trip",
    "G5": "warm signed webhook, 50 ms on Domain API calls and 10 ms on MNS: p50 <= SDK + 1 ms, p99 <= SDK + 5 ms",
    "G6": "function zip + layer zip <= 0.5x the SDK stack plus the same DNS dependencies, zipped the same way",
    "G7": "calls in flight never above MAX_CONCURRENCY; memory per request flat from 100 to 1,000",
}


# --- what the function has ---------------------------------------------------------------------

def features(settings_text: Optional[str] = None) -> dict:
    """Which optional steps the function's settings know of (other branches add them)."""
    text = SETTINGS_FILE.read_text() if settings_text is None else settings_text
    return {"safety_check": "SAFETY_CHECK" in text and "DNS_RESOLVER" in text,
            "precheck": "PRECHECK" in text, "watch_queue": "WATCH_QUEUE" in text}


def path_environ(path: str, found: dict, dns_environ: dict) -> dict:
    """The settings (and the SDK stack's BENCH_* mirror of them) for a measured path."""
    environ = {}
    if path == "calls":
        environ.update({name: "off" for name, on in (("PRECHECK", found["precheck"]),
                                                    ("SAFETY_CHECK", found["safety_check"])) if on})
        return environ
    if found["safety_check"]:
        environ.update({"SAFETY_CHECK": "on", "BENCH_SAFETY_CHECK": "1", **dns_environ})
    if found["precheck"]:
        environ.update({"PRECHECK": "on", "BENCH_PRECHECK": "1"})
    if found["watch_queue"]:
        environ.update({"WATCH_QUEUE": WATCH_QUEUE, "BENCH_WATCH_QUEUE": WATCH_QUEUE})
    return environ


# --- the stacks --------------------------------------------------------------------------------

def pip_install(target: Path, *arguments: str) -> Path:
    """Install into an empty target once; a stamp of what was asked says whether it is current."""
    stamp = target / ".stamp"
    wanted = hashlib.sha256(" ".join(arguments).encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return target
    shutil.rmtree(target, ignore_errors=True)  # nothing left over from an earlier set
    completed = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                                "--no-compile", "--target", str(target), *arguments], capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(arguments)} failed:\n{completed.stderr[-3000:]}")
    shutil.rmtree(target / "bin", ignore_errors=True)
    stamp.write_text(wanted)
    return target


def pinned(names) -> list:
    """The layer's own pins of these packages, so both stacks check DNSSEC with the same code."""
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        requirement = line.split("#")[0].strip()
        if "==" in requirement:
            pins[requirement.split("==")[0].lower()] = requirement
    return [pins[name] for name in names]


def unpack(archive: Path, target: Path) -> Path:
    shutil.rmtree(target, ignore_errors=True)
    zipfile.ZipFile(archive).extractall(target)
    return target


def shipped_stacks(python: str) -> dict:
    """Both stacks as deployable zips, built for and compiled by Python 3.10, then unpacked."""
    built = build(ROOT / "build", python=python)
    ours = ENVS / "ours"
    unpack(ROOT / "build" / "function.zip", ours / "code")
    unpack(ROOT / "build" / "layer.zip", ours / "opt")
    platforms = [argument for name in PLATFORMS for argument in ("--platform", name)]
    sdk_site = pip_install(ENVS / "sdk-cp310" / "python", "--only-binary=:all:", *platforms, "--python-version",
                           RUNTIME_PYTHON, "--implementation", "cp", *SDK_PACKAGES, *pinned(DNS_PACKAGES))
    compile_tree(python, sdk_site.parent, LAYER_ROOT)
    sdk_zip = ENVS / "sdk.zip"
    write_zip(sdk_site.parent, sdk_zip, bytecode=True)
    unpack(sdk_zip, ENVS / "sdk" / "opt")
    return {"mode": "shipped", "python": python,
            "ours": os.pathsep.join([str(ours / "code"), str(ours / "opt" / "python")]),
            "sdk": str(ENVS / "sdk" / "opt" / "python"),
            "sizes": {"function_zip_bytes": built["function.zip"], "layer_zip_bytes": built["layer.zip"],
                      "ours_bytes": built["function.zip"] + built["layer.zip"],
                      "sdk_zip_bytes": sdk_zip.stat().st_size}}


def dev_stacks() -> dict:
    """This interpreter's site-packages (they hold both stacks: requirements-dev.txt)."""
    site = sysconfig.get_paths()["purelib"]
    return {"mode": "dev", "python": sys.executable, "ours": os.pathsep.join([str(FUNCTION_DIR), site]),
            "sdk": site, "sizes": None}


# --- the emulator and the DNS servers ----------------------------------------------------------

def bench_requests(count: int, signed: bool):
    """(domain, KeyTag) per request, the emulator's domains, and the signed zones (signed: each
    domain a zone with two keys, DS rows for both; deleting the first leaves DNSSEC whole)."""
    names = [f"bench-{i:05d}.example" for i in range(count)]
    if not signed:
        rows = [{"KeyTag": 7, "Algorithm": 13, "DigestType": 2, "Digest": "AB" * 32}]
        return [(name, 7) for name in names], [{"DomainName": name, "DSRecords": rows} for name in names], []
    from local.dns import SignedZone
    zones = [SignedZone.generate(name, (13, 15), seed=b"bench/" + name.encode()) for name in names]
    seeds = [zone.ds_seed() for zone in zones]
    return ([(name, rows[0]["KeyTag"]) for name, rows in zip(names, seeds)],
            [{"DomainName": name, "DSRecords": rows} for name, rows in zip(names, seeds)], zones)


class Emulator:
    """The emulator in a process of its own, seeded with the bench's domains."""

    def __init__(self, domains: list) -> None:
        seed = load_seed()
        seed["domains"] += domains
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
        self.pid = self._process.pid
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                self.admin("GET", "stats")
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
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


def latency(domain_ms: float, mns_ms: float) -> dict:
    return {"rules": [{"service": "domain", "action": "*", "fault": "latency", "rate": 1, "latency_ms": domain_ms},
                      {"service": "mns", "action": "*", "fault": "latency", "rate": 1, "latency_ms": mns_ms}]}


def probe_environ(url: str, credentials: dict) -> dict:
    """What a probe process sees: the emulator at url, the STS credentials, nothing else."""
    return {
        "PATH": os.environ.get("PATH", ""), "NOTIFY_TOPIC": "ds-record-deleter-notifications",
        "DOMAIN_API_ENDPOINT": url, "MNS_ENDPOINT": url,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": credentials["AccessKeySecret"],
        "ALIBABA_CLOUD_SECURITY_TOKEN": credentials["SecurityToken"],
        # Raw capacity: the production rate limit (20/s by default) would measure itself (G4 sets it).
        "MAX_REQUESTS_PER_SECOND": "0", "MAX_BATCH": "1000",
        # The same two calls per request as the SDK baseline: no pre-check (QueryDSRecord), and no
        # DNSSEC safety check (the bench's domains have no name servers).
        "PRECHECK": "off", "SAFETY_CHECK": "off",
    }


def run_probe(python: str, paths: str, stack: str, kind: str, arguments, environ: dict) -> dict:
    """One measurement in a fresh process (bench/probe.py) that can import only `paths`."""
    completed = subprocess.run(
        [python, "-S", "-E", str(ROOT / "bench" / "probe.py"), paths, stack, kind, *map(str, arguments)],
        capture_output=True, text=True, env=environ, timeout=900)
    if completed.returncode != 0:
        raise RuntimeError(f"probe {stack} {kind} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


class Bench:
    def __init__(self, stacks: dict, emulator: Emulator, requests_file: str, found: dict, dns_environ: dict) -> None:
        self.stacks = stacks
        self.emulator = emulator
        self.found = found
        self.dns_environ = dns_environ
        self.environ = {**probe_environ(emulator.url, emulator.credentials), "BENCH_REQUESTS": requests_file,
                        "EMULATOR_PID": str(emulator.pid), "WEBHOOK_SECRET": WEBHOOK_SECRET}

    def probe(self, stack: str, kind: str, *arguments, path: str = "calls", faults=None, **environ) -> dict:
        self.emulator.reset(faults)
        return run_probe(self.stacks["python"], self.stacks[stack], stack, kind, arguments,
                         {**self.environ, **path_environ(path, self.found, self.dns_environ), **environ})

    def pairs(self, count: int, kind: str, *arguments, **options) -> list:
        """(ours, sdk) count times, alternating: A B A B ..."""
        return [(self.probe("ours", kind, *arguments, **options), self.probe("sdk", kind, *arguments, **options))
                for _ in range(count)]


def median_ratio(pairs: list, key: str) -> float:
    return statistics.median(ours[key] / sdk[key] for ours, sdk in pairs)


def median_difference(pairs: list, key: str) -> float:
    return statistics.median(ours[key] - sdk[key] for ours, sdk in pairs)


def medians(pairs: list, key: str) -> tuple:
    return tuple(statistics.median(pair[side][key] for pair in pairs) for side in (0, 1))


# --- the measurements --------------------------------------------------------------------------

def measure(bench: Bench, quick: bool, cold_skipped: Optional[str]) -> dict:
    runs = 1 if quick else 5
    figures: dict = {"path": bench.found}
    # G1: client CPU per request, the same two calls, 1 and 8 threads.
    total, batch, warmup = (40, 20, 10) if quick else (400, 100, 50)
    figures["G1"] = {}
    for threads in (1, 8):
        pairs = bench.pairs(runs, "workload", total, batch, threads, warmup)
        figures["G1"][threads] = {
            "ratio": median_ratio(pairs, "cpu_ms_per_request"),
            "cpu_ms_per_request": medians(pairs, "cpu_ms_per_request"),
            "emulator_cpu_ms_per_request": medians(pairs, "emulator_cpu_ms_per_request"),
            "requests_per_second": medians(pairs, "requests_per_second")}
    # G2: cold start, the full path, after a warm-up of each (the page cache).
    if cold_skipped is None:
        for stack in ("ours", "sdk"):
            bench.probe(stack, "cold", path="full")
        pairs = bench.pairs(1 if quick else 7, "cold", path="full")
        figures["G2"] = {"ratio": median_ratio(pairs, "cpu_s"), "cpu_s": medians(pairs, "cpu_s"),
                         "import_cpu_s": medians(pairs, "import_cpu_s"),
                         "first_request_cpu_s": medians(pairs, "first_request_cpu_s"),
                         "peak_rss_kb": medians(pairs, "peak_rss_kb"), "modules": medians(pairs, "modules")}
    else:
        figures["G2"] = {"skipped": cold_skipped}
    # G3 and G7: the full path, 5 ms on every call so that calls overlap.
    small, large = (20, 200) if quick else (100, 1000)
    figures["G3"] = {}
    for size in (small, large):
        result = bench.probe("ours", "workload", size, size, 8, 5, path="full", faults=latency(5, 5))
        figures["G3"][size] = {"peak_rss_kb": result["peak_rss_kb"], "in_flight_peak": result["in_flight_peak"],
                               "memory_per_request_kb": (result["peak_rss_kb"] - result["rss_before_batches_kb"]) / size}
    sdk = bench.probe("sdk", "workload", small, small, 8, 5, path="full", faults=latency(5, 5))
    figures["G3"]["sdk_peak_rss_kb"] = sdk["peak_rss_kb"]
    # G4: a drain under the production rate limit.
    rate, count = 20, (30 if quick else 100)
    drained = bench.probe("ours", "drain", count, 3 if quick else 9, MAX_REQUESTS_PER_SECOND=str(rate))
    bound = (count - drained["burst"]) / rate + drained["round_trip_s"]
    figures["G4"] = {**drained, "bound_s": bound, "ratio": drained["seconds"] / bound}
    # G5: warm signed webhook with latency injected.
    count = 10 if quick else 100
    pairs = bench.pairs(runs, "webhook", count, 5, faults=latency(50, 10))
    figures["G5"] = {"p50_ms": medians(pairs, "p50_ms"), "p99_ms": medians(pairs, "p99_ms"),
                     "p50_difference_ms": median_difference(pairs, "p50_ms"),
                     "p99_difference_ms": median_difference(pairs, "p99_ms")}
    figures["G6"] = bench.stacks["sizes"]
    return figures


def evaluate(figures: dict) -> dict:
    """Each goal: met or not, and the figure that says so."""
    goals = {}
    g1 = figures["G1"]
    goals["G1"] = (all(row["ratio"] <= 0.8 for row in g1.values()),
                   ", ".join(f"{threads} thread{'s' if threads > 1 else ''} {row['ratio']:.2f}x"
                             for threads, row in g1.items()))
    g2 = figures["G2"]
    if "skipped" in g2:
        goals["G2"] = (None, f"skipped: {g2['skipped']}")
    else:
        at_01 = g2["cpu_s"][0] / 0.1
        goals["G2"] = (g2["ratio"] <= 0.30 and at_01 <= 2.0, f"{g2['ratio']:.2f}x, {at_01:.2f} s at 0.1 vCPU")
    g3 = {size: row for size, row in figures["G3"].items() if isinstance(size, int)}
    goals["G3"] = (all(row["peak_rss_kb"] <= 64 * 1024 for row in g3.values()),
                   ", ".join(f"{size}: {row['peak_rss_kb'] / 1024:.1f} MB" for size, row in g3.items()))
    g4 = figures["G4"]
    goals["G4"] = (g4["ratio"] <= 1.05, f"{g4['ratio']:.3f}x ({g4['seconds']:.2f} s vs {g4['bound_s']:.2f} s)")
    g5 = figures["G5"]
    goals["G5"] = (g5["p50_difference_ms"] <= 1 and g5["p99_difference_ms"] <= 5,
                   f"p50 {g5['p50_difference_ms']:+.2f} ms, p99 {g5['p99_difference_ms']:+.2f} ms")
    g6 = figures["G6"]
    if g6 is None:
        goals["G6"] = (None, "not measured: --stacks dev builds no zips")
    else:
        ratio = g6["ours_bytes"] / g6["sdk_zip_bytes"]
        goals["G6"] = (ratio <= 0.5, f"{ratio:.2f}x")
    (small, small_row), (large, large_row) = sorted(g3.items())
    in_flight = max(count for row in g3.values() for count in row["in_flight_peak"].values())
    flat = large_row["memory_per_request_kb"] <= small_row["memory_per_request_kb"] * 1.10 + 1
    goals["G7"] = (in_flight <= 8 and flat,
                   f"{in_flight} in flight at most (limit 8); {small_row['memory_per_request_kb']:.1f} -> "
                   f"{large_row['memory_per_request_kb']:.1f} KB per request")
    return {name: {"goal": GOALS[name], "met": met, "shown": shown} for name, (met, shown) in goals.items()}


def verdict(goal: dict) -> str:
    return "SKIP" if goal["met"] is None else ("PASS" if goal["met"] else "MISS")


def table(figures: dict, goals: dict, context: dict) -> str:
    lines = [f"{context['when']}  {context['machine']}  Python {context['python_version']} ({context['mode']} stacks"
             f"{', quick' if context['quick'] else ''})", context["path_note"], ""]
    for name in sorted(goals):
        lines.append(f"{name} {verdict(goals[name])}  {goals[name]['shown']:58s} {goals[name]['goal']}")
    lines.append("")
    lines.append(f"{'':44s} {'ours':>14s} {'SDK stack':>14s}")
    for threads, row in figures["G1"].items():
        lines.append(f"{'G1 client CPU per request, %d thread(s)' % threads:44s} "
                     f"{row['cpu_ms_per_request'][0]:11.3f} ms {row['cpu_ms_per_request'][1]:11.3f} ms")
        lines.append(f"{'   the emulator CPU per request (apart)':44s} "
                     f"{row['emulator_cpu_ms_per_request'][0]:11.3f} ms {row['emulator_cpu_ms_per_request'][1]:11.3f} ms")
    g2 = figures["G2"]
    if "skipped" not in g2:
        lines.append(f"{'G2 cold start CPU (import + first webhook)':44s} {g2['cpu_s'][0]:12.3f} s {g2['cpu_s'][1]:12.3f} s")
        lines.append(f"{'   of which import':44s} {g2['import_cpu_s'][0]:12.3f} s {g2['import_cpu_s'][1]:12.3f} s")
        for share in VCPU_SHARES:
            lines.append(f"{'   projected at %.2g vCPU' % share:44s} {g2['cpu_s'][0] / share:12.2f} s "
                         f"{g2['cpu_s'][1] / share:12.2f} s")
        lines.append(f"{'   peak RSS of the cold process':44s} {g2['peak_rss_kb'][0] / 1024:11.1f} MB "
                     f"{g2['peak_rss_kb'][1] / 1024:11.1f} MB")
    for size, row in figures["G3"].items():
        if isinstance(size, int):
            lines.append(f"{'G3 peak RSS, %d-message batch' % size:44s} {row['peak_rss_kb'] / 1024:11.1f} MB "
                         f"{'':>14s}  {row['memory_per_request_kb']:.1f} KB per request, "
                         f"in flight {json.dumps(row['in_flight_peak'])}")
    lines.append(f"{'   SDK stack, the smaller batch':44s} {'':>14s} {figures['G3']['sdk_peak_rss_kb'] / 1024:11.1f} MB")
    g4 = figures["G4"]
    lines.append(f"{'G4 drain %d at %g/s (burst %g)' % (g4['requests'], g4['rate'], g4['burst']):44s} "
                 f"{g4['seconds']:12.3f} s   bound {g4['bound_s']:.3f} s (round trip {g4['round_trip_s'] * 1000:.1f} ms)")
    g5 = figures["G5"]
    for key in ("p50_ms", "p99_ms"):
        lines.append(f"{'G5 warm webhook ' + key[:3]:44s} {g5[key][0]:11.2f} ms {g5[key][1]:11.2f} ms")
    g6 = figures["G6"]
    if g6 is not None:
        lines.append(f"{'G6 function + layer zip':44s} {g6['ours_bytes'] / MB:11.2f} MB {g6['sdk_zip_bytes'] / MB:11.2f} MB"
                     f"  (function {g6['function_zip_bytes'] / 1024:.0f} KB, layer {g6['layer_zip_bytes'] / MB:.2f} MB)")
    return "\n".join(lines)


def path_note(found: dict) -> str:
    labels = {"safety_check": "the DNSSEC safety check", "precheck": "the pre-check", "watch_queue": "the watch queue"}
    included = [name for name in labels if found[name]]
    if not included:
        return ("full path (G2, G3, G7) = the two calls: the function has no SAFETY_CHECK/DNS_RESOLVER, PRECHECK or "
                "WATCH_QUEUE setting yet, so the safety check was NOT included")
    missing = [labels[name] for name in labels if name not in included]
    return (f"full path (G2, G3, G7) includes {', '.join(labels[name] for name in included)}"
            + (f"; not {', '.join(missing)} (no such setting yet)" if missing else ""))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # `make bench QUICK=1`: make hands a command-line variable to the recipe's environment.
    parser.add_argument("--quick", action="store_true", default=os.environ.get("QUICK", "") not in ("", "0"),
                        help="fewer and smaller runs (also QUICK=1): proves the probes, gives no figures")
    parser.add_argument("--stacks", choices=("shipped", "dev"), default="shipped")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    args = parser.parse_args(argv)
    found = features()
    cold_skipped = None
    if args.stacks == "shipped":
        python = runtime_python()
        if python is None:
            print("no Python 3.10 found (python3.10 on PATH or pyenv's 3.10.x): running this interpreter's "
                  "packages instead, without the cold start", file=sys.stderr)
            stacks, cold_skipped = dev_stacks(), "no Python 3.10 here to run the shipped zips"
        else:
            stacks = shipped_stacks(python)
    else:
        stacks = dev_stacks()
    python_version = subprocess.run([stacks["python"], "-c", "import platform; print(platform.python_version())"],
                                    capture_output=True, text=True, check=True).stdout.strip()
    count = (260 if args.quick else 1200)
    requests, domains, zones = bench_requests(count, found["safety_check"])
    servers, dns_environ = None, {}
    if zones:
        from local.dns import LocalDnsServers
        servers = LocalDnsServers.start(zones)
        dns_environ = servers.environment()
    emulator = Emulator(domains)
    with tempfile.NamedTemporaryFile("w", suffix=".json") as requests_file:
        json.dump(requests, requests_file)
        requests_file.flush()
        try:
            figures = measure(Bench(stacks, emulator, requests_file.name, found, dns_environ), args.quick,
                              cold_skipped)
        finally:
            emulator.stop()
            if servers is not None:
                servers.stop()
    goals = evaluate(figures)
    context = {"when": time.strftime("%Y-%m-%d %H:%M"), "python_version": python_version, "mode": stacks["mode"],
               "quick": args.quick, "path_note": path_note(found),
               "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, {_cpu_model()}"}
    print(table(figures, goals, context))
    Path(args.out).write_text(json.dumps({"context": context, "figures": figures, "goals": goals}, indent=2))
    print(f"\nwritten to {args.out}")
    return 0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
