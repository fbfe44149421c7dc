"""The stage's second stack, in us-east-1: the AWS WAF web ACL its CloudFront distribution uses.

AWS WAF keeps web ACLs for CloudFront (scope CLOUDFRONT) in us-east-1 only, and a CloudFormation stack lives
in one region, so this is a stack of its own: `PartnerProgrammeEdge-<stage>`. The main stack reads the web
ACL's ARN from this stack's output with `Fn::GetStackOutput`, which CloudFormation resolves across regions
when it creates or updates the main stack (no custom resource, no exports), and depends on this stack, so
`cdk deploy --all` (`make deploy`) deploys this one first.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Environment, Fn, Stack, Tags
from constructs import Construct

from infra import constants
from infra.config import DeploymentConfig
from infra.waf import api_web_acl

# The output the main stack reads: its logical id, fixed (a top-level CfnOutput keeps its id).
WEB_ACL_ARN_OUTPUT = "ApiWebAclArn"


class EdgeStack(Stack):
    def __init__(self, scope: Construct, *, config: DeploymentConfig, **kwargs: Any) -> None:
        super().__init__(
            scope,
            constants.edge_stack_name(config.stage),
            description=f"Partner programme edge protection ({config.stage}): the API's AWS WAF web ACL",
            env=Environment(account=config.account, region=constants.EDGE_REGION),
            **kwargs,
        )
        Tags.of(self).add("project", constants.RESOURCE_PREFIX)
        Tags.of(self).add("stage", config.stage)
        self.web_acl = api_web_acl(self, "ApiWebAcl", metric_prefix=f"{config.resource_name}-api")
        CfnOutput(self, WEB_ACL_ARN_OUTPUT, value=self.web_acl.attr_arn, description="CloudFront's web ACL")

    def web_acl_arn(self, consumer: Stack) -> str:
        """The web ACL's ARN as `consumer` (in another region) reads it; `consumer` is deployed after this
        stack. A weak reference: this stack could be deleted under it, so tear down the main stack first."""
        consumer.add_stack_dependency(self, "reads the web ACL's ARN from the edge stack's output")
        return Fn.get_stack_output(self.stack_name, WEB_ACL_ARN_OUTPUT, constants.EDGE_REGION)
