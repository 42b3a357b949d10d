"""Mutants of the exactly-once core that survive `make mutate`, each with why no test can kill it.

An entry names a mutant as the campaign prints it: the file, the function it is in, and the change
as normalised source (' #2' when the same change recurs in that function). No line numbers, so
edits elsewhere in a file leave the entries valid. The campaign fails when an entry's mutant is
killed (the explanation was wrong, or the code changed), and test_mutation_tool.py fails when an
entry names a mutant that is no longer made.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple


@dataclass(frozen=True)
class Equivalent:
    file: str
    scope: str
    change: str
    why: str


EQUIVALENTS = (
)


def explanations() -> Dict[Tuple[str, str, str], str]:
    return {(entry.file, entry.scope, entry.change): entry.why for entry in EQUIVALENTS}
