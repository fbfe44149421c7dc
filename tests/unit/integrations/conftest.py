from __future__ import annotations

from tests.unit.integrations.delivery_fakes import (  # noqa: F401 - fixtures of this folder's tests
    fake_endpoints,
    queue,
    receiver,
    sqs_queue,
    webhook_settings,
)
