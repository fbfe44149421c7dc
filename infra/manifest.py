"""What the deployment is made of, as plain data: the functions, their entry points, the HTTP routes
and which authorizer guards each, and how changes reach the consumers. The CDK constructs (infra/) and the local
stack (local/) both read this module, so the cloud and the local stack serve the same routes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from common.platform import change_fanout

# "token": the token authorizer (functions/authorizer) verifies the bearer token, a portal user's or a
# partner company's, and passes who it is to the function, which decides what they may do.
Auth = Literal["token", "none"]


@dataclass(frozen=True)
class Function:
    name: str  # logical name, also used for the construct id
    folder: str  # folder under functions/, which is the package the handler lives in
    handler: str  # module.attribute, importable with functions/ and the layer on the path
    # "stream": reads the table's stream (the dispatcher, its one reader); "queue": reads its own SQS queue,
    # which the dispatcher fills with the changes matching `change_filters`; "work": reads its own SQS queue,
    # which other functions fill with work (the daily sweep's pages, the webhook deliveries).
    kind: Literal["api", "stream", "queue", "work", "authorizer", "schedule"]
    memory_mb: int = 512
    timeout_s: int = 10
    # The event source mapping of a kind == "stream" function, as deployed and as the local stream poller
    # runs it. Filters are Lambda filter-criteria patterns: a record matching any one is delivered.
    stream_filters: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    stream_batch_size: int = 100
    stream_retry_attempts: int = 5  # retries of a failing batch: one more attempt than this in all
    stream_bisect_on_error: bool = True  # a batch whose invocation fails is split in two to isolate the bad record
    # A record still failing this long after it was written is given up while the stream (24 hours)
    # still holds it, so the failure message can be replayed.
    stream_max_record_age_hours: int = 6
    # A kind == "queue" function: the changes its queue receives (common.platform.change_fanout); a kind == "queue"
    # or "work" function: how it reads its queue.
    change_filters: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    queue_batch_size: int = 10
    # Receives of a message before SQS moves it to the dead-letter queue: the first try and four retries.
    queue_max_receive_count: int = 5
    # Concurrent invocations the queue may drive, so a backlog cannot use up the account's concurrency.
    queue_max_concurrency: int = 5


@dataclass(frozen=True)
class Route:
    method: str  # "ANY" or an HTTP method
    path: str  # API Gateway route path; {name} is one segment, {proxy+} the rest
    function: str
    auth: Auth


LEADS_API = Function("LeadsApi", "leads", "leads.api.lambda_handler", "api")
LEADS_EVENTS = Function(
    "LeadsEvents",
    "leads",
    "leads.events.lambda_handler",
    "queue",
    timeout_s=60,
    change_filters=change_fanout.CONSUMER_FILTERS[change_fanout.LEADS_EVENTS],
)
PARTNERS_API = Function("PartnersApi", "partners", "partners.api.lambda_handler", "api")
PARTNERS_EVENTS = Function(
    "PartnersEvents",
    "partners",
    "partners.events.lambda_handler",
    "queue",
    timeout_s=60,
    change_filters=change_fanout.CONSUMER_FILTERS[change_fanout.PARTNERS_EVENTS],
)
REFERRALS_API = Function("ReferralsApi", "referrals", "referrals.api.lambda_handler", "api")
REFERRALS_EVENTS = Function(
    "ReferralsEvents",
    "referrals",
    "referrals.events.lambda_handler",
    "queue",
    timeout_s=60,
    change_filters=change_fanout.CONSUMER_FILTERS[change_fanout.REFERRALS_EVENTS],
)
PAYOUTS_API = Function("PayoutsApi", "payouts", "payouts.api.lambda_handler", "api")
PAYOUTS_EVENTS = Function(
    "PayoutsEvents",
    "payouts",
    "payouts.events.lambda_handler",
    "queue",
    timeout_s=60,
    change_filters=change_fanout.CONSUMER_FILTERS[change_fanout.PAYOUTS_EVENTS],
)
# An organisation's webhook endpoints, their secrets and delivery logs.
INTEGRATIONS_API = Function("IntegrationsApi", "integrations", "integrations.api.lambda_handler", "api")
# The events of the catalogue (common.integrations.catalogue), recorded from the changes that mean them and
# handed on to their webhook deliveries.
INTEGRATIONS_EVENTS = Function(
    "IntegrationsEvents",
    "integrations",
    "integrations.events.lambda_handler",
    "queue",
    timeout_s=60,
    change_filters=change_fanout.CONSUMER_FILTERS[change_fanout.INTEGRATIONS_EVENTS],
)
# The table stream's one reader: it sends each change, whole, to the queues of the consumers above that
# want it. Its own filter drops the entities no consumer wants before it is invoked.
STREAM_DISPATCHER = Function(
    "StreamDispatcher",
    "stream_dispatcher",
    "stream_dispatcher.handler.lambda_handler",
    "stream",
    memory_mb=256,
    timeout_s=30,
    stream_filters=(change_fanout.stream_filter(),),
    # SQS being unreachable is the only failure: retry long, well within the stream's 24 hours.
    stream_retry_attempts=100,
)
# Twilio's webhooks (replies and delivery statuses): its own small function, so its cold start carries
# neither the API's resolver nor the Twilio REST client.
SMS_WEBHOOK = Function("SmsWebhook", "referrals", "referrals.webhook.lambda_handler", "api", memory_mb=256)
# The daily sweep reads what is due (sparse indexes) and hands it on, a page per message, to its work queue;
# StatusSweepWork lapses, reminds and expires. Two messages of at most 25 reminders each fit well within a
# minute (its notices' lease assumes consumers stop within two); it stops starting work when its time runs
# short, and the message is retried for the rest.
STATUS_SWEEP = Function("StatusSweep", "status_sweep", "status_sweep.handler.lambda_handler", "schedule", timeout_s=300)
STATUS_SWEEP_WORK = Function(
    "StatusSweepWork", "status_sweep", "status_sweep.work.lambda_handler", "work", timeout_s=60, queue_batch_size=2
)
# Every outbound delivery, one message (and at most one attempt of up to 15 seconds) per invocation, from a
# queue of its own whose delays carry the retry schedule; ten at once at most (each endpoint two of them:
# common.integrations.delivery_attempts.ENDPOINT_SLOTS).
WEBHOOK_DELIVERY = Function(
    "WebhookDelivery",
    "integrations",
    "integrations.delivery.lambda_handler",
    "work",
    memory_mb=256,
    timeout_s=30,
    queue_batch_size=1,
    queue_max_concurrency=10,
)
TOKEN_AUTHORIZER = Function(
    "TokenAuthorizer", "authorizer", "authorizer.handler.lambda_handler", "authorizer", memory_mb=256
)

FUNCTIONS: tuple[Function, ...] = (
    STREAM_DISPATCHER,
    LEADS_API,
    LEADS_EVENTS,
    PARTNERS_API,
    PARTNERS_EVENTS,
    REFERRALS_API,
    REFERRALS_EVENTS,
    SMS_WEBHOOK,
    PAYOUTS_API,
    PAYOUTS_EVENTS,
    INTEGRATIONS_API,
    INTEGRATIONS_EVENTS,
    STATUS_SWEEP,
    STATUS_SWEEP_WORK,
    WEBHOOK_DELIVERY,
    TOKEN_AUTHORIZER,
)

# When each schedule fires (EventBridge Scheduler expressions, UTC).
SCHEDULES: dict[str, str] = {STATUS_SWEEP.name: "cron(15 3 * * ? *)"}


# The gateway's routes grow with path prefixes, not with operations: each function routes its own requests
# (Powertools resolvers), so a prefix is one ANY route for its base path and one for everything under it
# ({proxy+}: one segment or more). The most specific route wins (as in API Gateway): a fixed path beats one
# with {proxy+}, a longer prefix a shorter one. A prefix whose base path serves nothing has no base route.
def _prefix(path: str, function: str) -> tuple[Route, ...]:
    return (Route("ANY", path, function, "token"), Route("ANY", f"{path}/{{proxy+}}", function, "token"))


def _under(path: str, function: str) -> tuple[Route, ...]:
    return (Route("ANY", f"{path}/{{proxy+}}", function, "token"),)


ROUTES: tuple[Route, ...] = (
    # Organisations, memberships, message templates, partner companies, leads and customers: the fallback
    # for every path under /orgs that no more specific prefix claims.
    *_prefix("/orgs", LEADS_API.name),
    # Partners, the programme, deals and the portal: the organisation's partner side.
    *(
        route
        for section in ("children", "partners", "portal-settings", "workflows", "deals")
        for route in _prefix(f"/orgs/{{orgId}}/{section}", PARTNERS_API.name)
    ),
    *(
        route
        for section in ("programme", "portal")
        for route in _under(f"/orgs/{{orgId}}/{section}", PARTNERS_API.name)
    ),
    # Partner teams, their customer lists and referral requests.
    *(
        route
        for section in ("teams", "referral-requests")
        for route in _prefix(f"/orgs/{{orgId}}/{section}", REFERRALS_API.name)
    ),
    # Commission plans, wallets and their ledger, payout requests: the programme's money.
    *(
        route
        for section in ("commission-plan", "wallets", "payout-requests")
        for route in _prefix(f"/orgs/{{orgId}}/{section}", PAYOUTS_API.name)
    ),
    *_under("/orgs/{orgId}/ledger", PAYOUTS_API.name),
    # A deal's commissions: more specific than the deals routes above, so they reach the payouts function.
    Route("GET", "/orgs/{orgId}/deals/{dealId}/commissions", PAYOUTS_API.name, "token"),
    Route("GET", "/orgs/{orgId}/deals/{dealId}/commission-preview", PAYOUTS_API.name, "token"),
    # A partner's own wallet and payout requests, beside the portal's other routes.
    *(
        route
        for section in ("wallet", "payout-requests")
        for route in _prefix(f"/orgs/{{orgId}}/portal/{section}", PAYOUTS_API.name)
    ),
    # Webhook endpoints and their delivery logs.
    *_prefix("/orgs/{orgId}/webhooks", INTEGRATIONS_API.name),
    # A team member's own teams, across organisations.
    Route("GET", "/me/teams", REFERRALS_API.name, "token"),
    # A partner's own account, across organisations.
    *_prefix("/me/partner", PARTNERS_API.name),
    # Twilio signs its requests (X-Twilio-Signature): no bearer token.
    Route("POST", "/twilio/sms", SMS_WEBHOOK.name, "none"),
    Route("POST", "/twilio/status", SMS_WEBHOOK.name, "none"),
    # Registration, invitations, referral links and e-mail confirmation: reached before anyone has a token.
    # Only the methods they serve: an unauthenticated ANY would open every method.
    Route("GET", "/public/{proxy+}", PARTNERS_API.name, "none"),
    Route("POST", "/public/{proxy+}", PARTNERS_API.name, "none"),
)

# A browser's CORS preflight carries no token, so it must not meet an ANY route's authorizer (which would
# answer 401): every ANY route has an OPTIONS twin on the same path, without an authorizer. API Gateway
# answers a preflight from the API's CORS settings; any other OPTIONS request reaches the function, which
# answers 404 like every other path it does not serve.
PREFLIGHT_METHOD = "OPTIONS"


def gateway_routes(routes: tuple[Route, ...] = ROUTES) -> tuple[Route, ...]:
    """The routes as the gateway has them (deployed and local): the manifest's, and each ANY route's
    preflight twin."""
    twins = tuple(Route(PREFLIGHT_METHOD, r.path, r.function, "none") for r in routes if r.method == "ANY")
    return routes + twins


def is_preflight_twin(route: Route) -> bool:
    return route.method == PREFLIGHT_METHOD and route.auth == "none"


# Machine credentials for partner companies: Cognito resource server and its scope.
LEAD_INTAKE_RESOURCE_SERVER = "leads"
LEAD_INTAKE_SCOPE_NAME = "write"
LEAD_INTAKE_SCOPE = f"{LEAD_INTAKE_RESOURCE_SERVER}/{LEAD_INTAKE_SCOPE_NAME}"
