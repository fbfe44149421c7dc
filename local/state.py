"""The running dev stack's coordinates, written to .local/ so other commands (local.token) can find it."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from local.project import STATE_FILE


@dataclass(frozen=True)
class DevState:
    pid: int
    url: str
    token_url: str
    moto_endpoint: str
    dynamodb_endpoint: str
    region: str
    user_pool_id: str
    portal_client_id: str


def write(state: DevState, path: Path = STATE_FILE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(state), indent=2) + "\n")


def read(path: Path = STATE_FILE) -> DevState | None:
    """The state of a dev stack that is still running, else None."""
    try:
        state = DevState(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    try:
        os.kill(state.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by someone else
    return state


def remove(path: Path = STATE_FILE) -> None:
    path.unlink(missing_ok=True)
