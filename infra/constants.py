"""Names and fixed values of the deployment, in one place.

Plain data only: `python -m infra.build_layer` imports this module without loading the CDK.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO_ROOT / "functions"
COMMON_LAYER_SOURCE = REPO_ROOT / "layers" / "common"
COMMON_PACKAGE_DIR = COMMON_LAYER_SOURCE / "common"
# What Lambda puts on sys.path (the layer's packages and the function's folder), and the root that holds
# infra/, local/, ops/ and bench/. The CDK app, the local stack, the benchmarks and pytest all add these;
# pyproject.toml's mypy_path must list the same (a test compares them).
IMPORT_ROOTS = (REPO_ROOT, COMMON_LAYER_SOURCE, FUNCTIONS_DIR)


def add_import_roots() -> None:
    for root in reversed(IMPORT_ROOTS):
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))


# The layer asset: Lambda puts the asset's `python/` folder on sys.path.
LAYER_DIR = REPO_ROOT / ".build" / "layer"

# The Lambda runtime: the layer's wheels are resolved and its bytecode compiled for this version, and
# infra/functions.py must use the matching lambda_.Runtime (a test checks that they agree).
PYTHON_VERSION = "3.14"
# Hash-pinned locks (`make lock`): the layer installs the run-time one, `make install` the dev one.
RUNTIME_LOCK = REPO_ROOT / "requirements" / "runtime.txt"
DEV_LOCK = REPO_ROOT / "requirements" / "dev.txt"

APP_NAME = "PartnerProgramme"
RESOURCE_PREFIX = "partner-programme"


def stack_name(stage: str) -> str:
    return f"{APP_NAME}-{stage}"


# AWS WAF keeps the web ACLs CloudFront uses (scope CLOUDFRONT) in us-east-1 only: a stage with edge protection
# has a second, small stack there (infra/edge_stack.py). Its name cannot be another stage's main stack's.
EDGE_REGION = "us-east-1"


def edge_stack_name(stage: str) -> str:
    return f"{APP_NAME}Edge-{stage}"


# Stack outputs the operator tools (ops/) find a stage's endpoints by; the local stack writes the same names
# to .local/dev.json. infra/stack.py declares them under these names, so the tools and the stack agree.
OUTPUT_REGION = "Region"
OUTPUT_TABLE_NAME = "TableName"
OUTPUT_TABLE_STREAM_ARN = "TableStreamArn"
OUTPUT_STREAM_FAILURE_QUEUE_URL = "StreamDispatcherFailureQueueUrl"


def consumer_queue_output(consumer: str) -> str:
    """The output holding the URL of a change consumer's queue (e.g. LeadsEventsQueueUrl)."""
    return f"{consumer}QueueUrl"


def consumer_dead_letter_queue_output(consumer: str) -> str:
    """The output holding the URL of a change consumer's dead-letter queue."""
    return f"{consumer}DeadLetterQueueUrl"


# Context keys (cdk.json or `-c key=value`).
CONTEXT_STAGE = "stage"
CONTEXT_EMAIL_FROM = "emailFrom"
CONTEXT_PORTAL_CALLBACK_URLS = "portalCallbackUrls"
CONTEXT_AUTH_DOMAIN_PREFIX = "authDomainPrefix"
CONTEXT_PORTAL_URL = "portalUrl"
CONTEXT_TWILIO_ACCOUNT_SID = "twilioAccountSid"
CONTEXT_TWILIO_FROM_NUMBER = "twilioFromNumber"
CONTEXT_TWILIO_AUTH_TOKEN_PARAMETER = "twilioAuthTokenParameter"  # noqa: S105 - a context key, not a secret
CONTEXT_PUBLIC_API_URL = "publicApiUrl"
# The AWS account (12 digits) and region a stage deploys to; without them the CLI's credentials decide.
CONTEXT_ACCOUNT = "account"
CONTEXT_REGION = "region"
# Who owns the SES identity emailFrom is sent under: one stage per account and region creates the domain
# identity for emailFrom's domain (sesIdentityOwner=true; kept when a protected stage is deleted), every other
# stage there names it (sesIdentity: that domain, or emailFrom itself when the account verified the address)
# and owns nothing. Protected stages must say which; a dev stage that says neither owns its identity.
CONTEXT_SES_IDENTITY_OWNER = "sesIdentityOwner"
CONTEXT_SES_IDENTITY = "sesIdentity"
# Set once the domain identity the stage owns is verified: Cognito then sends through SES too.
CONTEXT_SES_IDENTITY_VERIFIED = "sesIdentityVerified"
# Protected stages only: the table and the user pool also refuse deletion outside CloudFormation. Set it
# after the stage's first deployment succeeded: it refuses CloudFormation's own delete too, so a first
# deployment rolled back with it could not remove them.
CONTEXT_DELETION_PROTECTION = "deletionProtection"
CONTEXT_ALARM_EMAIL = "alarmEmail"
# Domains (each an SES domain identity of the account) whose addresses partners' invitations may go out
# from, once an address is confirmed and its organisation allows the domain.
CONTEXT_SENDER_DOMAINS = "senderDomains"
# Whether staff need MFA on their sign-in to use the permissions that move money (default: protected stages).
CONTEXT_MONEY_MFA_REQUIRED = "moneyMfaRequired"
# Edge protection (infra/edge_settings.py; protected stages need the first two): CloudFront reaches the API at
# its regional custom domain (the execute-api endpoint is off), with an ACM certificate of the stage's region;
# the distribution answers at its own *.cloudfront.net name, or at a public name with a us-east-1 certificate.
CONTEXT_API_DOMAIN_NAME = "apiDomainName"
CONTEXT_API_CERTIFICATE_ARN = "apiCertificateArn"
CONTEXT_PUBLIC_DOMAIN_NAME = "publicDomainName"
CONTEXT_PUBLIC_CERTIFICATE_ARN = "publicCertificateArn"
# The Secrets Manager version of the origin secret CloudFront sends; set after rotating the secret, so
# CloudFormation reads it again (docs/deploy.md, "Edge protection").
CONTEXT_ORIGIN_SECRET_VERSION = "originSecretVersion"  # noqa: S105 - a context key, not a secret
# Per-stage settings: {"stages": {"<stage>": {<any of STAGE_SETTINGS>}}}; a top-level key wins over them.
CONTEXT_STAGES = "stages"
STAGE_SETTINGS = (
    CONTEXT_ACCOUNT,
    CONTEXT_REGION,
    CONTEXT_EMAIL_FROM,
    CONTEXT_PORTAL_CALLBACK_URLS,
    CONTEXT_AUTH_DOMAIN_PREFIX,
    CONTEXT_PORTAL_URL,
    CONTEXT_TWILIO_ACCOUNT_SID,
    CONTEXT_TWILIO_FROM_NUMBER,
    CONTEXT_TWILIO_AUTH_TOKEN_PARAMETER,
    CONTEXT_PUBLIC_API_URL,
    CONTEXT_SES_IDENTITY_OWNER,
    CONTEXT_SES_IDENTITY,
    CONTEXT_SES_IDENTITY_VERIFIED,
    CONTEXT_DELETION_PROTECTION,
    CONTEXT_ALARM_EMAIL,
    CONTEXT_SENDER_DOMAINS,
    CONTEXT_MONEY_MFA_REQUIRED,
    CONTEXT_API_DOMAIN_NAME,
    CONTEXT_API_CERTIFICATE_ARN,
    CONTEXT_PUBLIC_DOMAIN_NAME,
    CONTEXT_PUBLIC_CERTIFICATE_ARN,
    CONTEXT_ORIGIN_SECRET_VERSION,
)

DEFAULT_STAGE = "dev"
# The portal's local development server, allowed by CORS on dev stages.
DEV_PORTAL_ORIGIN = "http://localhost:5173"


def twilio_auth_token_parameter(stage: str) -> str:
    """Where the Twilio auth token is kept unless the context names another SSM parameter (a SecureString the
    administrator creates: CloudFormation cannot create SecureString parameters)."""
    return f"/{RESOURCE_PREFIX}/{stage}/twilio-auth-token"


def company_secret_prefix(stage: str) -> str:
    """The SSM path under which the leads API keeps partner companies' receiver secrets (SecureStrings it puts
    and deletes at run time, common.leads.company_sides) and the delivery engine reads them."""
    return f"/{RESOURCE_PREFIX}/{stage}/company-secrets"


# The routes Twilio posts to (infra/manifest.py), after the API's base URL: the URLs Twilio signs.
SMS_WEBHOOK_PATH = "/twilio/sms"
SMS_STATUS_PATH = "/twilio/status"


def is_dev_stage(stage: str) -> bool:
    """Dev stages are disposable: no deletion protection, resources are removed with the stack."""
    return stage == "dev" or stage.startswith("dev-")


# Read by Powertools itself (the functions' settings are named in common.platform.settings). Responses and
# exceptions can carry personal data, so the tracer keeps them out of X-Ray even where a handler's decorator
# forgets to say so.
ENV_LOG_LEVEL = "LOG_LEVEL"
LOG_LEVEL = "INFO"
TRACER_ENVIRONMENT = {"POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false", "POWERTOOLS_TRACER_CAPTURE_ERROR": "false"}

# API Gateway reuses the token authorizer's decision (and the identity it passes on) for the same
# Authorization header this long, on every route. The decision depends on the token and on the user's
# sign-in record (common.orgs.sign_in), so this is how late a sign-out, a disabled or a deleted sign-in (and a
# recorded MFA) can take effect: well within the minute an operator has to lock a compromised account out.
TOKEN_AUTHORIZER_CACHE_SECONDS = 30
# How long the portal's access and id tokens last (Cognito allows 5 minutes to a day). A token carries the
# user's operators' group, and a sign-in ended in Cognito's console without our route (docs/deploy.md) only
# stops when its tokens expire: short tokens bound both. The SDKs refresh them with the refresh token, which
# a global sign-out revokes.
PORTAL_TOKEN_MINUTES = 15
PORTAL_REFRESH_TOKEN_DAYS = 30

# API Gateway stage throttling (requests per second, steady and burst), per account limits permitting.
API_RATE_LIMIT = 50
API_BURST_LIMIT = 100
# Routes without an authorizer (registration, invitations, e-mail confirmation) are reached by anyone: a
# lower limit per route keeps a flood of them from using up the budget of signed-in callers. People
# register by hand, so a few requests a second are plenty.
UNAUTHENTICATED_ROUTE_RATE_LIMIT = 10
UNAUTHENTICATED_ROUTE_BURST_LIMIT = 20
# Twilio's routes are signed, and refusing a forged request costs one HMAC. Twilio calls back once per
# status change of every text (queued, sent, delivered or failed), so a referral offered to a large team
# brings a burst of callbacks, and Twilio does not retry a throttled one: a higher limit than /public, still
# below the stage's default.
TWILIO_ROUTE_RATE_LIMIT = 25
TWILIO_ROUTE_BURST_LIMIT = 50

# Uploaded files (terms PDFs, deal files) live under one prefix per organisation; the API function may
# read and write objects under this prefix only.
FILES_KEY_PREFIX = "orgs/"

# Request headers a browser may send cross-origin (CORS), in the cloud and in the local stack alike.
CORS_ALLOWED_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key")
# Methods a browser may use cross-origin, whatever the routes (an ANY route serves them all).
CORS_ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Response headers a browser may read cross-origin: a CSV export's next page and its file name.
CORS_EXPOSED_HEADERS = ("X-Next-Cursor", "Content-Disposition")
