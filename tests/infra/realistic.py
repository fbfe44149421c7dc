"""Realistic values for a synthesized template's intrinsic functions, so that what the limit tests measure
(policies, environments) has the size AWS will see once CloudFormation has filled in names, ids and ARNs.

Names CloudFormation generates look like `<stack>-<logical id>-<13 random characters>`, cut to what the
service allows; ids have the length the service gives them. The region is one of the longest names so the
estimates err on the large side. A reference this module does not know fails loudly: add it here rather
than let a test guess.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"
REGION = "ap-southeast-2"
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"
STREAM_LABEL = "2026-01-01T00:00:00.000"

# The longest name each service allows; CloudFormation cuts its generated names to it.
NAME_LIMITS = {
    "AWS::Lambda::Function": 64,
    "AWS::IAM::Role": 64,
    "AWS::IAM::Policy": 128,
    "AWS::SQS::Queue": 80,
    "AWS::S3::Bucket": 63,
    "AWS::SES::ConfigurationSet": 64,
    "AWS::Backup::BackupVault": 50,
    "AWS::Lambda::Permission": 100,  # the statement id in the function's policy
    "AWS::Lambda::LayerVersion": 140,
}
DEFAULT_NAME_LIMIT = 255
# The property that names a resource when the template gives a name.
NAME_PROPERTIES = {
    "AWS::Lambda::Function": "FunctionName",
    "AWS::IAM::Role": "RoleName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SES::ConfigurationSet": "Name",
    "AWS::SES::EmailIdentity": "EmailIdentity",
    "AWS::Scheduler::Schedule": "Name",
    "AWS::Cognito::UserPoolDomain": "Domain",
    "AWS::Backup::BackupVault": "BackupVaultName",
    "AWS::Lambda::LayerVersion": "LayerName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::ApiGatewayV2::Stage": "StageName",
}
PSEUDO_PARAMETERS = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": PARTITION,
    "AWS::URLSuffix": URL_SUFFIX,
}
SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


def token(seed: str, length: int, alphabet: str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") -> str:
    """A stable stand-in for a random id of `length` characters."""
    digest = hashlib.sha256(seed.encode()).digest() * (length // 32 + 1)
    return "".join(alphabet[byte % len(alphabet)] for byte in digest[:length])


class Resolver:
    def __init__(
        self,
        template: dict[str, Any],
        stack_name: str,
        *,
        outdir: Path | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        self.resources: dict[str, dict[str, Any]] = template["Resources"]
        self.stack_name = stack_name
        # Where the nested stacks' templates are (the cloud assembly), and, in a nested stack, the values its
        # parent passes to its parameters.
        self.outdir = outdir
        self.parameters = parameters or {}

    def resolve(self, value: Any) -> Any:
        """The value with every intrinsic function replaced by a realistic string."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self.ref(argument)
            if key == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.get_att(logical_id, attribute)
            if key == "Fn::Join":
                delimiter, parts = argument
                return delimiter.join(str(self.resolve(part)) for part in parts)
            if key == "Fn::Sub":
                return self._sub(argument)
            if key == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(index)]
            if key == "Fn::Split":
                delimiter, text = argument
                return str(self.resolve(text)).split(delimiter)
            if key.startswith("Fn::") or key == "Condition":
                raise KeyError(f"no realistic value for {key}")
        return {key: self.resolve(item) for key, item in value.items()}

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        resolved = {name: str(self.resolve(value)) for name, value in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in resolved:
                return resolved[name]
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self.get_att(logical_id, attribute)
            return self.ref(name)

        return SUB_VARIABLE.sub(replace, text)

    def resource(self, logical_id: str) -> dict[str, Any]:
        if logical_id not in self.resources:
            raise KeyError(f"the template has no resource {logical_id}")
        return self.resources[logical_id]

    def physical_name(self, logical_id: str) -> str:
        """The resource's name: as the template gives it, else as CloudFormation would generate it."""
        resource = self.resource(logical_id)
        kind = resource["Type"]
        given = resource.get("Properties", {}).get(NAME_PROPERTIES.get(kind, ""))
        if given is not None:
            return str(self.resolve(given))
        limit = NAME_LIMITS.get(kind, DEFAULT_NAME_LIMIT)
        suffix = token(logical_id, 13)
        room = limit - len(suffix) - 2
        stack_part = self.stack_name[: max(room // 2, room - len(logical_id))]
        name = f"{stack_part}-{logical_id[: room - len(stack_part)]}-{suffix}"
        return name.lower() if kind == "AWS::S3::Bucket" else name

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return f"arn:{PARTITION}:{service}:{REGION if region else ''}:{ACCOUNT if account else ''}:{resource}"

    def ref(self, name: str) -> str:
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if name in self.parameters:
            return str(self.parameters[name])
        if name == "AWS::StackName":
            return self.stack_name
        if name == "AWS::StackId":
            return self.arn("cloudformation", f"stack/{self.stack_name}/{token(name, 36)}")
        kind = self.resource(name)["Type"]
        if kind in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):  # a Ref is the qualified function's ARN
            properties = self.resource(name)["Properties"]
            function = str(self.resolve(properties["FunctionName"]))
            arn = function if function.startswith("arn:") else self.arn("lambda", f"function:{function}")
            return f"{arn}:{properties['Name'] if kind == 'AWS::Lambda::Alias' else 1}"
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.{URL_SUFFIX}/{ACCOUNT}/{self.physical_name(name)}"
        if kind == "AWS::Cognito::UserPool":
            return f"{REGION}_{token(name, 9, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789')}"
        if kind == "AWS::Cognito::UserPoolClient":
            return token(name, 26, "abcdefghijklmnopqrstuvwxyz0123456789")
        if kind == "AWS::ApiGatewayV2::Api":
            return token(name, 10, "abcdefghijklmnopqrstuvwxyz0123456789")
        if kind == "AWS::ApiGatewayV2::Authorizer":
            return token(name, 6, "abcdefghijklmnopqrstuvwxyz0123456789")
        if kind in ("AWS::Lambda::LayerVersion", "AWS::SNS::Topic"):
            return self.get_att(name, "Arn")
        if kind == "AWS::Backup::BackupPlan":
            return token(name, 36)
        if kind == "AWS::SecretsManager::Secret":  # its ARN, which ends in - and six random characters
            return self.arn("secretsmanager", f"secret:{self.physical_name(name)}-{token(name, 6)}")
        return self.physical_name(name)

    def get_att(self, logical_id: str, attribute: str) -> str:
        kind = self.resource(logical_id)["Type"]
        name = self.physical_name(logical_id)
        attributes: dict[tuple[str, str], Any] = {
            ("AWS::Lambda::Function", "Arn"): lambda: self.arn("lambda", f"function:{name}"),
            ("AWS::Lambda::LayerVersion", "Arn"): lambda: self.arn("lambda", f"layer:{name}:1"),
            ("AWS::IAM::Role", "Arn"): lambda: self.arn("iam", f"role/{name}", region=False),
            ("AWS::SQS::Queue", "Arn"): lambda: self.arn("sqs", name),
            ("AWS::SQS::Queue", "QueueName"): lambda: name,
            ("AWS::SQS::Queue", "QueueUrl"): lambda: self.ref(logical_id),
            ("AWS::DynamoDB::Table", "Arn"): lambda: self.arn("dynamodb", f"table/{name}"),
            ("AWS::DynamoDB::Table", "StreamArn"): lambda: self.arn("dynamodb", f"table/{name}/stream/{STREAM_LABEL}"),
            ("AWS::S3::Bucket", "Arn"): lambda: self.arn("s3", name, region=False, account=False),
            ("AWS::S3::Bucket", "RegionalDomainName"): lambda: f"{name}.s3.{REGION}.{URL_SUFFIX}",
            ("AWS::Logs::LogGroup", "Arn"): lambda: self.arn("logs", f"log-group:{name}:*"),
            ("AWS::Cognito::UserPool", "Arn"): lambda: self.arn("cognito-idp", f"userpool/{self.ref(logical_id)}"),
            ("AWS::Cognito::UserPool", "ProviderURL"): lambda: (
                f"cognito-idp.{REGION}.{URL_SUFFIX}/{self.ref(logical_id)}"
            ),
            ("AWS::ApiGatewayV2::Api", "ApiId"): lambda: self.ref(logical_id),
            ("AWS::ApiGatewayV2::Api", "ApiEndpoint"): lambda: (
                f"https://{self.ref(logical_id)}.execute-api.{REGION}.{URL_SUFFIX}"
            ),
            ("AWS::SNS::Topic", "TopicArn"): lambda: self.arn("sns", name),
            ("AWS::SNS::Topic", "Arn"): lambda: self.arn("sns", name),
            ("AWS::Scheduler::Schedule", "Arn"): lambda: self.arn("scheduler", f"schedule/default/{name}"),
            ("AWS::Backup::BackupVault", "BackupVaultName"): lambda: name,
            ("AWS::Backup::BackupVault", "BackupVaultArn"): lambda: self.arn("backup", f"backup-vault:{name}"),
            ("AWS::Backup::BackupPlan", "BackupPlanId"): lambda: self.ref(logical_id),
            ("AWS::Backup::BackupPlan", "BackupPlanArn"): lambda: self.arn(
                "backup", f"backup-plan:{self.ref(logical_id)}"
            ),
            ("AWS::CloudFront::Distribution", "DomainName"): lambda: (
                f"d{token(logical_id, 13, 'abcdefghijklmnopqrstuvwxyz0123456789')}.cloudfront.net"
            ),
            ("AWS::ApiGatewayV2::DomainName", "RegionalDomainName"): lambda: (
                f"d-{token(logical_id, 10, 'abcdefghijklmnopqrstuvwxyz0123456789')}.execute-api.{REGION}.{URL_SUFFIX}"
            ),
        }
        if kind == "AWS::SES::EmailIdentity" and attribute.startswith("DkimDNSToken"):
            dkim_token = token(f"{logical_id}{attribute[-1]}", 32, "abcdefghijklmnopqrstuvwxyz0123456789")
            if attribute.startswith("DkimDNSTokenName"):
                return f"{dkim_token}._domainkey.{name}"
            return f"{dkim_token}.dkim.amazonses.com"
        if kind == "AWS::CloudFormation::Stack" and attribute.startswith("Outputs."):
            return self._nested_output(logical_id, attribute.removeprefix("Outputs."))
        if (kind, attribute) not in attributes:
            raise KeyError(f"no realistic value for {kind}.{attribute} ({logical_id})")
        return str(attributes[(kind, attribute)]())

    def _nested_output(self, logical_id: str, output: str) -> str:
        """An output of a nested stack, resolved in its own template with what its parent passes it."""
        resource = self.resource(logical_id)
        if self.outdir is None:
            raise KeyError(f"no realistic value for the nested stack {logical_id}'s {output}: give the outdir")
        nested = json.loads((self.outdir / resource["Metadata"]["aws:asset:path"]).read_text())
        parameters = {name: self.resolve(value) for name, value in resource["Properties"].get("Parameters", {}).items()}
        resolver = Resolver(nested, self.physical_name(logical_id), outdir=self.outdir, parameters=parameters)
        return str(resolver.resolve(nested["Outputs"][output]["Value"]))


def lift_parameters(value: Any, passed: dict[str, Any]) -> Any:
    """`value` (from a nested stack's template) with each Ref to one of its parameters replaced by what the
    parent passes for it, so the parent's resolver can read it."""
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in passed:
            return passed[value["Ref"]]
        return {key: lift_parameters(item, passed) for key, item in value.items()}
    if isinstance(value, list):
        return [lift_parameters(item, passed) for item in value]
    return value


def function_behind(resources: dict[str, Any], reference: Any) -> str:
    """The logical id of the function a reference names: directly, or through its alias or version (an
    alias's ARN, or the `<name>:live` CDK joins from it)."""
    if isinstance(reference, dict) and set(reference) == {"Ref"} and reference["Ref"] in resources:
        target = resources[reference["Ref"]]
        if target["Type"] == "AWS::Lambda::Function":
            return str(reference["Ref"])
        if target["Type"] in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):
            return function_behind(resources, target["Properties"]["FunctionName"])
    if isinstance(reference, dict) and "Fn::GetAtt" in reference:
        return function_behind(resources, {"Ref": reference["Fn::GetAtt"][0]})
    items = reference.values() if isinstance(reference, dict) else reference if isinstance(reference, list) else []
    for item in items:
        try:
            return function_behind(resources, item)
        except LookupError:
            continue
    raise LookupError(f"no function named in {reference!r}")
