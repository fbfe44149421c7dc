"""Edge protection on protected stages: CloudFront with AWS WAF in front of the API (the web ACL in a us-east-1
stack of its own, read across regions), the execute-api endpoint off behind a regional custom domain, the origin
secret every function API Gateway invokes checks, WAF on the user pool; and none of it on a dev stage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cdk_nag
import pytest
from cfnlint.api import lint_file
from cfnlint.config import ManualArgs
from common.platform.settings import env_name
from common.web.edge_origin import ORIGIN_HEADER

from infra import constants, manifest, waf
from infra.config import DeploymentConfig, StageSettingsError
from infra.edge import GUARDED, READ_ACTION
from infra.edge_settings import EdgeSettings
from infra.edge_stack import WEB_ACL_ARN_OUTPUT
from tests.infra.conftest import PROD_CONTEXT, Synth, synthesize
from tests.infra.test_checks import acknowledgments

pytestmark = pytest.mark.infra

EDGE_STACK = constants.edge_stack_name("prod")
PUBLIC_NAME = "api.partners.example.com"
PUBLIC_CONTEXT = {
    **PROD_CONTEXT,
    "publicDomainName": PUBLIC_NAME,
    "publicCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/7c1f4f0e-2b7a-4c56-8d8e-3f1a2b3c4d5e",
    "originSecretVersion": "3f0e9b0c-1d2e-4f5a-8b6c-7d8e9f0a1b2c",
}
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # CloudFront's managed cache policy
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # its managed origin request policy


@pytest.fixture(scope="module")
def public_name(layer: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(tmp_path_factory.mktemp("cdk-public-name"), PUBLIC_CONTEXT)


def edge_template(synth: Synth) -> dict[str, Any]:
    return json.loads((synth.outdir / f"{EDGE_STACK}.template.json").read_text())


def nested_edge(synth: Synth) -> dict[str, Any]:
    return synth.nested_templates()["Edge"]


def of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def only(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    (found,) = of_type(template, resource_type).items()
    return found


def rules(web_acl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rule["Name"]: rule for rule in web_acl["Properties"]["Rules"]}


def nested_output(synth: Synth, resource_type: str, attribute: str | None = None) -> dict[str, Any]:
    """How the main stack reads the nested edge stack's only resource of a type: its Ref, or an attribute."""
    (nested_id, _) = _edge_stack_resource(synth)
    logical_id, _ = only(nested_edge(synth), resource_type)
    value = {"Ref": logical_id} if attribute is None else {"Fn::GetAtt": [logical_id, attribute]}
    (output,) = [name for name, output in nested_edge(synth)["Outputs"].items() if output["Value"] == value]
    return {"Fn::GetAtt": [nested_id, f"Outputs.{output}"]}


def _edge_stack_resource(synth: Synth) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (k, v)
        for k, v in synth.resources("AWS::CloudFormation::Stack").items()
        if v["Metadata"]["aws:cdk:path"].endswith("/Edge.NestedStack/Edge.NestedStackResource")
    ]
    return found


# -- the stacks ----------------------------------------------------------------------------------


def test_a_protected_stage_has_an_edge_stack_in_us_east_1_deployed_first(prod: Synth) -> None:
    stacks = {stack.stack_name: stack for stack in prod.app.node.children if hasattr(stack, "stack_name")}
    edge = stacks[EDGE_STACK]

    assert set(stacks) == {EDGE_STACK, constants.stack_name("prod")}
    assert edge.region == "us-east-1"
    assert edge in prod.stack.dependencies  # `cdk deploy --all` deploys it first
    assert edge_template(prod)["Outputs"][WEB_ACL_ARN_OUTPUT]["Value"] == {
        "Fn::GetAtt": [only(edge_template(prod), "AWS::WAFv2::WebACL")[0], "Arn"]
    }


def test_a_dev_stage_keeps_the_execute_api_endpoint_and_has_no_edge(dev: Synth) -> None:
    (_, api) = dev.only("AWS::ApiGatewayV2::Api")
    (_, authorizer) = dev.only("AWS::ApiGatewayV2::Authorizer")

    assert [stack.stack_name for stack in dev.app.node.children if hasattr(stack, "stack_name")] == [
        constants.stack_name("dev")
    ]
    assert not api["Properties"].get("DisableExecuteApiEndpoint", False)
    assert authorizer["Properties"]["IdentitySource"] == ["$request.header.Authorization"]
    assert "Edge" not in dev.nested_templates()
    assert not dev.resources("AWS::ApiGatewayV2::ApiMapping")
    for spec in manifest.FUNCTIONS:
        variables = dev.function(spec.name)[1]["Properties"]["Environment"]["Variables"]
        assert variables[env_name("origin_secret_arn")] == "", spec.name  # nothing checked


# -- the API behind CloudFront -------------------------------------------------------------------


def test_the_execute_api_endpoint_is_off_and_the_api_answers_at_its_custom_domain(prod: Synth) -> None:
    (api_id, api) = prod.only("AWS::ApiGatewayV2::Api")
    (stage_id, _) = prod.only("AWS::ApiGatewayV2::Stage")
    (_, mapping) = prod.only("AWS::ApiGatewayV2::ApiMapping")  # in the main stack, which holds the stage
    (_, domain) = only(nested_edge(prod), "AWS::ApiGatewayV2::DomainName")

    assert api["Properties"]["DisableExecuteApiEndpoint"] is True
    assert domain["Properties"]["DomainName"] == PROD_CONTEXT["apiDomainName"]
    assert domain["Properties"]["DomainNameConfigurations"] == [
        {"CertificateArn": PROD_CONTEXT["apiCertificateArn"], "EndpointType": "REGIONAL", "SecurityPolicy": "TLS_1_2"}
    ]
    assert mapping["Properties"]["ApiId"] == {"Ref": api_id}
    assert mapping["Properties"]["Stage"] == "$default"
    assert mapping["Properties"]["DomainName"] == nested_output(prod, "AWS::ApiGatewayV2::DomainName")
    assert stage_id in mapping["DependsOn"]


def test_cloudfront_reaches_the_custom_domain_with_the_origin_secret_and_caches_nothing(prod: Synth) -> None:
    (secret_id, secret) = only(nested_edge(prod), "AWS::SecretsManager::Secret")
    (_, distribution) = only(nested_edge(prod), "AWS::CloudFront::Distribution")
    config = distribution["Properties"]["DistributionConfig"]
    (origin,) = config["Origins"]
    behavior = config["DefaultCacheBehavior"]

    assert origin["DomainName"] == PROD_CONTEXT["apiDomainName"]
    assert origin["CustomOriginConfig"] == {"OriginProtocolPolicy": "https-only", "OriginSSLProtocols": ["TLSv1.2"]}
    (header,) = origin["OriginCustomHeaders"]
    assert header["HeaderName"] == ORIGIN_HEADER
    # A dynamic reference: CloudFormation reads the value, the template never holds it.
    assert header["HeaderValue"] == {
        "Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": secret_id}, ":SecretString:::}}"]]
    }
    assert secret["Properties"]["GenerateSecretString"] == {"ExcludePunctuation": True, "PasswordLength": 64}
    assert behavior["ViewerProtocolPolicy"] == "https-only"
    assert set(behavior["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
    assert behavior["CachePolicyId"] == CACHING_DISABLED
    assert behavior["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert "Aliases" not in config and "ViewerCertificate" not in config  # CloudFront's own name


def test_cloudfront_uses_the_web_acl_of_the_edge_stack_read_across_regions(prod: Synth) -> None:
    (_, distribution) = only(nested_edge(prod), "AWS::CloudFront::Distribution")

    assert distribution["Properties"]["DistributionConfig"]["WebACLId"] == {
        "Fn::GetStackOutput": {"StackName": EDGE_STACK, "OutputName": WEB_ACL_ARN_OUTPUT, "Region": "us-east-1"}
    }


def test_the_api_web_acl_has_ip_reputation_rate_limits_and_common_rules(prod: Synth) -> None:
    (_, web_acl) = only(edge_template(prod), "AWS::WAFv2::WebACL")
    found = rules(web_acl)

    assert web_acl["Properties"]["Scope"] == "CLOUDFRONT"
    assert web_acl["Properties"]["DefaultAction"] == {"Allow": {}}
    assert list(found) == [waf.IP_REPUTATION, "PerIp", "PublicPerIp", waf.COMMON_RULES]
    for name in (waf.IP_REPUTATION, waf.COMMON_RULES):
        group = found[name]["Statement"]["ManagedRuleGroupStatement"]
        assert (group["VendorName"], group["Name"]) == ("AWS", name)
        assert found[name]["OverrideAction"] == {"None": {}}
    overrides = found[waf.COMMON_RULES]["Statement"]["ManagedRuleGroupStatement"]["RuleActionOverrides"]
    assert overrides == [{"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}]

    per_ip = found["PerIp"]["Statement"]["RateBasedStatement"]
    assert per_ip == {"AggregateKeyType": "IP", "Limit": waf.API_REQUESTS_PER_IP, "EvaluationWindowSec": 300}
    public = found["PublicPerIp"]["Statement"]["RateBasedStatement"]
    assert (public["AggregateKeyType"], public["Limit"]) == ("IP", waf.PUBLIC_REQUESTS_PER_IP)
    match = public["ScopeDownStatement"]["ByteMatchStatement"]
    assert (match["FieldToMatch"], match["PositionalConstraint"], match["SearchString"]) == (
        {"UriPath": {}},
        "STARTS_WITH",
        "/public/",
    )
    assert waf.PUBLIC_REQUESTS_PER_IP < waf.API_REQUESTS_PER_IP
    for name in ("PerIp", "PublicPerIp"):  # rate-limited clients are told so: 429 with a problem body
        response = found[name]["Action"]["Block"]["CustomResponse"]
        assert response == {"ResponseCode": 429, "CustomResponseBodyKey": waf.RATE_LIMITED}
    body = web_acl["Properties"]["CustomResponseBodies"][waf.RATE_LIMITED]
    assert body["ContentType"] == "APPLICATION_JSON" and json.loads(body["Content"])["status"] == 429


def test_the_limits_leave_the_throttling_they_protect_to_many_clients() -> None:
    # One address gets at most a tenth of what the gateway lets through in the window.
    stage_budget = constants.API_RATE_LIMIT * waf.RATE_WINDOW_SECONDS
    public_budget = constants.UNAUTHENTICATED_ROUTE_RATE_LIMIT * waf.RATE_WINDOW_SECONDS
    assert stage_budget >= waf.API_REQUESTS_PER_IP * 10
    assert public_budget >= waf.PUBLIC_REQUESTS_PER_IP * 10
    assert 10 <= waf.TOKEN_REQUESTS_PER_IP < waf.SIGN_IN_REQUESTS_PER_IP  # WAF's lowest limit is 10


# -- the user pool -------------------------------------------------------------------------------


def test_the_user_pool_has_a_regional_web_acl_tighter_on_the_token_endpoint(prod: Synth) -> None:
    (_, nested) = _edge_stack_resource(prod)
    (pool_id, _) = prod.only("AWS::Cognito::UserPool")
    (acl_id, web_acl) = only(nested_edge(prod), "AWS::WAFv2::WebACL")
    (_, association) = only(nested_edge(prod), "AWS::WAFv2::WebACLAssociation")
    found = rules(web_acl)

    assert web_acl["Properties"]["Scope"] == "REGIONAL"
    assert list(found) == [waf.IP_REPUTATION, "PerIp", "TokenPerIp"]
    assert found["PerIp"]["Statement"]["RateBasedStatement"]["Limit"] == waf.SIGN_IN_REQUESTS_PER_IP
    token = found["TokenPerIp"]["Statement"]["RateBasedStatement"]
    assert token["Limit"] == waf.TOKEN_REQUESTS_PER_IP
    match = token["ScopeDownStatement"]["ByteMatchStatement"]
    assert (match["PositionalConstraint"], match["SearchString"]) == ("EXACTLY", "/oauth2/token")
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    parameter = association["Properties"]["ResourceArn"]["Ref"]
    assert nested["Properties"]["Parameters"][parameter] == {"Fn::GetAtt": [pool_id, "Arn"]}


# -- the origin check ----------------------------------------------------------------------------


def test_guarded_functions_are_what_api_gateway_invokes(prod: Synth) -> None:
    invoked = {
        prod.template["Resources"][prod.invoked(permission["Properties"]["FunctionName"])]["Metadata"][
            "aws:cdk:path"
        ].split("/")[-3]
        for permission in prod.everywhere("AWS::Lambda::Permission").values()  # the routes' are nested
        if permission["Properties"]["Principal"] == "apigateway.amazonaws.com"
    }

    assert invoked == GUARDED


@pytest.mark.parametrize("spec", manifest.FUNCTIONS, ids=[f.name for f in manifest.FUNCTIONS])
def test_functions_api_gateway_invokes_may_read_the_origin_secret_and_are_told_it(
    prod: Synth, spec: manifest.Function
) -> None:
    secret_arn = nested_output(prod, "AWS::SecretsManager::Secret")
    variables = prod.function(spec.name)[1]["Properties"]["Environment"]["Variables"]
    reads = [s for s in prod.policy_statements(spec.name) if READ_ACTION in json.dumps(s["Action"])]

    if spec.name in GUARDED:
        assert variables[env_name("origin_secret_arn")] == secret_arn
        assert reads == [{"Action": READ_ACTION, "Effect": "Allow", "Resource": secret_arn}]
    else:
        assert variables[env_name("origin_secret_arn")] == ""
        assert reads == []


def test_the_authorizer_identity_includes_the_origin_header(prod: Synth) -> None:
    # API Gateway answers 401 to a request without it, without invoking the authorizer, and caches the
    # authorizer's decision per token and origin header.
    (_, authorizer) = prod.only("AWS::ApiGatewayV2::Authorizer")

    assert authorizer["Properties"]["IdentitySource"] == [
        "$request.header.Authorization",
        f"$request.header.{ORIGIN_HEADER}",
    ]


# -- what the portal and Twilio call -------------------------------------------------------------


def test_twilio_and_the_portal_are_given_cloudfront_s_address(prod: Synth) -> None:
    domain = nested_output(prod, "AWS::CloudFront::Distribution", "DomainName")
    variables = prod.function(manifest.SMS_WEBHOOK.name)[1]["Properties"]["Environment"]["Variables"]
    outputs = prod.template["Outputs"]

    assert variables["SMS_WEBHOOK_URL"] == {"Fn::Join": ["", ["https://", domain, constants.SMS_WEBHOOK_PATH]]}
    assert variables["SMS_STATUS_URL"] == {"Fn::Join": ["", ["https://", domain, constants.SMS_STATUS_PATH]]}
    assert outputs["ApiUrl"]["Value"] == {"Fn::Join": ["", ["https://", domain, "/"]]}
    assert outputs["SmsWebhookUrl"]["Value"] == variables["SMS_WEBHOOK_URL"]
    assert outputs["DistributionDomainName"]["Value"] == domain
    assert outputs["ApiOriginDnsTarget"]["Value"] == nested_output(
        prod, "AWS::ApiGatewayV2::DomainName", "RegionalDomainName"
    )
    assert "execute-api" not in json.dumps(prod.template["Outputs"])


def test_a_public_name_gets_its_certificate_tls_1_2_and_is_what_twilio_signs(public_name: Synth) -> None:
    (_, distribution) = only(nested_edge(public_name), "AWS::CloudFront::Distribution")
    config = distribution["Properties"]["DistributionConfig"]
    (origin,) = config["Origins"]
    variables = public_name.function(manifest.SMS_WEBHOOK.name)[1]["Properties"]["Environment"]["Variables"]

    assert config["Aliases"] == [PUBLIC_NAME]
    assert config["ViewerCertificate"] == {
        "AcmCertificateArn": PUBLIC_CONTEXT["publicCertificateArn"],
        "MinimumProtocolVersion": "TLSv1.2_2021",
        "SslSupportMethod": "sni-only",
    }
    assert variables["SMS_WEBHOOK_URL"] == f"https://{PUBLIC_NAME}{constants.SMS_WEBHOOK_PATH}"
    assert public_name.template["Outputs"]["ApiUrl"]["Value"] == f"https://{PUBLIC_NAME}/"
    # The named version: CloudFormation reads the secret again because the reference changed (rotation).
    value = json.dumps(origin["OriginCustomHeaders"][0]["HeaderValue"])
    assert f":SecretString:::{PUBLIC_CONTEXT['originSecretVersion']}}}}}" in value
    # TLS 1.2 at least: nothing left to acknowledge.
    assert ("Edge/Distribution", "AwsSolutions-CFR4") not in acknowledgments(public_name)
    report = cdk_nag.AwsSolutionsChecks().validate_scope(public_name.app)
    assert [v.rule_name for v in report.violations] == [] and public_name.error is None


def test_the_edge_stack_passes_cdk_nag_and_cfn_lint(prod: Synth) -> None:
    report = cdk_nag.AwsSolutionsChecks().validate_scope(prod.app)
    edge_findings = [
        resource.construct_path
        for violation in report.violations
        for resource in violation.violating_resources
        if resource.construct_path.startswith(EDGE_STACK)
    ]
    path = prod.outdir / f"{EDGE_STACK}.template.json"

    assert edge_findings == []
    assert [str(match) for match in lint_file(path, config=ManualArgs(regions=["us-east-1"]))] == []


# -- the settings --------------------------------------------------------------------------------

API_CERTIFICATE = "arn:aws:acm:eu-central-1:123456789012:certificate/0b6e8ad4-3f0c-4a3e-9a55-2f1d3c4b5a69"
PROTECTED = {
    "stage": "prod",
    "emailFrom": "no-reply@example.com",
    "sesIdentityOwner": True,
    "portalUrl": "https://partners.example.com",
    "alarmEmail": "ops@example.com",
    "twilioAccountSid": "AC" + "0123456789abcdef" * 2,
    "twilioFromNumber": "+15005550006",
}
ORIGIN = {"apiDomainName": "api-origin.example.com", "apiCertificateArn": API_CERTIFICATE}


def config(**context: Any) -> DeploymentConfig:
    return DeploymentConfig.from_context(cdk.App(context=context))


def problems(**context: Any) -> list[str]:
    with pytest.raises(StageSettingsError) as refused:
        config(**context)
    return refused.value.problems


def test_protected_stages_need_the_api_origin_and_dev_stages_may_do_without() -> None:
    (problem,) = problems(**PROTECTED)
    assert "apiDomainName" in problem and "apiCertificateArn" in problem

    assert config(**PROTECTED, **ORIGIN).edge == EdgeSettings("api-origin.example.com", API_CERTIFICATE)
    assert config(emailFrom="no-reply@example.com").edge is None
    # A dev stage may rehearse the edge.
    assert config(emailFrom="no-reply@example.com", stage="dev-edge", **ORIGIN).edge is not None


@pytest.mark.parametrize(
    ("context", "says"),
    [
        ({"apiDomainName": "api-origin.example.com"}, "apiCertificateArn: give the ACM certificate's ARN"),
        ({"apiCertificateArn": API_CERTIFICATE}, "apiDomainName: give the domain name"),
        ({**ORIGIN, "apiDomainName": "not a domain"}, "apiDomainName 'not a domain' is not a domain name"),
        ({**ORIGIN, "apiCertificateArn": "arn:aws:acm:eu-central-1:1:cert"}, "is not an ACM certificate ARN"),
        ({**ORIGIN, "region": "eu-west-1"}, "the certificate is in eu-central-1; it must be in the stage's region"),
        ({**ORIGIN, "account": "210987654321"}, "belongs to account 123456789012, not the stage's"),
        ({**ORIGIN, "publicDomainName": "api.example.com"}, "publicCertificateArn: give the ACM certificate's"),
        (
            {**ORIGIN, "publicDomainName": "api.example.com", "publicCertificateArn": API_CERTIFICATE},
            "it must be in us-east-1, where CloudFront takes its certificates from",
        ),
        (
            {
                **ORIGIN,
                "publicDomainName": "api-origin.example.com",
                "publicCertificateArn": API_CERTIFICATE.replace("eu-central-1", "us-east-1"),
            },
            "publicDomainName and apiDomainName must differ",
        ),
        ({**ORIGIN, "originSecretVersion": "v2"}, "originSecretVersion 'v2': a Secrets Manager version id"),
        ({"publicDomainName": "api.example.com"}, "publicDomainName: only with edge protection"),
    ],
)
def test_edge_settings_that_cannot_work_are_refused(context: dict[str, Any], says: str) -> None:
    found = problems(**{**PROTECTED, "stage": "dev-edge", **context})

    assert [problem for problem in found if says in problem], found


def test_every_edge_problem_is_reported_at_once_with_the_others() -> None:
    found = problems(
        **{**PROTECTED, "alarmEmail": ""},
        apiDomainName="not a domain",
        apiCertificateArn="nope",
        publicDomainName="api.example.com",
        originSecretVersion="v2",
    )

    for setting in ("alarmEmail", "apiDomainName", "apiCertificateArn", "publicCertificateArn", "originSecretVersion"):
        assert any(setting in problem for problem in found), setting
