"""One measurement in a fresh process: `python -S -E bench/probe.py PATHS STACK KIND [ARGS]`.

Started with -S -E, so that nothing but the standard library and PATHS (the stack's own tree,
os.pathsep-separated: for ours the unpacked function and layer zips) is importable: what is
measured is what that stack imports. Prints one JSON object. STACK is `ours` (the function,
through its handler) or `sdk` (the official SDK clients doing the same work per request).

Kinds:
- cold: CPU seconds of the stack's import (ours: `import index`) and of the first signed webhook
  request, in a process that has imported nothing else of its own.
- workload TOTAL BATCH THREADS WARMUP: TOTAL requests in batches of BATCH, after WARMUP requests;
  the client's CPU per request (this process alone), the emulator's (EMULATOR_PID, from /proc)
  over the same span, peak RSS (VmHWM) and the calls in flight at most.
- webhook COUNT WARMUP: COUNT warm signed webhook requests one after another; their latencies.
- drain TOTAL SAMPLES: ours under MAX_REQUESTS_PER_SECOND: the round trip of one request (median
  of SAMPLES), then TOTAL requests in one batch started with a full token bucket; its seconds.

The requests (domain, KeyTag) come from the JSON file BENCH_REQUESTS, in order.
"""
import json
import os
import resource
import sys
import time

sys.path[:0] = [path for path in sys.argv[1].split(os.pathsep) if path]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        return int(status.read().split(f"{field}:")[1].split()[0])


def rss_kb() -> int:
    return _status_kb("VmRSS")


def peak_rss_kb() -> int:
    """This program's own high-water mark. (getrusage's ru_maxrss survives exec on Linux, so it
    would report the benchmark runner's size at the fork whenever that was larger.)"""
    return _status_kb("VmHWM")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def emulator_cpu_seconds() -> float:
    """The emulator process's user + system CPU (fields 14 and 15 of /proc/PID/stat, in ticks)."""
    pid = os.environ.get("EMULATOR_PID")
    if not pid:
        return 0.0
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def import_stack(stack: str):
    """Import what a cold instance imports."""
    if stack == "ours":
        import index  # noqa: F401  (the module FC imports)
    else:
        from alibabacloud_domain20180129.client import Client  # noqa: F401
        from alibabacloud_tea_openapi.models import Config  # noqa: F401
        from mns.account import Account  # noqa: F401


def runner_of(stack: str):
    from stacks import OurStack, SdkStack
    return OurStack() if stack == "ours" else SdkStack()


def percentile(values: list, fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def cold(stack: str, requests: list) -> dict:
    cpu_before, started = cpu_seconds(), time.perf_counter()
    import_stack(stack)
    cpu_imported, imported = cpu_seconds(), time.perf_counter()
    from stacks import webhook_event
    runner_of(stack).webhook(webhook_event(*requests[0]))
    cpu_done, done = cpu_seconds(), time.perf_counter()
    return {"import_cpu_s": cpu_imported - cpu_before, "first_request_cpu_s": cpu_done - cpu_imported,
            "cpu_s": cpu_done - cpu_before, "import_ms": (imported - started) * 1000,
            "first_request_ms": (done - imported) * 1000, "rss_kb": rss_kb(), "peak_rss_kb": peak_rss_kb(),
            "modules": len(sys.modules)}


def workload(stack: str, requests: list, total: int, batch: int, concurrency: int, warmup: int) -> dict:
    import_stack(stack)
    runner = runner_of(stack)
    if warmup:  # connections opened, code paths run once: what a warm instance has
        runner.run(requests[:warmup], concurrency)
    rss_before = rss_kb()
    measured = requests[warmup:warmup + total]
    if len(measured) < total:
        raise ValueError(f"{total} requests asked, {len(measured)} domains left")
    started, cpu_before, emulator_before = time.perf_counter(), cpu_seconds(), emulator_cpu_seconds()
    for start in range(0, total, batch):
        runner.run(measured[start:start + batch], concurrency)
    seconds = time.perf_counter() - started
    return {"requests": total, "seconds": seconds, "requests_per_second": total / seconds,
            "cpu_ms_per_request": (cpu_seconds() - cpu_before) * 1000 / total,
            "emulator_cpu_ms_per_request": (emulator_cpu_seconds() - emulator_before) * 1000 / total,
            "rss_before_batches_kb": rss_before, "peak_rss_kb": peak_rss_kb(),
            "in_flight_peak": runner.in_flight_peak()}


def webhook(stack: str, requests: list, count: int, warmup: int) -> dict:
    from stacks import webhook_event
    import_stack(stack)
    runner = runner_of(stack)
    for request in requests[:warmup]:
        runner.webhook(webhook_event(*request))
    latencies = []
    cpu_before = cpu_seconds()
    for request in requests[warmup:warmup + count]:
        event = webhook_event(*request)  # signed by the caller: not the function's time
        started = time.perf_counter()
        runner.webhook(event)
        latencies.append((time.perf_counter() - started) * 1000)
    return {"requests": len(latencies), "p50_ms": percentile(latencies, 0.50), "p99_ms": percentile(latencies, 0.99),
            "cpu_ms_per_request": (cpu_seconds() - cpu_before) * 1000 / len(latencies)}


def drain(stack: str, requests: list, total: int, samples: int) -> dict:
    import statistics
    rate = float(os.environ["MAX_REQUESTS_PER_SECOND"])
    import_stack(stack)
    runner = runner_of(stack)
    threads = int(os.environ.get("MAX_CONCURRENCY", "8"))
    runner.run(requests[:1], threads)  # warm: connections open
    round_trips = []
    for request in requests[1:1 + samples]:
        time.sleep(1.5 / rate)  # a token is back: the round trip alone
        started = time.perf_counter()
        runner.run([request], threads)
        round_trips.append(time.perf_counter() - started)
    measured = requests[1 + samples:1 + samples + total]
    time.sleep(max(1.0, rate) / rate + 0.2)  # the bucket full again: its burst is there to use
    started = time.perf_counter()
    runner.run(measured, threads)
    return {"requests": len(measured), "seconds": time.perf_counter() - started,
            "round_trip_s": statistics.median(round_trips), "rate": rate, "burst": max(1.0, rate)}


def main() -> None:
    stack, kind = sys.argv[2], sys.argv[3]
    arguments = [int(value) for value in sys.argv[4:]]
    if kind == "workload":
        # The function takes its parallelism from its setting, read once per instance: both stacks
        # run a workload with the same number of threads.
        os.environ["MAX_CONCURRENCY"] = str(arguments[2])
    with open(os.environ["BENCH_REQUESTS"]) as listed:
        requests = [tuple(request) for request in json.load(listed)]
    if kind == "cold":
        result = cold(stack, requests)
    elif kind == "workload":
        result = workload(stack, requests, *arguments)
    elif kind == "webhook":
        result = webhook(stack, requests, *arguments)
    elif kind == "drain":
        result = drain(stack, requests, *arguments)
    else:
        raise SystemExit(f"unknown kind {kind}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
