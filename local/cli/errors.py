"""What the CLI ends with: an exit code, and for a problem one line that says what is wrong."""
from __future__ import annotations

# 0: done (accepted, completed, nothing to delete); 1: refused or failed (with the Code);
# 2: the command could not run as asked (bad input, a missing setting, nothing listening);
# 3: follow's --timeout passed with the task still pending (its end is not known yet).
DONE, NOT_DONE, SETUP, STILL_PENDING = 0, 1, 2, 3


class Problem(Exception):
    """One line for the operator (never a traceback, never a secret)."""

    def __init__(self, message: str, exit_code: int = SETUP) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
