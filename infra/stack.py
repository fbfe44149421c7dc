"""The deployment as one stack per stage, built from the stage's settings (infra/config.py)."""

from __future__ import annotations

from typing import Any

import cdk_nag
from aws_cdk import App, CfnOutput, Stack, Tags, Validations
from common.platform.settings import environment
from common.web.edge_origin import ORIGIN_HEADER
from constructs import Construct

from infra import constants, manifest
from infra.api import HttpApi
from infra.auth import Auth
from infra.changes import StreamDispatcher
from infra.config import DeploymentConfig
from infra.edge import edge_protection
from infra.edge_stack import EdgeStack
from infra.files import FilesBucket
from infra.functions import FunctionDefaults, LambdaFunction, common_layer
from infra.integrations import Integrations
from infra.leads import Leads
from infra.monitoring import Monitoring
from infra.partners import Partners
from infra.payouts import Payouts
from infra.referrals import Referrals
from infra.releases import Releases, released_by_canary
from infra.sender import EmailSender
from infra.status_sweep import StatusSweep
from infra.table import Table


class PartnerProgrammeStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        edge_stack: EdgeStack | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description=f"Partner programme backend ({config.stage})",
            **kwargs,
        )
        name = config.resource_name
        Tags.of(self).add("project", constants.RESOURCE_PREFIX)
        Tags.of(self).add("stage", config.stage)

        table = Table(
            self,
            "Data",
            removal_policy=config.removal_policy,
            deletion_protection=config.deletion_protection,
            backups=config.protected,
        )
        sender = EmailSender(self, "Sender", config=config, name=name)
        auth = Auth(
            self,
            "Auth",
            pool_name=name,
            domain_prefix=config.auth_domain_prefix,
            callback_urls=list(config.portal_callback_urls),
            removal_policy=config.removal_policy,
            deletion_protection=config.deletion_protection,
            email=sender.user_pool_email(),
        )
        # CloudFront and AWS WAF in front of the API and the user pool (infra/edge.py), where the stage has them.
        edge = edge_protection(self, config=config, user_pool=auth.user_pool, edge_stack=edge_stack)
        files = FilesBucket(self, "Files", allowed_origins=config.portal_origins, removal_policy=config.removal_policy)

        # Every function gets every setting (common.platform.settings) and validates at its cold start the
        # groups it reads: the token authorizer the issuer, keys and portal clients; LeadsApi the pool and
        # the token URL it hands out with partner companies' credentials; PartnersApi the pool and the files
        # bucket; the functions that e-mail links the portal URL; the referral functions the Twilio settings
        # (the webhook URLs are added below, once the API exists).
        defaults = FunctionDefaults(
            layer=common_layer(self),
            environment={
                **config.function_environment,
                **environment(
                    table_name=table.table.table_name,
                    ses_configuration_set=sender.configuration_set_name,
                    user_pool_id=auth.user_pool.user_pool_id,
                    token_issuer=auth.issuer_url,
                    jwks_url=auth.jwks_url,
                    portal_client_ids=auth.portal_client.user_pool_client_id,
                    token_url=auth.token_endpoint,
                    files_bucket=files.bucket.bucket_name,
                ),
            },
            log_retention=config.log_retention,
            removal_policy=config.removal_policy,
        )
        leads = Leads(
            self,
            "Leads",
            table=table,
            user_pool=auth.user_pool,
            sender=sender,
            company_secret_prefix=config.company_secret_prefix,
            defaults=defaults,
        )
        partners = Partners(
            self,
            "Partners",
            table=table,
            user_pool=auth.user_pool,
            files=files.bucket,
            sender=sender,
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
        payouts = Payouts(self, "Payouts", table=table, sender=sender, defaults=defaults)
        integrations = Integrations(
            self, "Integrations", table=table, sender=sender, user_pool=auth.user_pool, defaults=defaults
        )
        # A sale post's resend hands the delivery to the outbound engine's queue.
        integrations.deliveries.grant_send(leads.api)
        status_sweep = StatusSweep(
            self,
            "StatusSweep",
            table=table,
            sender=sender,
            schedule_name=f"{name}-{manifest.STATUS_SWEEP.name}",
            defaults=defaults,
        )
        # The sweep's work texts team members their reminders and leaders their digests.
        referrals.grant_auth_token(status_sweep.work)
        # The delivery engine posts sales to receivers that issued us client credentials.
        leads.grant_company_secret_reads(integrations.deliveries.function, config.company_secret_prefix)
        consumers = (leads, partners, referrals, payouts, integrations)
        stream = StreamDispatcher(
            self,
            "Changes",
            table=table,
            queues={domain.events.spec.name: domain.changes for domain in consumers},
            defaults=defaults,
        )
        # It verifies tokens against the pool's public keys, and reads users' sign-in records only.
        token_authorizer = LambdaFunction(
            self, manifest.TOKEN_AUTHORIZER.name, spec=manifest.TOKEN_AUTHORIZER, defaults=defaults
        )
        auth.grant_sign_in_reads(token_authorizer.role, table.table.table_arn)
        built = {
            manifest.STREAM_DISPATCHER.name: stream.dispatcher,
            manifest.LEADS_API.name: leads.api,
            manifest.LEADS_EVENTS.name: leads.events,
            manifest.PARTNERS_API.name: partners.api,
            manifest.PARTNERS_EVENTS.name: partners.events,
            manifest.REFERRALS_API.name: referrals.api,
            manifest.REFERRALS_EVENTS.name: referrals.events,
            manifest.SMS_WEBHOOK.name: referrals.sms_webhook,
            manifest.PAYOUTS_API.name: payouts.api,
            manifest.PAYOUTS_EVENTS.name: payouts.events,
            manifest.INTEGRATIONS_API.name: integrations.api,
            manifest.INTEGRATIONS_EVENTS.name: integrations.events,
            manifest.STATUS_SWEEP.name: status_sweep.sweep,
            manifest.STATUS_SWEEP_WORK.name: status_sweep.work,
            manifest.WEBHOOK_DELIVERY.name: integrations.deliveries.function,
            manifest.TOKEN_AUTHORIZER.name: token_authorizer,
        }
        functions = {name: construct.function for name, construct in built.items()}
        missing = {function.name for function in manifest.FUNCTIONS} - functions.keys()
        if missing:
            raise ValueError(f"manifest functions without a construct: {', '.join(sorted(missing))}")
        if edge:
            edge.guard(functions)
        scheduled = {function.name for function in manifest.FUNCTIONS if function.kind == "schedule"}
        if scheduled != manifest.SCHEDULES.keys():
            raise ValueError("manifest.SCHEDULES must name exactly the functions of kind 'schedule'")

        api = HttpApi(
            self,
            "Api",
            api_name=name,
            functions={name: construct.live for name, construct in built.items()},
            allowed_origins=config.portal_origins,
            log_retention=config.log_retention,
            removal_policy=config.removal_policy,
            edge_origin_header=ORIGIN_HEADER if edge else None,
        )
        if edge:
            edge.map_api(self, api)

        # The URLs Twilio signs its requests for. Set after the API exists: they name the API only (not its
        # routes, whose integrations depend on these functions), so no circular dependency arises.
        sms_webhook_url, sms_status_url = config.sms_urls(edge.public_url if edge else api.endpoint)
        for function in functions.values():
            for variable, value in environment(sms_webhook_url=sms_webhook_url, sms_status_url=sms_status_url).items():
                function.add_environment(variable, value)

        CfnOutput(self, "ApiUrl", value=f"{edge.public_url}/" if edge else api.url)
        if edge:
            edge.add_outputs(self)
        CfnOutput(self, constants.OUTPUT_REGION, value=self.region)
        CfnOutput(self, "CognitoDomain", value=auth.domain.base_url(), description="Cognito's hosted sign-in")
        CfnOutput(self, "UserPoolId", value=auth.user_pool.user_pool_id)
        CfnOutput(self, "PortalClientId", value=auth.portal_client.user_pool_client_id)
        CfnOutput(self, "TokenEndpoint", value=auth.token_endpoint)
        # The operator tools (ops/) find the stage by these: `make verify-ledger` reads the table, `make
        # redrive` moves each consumer's dead letters back to its queue, `make replay` reads the records the
        # dispatcher gave up on (named in its failure queue) back from the stream.
        CfnOutput(self, constants.OUTPUT_TABLE_NAME, value=table.table.table_name)
        if table.table.table_stream_arn is None:
            raise ValueError("the table has no stream for the dispatcher to read")
        CfnOutput(self, constants.OUTPUT_TABLE_STREAM_ARN, value=table.table.table_stream_arn)
        for domain in consumers:
            name = domain.events.spec.name
            CfnOutput(self, constants.consumer_queue_output(name), value=domain.changes.queue.queue_url)
            CfnOutput(
                self, constants.consumer_dead_letter_queue_output(name), value=domain.changes.dead_letters.queue_url
            )
        CfnOutput(self, constants.OUTPUT_STREAM_FAILURE_QUEUE_URL, value=stream.failures.queue_url)
        CfnOutput(self, "SmsWebhookUrl", value=sms_webhook_url, description="Twilio number: A message comes in")
        CfnOutput(self, "TwilioAuthTokenParameter", value=config.twilio_auth_token_parameter)
        CfnOutput(self, "FilesBucketName", value=files.bucket.bucket_name)
        if table.backups:
            CfnOutput(self, "BackupVaultName", value=table.backups.vault.backup_vault_name)
        CfnOutput(self, "StatusSweepScheduleName", value=status_sweep.schedule.ref)
        CfnOutput(self, "StatusSweepFailureQueueUrl", value=status_sweep.failures.queue_url)
        CfnOutput(self, "StatusSweepWorkDeadLetterQueueUrl", value=status_sweep.work_queue.dead_letters.queue_url)
        CfnOutput(self, "WebhookDeliveryDeadLetterQueueUrl", value=integrations.deliveries.queue.dead_letters.queue_url)
        # Last: it watches whatever the stack holds by now.
        canaried = [construct for construct in built.values() if released_by_canary(construct.spec)]
        monitoring = Monitoring(self, "Monitoring", config=config, released=canaried)
        # The functions that answer callers release by canary, rolled back on errors; the others at once.
        releases = Releases(self, "Releases")
        for construct in canaried:
            releases.by_canary(construct, monitoring.release_alarms[construct.spec.name])


def register_checks(app: App) -> None:
    """AWS Solutions checks run at synthesis: an unacknowledged finding fails `cdk synth` and is listed
    in the assembly's validation-report.json. Acknowledgments sit next to the resources they concern."""
    Validations.of(app).add_plugins(cdk_nag.AwsSolutionsChecks(app))


def add_stack(app: App) -> PartnerProgrammeStack:
    """The stacks of the stage named in the context, checked by cdk-nag at synthesis: the main one, returned,
    and on a stage with edge protection its edge stack in us-east-1."""
    config = DeploymentConfig.from_context(app)
    # The stage's second stack, in us-east-1, where it has edge protection (infra/edge_stack.py).
    edge_stack = EdgeStack(app, config=config) if config.edge else None
    stack = PartnerProgrammeStack(
        app, constants.stack_name(config.stage), config=config, edge_stack=edge_stack, env=config.environment
    )
    register_checks(app)
    return stack
