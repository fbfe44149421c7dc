"""The local stack: the deployment's functions, routes and table, run on this machine.

DynamoDB Local (Java) holds the table, built from the same definition CDK uses; moto serves Cognito, SES and
the other services; the front plays API Gateway (routes, the token authorizer, payload 2.0 events);
worker processes play Lambda; the stream and queue pollers play the event source mappings. Functions reach the
services through the standard AWS_ENDPOINT_URL* variables, so their code has no local branches.

    with LocalStack() as stack:
        token = stack.user_token(email, password)
        requests.get(f"{stack.url}/orgs", headers={"Authorization": f"Bearer {token}"})
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import requests
from botocore.config import Config

from infra import constants
from infra.manifest import FUNCTIONS, LEAD_INTAKE_SCOPE, Function, Route, gateway_routes
from local import aws_stand_ins, cognito, delayed_messages, openapi
from local.apigw_events import Api
from local.cors import Cors
from local.dynamodb_local import DynamoDBLocal
from local.endpoints import LocalEndpoints
from local.event_sources import EventSources
from local.front import Front
from local.function_environment import function_environment
from local.gateway import Gateway
from local.http_messages import HttpRequest, HttpResponse
from local.invoker import ACCOUNT_ID, DEFAULT_WORKERS, Invoker
from local.kept_data import KeptData
from local.moto_server import MotoServer
from local.outbox import Outbox
from local.process_env import applied_env
from local.queue_poller import ChangeQueues
from local.schedules import scheduled_event
from local.served_functions import ServedFunctions
from local.shared_clock import SharedClock
from local.sms_replies import TwilioAccount
from local.state import DevState, service_client
from local.stream_poller import StartingPosition
from local.table import create_table
from local.twilio_fake import FakeTwilio
from local.worker import Invocation

log = logging.getLogger("local.stack")

REGION = "us-east-1"
TABLE_NAME = f"{constants.RESOURCE_PREFIX}-local"
EMAIL_FROM = "no-reply@partner-programme.example"
# The deployment's sender domains (senderDomains): domain identities in moto's SES, as an administrator
# verifies them.
SENDER_DOMAINS = ("inviters.example", "partners-own.example")
# Twilio as the functions see it locally: a fake Messages endpoint on loopback, the auth token in SSM.
TWILIO_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
TWILIO_AUTH_TOKEN = "local-twilio-auth-token"  # noqa: S105 - the fake Twilio's token, loopback only
TWILIO_FROM_NUMBER = "+15005550006"
STAGE = "local"
API_ID = "local"

T = TypeVar("T")


class LocalStack:
    def __init__(
        self,
        *,
        functions: Iterable[Function] = FUNCTIONS,
        routes: Iterable[Route] = gateway_routes(),
        port: int = 0,
        dynamodb_port: int = 0,
        moto_port: int = 0,
        workers: int = DEFAULT_WORKERS,
        table_name: str = TABLE_NAME,
        email_from: str = EMAIL_FROM,
        stage: str = STAGE,
        region: str = REGION,
        cors_origins: Iterable[str] = (constants.DEV_PORTAL_ORIGIN,),
        kept: KeptData | None = None,
    ) -> None:
        self.cors = Cors(tuple(cors_origins))
        self._served = ServedFunctions(functions, routes)
        self.table_name = table_name
        self.files_bucket = f"{table_name}-files"
        self.email_from = email_from
        self.stage = stage
        self.region = region
        self.startup_seconds = 0.0
        self._port = port
        self._workers = workers
        # Everything in memory, or (make dev --keep-data) the table and the user pool kept between runs.
        self.kept = kept
        self.restored = False  # whether this start found kept data
        self._running_fully = False
        self._dynamodb = DynamoDBLocal(dynamodb_port, database=kept.database if kept else None)
        self._moto = MotoServer(moto_port)
        self.twilio = FakeTwilio(TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)
        self.twilio_auth_token_parameter = constants.twilio_auth_token_parameter(stage)
        self._front: Front | None = None
        self._invoker: Invoker | None = None
        self._event_sources: EventSources | None = None
        # The event sources' queues: each queue consumer's pair (change consumers, and work functions), and the
        # dispatcher's failure queue.
        self.change_queues: dict[str, ChangeQueues] = {}
        self.work_queues: dict[str, ChangeQueues] = {}
        self.stream_failures_url = ""
        self.stream_arn = ""  # DynamoDB Local's own ARN of the table's stream
        self._endpoints: LocalEndpoints | None = None
        self._outbox: Outbox | None = None
        self._clock: SharedClock | None = None
        self.user_pool_id = ""
        self.portal_client_id = ""
        self.issuer = ""  # of user and machine tokens alike, as in Cognito
        self.jwks: dict[str, Any] = {}  # moto's keys (user tokens) and the stack's (machine tokens)
        self.env: dict[str, str] = {}  # what the functions get

    # -- life cycle -------------------------------------------------------------------------------

    def start(self) -> LocalStack:
        started = time.perf_counter()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - started
        self._running_fully = True
        log.info("local stack ready at %s in %.1f s", self.url, self.startup_seconds)
        return self

    def _start(self) -> None:
        self._served.check_routes()
        # Java first, from this thread and before any other thread exists (see dynamodb_local).
        self._dynamodb.launch()
        invoker = self._invoker = Invoker(
            region=self.region, workers=self._workers, preload=[f.handler for f in self.functions.values()]
        )
        # SQS delays follow the functions' clock, so a test moving it brings delayed deliveries forward.
        clock = self._clock = SharedClock(invoker.clock_offset, on_move=delayed_messages.move_with_clock)
        restored = self.kept is not None and self.kept.restore()
        self._moto.start()
        self._front = Front(self._dispatch, self._port)
        stand_ins = aws_stand_ins.set_up(
            self.client,
            region=self.region,
            moto_endpoint=self.moto_endpoint,
            restored=restored,
            email_identities=(self.email_from, *SENDER_DOMAINS),
            files_bucket=self.files_bucket,
            twilio_auth_token_parameter=self.twilio_auth_token_parameter,
            twilio_auth_token=TWILIO_AUTH_TOKEN,
        )
        pool, self.jwks = stand_ins.pool, stand_ins.jwks
        self.user_pool_id, self.portal_client_id, self.issuer = pool.pool_id, pool.portal_client_id, pool.issuer
        self.twilio.start()
        outbox = self._outbox = Outbox(clock.now, self.region)
        sources = self._event_sources = EventSources(self.client("sqs"), self.table_name, self.functions.values())
        self.change_queues, self.stream_failures_url = sources.change_queues, sources.stream_failures_url
        self.work_queues = sources.work_queues
        self.env = function_environment(self, sender_domains=SENDER_DOMAINS, twilio_from_number=TWILIO_FROM_NUMBER)
        invoker.start(self.env)  # workers import the handlers while DynamoDB Local finishes starting

        self._dynamodb.wait_until_ready()
        self.stream_arn, self.restored = create_table(
            self.client("dynamodb"), self.table_name, may_be_kept=self.kept is not None
        )
        api = Api(ACCOUNT_ID, API_ID, self.region, forwarded_port=self._front.port)
        gateway = Gateway(served=self._served, invoker=invoker, api=api, clock=clock.now, cors=self.cors)
        self._endpoints = LocalEndpoints(
            gateway=gateway,
            tokens=stand_ins.tokens,
            jwks=self.jwks,
            outbox=outbox,
            dead_letters=self.dead_letters,
            clock=clock,
            openapi_document=self.openapi_document,
            run_schedule=self.run_schedule,
            texts=self.texts,
            wait_for_changes=self.wait_for_streams,
            twilio=TwilioAccount(
                TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER, f"{self.url}{constants.SMS_WEBHOOK_PATH}"
            ),
            sms_webhook_path=constants.SMS_WEBHOOK_PATH,
        )
        sources.start(
            self.client("dynamodbstreams"),
            self.stream_arn,
            invoker.invoke,
            self.functions.values(),
            region=self.region,
            clock=clock.now,
            from_latest=self.restored,
        )
        invoker.wait_until_ready()
        self._front.start()

    def stop(self) -> None:
        """Stop everything that was started, newest first; DynamoDB Local is always stopped last."""
        try:
            for stop in (
                self._front.stop if self._front else None,
                self._event_sources.stop if self._event_sources else None,
                self._invoker.stop if self._invoker else None,
                self.twilio.stop,
                self._keep_data if self.kept and self._running_fully else None,
                self._moto.stop,
            ):
                if stop is None:
                    continue
                try:
                    stop()
                except Exception:
                    log.exception("stopping part of the local stack failed")
        finally:
            self._front = self._invoker = self._event_sources = None
            self._dynamodb.stop()

    def _keep_data(self) -> None:
        assert self.kept is not None
        self.kept.save()
        self._running_fully = False

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    # -- where things are -------------------------------------------------------------------------

    @property
    def functions(self) -> dict[str, Function]:
        return self._served.functions

    @property
    def routes(self) -> list[Route]:
        return self._served.routes

    @property
    def url(self) -> str:
        if self._front is None:
            raise RuntimeError("the local stack is not running")
        return self._front.url

    @property
    def token_url(self) -> str:
        return f"{self.url}/oauth2/token"

    @property
    def jwks_url(self) -> str:
        """The pool's key set as the token authorizer reads it: moto's keys and the stack's machine key."""
        return f"{self.url}/.well-known/jwks.json"

    @property
    def dynamodb_endpoint(self) -> str:
        return self._dynamodb.endpoint

    @property
    def dynamodb_pid(self) -> int | None:
        return self._dynamodb.pid

    def child_pids(self) -> list[int]:
        """The processes the stack started: DynamoDB Local's Java and the function workers."""
        workers = self._invoker.worker_pids() if self._invoker else []
        return [pid for pid in [self._dynamodb.pid, *workers] if pid is not None]

    @property
    def moto_endpoint(self) -> str:
        return self._moto.endpoint

    def client(self, service: str) -> Any:
        """A boto3 client for the stack's endpoint of that service, with the stack's dummy credentials."""
        return service_client(
            service,
            region=self.region,
            moto_endpoint=self.moto_endpoint,
            dynamodb_endpoint=self.dynamodb_endpoint,
            config=Config(retries={"mode": "standard", "max_attempts": 3}),
        )

    def state(self) -> DevState:
        """Where this running stack is, as `make dev` writes it to .local/dev.json for other commands."""
        return DevState.of(self)

    def environment(self) -> AbstractContextManager[dict[str, str]]:
        """This process given the functions' environment (for direct boto3 calls and handler imports)."""
        return applied_env(self.env)

    # -- identities -------------------------------------------------------------------------------

    def create_user(self, email: str, password: str, *, operator: bool = False) -> str:
        return cognito.create_user(self.client("cognito-idp"), self.user_pool_id, email, password, operator=operator)

    def user_token(self, email: str, password: str) -> str:
        return cognito.user_token(self.client("cognito-idp"), self.portal_client_id, email, password)

    def machine_token(self, client_id: str, client_secret: str, scope: str = LEAD_INTAKE_SCOPE) -> str:
        """A partner company's access token, fetched from the stack's /oauth2/token like a partner would."""
        response = requests.post(
            self.token_url,
            data={"grant_type": "client_credentials", "scope": scope},
            auth=(client_id, client_secret),
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    # -- time, mail, streams ----------------------------------------------------------------------

    def now(self) -> datetime:
        """The functions' current time."""
        return self._running(self._clock).now()

    def advance_clock(self, seconds: float) -> None:
        self._running(self._clock).advance(seconds)

    def set_clock_offset(self, seconds: float) -> None:
        self._running(self._clock).set_offset(seconds)

    @property
    def clock_offset(self) -> float:
        return self._running(self._clock).offset_seconds

    def outbox(self) -> list[dict[str, Any]]:
        return self._running(self._outbox).messages()

    def texts(self) -> list[dict[str, Any]]:
        """The text messages the functions sent through (the local stand-in for) Twilio."""
        return self.twilio.messages()

    def dead_letters(self) -> list[dict[str, Any]]:
        """What failed for good: each consumer's dead-letter queue (the whole change or piece of work, as SQS
        keeps it), and the stream readers' failed batches."""
        return self._running(self._event_sources).dead_letters()

    def wait_for_streams(self, timeout: float = 10.0) -> None:
        """Return once every change written so far has gone through the stream, the queues and the consumers
        (and so has every change the consumers wrote meanwhile), and all work queued has been done, or each
        reached a dead-letter queue."""
        self._running(self._event_sources).wait(timeout)

    # -- functions --------------------------------------------------------------------------------

    def invoke(self, function_name: str, event: Mapping[str, Any]) -> Invocation:
        return self._running(self._invoker).invoke(self.functions[function_name], event)

    def invocation_count(self, function_name: str) -> int:
        return self._running(self._invoker).invocation_count(function_name)

    def run_schedule(self, function_name: str) -> Invocation:
        """Fire a scheduled function now, with the event EventBridge Scheduler would send."""
        function = self.functions[function_name]
        if function.kind != "schedule":
            raise KeyError(function_name)
        event = scheduled_event(function_name, region=self.region, account_id=ACCOUNT_ID, now=self.now())
        return self._running(self._invoker).invoke(function, event)

    def register_function(
        self,
        function: Function,
        routes: Iterable[Route] = (),
        starting_position: StartingPosition = "LATEST",
    ) -> None:
        """Add a function at run time (tests use throwaway handlers): its routes join the API, and a
        stream function starts consuming from `starting_position`."""
        sources = self._running(self._event_sources)
        self._served.add(function, routes)
        if function.kind == "stream":
            sources.add_stream_function(function, starting_position)

    def unregister_function(self, function_name: str) -> None:
        sources = self._running(self._event_sources)
        if self._served.remove(function_name).kind == "stream":
            sources.remove_stream_function(function_name)

    def openapi_document(self, server_url: str | None = None) -> dict[str, Any]:
        """The API functions' OpenAPI document, with local servers and security."""
        document = self._served.api_document(self._running(self._invoker))
        base = server_url or self.url
        return openapi.decorate(document, server_url=base, token_url=f"{base}/oauth2/token", routes=self.routes)

    # -- plumbing ---------------------------------------------------------------------------------

    def _dispatch(self, request: HttpRequest) -> HttpResponse:
        return self._running(self._endpoints).dispatch(request)

    @staticmethod
    def _running(part: T | None) -> T:
        if part is None:
            raise RuntimeError("the local stack is not running")
        return part
