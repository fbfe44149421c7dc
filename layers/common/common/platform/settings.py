"""Run-time settings: small groups of environment variables, each validated once and cached.

A function's entry point validates, at import (its cold start), exactly the groups it needs, so a missing
or invalid variable stops it before it serves anything, with an error naming the variables; the core reads
each setting through its group (`get_settings(Portal).portal_url`). A setting's variable is its field name
upper-cased (`env_name`): infra and the local stack set the variables through `environment`, so a renamed
setting cannot drift from what they set. A field with a default may be left unset; every other one must be
set and not empty.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Protocol, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, Json, ValidationError

# Twilio's REST API; the local stack and the tests point the functions at a loopback stand-in instead.
TWILIO_API_URL = "https://api.twilio.com"

NonEmpty = Annotated[str, Field(min_length=1)]


class SettingsGroup(BaseModel):
    # Built on first validation: a function pays only for the groups it reads.
    model_config = ConfigDict(frozen=True, defer_build=True)


class Deployment(SettingsGroup):
    """What every function needs: its stage, the table, its service name (Powertools reads it too) and the
    address the system's e-mails come from."""

    stage: NonEmpty
    table_name: str = Field(min_length=3)
    powertools_service_name: NonEmpty
    email_from: str = Field(min_length=3)


class TokenVerification(SettingsGroup):
    """What the token authorizer checks bearer tokens against: the Cognito pool's issuer and signing keys,
    and the portal's app clients, whose user tokens are accepted."""

    token_issuer: NonEmpty
    jwks_url: NonEmpty
    portal_client_ids: str = Field(min_length=1, description="comma-separated app client ids")

    @property
    def portal_clients(self) -> frozenset[str]:
        return frozenset(c.strip() for c in self.portal_client_ids.split(",") if c.strip())


class SignInPolicy(SettingsGroup):
    """Whether staff need a second factor (MFA) on their sign-in to use the permissions that move money: on by
    default on protected stages (infra/config.py), off on dev stages and the local stack. Required, with no
    default: a function deployed without it refuses to start rather than stop asking for MFA."""

    money_mfa_required: bool


class LeadIntake(SettingsGroup):
    """Partner companies' systems: the scope their tokens need to post leads, and the OAuth token endpoint
    handed out with their credentials (unset: credentials go out without it)."""

    lead_intake_scope: str = Field(default="leads/write", min_length=1)
    token_url: str = ""


class UserPool(SettingsGroup):
    """The Cognito pool holding staff, partners and machine clients."""

    user_pool_id: NonEmpty


class FilesBucket(SettingsGroup):
    """The S3 bucket of uploaded files: terms PDFs, deal files."""

    files_bucket: NonEmpty


class Portal(SettingsGroup):
    """The partner portal's address, which links in e-mails start with."""

    portal_url: NonEmpty


class SenderDomains(SettingsGroup):
    """The domains (SES identities) partners' invitations may go out from, comma-separated; unset: none."""

    sender_domains: str = ""

    @property
    def sender_domain_set(self) -> frozenset[str]:
        return frozenset(d.strip().lower() for d in self.sender_domains.split(",") if d.strip())


class SesConfiguration(SettingsGroup):
    """The SES configuration set e-mails are sent with, which records bounces and complaints; unset: none
    (the local stack)."""

    ses_configuration_set: str = ""


class TwilioAuthToken(SettingsGroup):
    """The SSM SecureString holding Twilio's auth token: it signs our texts and Twilio's webhook requests."""

    twilio_auth_token_parameter: NonEmpty


class TwilioSender(SettingsGroup):
    """What sending a text needs: the account and number (E.164) it goes from, Twilio's API, and the URL
    Twilio posts the text's delivery statuses to (unset: texts go without a status callback)."""

    twilio_account_sid: NonEmpty
    twilio_from_number: NonEmpty
    twilio_api_url: str = Field(default=TWILIO_API_URL, min_length=1)
    sms_status_url: str = ""


class TwilioNumber(SettingsGroup):
    """The account and number the webhook accepts requests for. Unset on a stage that texts no one: its
    webhook then refuses every request, where requiring them would fail it with a 5xx (TwilioSender needs
    them set)."""

    twilio_account_sid: str = ""
    twilio_from_number: str = ""


class SmsWebhookUrls(SettingsGroup):
    """The public URLs Twilio posts replies and delivery statuses to: the URLs its signatures cover."""

    sms_webhook_url: NonEmpty
    sms_status_url: NonEmpty


class EdgeOrigin(SettingsGroup):
    """The Secrets Manager secret CloudFront sends with every request it forwards to the API (common.web.
    edge_origin); unset: the API is reached directly (dev stages, the local stack) and nothing is checked."""

    origin_secret_arn: str = ""


class ConsumerQueues(SettingsGroup):
    """Each change consumer's queue URL (a JSON object), which the stream dispatcher sends changes to."""

    consumer_queue_urls: Json[dict[str, str]]


class SweepWork(SettingsGroup):
    """The queue the daily sweep hands its due work on to, in pages, for the sweep's work function."""

    sweep_work_queue_url: NonEmpty


class Webhooks(SettingsGroup):
    """Outbound deliveries (webhook endpoints): whether they may go to loopback addresses and over plain
    http. Only the local stack allows it, so its tests can run receivers on the machine; infra never sets
    it, and a deployed stage delivers over HTTPS to public addresses only (common.platform.urls)."""

    outbound_allow_loopback: bool = False


class CompanySecrets(SettingsGroup):
    """Where partner companies' receiver secrets are kept: the stage's path in SSM Parameter Store, under which
    the leads API keeps (and forgets) each one as a SecureString and the delivery engine reads it
    (common.leads.company_sides)."""

    company_secret_prefix: str = Field(min_length=2, pattern=r"^(/[A-Za-z0-9_.-]+)+$")


class WebhookQueue(SettingsGroup):
    """The queue every outbound delivery goes through: its producers (the events consumer's fan-out, the
    API's resends, replays and test events) send to it, and the delivery function reads it and sends on
    what is not due yet."""

    webhook_queue_url: NonEmpty


GROUPS: tuple[type[SettingsGroup], ...] = (
    Deployment,
    TokenVerification,
    SignInPolicy,
    LeadIntake,
    UserPool,
    FilesBucket,
    Portal,
    SenderDomains,
    SesConfiguration,
    TwilioAuthToken,
    TwilioSender,
    TwilioNumber,
    SmsWebhookUrls,
    EdgeOrigin,
    ConsumerQueues,
    SweepWork,
    Webhooks,
    WebhookQueue,
    CompanySecrets,
)
FIELDS = tuple(dict.fromkeys(name for group in GROUPS for name in group.model_fields))


def env_name(field: str) -> str:
    """The environment variable a setting is read from."""
    if field not in FIELDS:
        raise KeyError(field)
    return field.upper()


ENV_NAMES = tuple(env_name(name) for name in FIELDS)


def environment(**settings: str) -> dict[str, str]:
    """The variables that give these settings (by field name) their values: what a function is given."""
    return {env_name(field): value for field, value in settings.items()}


class SettingsError(RuntimeError):
    """Raised at cold start when the environment is incomplete: the function must not serve requests."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(dict.fromkeys(names))
        super().__init__(f"invalid or missing settings: {', '.join(self.names)}")


if TYPE_CHECKING:  # get_settings's type: lru_cache alone would lose the group's
    G = TypeVar("G", bound=SettingsGroup)

    class _CachedLoader(Protocol):
        def __call__(self, group: type[G], /) -> G: ...

        def cache_clear(self) -> None: ...


def _load(group: type[SettingsGroup]) -> SettingsGroup:
    variables = {name: env_name(name) for name in group.model_fields}
    raw = {name: os.environ[variable] for name, variable in variables.items() if variable in os.environ}
    try:
        return group.model_validate(raw)
    except ValidationError as exc:
        raise SettingsError(variables[str(error["loc"][0])] for error in exc.errors()) from exc


# A group's settings, validated on first read and kept for the container's life.
get_settings = cast("_CachedLoader", lru_cache(maxsize=None)(_load))


def validate_settings(*groups: type[SettingsGroup]) -> None:
    """What an entry point calls at import with the groups its function reads: one SettingsError naming
    every variable missing or invalid, before the function serves anything."""
    names: list[str] = []
    for group in groups:
        try:
            get_settings(group)
        except SettingsError as error:
            names += error.names
    if names:
        raise SettingsError(names)
