"""Move dead letters back to their consumer's queue, once the cause of their failure is fixed (`make redrive`).

    python -m ops.redrive                          the running `make dev` stack
    python -m ops.redrive --stage prod [--region R] [--profile P]
                                                   a deployed stage, with your AWS credentials
    ... [--consumer PayoutsEvents] [--dry-run] [--json]

The queues are the stage's stack outputs <Consumer>QueueUrl and <Consumer>DeadLetterQueueUrl (ops.stage).
Messages move in the batches SQS accepts; each is sent to the consumer's queue, then deleted from the dead
letters, so an interruption may leave a change in both: every consumer tolerates a change delivered twice.
A message SQS refuses is reported and stays in the dead letters. Exit status 0 when everything moved (or a
dry run), 1 when a message was refused, 2 when the stage cannot be reached. Run it after a deploy that fixes
what failed (the logs say which change failed and why: `change failed`, at ERROR).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ops import queue_batches, stage
from ops.queue_batches import Refusal
from ops.stage import ConsumerQueues, StageNotFound


@dataclass
class Redriven:
    consumer: str
    dead_letters: int = 0  # messages found in the dead-letter queue
    moved: int = 0  # sent back to the consumer's queue
    refused: list[Refusal] = field(default_factory=list)


def redrive(sqs: Any, queues: ConsumerQueues, *, wait_seconds: int, dry_run: bool = False) -> Redriven:
    """Move every dead letter of one consumer back to its queue (a dry run only counts them)."""
    report = Redriven(queues.consumer)
    kept: list[queue_batches.Message] = []
    for messages in queue_batches.held_messages(sqs, queues.dead_letters_url, wait_seconds=wait_seconds):
        report.dead_letters += len(messages)
        if dry_run:
            kept += queue_batches.handles(messages)
            continue
        sent, refused = queue_batches.send(sqs, queues.queue_url, messages)
        report.moved += len(sent)
        report.refused += refused + queue_batches.delete(sqs, queues.dead_letters_url, sent)
        moved = {m["MessageId"] for m in sent}
        kept += queue_batches.handles([m for m in messages if m["MessageId"] not in moved])
    queue_batches.release(sqs, queues.dead_letters_url, kept)
    return report


def describe(report: Redriven, *, dry_run: bool) -> list[str]:
    moved = "dry run, nothing moved" if dry_run else f"{report.moved} moved back"
    lines = [f"{report.consumer}: {report.dead_letters} dead letter(s), {moved}"]
    for refusal in report.refused:
        not_done = "not sent back" if refusal.action == "send" else "sent back, but not deleted from the dead letters"
        lines.append(f"  message {refusal.message_id}: {not_done}: {refusal.code} {refusal.reason}".rstrip())
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ops.redrive", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    stage.add_arguments(parser)
    parser.add_argument("--consumer", help="only this consumer's dead letters, e.g. PayoutsEvents")
    parser.add_argument("--dry-run", action="store_true", help="count the dead letters, move nothing")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        target = stage.from_arguments(args)
        consumers = target.outputs.consumer_queues()
        chosen = [q for q in consumers if args.consumer in (None, q.consumer)]
        if not chosen:
            known = ", ".join(q.consumer for q in consumers)
            print(f"no consumer named {args.consumer}: the consumers are {known}", file=sys.stderr)
            return 2
        sqs = target.client("sqs")
        reports = [
            redrive(sqs, queues, wait_seconds=target.receive_wait_seconds, dry_run=args.dry_run) for queues in chosen
        ]
    except StageNotFound as error:
        print(error, file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as error:
        print(f"cannot reach the queues: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([asdict(report) for report in reports], indent=2))
    else:
        for report in reports:
            print("\n".join(describe(report, dry_run=args.dry_run)))
    return 1 if any(report.refused for report in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
