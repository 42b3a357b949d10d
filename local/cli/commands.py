"""The commands: send (through the webhook, signed, or onto the request queue), dry-run (the
verdict, readably) and follow (a TaskNo, or a queue message, to its end). Every setting a command
needs is checked before anything is sent."""
from __future__ import annotations

import argparse
import json
import re
import time
import uuid
from typing import Any, Mapping, Optional

from cloud.errors import CloudError
from cloud.mns import MnsClient
from deleter.deletion_request import KEY_TAG_RULE, LANGS, InvalidRequest, parse_deletion_request, parse_key_tag
from deleter.notifications import ALREADY_ABSENT
from deleter.task_state import TASK_NO_RULE, parse_task_no

from .errors import DONE, NOT_DONE, Problem
from .follow import Follower
from .inbox import Inbox, mns_problem
from .settings import mns_client, webhook_secret
from .show import pretty, verdict_lines
from .webhook import Answer, Webhook, unsigned_refusal

DEFAULT_TIMEOUT_SECONDS = 900.0
DEFAULT_POLL_SECONDS = 5.0
DEFAULT_REQUEST_TIMEOUT_SECONDS = 65.0  # the template's function Timeout (60 s) and a little


def key_tag(text: str) -> int:
    if not re.fullmatch(r"\s*\d{1,12}\s*", text):
        raise argparse.ArgumentTypeError(f"KeyTag {KEY_TAG_RULE} (got {text[:20]!r})")
    try:
        return parse_key_tag(int(text))
    except InvalidRequest as error:
        raise argparse.ArgumentTypeError(error.message) from None


def seconds(low: float):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not value >= low or value == float("inf"):
            raise argparse.ArgumentTypeError(f"must be a number of seconds, at least {low:g} (got {text[:20]!r})")
        return value
    return parse


def retries(text: str) -> int:
    if not re.fullmatch(r"\d{1,2}", text) or int(text) > 10:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to 10 (got {text[:20]!r})")
    return int(text)


def add_commands(commands: Any) -> None:
    webhook_options = argparse.ArgumentParser(add_help=False)
    group = webhook_options.add_argument_group("the webhook")
    group.add_argument("--unsigned", action="store_true",
                       help="send without a signature: only for a webhook started without WEBHOOK_SECRET (plain make run)")
    group.add_argument("--request-timeout", type=seconds(1), default=DEFAULT_REQUEST_TIMEOUT_SECONDS, metavar="S",
                       help=f"seconds to wait for one answer (default {DEFAULT_REQUEST_TIMEOUT_SECONDS:g})")
    group.add_argument("--retries", type=retries, default=3, metavar="N",
                       help="times a POST (or a queue send) is sent again after a 503, a 504, a timeout (default 3)")

    follow_options = argparse.ArgumentParser(add_help=False)
    group = follow_options.add_argument_group("following a task")
    group.add_argument("--inbox", metavar="QUEUE",
                       help="an MNS queue subscribed to the notification topic (any format); see --consume")
    group.add_argument("--consume", action="store_true",
                       help="delete the followed task's messages from --inbox once shown (a queue of your own); "
                            "without it nothing is deleted. Other tasks' messages are never deleted")
    group.add_argument("--timeout", type=seconds(1), default=DEFAULT_TIMEOUT_SECONDS, metavar="S",
                       help=f"give up after S seconds with exit code 3 (default {DEFAULT_TIMEOUT_SECONDS:g})")
    group.add_argument("--poll-seconds", type=seconds(1), default=DEFAULT_POLL_SECONDS, metavar="S",
                       help=f"how often GET /tasks/<TaskNo> is asked (default {DEFAULT_POLL_SECONDS:g})")

    request_options = argparse.ArgumentParser(add_help=False)
    group = request_options.add_argument_group("the deletion")
    group.add_argument("--domain", required=True, help="the domain (DomainName)")
    group.add_argument("--key-tag", required=True, type=key_tag, help="the DS record's key tag (KeyTag, 0..65535)")
    group.add_argument("--lang", choices=LANGS, help="Lang (default: the function's DEFAULT_LANG)")
    group.add_argument("--force", action="store_true", help="Force: delete even if the DNSSEC safety check refuses")
    group.add_argument("--allow-insecure", action="store_true",
                       help="AllowInsecure: the deletion may leave no usable DS record (DNSSEC off)")

    send = commands.add_parser("send", parents=[request_options, webhook_options, follow_options],
                               help="send a deletion through the webhook (signed) or onto the request queue",
                               description="Send a deletion. Prints the answer as JSON; exit 0 accepted (or nothing "
                                           "to delete), 1 refused or failed, 2 not sent (bad input or setting).")
    where = send.add_mutually_exclusive_group(required=True)
    where.add_argument("--webhook", metavar="URL", help="the webhook (WebhookUrl), e.g. http://127.0.0.1:9000/")
    where.add_argument("--queue", metavar="NAME", help="the request queue (RequestQueueName), with MNS_ENDPOINT")
    send.add_argument("--idempotency-key", metavar="KEY",
                      help="IdempotencyKey (default: a new one, printed, so that a retry can reuse it)")
    send.add_argument("--dry-run", action="store_true", help="DryRun: only check and answer (webhook only)")
    send.add_argument("--follow", action="store_true",
                      help="then follow the task to its end: through --inbox when given, else GET /tasks on --webhook")
    send.set_defaults(run=run_send)

    dry_run = commands.add_parser("dry-run", parents=[request_options, webhook_options],
                                  help="what a deletion would do, as text: the code, the message, the rows that "
                                       "would remain and why each fails",
                                  description="A dry run through the webhook, its verdict as text. Exit 0 when the "
                                              "deletion would be sent (or there is nothing to delete), 1 when not.")
    dry_run.add_argument("--webhook", metavar="URL", required=True, help="the webhook (WebhookUrl)")
    dry_run.set_defaults(run=run_dry_run)

    follow = commands.add_parser("follow", parents=[follow_options, webhook_options],
                                 help="follow a TaskNo (or a queue message) to its end",
                                 description="Print each event of a task as it comes. Exit 0 on "
                                             "DSRecordDeletionCompleted, 1 on Failed, TimedOut, Refused or Rejected, "
                                             "3 when --timeout passes first.")
    follow.add_argument("task_no", nargs="?", metavar="TASKNO", help="the TaskNo of an answer or a notification")
    follow.add_argument("--message-id", action="append", default=[], metavar="ID",
                        help="instead of TASKNO: the queue message of `send --queue` (needs --inbox)")
    follow.add_argument("--webhook", metavar="URL", help="ask GET /tasks/<TaskNo> there (signed)")
    follow.set_defaults(run=run_follow)


# --- send and dry-run ---------------------------------------------------------------------------

def deletion_request(args: argparse.Namespace, idempotency_key: Optional[str], dry_run: bool) -> dict:
    """The request's JSON, checked by the function's own rules before it leaves this machine."""
    request: dict = {"DomainName": args.domain, "KeyTag": args.key_tag}
    optional = {"Lang": args.lang, "IdempotencyKey": idempotency_key, "DryRun": dry_run or None,
                "Force": args.force or None, "AllowInsecure": args.allow_insecure or None}
    request.update({name: value for name, value in optional.items() if value is not None})
    try:
        parse_deletion_request(request)
    except InvalidRequest as error:
        raise Problem(f"the request is invalid: {error.message}") from None
    return request


def new_webhook(args: argparse.Namespace, environ: Mapping[str, str], console: Any) -> Webhook:
    return Webhook(args.webhook, webhook_secret(environ, args.unsigned), request_timeout=args.request_timeout,
                   retries=args.retries, report=console.err)


def run_send(args: argparse.Namespace, environ: Mapping[str, str], console: Any) -> int:
    if args.dry_run and args.queue:
        raise Problem("--dry-run needs --webhook: a dry run is only answered, and nothing answers a queue message "
                      "(a dry run publishes no notification)")
    if args.dry_run and args.follow:
        raise Problem("--follow with --dry-run: a dry run makes no task to follow")
    if args.follow and args.queue and not args.inbox:
        raise Problem("--follow of a request sent onto the queue needs --inbox QUEUE: only its notifications "
                      "name its TaskNo")
    if args.inbox and not args.follow:
        raise Problem("--inbox is read only with --follow")
    if args.consume and not args.inbox:
        raise Problem("--consume needs --inbox")
    key = None if args.dry_run else (args.idempotency_key or f"cli-{uuid.uuid4()}")
    request = deletion_request(args, key, args.dry_run)
    mns = mns_client(environ) if args.queue or args.inbox else None
    webhook = new_webhook(args, environ, console) if args.webhook else None
    inbox = Inbox(mns, args.inbox, consume=args.consume) if args.follow and args.inbox else None
    if key is not None:
        console.err(f"send: IdempotencyKey {key}" + ("" if args.idempotency_key else
                    f" (to send this request again as the same request: --idempotency-key {key})"))
    if args.queue:
        return send_to_queue(args, request, mns, inbox, console)
    answer = webhook.post(request)
    console.out(pretty(answer.body) if answer.body is not None else answer.text)
    if answer.status == 401:
        raise unsigned_refusal()
    if answer.status == 202:
        body = answer.body or {}
        joined = " (the DS record's pending task: joined)" if body.get("Joined") else ""
        console.err(f"send: 202 accepted: TaskNo {body.get('TaskNo')}{joined}")
        if body.get("Message"):  # created, but not yet published or watched: the same request again does it
            console.err(f"send: {body['Message']} (--idempotency-key {key})")
        if not args.follow:
            return DONE
        follower = Follower(task_no=str(body.get("TaskNo")), inbox=inbox, webhook=None if inbox else webhook,
                            poll_seconds=args.poll_seconds, timeout=args.timeout, out=console.out, err=console.err)
        return follower.run()
    console.err(f"send: {answer.describe()}")
    return verdict_exit(answer)


def verdict_exit(answer: Answer) -> int:
    """200 is a dry run's answer or nothing to delete; anything else not accepted was refused."""
    if answer.status != 200 or answer.body is None:
        return NOT_DONE
    return DONE if answer.body.get("WouldSubmit") or answer.code == ALREADY_ABSENT else NOT_DONE


def send_to_queue(args: argparse.Namespace, request: dict, mns: MnsClient, inbox: Optional[Inbox],
                  console: Any) -> int:
    body = json.dumps(request)
    for attempt in range(args.retries + 1):
        try:
            sent = mns.send(args.queue, body)
            break
        except CloudError as error:
            problem = mns_problem(error, args.queue)
            if problem is not None:
                raise problem from None
            if attempt == args.retries:  # the same key makes a second message the same request
                raise Problem(f"{error}: the message may or may not be in {args.queue}; send it again with "
                              f"--idempotency-key {request['IdempotencyKey']}", NOT_DONE) from None
            console.err(f"send: {error}; sending it again in {2 ** attempt} s")
            time.sleep(2 ** attempt)
    console.out(pretty({"Queue": args.queue, "MessageId": sent.message_id, "Request": request}))
    console.err(f"send: message {sent.message_id} is in queue {args.queue}; the function answers it with a "
                f"notification whose Source Id is the message's"
                + ("" if args.follow else f" (follow --message-id {sent.message_id} --inbox <your inbox>)"))
    if not args.follow:
        return DONE
    return Follower(task_no=None, message_ids=[sent.message_id], inbox=inbox, timeout=args.timeout,
                    poll_seconds=args.poll_seconds, out=console.out, err=console.err).run()


def run_dry_run(args: argparse.Namespace, environ: Mapping[str, str], console: Any) -> int:
    request = deletion_request(args, None, dry_run=True)
    answer = new_webhook(args, environ, console).post(request)
    if answer.status == 401:
        raise unsigned_refusal()
    if answer.body is None:
        raise Problem(f"the webhook answered {answer.describe()}", NOT_DONE)
    for line in verdict_lines(answer.status, answer.body):
        console.out(line)
    return verdict_exit(answer)


# --- follow -------------------------------------------------------------------------------------

def run_follow(args: argparse.Namespace, environ: Mapping[str, str], console: Any) -> int:
    if bool(args.task_no) == bool(args.message_id):
        raise Problem("follow takes a TASKNO, or --message-id ID for a request sent onto the queue (one of them)")
    if args.task_no:
        try:
            parse_task_no(args.task_no)
        except InvalidRequest:
            raise Problem(f"TASKNO {args.task_no[:80]!r}: {TASK_NO_RULE}") from None
    if not args.inbox and not args.webhook:
        raise Problem("follow needs --inbox QUEUE (a queue subscribed to the notification topic), --webhook URL "
                      "(GET /tasks/<TaskNo>), or both")
    if args.message_id and not args.inbox:
        raise Problem("--message-id needs --inbox: a request sent onto the queue is known by its notifications "
                      "until they name its TaskNo")
    if args.consume and not args.inbox:
        raise Problem("--consume needs --inbox")
    webhook = new_webhook(args, environ, console) if args.webhook else None
    inbox = Inbox(mns_client(environ), args.inbox, consume=args.consume) if args.inbox else None
    return Follower(task_no=args.task_no, message_ids=args.message_id, inbox=inbox, webhook=webhook,
                    poll_seconds=args.poll_seconds, timeout=args.timeout, out=console.out, err=console.err).run()
