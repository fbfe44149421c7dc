"""The daily sweep's side of its work queue: the messages it hands on, sent ten to a SendMessageBatch call.

Entries SQS refuses are sent again a few times; if some still are, the run fails (Lambda retries it, and a
retried run hands on again whatever is still due: the work function does nothing twice)."""

from __future__ import annotations

import json
from typing import Any

# SendMessageBatch takes at most 10 messages (and 1 MiB in all; ours are a few KB each).
BATCH_ENTRIES = 10
SEND_ATTEMPTS = 3


class WorkNotHandedOn(Exception):
    """SQS kept refusing some of the sweep's messages."""


class WorkQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url
        self._pending: list[str] = []
        self.sent = 0

    def send(self, work: dict[str, Any]) -> None:
        """Hand one message on (sent with the next full batch, or by `flush`)."""
        self._pending.append(json.dumps(work, separators=(",", ":")))
        if len(self._pending) == BATCH_ENTRIES:
            self.flush()

    def flush(self) -> None:
        bodies, self._pending = self._pending, []
        for _ in range(SEND_ATTEMPTS):
            if not bodies:
                return
            response = self._client.send_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(n), "MessageBody": body} for n, body in enumerate(bodies)],
            )
            refused = {int(failure["Id"]) for failure in response.get("Failed", [])}
            self.sent += len(bodies) - len(refused)
            bodies = [body for n, body in enumerate(bodies) if n in refused]
        if bodies:
            raise WorkNotHandedOn(f"{len(bodies)} message(s) refused by SQS")
