"""AWS's hard limits that the synthesized stack must stay under, measured on the template (with realistic
names and ARNs, tests/infra/realistic.py) and on the staged assets. tests/infra/test_limits.py fails past
any of them; `python -m tests.infra.limits_report` prints the figures of both stages against the limits.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.infra.realistic import Resolver, function_behind, lift_parameters

if TYPE_CHECKING:
    from tests.infra.conftest import Synth

# A function's resource-based policy (Lambda quotas).
FUNCTION_POLICY_LIMIT_BYTES = 20 * 1024
# A function's environment variables: Lambda measures them as the JSON object it stores.
ENVIRONMENT_LIMIT_BYTES = 4 * 1024
# A function's code and layers, unzipped.
CODE_AND_LAYERS_LIMIT_BYTES = 250 * 1024 * 1024
# All inline policies of one role together, whitespace not counted (IAM quotas).
ROLE_POLICIES_LIMIT_CHARS = 10_240
# Resources in one stack: CloudFormation refuses more than 500; the budget is 300, so a stack keeps room to
# grow (a nested stack takes what does not fit, as the monitoring does), and 200 for the main stack, which
# holds the API and every function and grows with each capability.
STACK_RESOURCES_LIMIT = 300
MAIN_STACK_RESOURCES_BUDGET = 200
# Routes of one HTTP API: the quota is 300. Routes grow with path prefixes, not operations (infra/manifest.py);
# the budget keeps the gateway far from the quota and from control-plane throttling on large updates.
API_ROUTES_QUOTA = 300
API_ROUTES_BUDGET = 80
# A template CloudFormation reads from S3 (the CDK CLI uploads it there), and one passed in the request.
TEMPLATE_S3_LIMIT_BYTES = 1_000_000
TEMPLATE_BODY_LIMIT_BYTES = 51_200
# Readers of the table's stream: AWS rates a shard for two, and the design has one (a dispatcher).
STREAM_READERS_LIMIT = 1

STATEMENT_CONDITIONS = {
    "SourceArn": ("ArnLike", "AWS:SourceArn"),
    "SourceAccount": ("StringEquals", "AWS:SourceAccount"),
    "PrincipalOrgID": ("StringEquals", "aws:PrincipalOrgID"),
    "FunctionUrlAuthType": ("StringEquals", "lambda:FunctionUrlAuthType"),
}


def compact(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"))


def construct_path(resource: dict[str, Any]) -> str:
    """The resource's construct path without the stack, e.g. Leads/LeadsApi/Function/Resource."""
    return str(resource["Metadata"]["aws:cdk:path"]).split("/", 1)[1]


def function_name(resource: dict[str, Any]) -> str:
    """The manifest name of a function: its construct's id (…/<name>/Function/Resource)."""
    return construct_path(resource).split("/")[-3]


@dataclass
class Measurements:
    template: dict[str, Any]
    template_path: Path
    outdir: Path
    stack_name: str

    @classmethod
    def of(cls, synth: Synth) -> Measurements:
        return cls(synth.template, synth.template_path, synth.outdir, synth.stack.stack_name)

    def __post_init__(self) -> None:
        self.resolver = Resolver(self.template, self.stack_name, outdir=self.outdir)
        self.resources: dict[str, dict[str, Any]] = self.template["Resources"]

    def of_type(self, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
        return ((key, value) for key, value in self.resources.items() if value["Type"] == resource_type)

    def functions(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(manifest name, logical id, resource) of every Lambda function."""
        for logical_id, resource in self.of_type("AWS::Lambda::Function"):
            yield function_name(resource), logical_id, resource

    def nested_resources(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every nested stack's resources, their references to the parent's parameters replaced by what the
        parent passes (so the parent's resolver reads them)."""
        for _, nested in self.of_type("AWS::CloudFormation::Stack"):
            template = json.loads((self.outdir / nested["Metadata"]["aws:asset:path"]).read_text())
            passed = nested["Properties"].get("Parameters", {})
            for logical_id, resource in template["Resources"].items():
                yield logical_id, lift_parameters(resource, passed)

    def permissions(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every Lambda permission of the stack and its nested stacks."""
        yield from self.of_type("AWS::Lambda::Permission")
        yield from ((i, r) for i, r in self.nested_resources() if r["Type"] == "AWS::Lambda::Permission")

    def function_policy_bytes(self) -> dict[str, int]:
        """Each function's resource-based policies as Lambda stores them, one per qualifier (the function's
        own, its alias's): one statement per permission, whose Sid is the permission's physical id."""
        statements: dict[str, list[dict[str, Any]]] = {}
        for permission_id, permission in self.permissions():
            properties = permission["Properties"]
            target = properties["FunctionName"]
            target_id = target["Ref"] if "Ref" in target else target["Fn::GetAtt"][0]
            principal = self.resolver.resolve(properties["Principal"])
            statement: dict[str, Any] = {
                "Sid": self.resolver.physical_name(permission_id) if permission_id in self.resources else permission_id,
                "Effect": "Allow",
                "Principal": {"Service": principal} if principal.endswith(".amazonaws.com") else {"AWS": principal},
                "Action": properties["Action"],
                "Resource": self.resolver.resolve(target),
            }
            conditions: dict[str, dict[str, str]] = {}
            for key, (operator, condition_key) in STATEMENT_CONDITIONS.items():
                if key in properties:
                    conditions.setdefault(operator, {})[condition_key] = self.resolver.resolve(properties[key])
            if conditions:
                statement["Condition"] = conditions
            statements.setdefault(target_id, []).append(statement)
        return {
            self._policy_owner(target_id): len(
                compact({"Version": "2012-10-17", "Id": "default", "Statement": found}).encode()
            )
            for target_id, found in statements.items()
        }

    def _policy_owner(self, target_id: str) -> str:
        """`LeadsApi` for the function's own policy, `LeadsApi:live` for its alias's."""
        function_id = function_behind(self.resources, {"Ref": target_id})
        name = function_name(self.resources[function_id])
        return name if target_id == function_id else f"{name}:{self.resources[target_id]['Properties']['Name']}"

    def environment_bytes(self) -> dict[str, int]:
        return {
            name: len(compact(self.resolver.resolve(resource["Properties"]["Environment"]["Variables"])).encode())
            for name, _, resource in self.functions()
            if "Environment" in resource["Properties"]
        }

    def role_inline_policy_chars(self) -> dict[str, int]:
        """Every inline policy of each role (its own and the AWS::IAM::Policy resources attached to it),
        whitespace removed as IAM counts."""
        documents: dict[str, list[Any]] = {
            role_id: [policy["PolicyDocument"] for policy in role["Properties"].get("Policies", [])]
            for role_id, role in self.of_type("AWS::IAM::Role")
        }
        for _, policy in self.of_type("AWS::IAM::Policy"):
            for role in policy["Properties"].get("Roles", []):
                documents[role["Ref"]].append(policy["Properties"]["PolicyDocument"])
        return {
            construct_path(self.resources[role_id]).removesuffix("/Resource"): sum(
                len(re.sub(r"\s", "", compact(self.resolver.resolve(document)))) for document in found
            )
            for role_id, found in documents.items()
        }

    def asset_bytes(self, resource: dict[str, Any]) -> int:
        """The unzipped size of a resource's staged asset directory."""
        root = self.outdir / resource["Metadata"]["aws:asset:path"]
        return sum(path.stat().st_size for path in root.rglob("*") if path.is_file() and not path.is_symlink())

    def code_and_layers_bytes(self) -> dict[str, int]:
        return {
            name: self.asset_bytes(resource)
            + sum(self.asset_bytes(self.resources[layer["Ref"]]) for layer in resource["Properties"].get("Layers", []))
            for name, _, resource in self.functions()
        }

    def stream_readers(self) -> list[str]:
        """The functions an event source mapping feeds from a table's stream."""
        tables = {logical_id for logical_id, _ in self.of_type("AWS::DynamoDB::Table")}
        by_id = {logical_id: name for name, logical_id, _ in self.functions()}
        readers = []
        for _, mapping in self.of_type("AWS::Lambda::EventSourceMapping"):
            source = mapping["Properties"]["EventSourceArn"]
            attribute = source.get("Fn::GetAtt", []) if isinstance(source, dict) else []
            if len(attribute) == 2 and attribute[0] in tables and attribute[1] == "StreamArn":
                readers.append(by_id[function_behind(self.resources, mapping["Properties"]["FunctionName"])])
        return sorted(readers)

    def stack_templates(self) -> dict[str, Path]:
        """The stack's template, each nested stack's (a stack of its own to CloudFormation's limits) and the
        stage's other stacks' (a protected stage's edge stack in us-east-1), by name."""
        templates = {"main": self.template_path}
        for _, nested in self.of_type("AWS::CloudFormation::Stack"):
            name = construct_path(nested).split("/")[0].removesuffix(".NestedStack")
            templates[name] = self.outdir / nested["Metadata"]["aws:asset:path"]
        for path in sorted(self.outdir.glob("*.template.json")):
            if path != self.template_path and not path.name.endswith(".nested.template.json"):
                templates[path.name.removesuffix(".template.json")] = path
        return templates

    def api_routes(self) -> int:
        own = sum(1 for _ in self.of_type("AWS::ApiGatewayV2::Route"))
        return own + sum(1 for _, r in self.nested_resources() if r["Type"] == "AWS::ApiGatewayV2::Route")

    def resource_counts(self) -> dict[str, int]:
        return {name: len(json.loads(path.read_text())["Resources"]) for name, path in self.stack_templates().items()}

    def template_bytes(self) -> dict[str, int]:
        return {name: path.stat().st_size for name, path in self.stack_templates().items()}


def resource_budget(stack: str) -> int:
    return MAIN_STACK_RESOURCES_BUDGET if stack == "main" else STACK_RESOURCES_LIMIT


def largest(figures: dict[str, int]) -> tuple[str, int]:
    return max(figures.items(), key=lambda item: item[1])


def report(measured: Measurements) -> list[tuple[str, str, str]]:
    """(what, measured, limit) rows: one per function for the policies, the largest of the rest."""
    rows = [
        (f"resource-based policy {name}", f"{size:,} B", f"{FUNCTION_POLICY_LIMIT_BYTES:,} B")
        for name, size in sorted(measured.function_policy_bytes().items())
    ]
    for what, figures, unit, limit in (
        ("largest environment", measured.environment_bytes(), "B", ENVIRONMENT_LIMIT_BYTES),
        ("largest role's inline policies", measured.role_inline_policy_chars(), "chars", ROLE_POLICIES_LIMIT_CHARS),
        ("largest code + layers (unzipped)", measured.code_and_layers_bytes(), "B", CODE_AND_LAYERS_LIMIT_BYTES),
    ):
        name, size = largest(figures)
        rows.append((f"{what} ({name})", f"{size:,} {unit}", f"{limit:,} {unit}"))
    sizes = measured.template_bytes()
    rows.append(("API routes (budget; quota 300)", str(measured.api_routes()), str(API_ROUTES_BUDGET)))
    for stack, count in measured.resource_counts().items():
        rows += [
            (f"resources ({stack} stack, budget)", str(count), str(resource_budget(stack))),
            (f"template, uploaded to S3 ({stack} stack)", f"{sizes[stack]:,} B", f"{TEMPLATE_S3_LIMIT_BYTES:,} B"),
            (f"template, as a request body ({stack} stack)", f"{sizes[stack]:,} B", f"{TEMPLATE_BODY_LIMIT_BYTES:,} B"),
        ]
    readers = measured.stream_readers()
    rows.append(
        (f"table stream readers ({', '.join(readers) or 'none'})", str(len(readers)), str(STREAM_READERS_LIMIT))
    )
    return rows


def main() -> None:
    # As app.py does: the stack reads the table definition from the common package.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "layers" / "common"))
    from infra import constants
    from infra.build_layer import build_layer
    from tests.infra.conftest import PROD_CONTEXT, synthesize

    if not (constants.LAYER_DIR / "python" / "common").is_dir():
        build_layer()
    for stage, context in (("dev", {}), ("prod", PROD_CONTEXT)):
        with tempfile.TemporaryDirectory() as outdir:
            synth = synthesize(Path(outdir), context)
            measured = Measurements.of(synth)
            rows = report(measured)
        width = max(len(what) for what, _, _ in rows)
        sys.stdout.write(f"\n{stage}\n{'':{width}}  {'measured':>14}  {'limit':>16}\n")
        for what, value, limit in rows:
            sys.stdout.write(f"{what:{width}}  {value:>14}  {limit:>16}\n")


if __name__ == "__main__":
    main()
