"""Move dead letters back to the queue they came from, once the cause of their failure is fixed.

    python -m local.redrive                          the running `make dev` stack
    python -m local.redrive --endpoint-url URL       any local stack's SQS (moto), e.g. a test's
    python -m local.redrive --stage prod [--region R] [--profile P]
                                                     a deployed stage (its queues: PartnerProgramme-<stage>-...)
    ... [--consumer PayoutsEvents] [--dry-run] [--json]

Each consumer's queue names its dead-letter queue in its redrive policy; that is how the pairs are found, on
the local stack and in AWS alike. A message is sent to the source queue, then deleted from the dead letters,
so an interruption may leave a change in both: every consumer tolerates a change delivered twice. Run it
after a deploy that fixes what failed (the logs say which change failed and why: `change failed`, at ERROR).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import boto3

from infra import constants
from local import state

BATCH = 10  # SQS's most per receive and per batch call


@dataclass(frozen=True)
class QueuePair:
    source_url: str
    dead_letters_url: str

    @property
    def name(self) -> str:
        return self.source_url.rsplit("/", 1)[-1]


def queue_pairs(sqs: Any, prefix: str) -> list[QueuePair]:
    """The queues named `prefix...` that have a dead-letter queue, with it."""
    urls: list[str] = []
    args: dict[str, Any] = {"QueueNamePrefix": prefix, "MaxResults": 1000}
    while True:
        page = sqs.list_queues(**args)
        urls += page.get("QueueUrls", [])
        if not page.get("NextToken"):
            break
        args["NextToken"] = page["NextToken"]
    arns = {
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]: url
        for url in urls
    }
    pairs = []
    for url in urls:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"]).get("Attributes", {})
        policy = attributes.get("RedrivePolicy")
        if policy and json.loads(policy)["deadLetterTargetArn"] in arns:
            pairs.append(QueuePair(url, arns[json.loads(policy)["deadLetterTargetArn"]]))
    return sorted(pairs, key=lambda pair: pair.source_url)


def peek(sqs: Any, queue_url: str, limit: int = 1000) -> list[dict[str, Any]]:
    """The messages of a queue, left where they are (each is hidden for a moment while it is read)."""
    seen: dict[str, dict[str, Any]] = {}
    while len(seen) < limit:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=BATCH, VisibilityTimeout=30, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            break
        seen.update((m["MessageId"], m) for m in fresh)
    for start in range(0, len(seen), BATCH):
        chunk = list(seen.values())[start : start + BATCH]
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for i, m in enumerate(chunk)
            ],
        )
    return list(seen.values())


def redrive(sqs: Any, pair: QueuePair, limit: int | None = None) -> int:
    """Move up to `limit` dead letters (all, by default) back to their queue; returns how many moved."""
    moved = 0
    while limit is None or moved < limit:
        wanted = BATCH if limit is None else min(BATCH, limit - moved)
        messages = sqs.receive_message(
            QueueUrl=pair.dead_letters_url, MaxNumberOfMessages=wanted, VisibilityTimeout=60
        ).get("Messages", [])
        if not messages:
            break
        sent = sqs.send_message_batch(
            QueueUrl=pair.source_url,
            Entries=[{"Id": str(i), "MessageBody": m["Body"]} for i, m in enumerate(messages)],
        )
        delivered = [messages[int(entry["Id"])] for entry in sent.get("Successful", [])]
        if delivered:
            sqs.delete_message_batch(
                QueueUrl=pair.dead_letters_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(delivered)],
            )
        moved += len(delivered)
        if len(delivered) < len(messages):
            raise RuntimeError(f"{pair.name}: SQS refused {len(messages) - len(delivered)} message(s); run again")
    return moved


def _target(args: argparse.Namespace) -> tuple[Any, str]:
    """The SQS client and the queue-name prefix of the chosen stack."""
    if args.stage:
        session = boto3.Session(profile_name=args.profile, region_name=args.region)
        return session.client("sqs"), constants.stack_name(args.stage)
    from local.stack import REGION, TABLE_NAME  # the local stack names its queues after its table

    endpoint = args.endpoint_url
    if endpoint is None:
        dev = state.read()
        if dev is None:
            raise SystemExit("no running `make dev` stack: start it, or name a deployed stage with --stage")
        endpoint = dev.moto_endpoint
    sqs = boto3.client(
        "sqs",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - the local services accept any
    )
    return sqs, TABLE_NAME


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.redrive", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stage", help="a deployed stage (default: the running local stack)")
    parser.add_argument("--region", help="the stage's region (default: your AWS configuration's)")
    parser.add_argument("--profile", help="the AWS profile to use (default: your AWS configuration's)")
    parser.add_argument("--endpoint-url", help="a local stack's SQS endpoint (default: the running `make dev` stack's)")
    parser.add_argument("--consumer", help="only the queue of this consumer, e.g. PayoutsEvents")
    parser.add_argument("--dry-run", action="store_true", help="count the dead letters, move nothing")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    sqs, prefix = _target(args)
    pairs = [p for p in queue_pairs(sqs, prefix) if not args.consumer or args.consumer in p.name]
    if not pairs:
        raise SystemExit(f"no queue with a dead-letter queue matches {args.consumer or prefix!r}")
    report = []
    for pair in pairs:
        waiting = len(peek(sqs, pair.dead_letters_url))
        moved = 0 if args.dry_run else redrive(sqs, pair)
        report.append({**asdict(pair), "queue": pair.name, "dead_letters": waiting, "moved": moved})
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for line in report:
            print(f"{line['queue']}: {line['dead_letters']} dead letter(s), {line['moved']} moved back")
    return 0


if __name__ == "__main__":
    sys.exit(main())
