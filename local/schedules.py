"""The event EventBridge Scheduler sends a Lambda target that has no custom input."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any


def scheduled_event(schedule_name: str, *, region: str, account_id: str, now: datetime) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": account_id,
        "time": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:scheduler:{region}:{account_id}:schedule/default/{schedule_name}"],
        "detail": {},
    }
