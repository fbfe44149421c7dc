"""The deployment as one stack per stage, and how the CDK app builds it from context values."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import cdk_nag
from aws_cdk import App, CfnOutput, RemovalPolicy, Stack, Tags, Validations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ses as ses
from constructs import Construct

from infra import constants, manifest
from infra.api import HttpApi
from infra.auth import Auth
from infra.files import FilesBucket
from infra.functions import FunctionDefaults, LambdaFunction, common_layer
from infra.leads import Leads
from infra.partners import Partners
from infra.payouts import Payouts
from infra.referrals import Referrals
from infra.status_sweep import StatusSweep
from infra.table import Table

STAGE_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TWILIO_ACCOUNT_SID_PATTERN = re.compile(r"^AC[0-9a-f]{32}$")
E164_PATTERN = re.compile(r"^\+[1-9][0-9]{6,14}$")
# SSM parameter names: letters, digits, _ . - and /; a name with a / is a path and starts with one.
SSM_PARAMETER_PATTERN = re.compile(r"^(/[A-Za-z0-9_.-]+)+$|^[A-Za-z0-9_.-]+$")


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

    @classmethod
    def from_context(cls, scope: Construct) -> DeploymentConfig:
        def context(key: str) -> Any:
            return scope.node.try_get_context(key)

        stage = str(context(constants.CONTEXT_STAGE) or constants.DEFAULT_STAGE)
        if not STAGE_PATTERN.match(stage):
            raise ValueError(f"stage {stage!r}: use 1-20 lower-case letters, digits or '-', starting with a letter")
        email_from = str(context(constants.CONTEXT_EMAIL_FROM) or "")
        if not EMAIL_PATTERN.match(email_from):
            raise ValueError(f"set the sender address with -c {constants.CONTEXT_EMAIL_FROM}=no-reply@your-domain")
        urls = context(constants.CONTEXT_PORTAL_CALLBACK_URLS) or []
        if isinstance(urls, str):  # `-c portalCallbackUrls=a,b` arrives as one string
            urls = urls.split(",")
        callback_urls = tuple(url.strip() for url in urls if url.strip())
        for url in callback_urls:
            if not _is_absolute_http_url(url):
                raise ValueError(f"portal callback URL {url!r} is not an absolute http(s) URL")
        protected = not constants.is_dev_stage(stage)
        portal_url = _portal_url(
            str(context(constants.CONTEXT_PORTAL_URL) or "").strip(), callback_urls, protected=protected
        )
        account_sid, from_number = _twilio_sender(
            str(context(constants.CONTEXT_TWILIO_ACCOUNT_SID) or "").strip(),
            str(context(constants.CONTEXT_TWILIO_FROM_NUMBER) or "").strip(),
            protected=protected,
        )
        token_parameter = str(context(constants.CONTEXT_TWILIO_AUTH_TOKEN_PARAMETER) or "").strip()
        token_parameter = token_parameter or constants.twilio_auth_token_parameter(stage)
        if not SSM_PARAMETER_PATTERN.match(token_parameter) or len(token_parameter) > 1011:
            raise ValueError(
                f"{constants.CONTEXT_TWILIO_AUTH_TOKEN_PARAMETER} {token_parameter!r} is not an SSM parameter name "
                "(letters, digits, _ . - and /; a path starts with /)"
            )
        return cls(
            stage,
            email_from,
            callback_urls,
            context(constants.CONTEXT_AUTH_DOMAIN_PREFIX) or None,
            portal_url,
            account_sid,
            from_number,
            token_parameter,
            _public_api_url(str(context(constants.CONTEXT_PUBLIC_API_URL) or "").strip(), protected=protected),
        )


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
    if from_number and not E164_PATTERN.match(from_number):
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


class PartnerProgrammeStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig, **kwargs: Any) -> None:
        super().__init__(
            scope,
            construct_id,
            description=f"Partner programme backend ({config.stage})",
            **kwargs,
        )
        name = f"{constants.RESOURCE_PREFIX}-{config.stage}"
        removal_policy = RemovalPolicy.RETAIN if config.protected else RemovalPolicy.DESTROY
        log_retention = logs.RetentionDays.THREE_MONTHS if config.protected else logs.RetentionDays.ONE_MONTH
        Tags.of(self).add("project", constants.RESOURCE_PREFIX)
        Tags.of(self).add("stage", config.stage)

        table = Table(self, "Data", protected=config.protected)
        auth = Auth(
            self,
            "Auth",
            pool_name=name,
            domain_prefix=config.auth_domain_prefix,
            callback_urls=list(config.portal_callback_urls),
            protected=config.protected,
        )
        # SES sends only after the address is verified (a link is mailed to it on deployment).
        sender = ses.EmailIdentity(self, "SenderIdentity", identity=ses.Identity.email(config.email_from))
        files = FilesBucket(self, "Files", allowed_origins=config.portal_origins, protected=config.protected)

        # Every function gets the whole set that common.settings reads (one settings model for all): the
        # token authorizer uses the issuer, keys, portal clients and scope; LeadsApi also the token URL,
        # which it hands out with partner companies' credentials; PartnersApi the files bucket, and the
        # partner functions the portal URL that e-mailed links start with; the referral functions and the
        # sweep the Twilio settings (the webhook URLs are added below, once the API exists).
        defaults = FunctionDefaults(
            layer=common_layer(self),
            environment={
                constants.ENV_STAGE: config.stage,
                constants.ENV_TABLE_NAME: table.table.table_name,
                constants.ENV_EMAIL_FROM: config.email_from,
                constants.ENV_USER_POOL_ID: auth.user_pool.user_pool_id,
                constants.ENV_LEAD_INTAKE_SCOPE: manifest.LEAD_INTAKE_SCOPE,
                constants.ENV_TOKEN_ISSUER: auth.issuer_url,
                constants.ENV_JWKS_URL: auth.jwks_url,
                constants.ENV_PORTAL_CLIENT_IDS: auth.portal_client.user_pool_client_id,
                constants.ENV_TOKEN_URL: auth.token_endpoint,
                constants.ENV_FILES_BUCKET: files.bucket.bucket_name,
                constants.ENV_PORTAL_URL: config.portal_url,
                constants.ENV_TWILIO_ACCOUNT_SID: config.twilio_account_sid,
                constants.ENV_TWILIO_FROM_NUMBER: config.twilio_from_number,
                constants.ENV_TWILIO_AUTH_TOKEN_PARAMETER: config.twilio_auth_token_parameter,
                constants.ENV_TWILIO_API_URL: constants.TWILIO_API_URL,
                constants.ENV_LOG_LEVEL: constants.LOG_LEVEL,
            },
            log_retention=log_retention,
            removal_policy=removal_policy,
        )
        leads = Leads(
            self,
            "Leads",
            table=table,
            user_pool=auth.user_pool,
            email_identity_arn=sender.email_identity_arn,
            defaults=defaults,
        )
        partners = Partners(
            self,
            "Partners",
            table=table,
            user_pool=auth.user_pool,
            files=files.bucket,
            email_identity_arn=sender.email_identity_arn,
            defaults=defaults,
        )
        # Created by the administrator (CloudFormation cannot create a SecureString): the stack only names it.
        auth_token_parameter_arn = self.format_arn(
            service="ssm", resource="parameter", resource_name=config.twilio_auth_token_parameter.lstrip("/")
        )
        referrals = Referrals(
            self,
            "Referrals",
            table=table,
            auth_token_parameter_arn=auth_token_parameter_arn,
            defaults=defaults,
        )
        payouts = Payouts(self, "Payouts", table=table, email_identity_arn=sender.email_identity_arn, defaults=defaults)
        status_sweep = StatusSweep(
            self, "StatusSweep", table=table, schedule_name=f"{name}-{manifest.STATUS_SWEEP.name}", defaults=defaults
        )
        # The sweep also reminds team members of customers due (texts and e-mails).
        referrals.grant_team_reminders(status_sweep.sweep, table=table, email_identity_arn=sender.email_identity_arn)
        # No permissions beyond logs and traces: it verifies tokens against the pool's public keys.
        token_authorizer = LambdaFunction(
            self, manifest.TOKEN_AUTHORIZER.name, spec=manifest.TOKEN_AUTHORIZER, defaults=defaults
        )
        functions = {
            manifest.LEADS_API.name: leads.api.function,
            manifest.LEADS_EVENTS.name: leads.events.function,
            manifest.PARTNERS_API.name: partners.api.function,
            manifest.PARTNERS_EVENTS.name: partners.events.function,
            manifest.REFERRALS_API.name: referrals.api.function,
            manifest.REFERRALS_EVENTS.name: referrals.events.function,
            manifest.SMS_WEBHOOK.name: referrals.sms_webhook.function,
            manifest.PAYOUTS_API.name: payouts.api.function,
            manifest.PAYOUTS_EVENTS.name: payouts.events.function,
            manifest.STATUS_SWEEP.name: status_sweep.sweep.function,
            manifest.TOKEN_AUTHORIZER.name: token_authorizer.function,
        }
        missing = {function.name for function in manifest.FUNCTIONS} - functions.keys()
        if missing:
            raise ValueError(f"manifest functions without a construct: {', '.join(sorted(missing))}")
        scheduled = {function.name for function in manifest.FUNCTIONS if function.kind == "schedule"}
        if scheduled != manifest.SCHEDULES.keys():
            raise ValueError("manifest.SCHEDULES must name exactly the functions of kind 'schedule'")

        api = HttpApi(
            self,
            "Api",
            api_name=name,
            functions=functions,
            allowed_origins=config.portal_origins,
            log_retention=log_retention,
            removal_policy=removal_policy,
        )

        # The URLs Twilio signs its requests for. Set after the API exists: they name the API only (not its
        # routes, whose integrations depend on these functions), so no circular dependency arises.
        public_base = config.public_api_url or api.endpoint
        sms_webhook_url = f"{public_base}{constants.SMS_WEBHOOK_PATH}"
        sms_status_url = f"{public_base}{constants.SMS_STATUS_PATH}"
        for function in functions.values():
            function.add_environment(constants.ENV_SMS_WEBHOOK_URL, sms_webhook_url)
            function.add_environment(constants.ENV_SMS_STATUS_URL, sms_status_url)

        CfnOutput(self, "ApiUrl", value=api.url)
        CfnOutput(self, "UserPoolId", value=auth.user_pool.user_pool_id)
        CfnOutput(self, "PortalClientId", value=auth.portal_client.user_pool_client_id)
        CfnOutput(self, "TokenEndpoint", value=auth.token_endpoint)
        CfnOutput(self, "TableName", value=table.table.table_name)
        CfnOutput(self, "LeadsEventsFailureQueueUrl", value=leads.failures.queue_url)
        CfnOutput(self, "PartnersEventsFailureQueueUrl", value=partners.failures.queue_url)
        CfnOutput(self, "ReferralsEventsFailureQueueUrl", value=referrals.failures.queue_url)
        CfnOutput(self, "PayoutsEventsFailureQueueUrl", value=payouts.failures.queue_url)
        CfnOutput(self, "SmsWebhookUrl", value=sms_webhook_url, description="Twilio number: A message comes in")
        CfnOutput(self, "TwilioAuthTokenParameter", value=config.twilio_auth_token_parameter)
        CfnOutput(self, "FilesBucketName", value=files.bucket.bucket_name)
        CfnOutput(self, "StatusSweepScheduleName", value=status_sweep.schedule.ref)


def register_checks(app: App) -> None:
    """AWS Solutions checks run at synthesis: an unacknowledged finding fails `cdk synth` and is listed
    in the assembly's validation-report.json. Acknowledgments sit next to the resources they concern."""
    Validations.of(app).add_plugins(cdk_nag.AwsSolutionsChecks(app))


def add_stack(app: App) -> PartnerProgrammeStack:
    """The stack of the stage named in the context, checked by cdk-nag at synthesis."""
    config = DeploymentConfig.from_context(app)
    stack = PartnerProgrammeStack(app, constants.stack_name(config.stage), config=config)
    register_checks(app)
    return stack
