"""python -m local.emulator: serve the Domain API and MNS locally until Ctrl-C."""
from __future__ import annotations

import argparse
import json
import os
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


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("EMULATOR_PORT", "9100")))
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


def banner(emulator: Emulator) -> str:
    lines = [f"Alibaba Cloud emulator (Domain API + MNS) at {emulator.url}",
             f"  account {emulator.account_id}, region {emulator.region}",
             f"  admin API: {emulator.url}/__emulator__/state", "  credentials accepted:"]
    for credential in emulator.credentials:
        kind = "STS" if "SecurityToken" in credential else "AccessKey"
        line = f"    {kind}: {credential['AccessKeyId']} / {credential['AccessKeySecret']}"
        if "SecurityToken" in credential:
            line += f" / token {credential['SecurityToken']} (expires {credential.get('Expiration', 'never')})"
        lines.append(line)
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    emulator = Emulator(host=args.host, port=args.port, seed=args.seed, faults=fault_config(args),
                        task_delays=args.task_delays, verbose=args.verbose)
    emulator.start()
    print(banner(emulator), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
