"""SQS delays on the local stack's clock. moto delays a message (DelaySeconds) in real time; the functions
read time from the stack's clock, which tests move forward (`POST /_local/clock`). When the clock moves, the
messages still delayed move with it: a delivery sent on to arrive in five minutes arrives once the clock has
moved five minutes, at once in real time, so a test follows a retry schedule of days without waiting.

moto runs in this process (local.moto_server), so its queues are read and changed directly, as the outbox
reads its e-mails."""

from __future__ import annotations

from moto.sqs.models import sqs_backends


def move_with_clock(seconds: float) -> int:
    """Shift the delay of every message still delayed by the clock's move (`seconds`, negative when it moved
    back); returns how many moved."""
    moved = 0
    for account in list(sqs_backends.keys()):
        for region in list(sqs_backends[account].keys()):
            for queue in list(sqs_backends[account][region].queues.values()):
                for message in list(queue._messages):
                    if message.delayed:
                        message.delayed_until -= seconds * 1000
                        moved += 1
    return moved
