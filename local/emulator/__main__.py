"""python -m local.emulator: serve the Domain API and MNS locally until Ctrl-C or SIGTERM.

It prints `export` lines (an STS triple and both endpoints) to paste into another shell, where
`make invoke` then talks to this emulator; everything else it prints is a shell comment.
"""
from __future__ import annotations

import argparse
import errno
import json
import os
import shlex
import signal
import sys
import threading
from typing import Any, Dict, List, Optional, Tuple

from .emulator import Emulator
from .faults import parse_fault_spec


def task_delays(text: str) -> Tuple[float, float]:
    waiting, sep, executing = text.partition(",")
    if not sep:
        raise argparse.ArgumentTypeError("task delays are WAITING,EXECUTING in seconds, e.g. 1,2")
    return float(waiting), float(executing)


def fault_spec(text: str) -> Dict[str, Any]:
    try:
        return parse_fault_spec(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error))


def port(text: str) -> int:
    """0 (any free port) to 65535; argparse's one line otherwise, naming where it came from."""
    if not (text.isascii() and text.isdigit()) or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0..65535; from --port or EMULATOR_PORT)")
    return int(text)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.emulator", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    # A string default goes through `type` too: a bad EMULATOR_PORT is argparse's one line.
    parser.add_argument("--port", type=port, default=os.environ.get("EMULATOR_PORT", "9100"))
    parser.add_argument("--seed", help="seed JSON file (default: the bundled seed.json)")
    parser.add_argument("--faults", help='fault JSON file: {"seed": 42, "rules": [...]}')
    parser.add_argument("--fault", action="append", type=fault_spec, default=[], metavar="SPEC",
                        help="service:action:fault:rate[:key=value...], "
                             "e.g. domain:SaveSingleTaskForDeletingDSRecord:throttling:0.2")
    parser.add_argument("--task-delays", type=task_delays, metavar="WAITING,EXECUTING")
    parser.add_argument("--verbose", action="store_true", help="print access logs to stderr")
    return parser.parse_args(argv)


def fault_config(args: argparse.Namespace) -> Dict[str, Any]:
    """The --faults file's rules, then the --fault flags'."""
    config: Dict[str, Any] = {"rules": []}
    if args.faults:
        with open(args.faults, encoding="utf-8") as handle:
            config = json.load(handle)
    config.setdefault("rules", [])
    config["rules"] = list(config["rules"]) + list(args.fault)
    return config


def client_environment(emulator: Emulator) -> Dict[str, str]:
    """What the function (`make invoke`, local/runtime.py) reads to use this emulator."""
    sts = emulator.sts_credentials
    return {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": sts["AccessKeyId"],
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": sts["AccessKeySecret"],
        "ALIBABA_CLOUD_SECURITY_TOKEN": sts["SecurityToken"],
        "DOMAIN_API_ENDPOINT": emulator.url,
        "MNS_ENDPOINT": emulator.url,
        "FC_ACCOUNT_ID": emulator.account_id,
        "FC_REGION": emulator.region,
        # No name server serves the emulator's domains: a DNSSEC safety check of them could only
        # answer SafetyCheckUnavailable (make run serves signed zones for its own seed instead).
        "SAFETY_CHECK": "off",
    }


def banner(emulator: Emulator) -> str:
    """Shell text: export lines, and comments."""
    lines = [f"# Alibaba Cloud emulator (Domain API + MNS) at {emulator.url}; Ctrl-C stops it. In another shell:"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in client_environment(emulator).items()]
    lines += ["# then: make invoke EVENT=tests/events/direct.json",
              f"# admin API: {emulator.url}/__emulator__/state (also faults, requests, domains, tasks, settings;",
              f"# every accepted key: {emulator.url}/__emulator__/credentials)"]
    return "\n".join(lines)


def start_problem(error: OSError, host: str, port: int) -> str:
    if error.errno == errno.EADDRINUSE:
        return f"emulator: port {port} on {host} is already in use (choose another with --port or EMULATOR_PORT)"
    return f"emulator: cannot listen on {host}:{port}: {error.strerror or error}"


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    emulator = Emulator(host=args.host, port=args.port, seed=args.seed, faults=fault_config(args),
                        task_delays=args.task_delays, verbose=args.verbose)
    stop = threading.Event()
    # Installed explicitly: a job started in the background by a non-interactive shell inherits
    # SIGINT ignored, and Python then leaves it ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        emulator.start()
    except OSError as error:
        print(start_problem(error, args.host, args.port), file=sys.stderr)
        return 1
    try:
        print(banner(emulator), flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
