"""The system's e-mail sender in SES: the identity it sends under, the configuration set every message
(the functions' and Cognito's) goes out with, and who may send.

One stage per account and region owns the identity of its sender's domain (infra/sender_settings.py): it
creates a domain identity for emailFrom's domain with Easy DKIM, the administrator publishes its three DKIM
CNAME records (stack outputs) and SES verifies the domain; protected stages keep it when their stack is
deleted, since other stages may send under it. Every other stage names that identity (context `sesIdentity`,
also an address or domain the account verified by hand) and gets only the permissions and its own
configuration set: it never changes or deletes the identity. Cognito refuses an unverified identity, so an
owning stage keeps Cognito's default sender until its identity is verified (context `sesIdentityVerified`).

Partners' invitations may also go out from confirmed addresses of the deployment's sender domains (context
`senderDomains`): SES domain identities the administrator verifies, which the stack names but does not own.
Only the functions that send invitations may send from them.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ses as ses
from constructs import Construct

from infra.config import DeploymentConfig

# The IAM principal that sent a message (each function's role, Cognito's service role): bounces and
# complaints per sender, for the alarms.
BOUNCE_DIMENSION = ses.CloudWatchDimension(
    name="ses:caller-identity", source=ses.CloudWatchDimensionSource.MESSAGE_TAG, default_value="unknown"
)


class EmailSender(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig, name: str) -> None:
        super().__init__(scope, construct_id)
        self._email_from = config.email_from
        self.identity: ses.IEmailIdentity
        # The domain SES verified, when the identity is one (Cognito names a domain identity by it).
        self.verified_domain: str | None
        if config.ses_identity is not None:  # another stage's, or verified by hand: referenced by name only
            self.identity = ses.EmailIdentity.from_email_identity_name(self, "Identity", config.ses_identity)
            self.verified_domain = None if "@" in config.ses_identity else config.ses_identity
        else:
            created = ses.EmailIdentity(
                self,
                "Identity",
                identity=ses.Identity.domain(config.email_domain),
                dkim_identity=ses.DkimIdentity.easy_dkim(ses.EasyDkimSigningKeyLength.RSA_2048_BIT),
            )
            # Its name is the domain, whatever the stack: kept on protected stages, since other stages may send
            # under it (deleting it would delete its DKIM keys under them); a failed first deployment still
            # deletes it, so the retry can create it again.
            created.apply_removal_policy(config.removal_policy)
            self.identity = created
            self.verified_domain = config.email_domain
            for number, record in enumerate(created.dkim_records, start=1):
                CfnOutput(scope, f"DkimRecord{number}Name", value=record.name, description="CNAME record name")
                CfnOutput(scope, f"DkimRecord{number}Value", value=record.value, description="CNAME record value")
        self.cognito_may_send = config.sender_verified
        # The sender domains' identities; a domain that is the system's own identity is granted as that one.
        self.sender_domain_arns = [
            Stack.of(self).format_arn(service="ses", resource="identity", resource_name=domain)
            for domain in config.sender_domains
            if domain != (self.verified_domain or "").lower()
        ]

        self.configuration_set = ses.ConfigurationSet(
            self, "ConfigurationSet", configuration_set_name=name, reputation_metrics=True, sending_enabled=True
        )
        self.configuration_set.add_event_destination(
            "BouncesAndComplaints",
            destination=ses.EventDestination.cloud_watch_dimensions([BOUNCE_DIMENSION]),
            events=[ses.EmailSendingEvent.BOUNCE, ses.EmailSendingEvent.COMPLAINT],
        )
        self.configuration_set_arn = Stack.of(self).format_arn(
            service="ses", resource="configuration-set", resource_name=self.configuration_set.configuration_set_name
        )

    @property
    def configuration_set_name(self) -> str:
        return self.configuration_set.configuration_set_name

    def grant_send(self, role: iam.IRole, *other_identity_arns: str) -> None:
        """ses:SendEmail from the system's identity (and the others named): SES v2 authorizes a send against
        the identity and against the configuration set it names, so both are granted."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ses:SendEmail"],
                resources=[self.identity.email_identity_arn, *other_identity_arns, self.configuration_set_arn],
            )
        )

    def grant_send_invitations(self, role: iam.IRole) -> None:
        """ses:SendEmail from the system's identity and the sender domains' identities, nothing else."""
        self.grant_send(role, *self.sender_domain_arns)

    def user_pool_email(self) -> cognito.UserPoolEmail | None:
        """Cognito's invitations and password resets through SES, with the configuration set, once the identity
        is verified; None: Cognito's default sender (a few dozen messages a day)."""
        if not self.cognito_may_send:
            return None
        return cognito.UserPoolEmail.with_ses(
            from_email=self._email_from,
            ses_region=Stack.of(self).region,
            configuration_set_name=self.configuration_set_name,
            ses_verified_domain=self.verified_domain,
        )
