"""Synthesizes the app once per session and stage, with the context of cdk.json, as `cdk synth` does."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from infra import constants
from infra.build_layer import build_layer
from infra.stack import PartnerProgrammeStack, add_stack
from tests.infra.realistic import function_behind, lift_parameters

CDK_JSON = constants.REPO_ROOT / "cdk.json"
# Set by the CDK CLI: construct paths and asset paths in the template's metadata.
CLI_CONTEXT = {"aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True}
PROD_CONTEXT = {
    "stage": "prod",
    "emailFrom": "no-reply@partners.example.com",
    "sesIdentityOwner": "true",
    "portalCallbackUrls": "https://partners.example.com/callback",
    "twilioAccountSid": "AC" + "0123456789abcdef" * 2,
    "twilioFromNumber": "+15005550006",
    "alarmEmail": "ops@partners.example.com",
    # Edge protection: CloudFront's origin is the API's regional custom domain, with a certificate there.
    "apiDomainName": "api-origin.partners.example.com",
    "apiCertificateArn": "arn:aws:acm:eu-central-1:123456789012:certificate/0b6e8ad4-3f0c-4a3e-9a55-2f1d3c4b5a69",
}


@dataclass
class Synth:
    app: cdk.App
    stack: PartnerProgrammeStack
    outdir: Path
    template: dict[str, Any]
    # Set when a validation plugin (cdk-nag) failed the synthesis; the template is written anyway.
    error: Exception | None

    @property
    def template_path(self) -> Path:
        return self.outdir / self.stack.template_file

    def nested_templates(self) -> dict[str, dict[str, Any]]:
        """The template of each nested stack (a file of its own in the assembly), by its construct id."""
        return {
            nested.node.id: json.loads((self.outdir / nested.template_file).read_text())
            for nested in self.stack.node.find_all()
            if isinstance(nested, cdk.NestedStack)
        }

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == resource_type}

    def everywhere(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """The resources of the type in the stack and in its nested stacks, a nested one's references to its
        parameters replaced by what the stack passes (so they name the stack's resources)."""
        found = self.resources(resource_type)
        for logical_id, nested in self.resources("AWS::CloudFormation::Stack").items():
            template = json.loads((self.outdir / nested["Metadata"]["aws:asset:path"]).read_text())
            passed = nested["Properties"].get("Parameters", {})
            found |= {
                f"{logical_id}.{key}": lift_parameters(value, passed)
                for key, value in template["Resources"].items()
                if value["Type"] == resource_type
            }
        return found

    def mapping_of(self, function_name: str) -> dict[str, Any]:
        """The properties of the event source mapping that feeds the manifest function `function_name`."""
        (function_id, _) = self.function(function_name)
        (mapping,) = [
            m["Properties"]
            for m in self.resources("AWS::Lambda::EventSourceMapping").values()
            if self.invoked(m["Properties"]["FunctionName"]) == function_id
        ]
        return dict(mapping)

    def route_function(self, route_key: str) -> str:
        """The logical id of the function a deployed route integrates with (through its alias)."""
        (route_id, route) = next(
            (i, r)
            for i, r in self.everywhere("AWS::ApiGatewayV2::Route").items()
            if r["Properties"]["RouteKey"] == route_key
        )
        integration = route_id.rsplit(".", 1)[0] + "." + route["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]
        uri = self.everywhere("AWS::ApiGatewayV2::Integration")[integration]["Properties"]["IntegrationUri"]
        return self.invoked(uri)

    def invoked(self, reference: Any) -> str:
        """The logical id of the function a reference names, directly or through its alias."""
        return function_behind(self.template["Resources"], reference)

    def only(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        (found,) = self.resources(resource_type).items()
        return found

    def function(self, name: str) -> tuple[str, dict[str, Any]]:
        """The Lambda function built for the manifest function `name`: (logical id, resource)."""
        (found,) = (
            (logical_id, resource)
            for logical_id, resource in self.resources("AWS::Lambda::Function").items()
            if resource["Metadata"]["aws:cdk:path"].endswith(f"/{name}/Function/Resource")
        )
        return found

    def policy_statements(self, function_name: str) -> list[dict[str, Any]]:
        """Every statement of the policies attached to the function's role."""
        role_id = self.function(function_name)[1]["Properties"]["Role"]["Fn::GetAtt"][0]
        return [
            statement
            for policy in self.resources("AWS::IAM::Policy").values()
            if {"Ref": role_id} in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]


def synthesize(outdir: Path, context: dict[str, Any]) -> Synth:
    cdk_context = {**json.loads(CDK_JSON.read_text())["context"], **CLI_CONTEXT, **context}
    app = cdk.App(outdir=str(outdir), context=cdk_context)
    stack = add_stack(app)
    error: Exception | None = None
    try:
        app.synth()
    except RuntimeError as exc:
        error = exc
    template = json.loads((outdir / stack.template_file).read_text())
    return Synth(app, stack, outdir, template, error)


@pytest.fixture(scope="session")
def layer() -> Path:
    """The real layer asset, built first if missing (`make layer` builds it too)."""
    if not (constants.LAYER_DIR / "python" / "common").is_dir():
        build_layer()
    return constants.LAYER_DIR


@pytest.fixture(scope="session")
def dev(layer: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(tmp_path_factory.mktemp("cdk-dev"), {})


@pytest.fixture(scope="session")
def prod(layer: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(tmp_path_factory.mktemp("cdk-prod"), PROD_CONTEXT)
