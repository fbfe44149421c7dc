"""Edge protection in the stage's own region, as a nested stack (CloudFormation counts its resources apart from
the main stack's): CloudFront in front of the API, the origin secret it sends, the API's regional custom
domain it reaches, and AWS WAF on the Cognito user pool. The API's web ACL is in us-east-1
(infra/edge_stack.py); infra/waf.py has the rules of both.

- The API's execute-api endpoint is disabled (infra/api.py), so it answers only at its custom domain
  (`apiDomainName`), which is CloudFront's origin: HTTPS and TLS 1.2 only, nothing cached, every viewer header
  but Host forwarded (API Gateway routes a custom domain by its own name), the Authorization header included.
- CloudFront adds ORIGIN_HEADER with the value of a secret Secrets Manager generates. The token authorizer
  and the API functions refuse a request without it (common.web.edge_origin; on routes with the authorizer,
  whose identity sources include the header, API Gateway answers 401 without invoking anything), so calling
  the custom domain directly, past WAF, gets nowhere. CloudFront gets the value through a dynamic
  reference (CloudFormation reads it when it creates or updates the distribution; it is in no template); the
  functions read it from Secrets Manager at run time.
- The user pool's web ACL is associated with the pool: it covers Cognito's sign-in API and its domain's
  endpoints, the token endpoint among them.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Acknowledgment, CfnOutput, NestedStack, RemovalPolicy, SecretValue, Stack, Validations
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_wafv2 as wafv2
from common.platform.settings import env_name
from common.web.edge_origin import ORIGIN_HEADER
from constructs import Construct

from infra import manifest
from infra.api import HttpApi
from infra.config import DeploymentConfig
from infra.edge_settings import EdgeSettings
from infra.edge_stack import EdgeStack
from infra.waf import sign_in_web_acl

# Long and random: it is the only thing a direct request would have to guess.
ORIGIN_SECRET_LENGTH = 64
READ_ACTION = "secretsmanager:GetSecretValue"
# What API Gateway invokes: the routes' functions and the token authorizer. Each checks the origin secret.
GUARDED = frozenset({route.function for route in manifest.ROUTES} | {manifest.TOKEN_AUTHORIZER.name})


class Edge(NestedStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        settings: EdgeSettings,
        user_pool: cognito.IUserPool,
        web_acl_arn: str,
    ) -> None:
        super().__init__(scope, construct_id, description=f"Edge protection of the partner programme ({config.stage})")
        self.settings = settings
        self.origin_secret = secretsmanager.Secret(
            self,
            "OriginSecret",
            description=f"Sent by CloudFront with every request to the {config.stage} API, which refuses others",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=ORIGIN_SECRET_LENGTH, exclude_punctuation=True
            ),
            removal_policy=RemovalPolicy.DESTROY,  # guards the distribution of this stack, nothing beyond it
        )
        Validations.of(self.origin_secret).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SMG4",
                reason="Rotated by the operator (docs/deploy.md, Edge protection): CloudFront's copy is set by "
                "CloudFormation, which reads the secret again only when the reference changes, so a rotation "
                "function changing it behind CloudFormation's back would be undone by the next deployment.",
            )
        )
        self.api_domain = apigwv2.DomainName(
            self,
            "ApiDomain",
            domain_name=settings.api_domain_name,
            certificate=acm.Certificate.from_certificate_arn(self, "ApiCertificate", settings.api_certificate_arn),
            endpoint_type=apigwv2.EndpointType.REGIONAL,
            security_policy=apigwv2.SecurityPolicy.TLS_1_2,
        )
        self.distribution = self._distribution(config, settings, web_acl_arn)
        sign_in_acl = sign_in_web_acl(self, "SignInWebAcl", metric_prefix=f"{config.resource_name}-sign-in")
        wafv2.CfnWebACLAssociation(
            self, "SignInWebAclAssociation", resource_arn=user_pool.user_pool_arn, web_acl_arn=sign_in_acl.attr_arn
        )

    def _distribution(
        self, config: DeploymentConfig, settings: EdgeSettings, web_acl_arn: str
    ) -> cloudfront.Distribution:
        # Versionless until the operator rotates the secret and names the new version: a changed reference is
        # what makes CloudFormation read the secret again.
        origin_secret = SecretValue.secrets_manager(
            self.origin_secret.secret_arn, version_id=settings.origin_secret_version
        )
        origin = origins.HttpOrigin(
            settings.api_domain_name,
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
            origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
            custom_headers={ORIGIN_HEADER: origin_secret.unsafe_unwrap()},  # resolved by CloudFormation only
        )
        public_name = settings.public_domain_name
        certificate = (
            acm.Certificate.from_certificate_arn(self, "PublicCertificate", settings.public_certificate_arn)
            if settings.public_certificate_arn
            else None
        )
        distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"Partner programme API ({config.stage})",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origin,
                # Redirecting would lose a POST's body: plain HTTP is refused outright.
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                # Every viewer header (Authorization too, with caching disabled) but Host, whose name must be
                # the custom domain's for API Gateway to route it; every query string and cookie.
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                compress=False,  # answers are not cached; the cache policy decides compression anyway
            ),
            web_acl_id=web_acl_arn,
            domain_names=[public_name] if public_name else None,
            certificate=certificate,
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if certificate else None,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
        )
        acknowledgments = [
            Acknowledgment(
                id="AwsSolutions-CFR1",
                reason="No geographic restriction: partners, their teams and partner companies' systems may call "
                "from any country; AWS WAF's IP reputation list and per-IP rate limits stand in front instead.",
            ),
            Acknowledgment(
                id="AwsSolutions-CFR3",
                reason="No CloudFront access logs: they record every client's IP address and user agent, which "
                "we keep out of logs (the API's access log has neither); WAF's metrics per rule and sampled "
                "requests show what is blocked, and the API's access log what reached it.",
            ),
        ]
        if not certificate:
            acknowledgments.append(
                Acknowledgment(
                    id="AwsSolutions-CFR4",
                    reason="CloudFront's own *.cloudfront.net certificate always allows TLS 1.0 and up (CloudFront "
                    "sets that security policy itself); a stage that names publicDomainName with a us-east-1 "
                    "certificate gets TLS 1.2 at least. Clients negotiate the highest version they share.",
                )
            )
        Validations.of(distribution).acknowledge(*acknowledgments)
        return distribution

    @property
    def public_url(self) -> str:
        """The API's public base URL, without a trailing slash: the public name, or CloudFront's own."""
        return f"https://{self.settings.public_domain_name or self.distribution.distribution_domain_name}"

    def map_api(self, scope: Construct, api: HttpApi) -> apigwv2.ApiMapping:
        """The API's default stage at the custom domain's root, made in `scope` (the main stack, which holds the
        stage: the stage depends on routes that depend on functions that depend on this stack)."""
        return apigwv2.ApiMapping(scope, "ApiDomainMapping", api=api.api, domain_name=self.api_domain, stage=api.stage)

    def guard(self, functions: Mapping[str, lambda_.Function]) -> None:
        """The functions API Gateway invokes refuse requests that did not come through CloudFront: each may read
        the origin secret and is told which secret that is."""
        secret_arn = self.origin_secret.secret_arn
        for function in (functions[name] for name in sorted(GUARDED)):
            function.add_to_role_policy(iam.PolicyStatement(actions=[READ_ACTION], resources=[secret_arn]))
            function.add_environment(env_name("origin_secret_arn"), secret_arn)

    def add_outputs(self, stack: Stack) -> None:
        """What the operator publishes in DNS and rotates (docs/deploy.md, Edge protection)."""
        CfnOutput(
            stack,
            "ApiOriginDnsTarget",
            value=self.api_domain.regional_domain_name,
            description=f"CNAME target of {self.settings.api_domain_name}, CloudFront's origin",
        )
        CfnOutput(
            stack,
            "DistributionDomainName",
            value=self.distribution.distribution_domain_name,
            description="CloudFront's own name; the CNAME target of publicDomainName where it is set",
        )
        CfnOutput(stack, "OriginSecretArn", value=self.origin_secret.secret_arn, description="docs/deploy.md: rotate")


def edge_protection(
    stack: Stack, *, config: DeploymentConfig, user_pool: cognito.IUserPool, edge_stack: EdgeStack | None
) -> Edge | None:
    """The stage's edge protection in `stack`, reading its web ACL from `edge_stack`; None where the stage has
    none (a dev stage without the settings)."""
    if config.edge is None:
        return None
    if edge_stack is None:
        raise ValueError("edge protection needs the stage's edge stack in us-east-1 (infra.stack.add_stack makes it)")
    return Edge(
        stack,
        "Edge",
        config=config,
        settings=config.edge,
        user_pool=user_pool,
        web_acl_arn=edge_stack.web_acl_arn(stack),
    )
