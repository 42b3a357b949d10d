"""How the CLI prints: answers as JSON, each event of a task on one line as it comes, and a dry
run's verdict as text (the code, the message, the rows that would remain and why each fails)."""
from __future__ import annotations

import json
from typing import Any, Iterable, List

DIGEST_TYPES = {1: "SHA-1", 2: "SHA-256", 4: "SHA-384"}


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def notification_line(tag: str, body: dict) -> str:
    """As `make run` prints them: the MessageTag, then the notification."""
    return f"[notification {tag}] {compact(body)}" if tag else f"[notification] {compact(body)}"


def task_line(body: dict) -> str:
    return f"[task {body.get('TaskStatus', '?')}] {compact(body)}"


def ds_row(row: dict) -> str:
    digest = str(row.get("Digest") or "")
    digest_type = row.get("DigestType")
    return (f"{row.get('KeyTag')} algorithm {row.get('Algorithm')}, digest type {digest_type}"
            f"{' (' + DIGEST_TYPES[digest_type] + ')' if digest_type in DIGEST_TYPES else ''}, "
            f"{digest[:8]}{'…' if len(digest) > 8 else ''}")


def _listed(values: Iterable[Any]) -> str:
    return ", ".join(str(value) for value in values)


def verdict_lines(status: int, body: dict) -> List[str]:
    """A dry run's answer, readably (also an answer that is no verdict: a refusal of the request)."""
    domain, key_tag = body.get("DomainName", "?"), body.get("KeyTag", "?")
    if status == 200 and body.get("DryRun"):
        if body.get("WouldSubmit"):
            head = f"Dry run: deleting key tag {key_tag} of {domain} would be sent (nothing was deleted)."
        else:
            head = f"Dry run: deleting key tag {key_tag} of {domain} would NOT be sent (nothing was deleted)."
    else:
        head = f"Dry run of key tag {key_tag} of {domain}: answered {status}."
    lines = [head, f"  Code:          {body.get('Code')}", f"  Message:       {body.get('Message')}"]
    if body.get("SafetyCheck"):
        lines.append(f"  Safety check:  {body['SafetyCheck']}")
    if "ListedKeyTags" in body:
        lines.append(f"  Listed:        {_listed(body['ListedKeyTags']) or 'no DS record at all'}")
    for row in body.get("DSRecords") or ():
        lines.append(f"  Would delete:  {ds_row(row)}")
    verdict = body.get("Verdict") or {}
    remaining = verdict.get("Remaining")
    if remaining is not None:
        lines.append("  Would remain:" + ("  nothing (no DS record would be left)" if not remaining else ""))
    for row in remaining or ():
        works = row.get("WorksOn") or []
        lines.append(f"    {ds_row(row)}: works on {_listed(works) if works else 'no server'}")
        lines += [f"      fails on {failure}" for failure in row.get("Fails") or ()]
        if row.get("IgnoredBy"):
            lines.append(f"      ignored by validators {_listed(row['IgnoredBy'])}")
    for server in verdict.get("Servers") or ():
        if server.get("Error"):
            lines.append(f"  Server {server.get('NameServer')} ({server.get('Address')}): {server['Error']}")
    return lines
