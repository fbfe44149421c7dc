"""The deployment's settings per stage, read and checked from the CDK context (cdk.json or `-c key=value`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from aws_cdk import Environment, RemovalPolicy
from aws_cdk import aws_logs as logs
from common.platform.settings import TWILIO_API_URL, environment
from common.platform.validation import DOMAIN_PATTERN as _DOMAIN
from common.platform.validation import is_e164
from constructs import Construct

from infra import constants, manifest
from infra.edge_settings import EdgeSettings, read_edge_settings
from infra.sender_settings import StageSender, domain_of, ownership_problems, sender_identity

T = TypeVar("T")
STAGE_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TWILIO_ACCOUNT_SID_PATTERN = re.compile(r"^AC[0-9a-f]{32}$")
# SSM parameter names: letters, digits, _ . - and /; a name with a / is a path and starts with one.
SSM_PARAMETER_PATTERN = re.compile(r"^(/[A-Za-z0-9_.-]+)+$|^[A-Za-z0-9_.-]+$")
ACCOUNT_PATTERN = re.compile(r"^[0-9]{12}$")
# Commercial, GovCloud and China regions: eu-central-1, us-gov-west-1, cn-north-1, ap-southeast-5.
REGION_PATTERN = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$")
DOMAIN_PATTERN = re.compile(f"^{_DOMAIN}$")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _is_absolute_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("https", "http") and bool(parts.netloc)


@dataclass(frozen=True)
class DeploymentConfig:
    stage: str
    email_from: str
    portal_callback_urls: tuple[str, ...] = ()
    auth_domain_prefix: str | None = None
    # The portal's address, which links in e-mails (invitations, confirmations) start with.
    portal_url: str = constants.DEV_PORTAL_ORIGIN
    # Twilio: the account and number texts are sent from (empty on a dev stage that texts no one), and the
    # SSM SecureString parameter the administrator put the auth token in.
    twilio_account_sid: str = ""
    twilio_from_number: str = ""
    twilio_auth_token_parameter: str = ""
    # The API's base URL as Twilio reaches it, when a custom domain fronts the API; else the API's own.
    public_api_url: str | None = None
    # Where the stack deploys; None leaves it to the credentials and region of the CLI.
    account: str | None = None
    region: str | None = None
    # The SES identity the stage sends under and does not own (emailFrom's domain, or emailFrom itself),
    # created by another stage of the account and region or verified by hand; None: the stage owns the
    # domain identity of emailFrom's domain and creates it.
    ses_identity: str | None = None
    # The stage's own domain identity has been verified (Cognito refuses an unverified one).
    ses_identity_verified: bool = False
    # Protected stages: the table and the user pool refuse deletion outside CloudFormation as well.
    deletion_protection: bool = False
    # Who is e-mailed when an alarm goes off.
    alarm_email: str | None = None
    # Domains (SES domain identities) partners' invitations may go out from; organisations allow some.
    sender_domains: tuple[str, ...] = ()
    # Staff need MFA on their sign-in to use the permissions that move money (common.orgs.access).
    money_mfa_required: bool = False
    # CloudFront and AWS WAF in front of the API (every protected stage); None: the execute-api endpoint.
    edge: EdgeSettings | None = None

    @property
    def protected(self) -> bool:
        return not constants.is_dev_stage(self.stage)

    @property
    def portal_origins(self) -> list[str]:
        """Browser origins allowed by CORS (API and files bucket): the portal's (from its address and its
        callback URLs), and on dev stages also the portal's local development server."""
        origins = [_origin(url) for url in (self.portal_url, *self.portal_callback_urls)]
        if not self.protected:
            origins.append(constants.DEV_PORTAL_ORIGIN)
        return list(dict.fromkeys(origins))

    @property
    def company_secret_prefix(self) -> str:
        """Where partner companies' receiver secrets are kept (SSM Parameter Store): the stage's own path."""
        return constants.company_secret_prefix(self.stage)

    @property
    def email_domain(self) -> str:
        return domain_of(self.email_from)

    @property
    def owns_ses_identity(self) -> bool:
        """Whether the stage creates (and owns) the domain identity it sends under, rather than naming one."""
        return self.ses_identity is None

    @property
    def sender_verified(self) -> bool:
        """Whether SES already accepts the sender: an identity the stage names is verified by definition."""
        return self.ses_identity is not None or self.ses_identity_verified

    @property
    def resource_name(self) -> str:
        """What the stage's named resources are called (pool, API, schedule, dashboards)."""
        return f"{constants.RESOURCE_PREFIX}-{self.stage}"

    @property
    def removal_policy(self) -> RemovalPolicy:
        """What becomes of every resource that holds data, keys or logs (table, backup vault, user pool, files
        bucket, KMS keys, log groups, an owned SES identity) when the stack is deleted or a change replaces it.
        Protected stages keep it (DeletionPolicy RetainExceptOnCreate, UpdateReplacePolicy Retain), except when
        the operation that created it is rolled back: a failed first deployment then deletes what it created,
        so nothing is left to block the retry. Dev stages delete it."""
        return RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE if self.protected else RemovalPolicy.DESTROY

    @property
    def log_retention(self) -> logs.RetentionDays:
        return logs.RetentionDays.THREE_MONTHS if self.protected else logs.RetentionDays.ONE_MONTH

    @property
    def environment(self) -> Environment | None:
        """The account and region the stack deploys to; None leaves the stack environment-agnostic (the
        CLI's credentials decide)."""
        return Environment(account=self.account, region=self.region) if self.account or self.region else None

    @property
    def function_environment(self) -> dict[str, str]:
        """The functions' variables that come from the stage's settings; the stack adds those of the
        resources it creates (table, pool, bucket, API)."""
        return {
            **environment(
                stage=self.stage,
                email_from=self.email_from,
                lead_intake_scope=manifest.LEAD_INTAKE_SCOPE,
                portal_url=self.portal_url,
                twilio_account_sid=self.twilio_account_sid,
                twilio_from_number=self.twilio_from_number,
                twilio_auth_token_parameter=self.twilio_auth_token_parameter,
                twilio_api_url=TWILIO_API_URL,
                company_secret_prefix=self.company_secret_prefix,
                sender_domains=",".join(self.sender_domains),
                money_mfa_required="true" if self.money_mfa_required else "false",
                # Empty: nothing checked. Behind CloudFront the stack names the secret to the functions that
                # check it (infra/edge.py).
                origin_secret_arn="",
            ),
            constants.ENV_LOG_LEVEL: constants.LOG_LEVEL,
        }

    def sms_urls(self, api_endpoint: str) -> tuple[str, str]:
        """The URLs Twilio posts replies and delivery statuses to, which its signatures cover: under the
        public API URL when a custom domain fronts the API, else under the API's own endpoint."""
        base = self.public_api_url or api_endpoint
        return f"{base}{constants.SMS_WEBHOOK_PATH}", f"{base}{constants.SMS_STATUS_PATH}"

    @classmethod
    def from_context(cls, scope: Construct) -> DeploymentConfig:
        """The stage's settings, every one checked: all that is wrong is reported at once (StageSettingsError)."""
        stage = str(scope.node.try_get_context(constants.CONTEXT_STAGE) or constants.DEFAULT_STAGE)
        if not STAGE_PATTERN.match(stage):
            raise StageSettingsError(
                stage, [f"stage {stage!r}: use 1-20 lower-case letters, digits or '-', starting with a letter"]
            )
        problems: list[str] = []

        def checked(check: Callable[[], T], fallback: T) -> T:
            try:
                return check()
            except ValueError as problem:
                problems.append(str(problem))
                return fallback

        stage_settings: dict[str, Any] = checked(lambda: _stage_settings(scope, stage), {})

        def context(key: str) -> Any:
            given = scope.node.try_get_context(key)
            return stage_settings.get(key) if given is None else given

        def text(key: str) -> str:
            return str(context(key) or "").strip()

        protected = not constants.is_dev_stage(stage)
        email_from = checked(lambda: _email_from(text(constants.CONTEXT_EMAIL_FROM)), "")
        callback_urls: tuple[str, ...] = checked(
            lambda: _callback_urls(context(constants.CONTEXT_PORTAL_CALLBACK_URLS)), ()
        )
        account_sid, from_number = checked(
            lambda: _twilio_sender(
                text(constants.CONTEXT_TWILIO_ACCOUNT_SID),
                text(constants.CONTEXT_TWILIO_FROM_NUMBER),
                protected=protected,
            ),
            ("", ""),
        )
        token_parameter = checked(
            lambda: _token_parameter(text(constants.CONTEXT_TWILIO_AUTH_TOKEN_PARAMETER), stage), ""
        )
        unset: tuple[str | None, str | None] = (None, None)
        where = checked(
            lambda: _account_and_region(text(constants.CONTEXT_ACCOUNT), text(constants.CONTEXT_REGION)),
            unset,
        )
        account, region = where
        alarm_email = checked(lambda: _alarm_email(text(constants.CONTEXT_ALARM_EMAIL), protected=protected), None)
        known_before_flags = len(problems)
        owner_flag = checked(
            lambda: _flag(constants.CONTEXT_SES_IDENTITY_OWNER, context(constants.CONTEXT_SES_IDENTITY_OWNER)), None
        )
        verified_flag = checked(
            lambda: _flag(constants.CONTEXT_SES_IDENTITY_VERIFIED, context(constants.CONTEXT_SES_IDENTITY_VERIFIED)),
            None,
        )
        ses_identity: str | None = None
        if email_from and len(problems) == known_before_flags:  # ownership is judged on readable settings
            try:
                ses_identity = sender_identity(
                    text(constants.CONTEXT_SES_IDENTITY),
                    owner=owner_flag,
                    verified=bool(verified_flag),
                    email_from=email_from,
                    protected=protected,
                )
                this_stage = StageSender(stage, where, domain_of(ses_identity or email_from), ses_identity is None)
                problems.extend(ownership_problems(this_stage, _other_stage_senders(scope, stage)))
            except ValueError as problem:
                problems.append(str(problem))
        edge, edge_problems = read_edge_settings(text, protected=protected, account=account, region=region)
        problems.extend(edge_problems)
        config = cls(
            stage=stage,
            email_from=email_from,
            portal_callback_urls=callback_urls,
            auth_domain_prefix=text(constants.CONTEXT_AUTH_DOMAIN_PREFIX) or None,
            portal_url=checked(
                lambda: _portal_url(text(constants.CONTEXT_PORTAL_URL), callback_urls, protected=protected), ""
            ),
            twilio_account_sid=account_sid,
            twilio_from_number=from_number,
            twilio_auth_token_parameter=token_parameter,
            public_api_url=checked(
                lambda: _public_api_url(text(constants.CONTEXT_PUBLIC_API_URL), protected=protected), None
            ),
            account=account,
            region=region,
            ses_identity=ses_identity,
            ses_identity_verified=bool(verified_flag),
            deletion_protection=checked(
                lambda: _deletion_protection(context(constants.CONTEXT_DELETION_PROTECTION), protected=protected),
                False,
            ),
            alarm_email=alarm_email,
            sender_domains=checked(lambda: _sender_domains(context(constants.CONTEXT_SENDER_DOMAINS)), ()),
            # On by default where real money moves: protected stages.
            money_mfa_required=checked(
                lambda: bool(
                    _flag(
                        constants.CONTEXT_MONEY_MFA_REQUIRED, context(constants.CONTEXT_MONEY_MFA_REQUIRED), protected
                    )
                ),
                protected,
            ),
            edge=edge,
        )
        if problems:
            raise StageSettingsError(stage, problems)
        return config


class StageSettingsError(ValueError):
    """Every problem with a stage's settings, in one message (no traceback needed to read it)."""

    def __init__(self, stage: str, problems: list[str]) -> None:
        self.stage, self.problems = stage, problems
        listed = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(
            f'The settings of stage {stage!r} are not usable ({len(problems)} problem(s); cdk.json "stages" '
            f"or -c key=value, docs/deploy.md):\n{listed}"
        )


def _email_from(email_from: str) -> str:
    if not EMAIL_PATTERN.match(email_from):
        raise ValueError(f"set the sender address with -c {constants.CONTEXT_EMAIL_FROM}=no-reply@your-domain")
    return email_from


def _callback_urls(urls: Any) -> tuple[str, ...]:
    if isinstance(urls, str):  # `-c portalCallbackUrls=a,b` arrives as one string
        urls = urls.split(",")
    callback_urls = tuple(url.strip() for url in urls or [] if url.strip())
    for url in callback_urls:
        if not _is_absolute_http_url(url):
            raise ValueError(f"portal callback URL {url!r} is not an absolute http(s) URL")
    return callback_urls


def _token_parameter(given: str, stage: str) -> str:
    token_parameter = given or constants.twilio_auth_token_parameter(stage)
    if not SSM_PARAMETER_PATTERN.match(token_parameter) or len(token_parameter) > 1011:
        raise ValueError(
            f"{constants.CONTEXT_TWILIO_AUTH_TOKEN_PARAMETER} {token_parameter!r} is not an SSM parameter name "
            "(letters, digits, _ . - and /; a path starts with /)"
        )
    return token_parameter


def _alarm_email(alarm_email: str, *, protected: bool) -> str | None:
    if alarm_email and not EMAIL_PATTERN.match(alarm_email):
        raise ValueError(f"{constants.CONTEXT_ALARM_EMAIL} {alarm_email!r} is not an e-mail address")
    if protected and not alarm_email:  # a dev stage's alarms may go unread; a protected stage's may not
        raise ValueError(
            f"set who gets the alarms with -c {constants.CONTEXT_ALARM_EMAIL}=ops@your-domain: "
            "protected stages e-mail every alarm"
        )
    return alarm_email or None


def _stage_settings(scope: Construct, stage: str) -> dict[str, Any]:
    """The stage's block of the `stages` context (cdk.json), every block checked for unknown keys so a typo
    in any stage fails at once rather than deploying without the setting."""
    stages = scope.node.try_get_context(constants.CONTEXT_STAGES) or {}
    if not isinstance(stages, dict):
        raise ValueError(
            f"context {constants.CONTEXT_STAGES!r} must be an object of stages and their settings (cdk.json)"
        )
    for name, settings in stages.items():
        if not isinstance(settings, dict):
            raise ValueError(f"{constants.CONTEXT_STAGES}.{name} must be an object of settings")
        unknown = sorted(set(settings) - set(constants.STAGE_SETTINGS))
        if unknown:
            raise ValueError(
                f"{constants.CONTEXT_STAGES}.{name}: unknown setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(constants.STAGE_SETTINGS)}"
            )
    return dict(stages.get(stage) or {})


def _account_and_region(account: str, region: str) -> tuple[str | None, str | None]:
    if account and not ACCOUNT_PATTERN.match(account):
        raise ValueError(f"{constants.CONTEXT_ACCOUNT} {account!r}: an AWS account id is 12 digits")
    if region and not REGION_PATTERN.match(region):
        raise ValueError(f"{constants.CONTEXT_REGION} {region!r} is not an AWS region name (e.g. eu-central-1)")
    return account or None, region or None


def _other_stage_senders(scope: Construct, stage: str) -> list[StageSender]:
    """The sender of every other stage block of cdk.json that says enough to tell (its address; its account
    and region are compared by ownership_problems); a block that leaves them to the command line, or cannot be
    read, is left out: its own deployment reports why."""
    stages = scope.node.try_get_context(constants.CONTEXT_STAGES)
    senders = []
    for other, settings in stages.items() if isinstance(stages, dict) else ():
        if other == stage or not isinstance(settings, dict):
            continue
        email_from = str(settings.get(constants.CONTEXT_EMAIL_FROM) or "")
        named = str(settings.get(constants.CONTEXT_SES_IDENTITY) or "").strip()
        try:
            owner = _flag(constants.CONTEXT_SES_IDENTITY_OWNER, settings.get(constants.CONTEXT_SES_IDENTITY_OWNER))
        except ValueError:
            continue
        if "@" in email_from:
            owns = bool(owner) or (owner is None and not named and constants.is_dev_stage(other))
            account, region = (settings.get(key) for key in (constants.CONTEXT_ACCOUNT, constants.CONTEXT_REGION))
            where = (str(account) if account else None, str(region) if region else None)
            senders.append(StageSender(other, where, domain_of(named or email_from), owns))
    return senders


def _deletion_protection(value: Any, *, protected: bool) -> bool:
    enabled = bool(_flag(constants.CONTEXT_DELETION_PROTECTION, value))
    if enabled and not protected:
        raise ValueError(
            f"{constants.CONTEXT_DELETION_PROTECTION}: a dev stage is disposable (its table and user pool go "
            "with its stack); only protected stages may set it"
        )
    return enabled


def _sender_domains(value: Any) -> tuple[str, ...]:
    """A list in cdk.json, or comma-separated from `-c senderDomains=a.example,b.example`; lower-cased,
    each once."""
    given = value.split(",") if isinstance(value, str) else list(value or [])
    domains = [str(domain).strip().lower() for domain in given if str(domain).strip()]
    for domain in domains:
        if not DOMAIN_PATTERN.match(domain) or len(domain) > 253:
            raise ValueError(f"{constants.CONTEXT_SENDER_DOMAINS}: {domain!r} is not a domain name")
    return tuple(dict.fromkeys(domains))


def _flag(key: str, value: Any, default: bool | None = None) -> bool | None:
    """A boolean setting: JSON true/false in cdk.json, the strings "true"/"false" from `-c key=value`; unset:
    `default`."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if str(value).strip().lower() in ("true", "false"):
        return str(value).strip().lower() == "true"
    raise ValueError(f"{key} {value!r}: use true or false")


def _portal_url(given: str, callback_urls: tuple[str, ...], *, protected: bool) -> str:
    """The portal's address: as given, else the origin of its first callback URL, else (dev stages only)
    its local development server. E-mailed links carry single-use tokens, so protected stages need https."""
    if given:
        parts = urlsplit(given)
        if not _is_absolute_http_url(given) or parts.query or parts.fragment:
            raise ValueError(f"portal URL {given!r} is not an absolute http(s) URL without query or fragment")
        url = given.rstrip("/")
    elif callback_urls:
        url = _origin(callback_urls[0])
    elif not protected:
        url = constants.DEV_PORTAL_ORIGIN
    else:
        raise ValueError(
            f"set the portal's address with -c {constants.CONTEXT_PORTAL_URL}=https://partners.your-domain "
            f"(or give -c {constants.CONTEXT_PORTAL_CALLBACK_URLS}=...): links in e-mails point to it"
        )
    if protected and urlsplit(url).scheme != "https":
        raise ValueError(f"portal URL {url!r}: protected stages need https (e-mailed links carry tokens)")
    return url


def _twilio_sender(account_sid: str, from_number: str, *, protected: bool) -> tuple[str, str]:
    """The Twilio account and number texts come from: protected stages need both; a dev stage may leave
    both out (it then texts no one: sending fails and is retried like an outage)."""
    if protected and not (account_sid and from_number):
        raise ValueError(
            f"set Twilio's account and number with -c {constants.CONTEXT_TWILIO_ACCOUNT_SID}=AC... "
            f"-c {constants.CONTEXT_TWILIO_FROM_NUMBER}=+15551234567: referral offers and reminders are texted"
        )
    if account_sid and not TWILIO_ACCOUNT_SID_PATTERN.match(account_sid):
        raise ValueError(f"{constants.CONTEXT_TWILIO_ACCOUNT_SID} {account_sid!r}: AC and 32 hexadecimal digits")
    if from_number and not is_e164(from_number):
        raise ValueError(f"{constants.CONTEXT_TWILIO_FROM_NUMBER} {from_number!r}: an E.164 number, e.g. +15551234567")
    return account_sid, from_number


def _public_api_url(given: str, *, protected: bool) -> str | None:
    """The base URL Twilio posts to, when it is not the API's own (a custom domain): Twilio signs the exact
    URL it calls, so the webhook must know it. None: the API's execute-api URL."""
    if not given:
        return None
    parts = urlsplit(given)
    if not _is_absolute_http_url(given) or parts.query or parts.fragment:
        raise ValueError(f"public API URL {given!r} is not an absolute http(s) URL without query or fragment")
    if protected and parts.scheme != "https":
        raise ValueError(f"public API URL {given!r}: protected stages need https")
    return given.rstrip("/")
