"""What runs inside a worker process: the stand-in for a warm Lambda execution environment.

Each worker gets the functions' environment, the import roots and a clock that follows the stack's shared
offset, imports the handlers once, then serves invocations one at a time. Results cross the process
boundary as JSON-compatible data, as they cross Lambda's.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from infra.manifest import Function

OWNER_CHECK_SECONDS = 1.0
TIMED_OUT = "Sandbox.Timedout"  # Lambda's errorType for an invocation that ran past its timeout
# Credentials of a developer's shell must not mix with the stack's dummy ones.
_FOREIGN_AWS_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")

_handlers: dict[str, Callable[..., Any]] = {}


class FunctionTimeout(BaseException):
    """Raised into a handler that runs past its timeout. A BaseException, so that a handler's
    `except Exception` cannot swallow it: Lambda stops a timed-out invocation whatever it does."""


@dataclass
class Invocation:
    """The outcome of one invocation: the handler's JSON result, or Lambda's error payload."""

    ok: bool
    payload: Any = None
    error: dict[str, Any] = field(default_factory=dict)
    duration_ms: float = 0.0


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    timeout_s: int
    function_version: str = "$LATEST"
    identity: Any = None
    client_context: Any = None
    started: float = field(default_factory=time.monotonic)

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{os.getpid()}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.started + self.timeout_s - time.monotonic()) * 1000))


def _exit_when_gone(owner_pid: int) -> None:
    while True:
        time.sleep(OWNER_CHECK_SECONDS)
        try:
            os.kill(owner_pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:
            continue


def initialize(
    owner_pid: int,
    import_roots: Sequence[str],
    env: Mapping[str, str],
    clock_offset: Any,
    ready: Any,
    preload: Sequence[str],
) -> None:
    """ProcessPoolExecutor initializer: one cold start per worker. `clock_offset` and `ready` are shared
    multiprocessing values: the stack's clock offset in seconds, and the count of initialized workers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops the pool
    # A worker is the fork server's child and holds its own end of the task queue, so nothing ends it when
    # the stack's process is killed outright: it watches for that itself.
    threading.Thread(target=_exit_when_gone, args=(owner_pid,), name="owner-watch", daemon=True).start()
    for root in reversed(import_roots):
        if root not in sys.path:
            sys.path.insert(0, root)
    for name in _FOREIGN_AWS_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(env)

    from common.platform.clock import set_clock

    set_clock(lambda: datetime.now(UTC) + timedelta(seconds=clock_offset.value))
    for handler in preload:
        try:
            resolve(handler)
        except Exception as error:
            # As in Lambda, an init failure is reported by the invocations of that function.
            _report(f"importing {handler} failed", error)
    with ready.get_lock():
        ready.value += 1


def _report(what: str, error: BaseException) -> None:
    """The error's type and innermost frames, not its message: messages can carry personal data, which
    stays out of the stack's output as it stays out of the functions' logs."""
    frames = traceback.extract_tb(error.__traceback__)[-5:]
    at = ", ".join(f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} {frame.name}" for frame in frames)
    print(f"{what}: {type(error).__name__} at {at}", file=sys.stderr, flush=True)


def resolve(handler: str) -> Callable[..., Any]:
    found = _handlers.get(handler)
    if found is None:
        module, _, attribute = handler.rpartition(".")
        found = getattr(importlib.import_module(module), attribute)
        _handlers[handler] = found
    return found


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _time_out(signum: int, frame: Any) -> None:
    raise FunctionTimeout


@contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    if not hasattr(signal, "setitimer"):  # no interval timers (Windows): the caller's wait still ends
        yield
        return
    previous = signal.signal(signal.SIGALRM, _time_out)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def invoke(function: Function, event_json: str, request_id: str, arn: str) -> Invocation:
    started = time.perf_counter()
    context = LambdaContext(function.name, function.memory_mb, arn, request_id, function.timeout_s)
    try:
        with _deadline(function.timeout_s):
            result = resolve(function.handler)(json.loads(event_json), context)
        payload = json.loads(json.dumps(result, default=_json_default))
    except FunctionTimeout:
        return Invocation(
            ok=False,
            error={
                "errorType": TIMED_OUT,
                "errorMessage": f"Task timed out after {function.timeout_s:.2f} seconds",
            },
            duration_ms=(time.perf_counter() - started) * 1000,
        )
    except Exception as error:
        _report(f"{function.name} failed", error)
        return Invocation(
            ok=False,
            error={
                "errorType": type(error).__name__,
                "errorMessage": str(error),
                "stackTrace": traceback.format_tb(error.__traceback__),
            },
            duration_ms=(time.perf_counter() - started) * 1000,
        )
    return Invocation(ok=True, payload=payload, duration_ms=(time.perf_counter() - started) * 1000)


def openapi_document(handler: str) -> str | None:
    """The OpenAPI document of an API function: its Powertools resolver's (`app` beside its handler), or
    the one its module builds (`openapi_document()`)."""
    module = importlib.import_module(handler.rpartition(".")[0])
    if hasattr(module, "openapi_document"):  # a function without a resolver describes itself
        return json.dumps(module.openapi_document())
    app = getattr(module, "app", None)
    if app is None or not hasattr(app, "get_openapi_json_schema"):
        return None
    from common.web import resolver

    return str(app.get_openapi_json_schema(title=resolver.API_TITLE, version=resolver.API_VERSION))


def events_document() -> str:
    """The events' part of the API's OpenAPI document: the webhooks our deliveries make, their bodies' schemas."""
    from common.integrations import event_docs
    from common.web import resolver

    return json.dumps(event_docs.document(resolver.API_TITLE, resolver.API_VERSION))


def ping() -> int:
    return os.getpid()
