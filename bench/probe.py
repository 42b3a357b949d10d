"""One measurement in a fresh process: `python -S -E bench/probe.py PATHS STACK KIND [ARGS]`.

Started with -S -E, so that nothing but the standard library and PATHS (the stack's own isolated
install, os.pathsep-separated) is importable: what is measured is what that stack imports.
Prints one JSON object. STACK is `ours` (the function, through its handler) or `sdk` (the
official SDK clients making the same two calls per request).
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


def import_stack(stack: str):
    """Import what a cold instance imports; the time it took and the stack's runner."""
    started = time.perf_counter()
    if stack == "ours":
        import index  # noqa: F401  (the module FC imports)
        elapsed = time.perf_counter() - started
        from stacks import OurStack
        return elapsed, OurStack()
    from alibabacloud_domain20180129.client import Client  # noqa: F401
    from alibabacloud_tea_openapi.models import Config  # noqa: F401
    from mns.account import Account  # noqa: F401
    elapsed = time.perf_counter() - started
    from stacks import SdkStack
    return elapsed, SdkStack()


def main() -> None:
    stack, kind = sys.argv[2], sys.argv[3]
    if kind == "workload":
        # The function takes its parallelism from its setting, read once per instance: both stacks
        # run a workload with the same number of threads.
        os.environ["MAX_CONCURRENCY"] = sys.argv[6]
    import_seconds, runner = import_stack(stack)
    result = {"import_ms": import_seconds * 1000, "rss_after_import_kb": rss_kb()}
    if kind == "first":
        started = time.perf_counter()
        runner.run([("bench-00000.example", 7)], concurrency=8)
        result["first_invocation_ms"] = (time.perf_counter() - started) * 1000
    elif kind == "workload":
        total, batch, concurrency, warmup = (int(value) for value in sys.argv[4:8])
        requests = [(f"bench-{i:05d}.example", 7) for i in range(warmup + total)]
        if warmup:  # connections opened, code paths run once: what a warm instance has
            runner.run(requests[:warmup], concurrency)
        result["rss_before_batches_kb"] = rss_kb()
        measured = requests[warmup:]
        started, cpu_before = time.perf_counter(), cpu_seconds()
        for start in range(0, len(measured), batch):
            runner.run(measured[start:start + batch], concurrency)
        seconds = time.perf_counter() - started
        result.update(requests=len(measured), seconds=seconds, requests_per_second=len(measured) / seconds,
                      cpu_ms_per_request=(cpu_seconds() - cpu_before) * 1000 / len(measured),
                      peak_rss_kb=peak_rss_kb(), in_flight_peak=runner.in_flight_peak())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
