"""The benchmark's own code keeps working: a probe measures a small workload against the emulator,
and the table and goals come out of its figures. No timing is asserted here (make bench prints
the figures; the goals there are not tests)."""
from __future__ import annotations

import os
import sysconfig
from pathlib import Path

from bench.run import GOALS, evaluate, probe_environ, run_probe, table

ROOT = Path(__file__).resolve().parents[2]


def probe(emulator, stack: str, kind: str, *arguments: str) -> dict:
    paths = os.pathsep.join([str(ROOT / "functions" / "ds_record_deleter"), sysconfig.get_paths()["purelib"]])
    return run_probe(paths, stack, kind, arguments, probe_environ(emulator.url, emulator.sts_credentials))


def test_a_probe_measures_a_workload_through_the_handler(emulator):
    for number in range(12):
        emulator.put_domain({"DomainName": f"bench-{number:05d}.example",
                             "DSRecords": [{"KeyTag": 7, "Algorithm": 13, "DigestType": 2, "Digest": "AB" * 32}]})
    result = probe(emulator, "ours", "workload", "10", "5", "4", "2")
    assert result["requests"] == 10 and result["requests_per_second"] > 0
    assert result["import_ms"] > 0 and result["peak_rss_kb"] >= result["rss_after_import_kb"] > 0
    assert result["in_flight_peak"]["domain"] <= 4
    assert len([t for t in emulator.snapshot()["tasks"] if t["DomainName"].startswith("bench-")]) == 12


def test_goals_are_judged_from_the_figures():
    side = {"cold_import_ms": 100.0, "rss_after_import_kb": 30000, "first_invocation_ms": 5.0,
            "peak_rss_after_batch_kb": 32000, "requests_per_second": 500.0,
            "cpu_ms_per_request": 1.0}
    figures = {
        "ours": side, "sdk": {**side, "cold_import_ms": 400.0, "rss_after_import_kb": 60000,
                              "requests_per_second": 200.0},
        "concurrency": {"batch_seconds": 0.45, "one_at_a_time_seconds": 3.3, "in_flight_peak": {"domain": 8},
                        "max_concurrency": 8},
        "size": {"ours_bytes": 1_000_000, "sdk_zip_bytes": 10_000_000},
        "scale": {10: {"requests_per_second": 1.0, "memory_per_request_kb": 50.0, "peak_rss_kb": 1},
                  100: {"requests_per_second": 1.0, "memory_per_request_kb": 10.0, "peak_rss_kb": 1},
                  1000: {"requests_per_second": 1.0, "memory_per_request_kb": 30.0, "peak_rss_kb": 1}},
    }
    goals = evaluate(figures)
    assert set(goals) == set(GOALS)
    assert goals["cold_import_ratio"]["met"] and goals["throughput_ratio"]["met"]
    assert not goals["memory_per_request_flat"]["met"]  # 30 KB per request at 1,000 against 10 at 100
    printed = table(figures, goals)
    assert "PASS" in printed and "MISS" in printed and "0.25x" in printed
