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
from infra.status_sweep import StatusSweep
from infra.table import Table

STAGE_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


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
        portal_url = _portal_url(
            str(context(constants.CONTEXT_PORTAL_URL) or "").strip(),
            callback_urls,
            protected=not constants.is_dev_stage(stage),
        )
        return cls(
            stage,
            email_from,
            callback_urls,
            context(constants.CONTEXT_AUTH_DOMAIN_PREFIX) or None,
            portal_url,
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
        # partner functions the portal URL that e-mailed links start with.
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
        status_sweep = StatusSweep(
            self, "StatusSweep", table=table, schedule_name=f"{name}-{manifest.STATUS_SWEEP.name}", defaults=defaults
        )
        # No permissions beyond logs and traces: it verifies tokens against the pool's public keys.
        token_authorizer = LambdaFunction(
            self, manifest.TOKEN_AUTHORIZER.name, spec=manifest.TOKEN_AUTHORIZER, defaults=defaults
        )
        functions = {
            manifest.LEADS_API.name: leads.api.function,
            manifest.LEADS_EVENTS.name: leads.events.function,
            manifest.PARTNERS_API.name: partners.api.function,
            manifest.PARTNERS_EVENTS.name: partners.events.function,
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

        CfnOutput(self, "ApiUrl", value=api.url)
        CfnOutput(self, "UserPoolId", value=auth.user_pool.user_pool_id)
        CfnOutput(self, "PortalClientId", value=auth.portal_client.user_pool_client_id)
        CfnOutput(self, "TokenEndpoint", value=auth.token_endpoint)
        CfnOutput(self, "TableName", value=table.table.table_name)
        CfnOutput(self, "LeadsEventsFailureQueueUrl", value=leads.failures.queue_url)
        CfnOutput(self, "PartnersEventsFailureQueueUrl", value=partners.failures.queue_url)
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
