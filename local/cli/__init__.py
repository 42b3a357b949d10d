"""`python -m local.cli` (`make cli ARGS="..."`): an operator's tool for a deployed stack or `make run`.

    send --domain D --key-tag N (--webhook URL | --queue NAME) [--dry-run] [--follow --inbox QUEUE]
    dry-run --domain D --key-tag N --webhook URL
    follow (TASKNO | --message-id ID) [--inbox QUEUE] [--webhook URL] [--timeout S]

It runs on a person's machine, never in the function, with the project's own clients: the
webhook's signing (triggers/webhook.py) and MnsClient (cloud/mns.py). From the environment:
WEBHOOK_SECRET (signs webhook requests), MNS_ENDPOINT and ALIBABA_CLOUD_ACCESS_KEY_ID,
ALIBABA_CLOUD_ACCESS_KEY_SECRET, ALIBABA_CLOUD_SECURITY_TOKEN (--queue, --inbox: the variables
`make invoke` reads). No secret is ever printed.

Answers and events go to stdout, what the tool does and its last word to stderr. Exit codes:
0 done (accepted, completed, nothing to delete, a dry run that would be sent); 1 refused or failed
(the line names the Code); 2 the command could not run as asked (bad input, a missing setting,
nothing listening, credentials refused); 3 follow's --timeout passed with the task still pending.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any, List, Mapping, Optional, TextIO

from cloud.errors import redact

from .commands import add_commands
from .errors import Problem
from .settings import secrets_of

PROG = "python -m local.cli"


class Console:
    """stdout and stderr, line by line, flushed (a follow is read as it goes), secrets masked as a
    last guard: nothing the tool prints should hold one."""

    def __init__(self, stdout: TextIO, stderr: TextIO, secrets: tuple) -> None:
        self._stdout, self._stderr = stdout, stderr
        # A value too short to be any real secret (refused as such) would only garble the text.
        self._secrets = tuple(secret for secret in secrets if len(secret) >= 8)

    def _write(self, stream: TextIO, line: str) -> None:
        stream.write(redact(line, self._secrets) + "\n")  # also their percent-encoded forms
        stream.flush()

    def out(self, line: str) -> None:
        self._write(self._stdout, line)

    def err(self, line: str) -> None:
        self._write(self._stderr, line)


class Parser(argparse.ArgumentParser):
    """Bad input is one line naming what is wrong (argparse would add its usage block)."""

    def error(self, message: str) -> Any:
        command = self.prog[len(PROG):].strip()
        raise Problem(f"{command + ': ' if command else ''}{message} (see {self.prog} --help)")


def build_parser() -> Parser:
    parser = Parser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_commands(parser.add_subparsers(dest="command", metavar="{send,dry-run,follow}", required=True))
    return parser


def main(argv: Optional[List[str]] = None, environ: Mapping[str, str] = os.environ,
         stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr) -> int:
    console = Console(stdout, stderr, secrets_of(environ))
    try:
        args = build_parser().parse_args(argv)
        return args.run(args, environ, console)
    except Problem as problem:
        console.err(f"{PROG}: {problem.message}")
        return problem.exit_code
    except KeyboardInterrupt:
        console.err(f"{PROG}: interrupted")
        return 130
