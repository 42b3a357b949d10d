"""The emulator's starting world: account, credentials, domains, topics, queues, subscriptions.

A seed is a JSON file or a dict shaped like seed.json beside this module. Keys it leaves out
take the default seed's account, region and credentials, and no domains, topics or queues.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Dict, Union

DEFAULT_SEED_PATH = Path(__file__).with_name("seed.json")
SeedSource = Union[None, str, Path, Dict[str, Any]]

_LIST_KEYS = ("credentials", "domains", "topics", "queues", "subscriptions")


def _read_json(path: Union[str, Path]) -> Dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def load_seed(source: SeedSource = None) -> Dict[str, Any]:
    """A complete, private copy of the seed named by source (None: the default seed)."""
    default = _read_json(DEFAULT_SEED_PATH)
    if source is None:
        return default
    seed = copy.deepcopy(source) if isinstance(source, dict) else _read_json(source)
    if not isinstance(seed, dict):
        raise ValueError("a seed must be a JSON object")
    for key in _LIST_KEYS:
        if key in seed and not isinstance(seed[key], list):
            raise ValueError(f"seed key {key!r} must be a list")
    complete = {key: [] for key in _LIST_KEYS}
    complete.update(
        account_id=default["account_id"], region=default["region"], credentials=default["credentials"]
    )
    complete.update(seed)
    return complete
