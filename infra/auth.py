"""Cognito: the user pool for staff, partners and team members; the `operators` group (the only users who
may create organisations); the portal's app client; the `leads` resource server whose scope partner-company
systems ask for with client credentials; and the domain that serves the OAuth token endpoint.

Partner-company app clients are not defined here: the LeadsApi function creates one per company at run
time (CreateUserPoolClient) when an admin issues credentials.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Aws, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from common.orgs import sign_in
from common.orgs.access import OPERATORS_GROUP
from constructs import Construct

from infra import constants, manifest


class Auth(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pool_name: str,
        domain_prefix: str | None,
        callback_urls: list[str],
        removal_policy: RemovalPolicy,
        deletion_protection: bool,
        email: cognito.UserPoolEmail | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            # A label, not an identifier: Cognito allows several pools of one name (the pool id tells them apart),
            # so a pool an earlier stack left behind never blocks a new one.
            user_pool_name=pool_name,
            self_sign_up_enabled=False,  # accounts are created by administrators
            sign_in_aliases=cognito.SignInAliases(email=True),
            sign_in_case_sensitive=False,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            # Optional: partners are not forced. Staff who move money must set one up on protected stages
            # (common.orgs.access): an authenticator app (TOTP), or e-mailed codes where Cognito sends through
            # SES (the Essentials plan offers e-mail MFA only with SES as the sender); never SMS.
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False, email=email is not None),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.ESSENTIALS,
            email=email,  # None: Cognito's default sender
            deletion_protection=deletion_protection,
            removal_policy=removal_policy,
        )
        Validations.of(self.user_pool).acknowledge(
            Acknowledgment(
                id="AwsSolutions-COG2",
                reason="MFA is optional (TOTP, and e-mail codes once Cognito sends through SES): partners and "
                "team members sign in from devices the organisation does not manage, and requiring a second "
                "factor would lock them out of the portal; staff whose permissions move money are refused "
                "those routes until they set one up (moneyMfaRequired, on by default on protected stages).",
            ),
            Acknowledgment(
                id="AwsSolutions-COG8",
                reason="The Essentials feature plan is used because Plus (threat protection) is billed per "
                "monthly active user; switch feature_plan to PLUS where that cost is accepted.",
            ),
        )

        # Its members' tokens carry it (`cognito:groups`); the deployer adds the first operator (docs/deploy.md).
        self.operators = self.user_pool.add_group(
            "OperatorsGroup",
            group_name=OPERATORS_GROUP,
            description="Operators of the deployment: they create the organisations (tenants)",
        )

        self.lead_intake_scope = cognito.ResourceServerScope(
            scope_name=manifest.LEAD_INTAKE_SCOPE_NAME,
            scope_description="Post leads to an organisation as a partner company",
        )
        self.resource_server = self.user_pool.add_resource_server(
            "LeadsResourceServer",
            identifier=manifest.LEAD_INTAKE_RESOURCE_SERVER,
            scopes=[self.lead_intake_scope],
        )

        self.portal_client = self.user_pool.add_client(
            "PortalClient",
            generate_secret=False,  # a single-page app cannot keep a secret
            # SRP for the browser; ADMIN_USER_PASSWORD_AUTH needs AWS credentials (AdminInitiateAuth) and
            # lets an administrator sign in from a shell, e.g. to create the first organisation.
            auth_flows=cognito.AuthFlow(user_srp=True, admin_user_password=True),
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            access_token_validity=Duration.minutes(constants.PORTAL_TOKEN_MINUTES),
            id_token_validity=Duration.minutes(constants.PORTAL_TOKEN_MINUTES),
            refresh_token_validity=Duration.days(constants.PORTAL_REFRESH_TOKEN_DAYS),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            o_auth=_portal_hosted_sign_in(callback_urls),
            disable_o_auth=not callback_urls,
        )

        # The prefix must be unique in the region; the account id makes the default one unique.
        self.domain = self.user_pool.add_domain(
            "Domain",
            cognito_domain=cognito.CognitoDomainOptions(domain_prefix=domain_prefix or f"{pool_name}-{Aws.ACCOUNT_ID}"),
        )

        region = Stack.of(self).region
        self.issuer_url = f"https://cognito-idp.{region}.amazonaws.com/{self.user_pool.user_pool_id}"
        self.jwks_url = f"{self.issuer_url}/.well-known/jwks.json"
        self.token_endpoint = f"{self.domain.base_url()}/oauth2/token"

    @staticmethod
    def grant_sign_in_reads(role: iam.IRole, table_arn: str) -> None:
        """GetItem on users' sign-in records only (their partition keys' prefix): the token authorizer reads
        whether a token's sign-in was ended and whether the user set up MFA, and nothing else of the table."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem"],
                resources=[table_arn],
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{sign_in.PARTITION_PREFIX}*"]}},
            )
        )


def _portal_hosted_sign_in(callback_urls: list[str]) -> cognito.OAuthSettings | None:
    """Hosted sign-in (authorization code with PKCE) once the portal's callback URLs are known; without
    them the portal signs in with SRP and no redirect URL is registered."""
    if not callback_urls:
        return None
    return cognito.OAuthSettings(
        flows=cognito.OAuthFlows(authorization_code_grant=True),
        # COGNITO_ADMIN (aws.cognito.signin.user.admin) lets the portal's own tokens call Cognito's
        # self-service operations, which setting up MFA (AssociateSoftwareToken, VerifySoftwareToken,
        # SetUserMFAPreference) needs: tokens of the SRP sign-in carry it anyway, hosted sign-in's only if asked.
        scopes=[
            cognito.OAuthScope.OPENID,
            cognito.OAuthScope.EMAIL,
            cognito.OAuthScope.PROFILE,
            cognito.OAuthScope.COGNITO_ADMIN,
        ],
        callback_urls=callback_urls,
        logout_urls=callback_urls,
    )
