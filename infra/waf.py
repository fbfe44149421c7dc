"""The AWS WAF web ACLs of edge protection, and their limits in one place.

- The API's (scope CLOUDFRONT, so in us-east-1: infra/edge_stack.py), in front of every API request: AWS's IP
  reputation list, a per-IP rate limit on everything and a tighter one on `/public/...`, then AWS's common
  rule set.
- The user pool's (scope REGIONAL, in the stage's region: infra/edge.py), in front of Cognito's sign-in API and
  its domain's endpoints: the IP reputation list, a per-IP rate limit on everything and a tighter one on the
  token endpoint, `/oauth2/token`, where partner companies' systems exchange their credentials for tokens.
  That is the token route: the API has none of its own (infra/manifest.py); the local stack serves one only
  because moto does not.

Rate-based rules count each client IP's requests over the last RATE_WINDOW_SECONDS and block it while it is
over the limit; WAF checks often but acts near the limit, not exactly at it. The limits sit well below the
API Gateway throttling they protect (infra/constants.py), so one client can take only a small share of it.
"""

from __future__ import annotations

import json

from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

# WAF's default window (it allows 60, 120, 300 or 600 seconds); every limit below is per IP and per window.
RATE_WINDOW_SECONDS = 300
# Everything one address sends the API: 5 requests a second sustained, a tenth of the stage's steady rate
# (API_RATE_LIMIT, 50/s). A person in the portal makes a few requests a second at most, a partner company's
# system posting leads one at a time 5 a second; an office behind one address shares it.
API_REQUESTS_PER_IP = 1_500
# /public/... (registration, invitations, referral links, e-mail confirmation), done by hand: one request a
# second, a tenth of those routes' own throttle (UNAUTHENTICATED_ROUTE_RATE_LIMIT, 10/s), so a flood from
# one address leaves them to everyone else; mobile carriers put many phones behind one address.
PUBLIC_REQUESTS_PER_IP = 300
PUBLIC_PATH_PREFIX = "/public/"
# Cognito's sign-in API (SRP takes a few calls per sign-in; the SDKs refresh tokens there too) and its
# domain's pages, from one address.
SIGN_IN_REQUESTS_PER_IP = 500
# The token endpoint: a partner company's system needs a token an hour (each costs, see docs/deploy.md's
# costs); the portal's hosted sign-in exchanges one code per sign-in. Twelve a minute from one address is
# plenty, and caps guessing at client secrets.
TOKEN_REQUESTS_PER_IP = 60
TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a path, not a secret

IP_REPUTATION = "AWSManagedRulesAmazonIpReputationList"
COMMON_RULES = "AWSManagedRulesCommonRuleSet"
# Counted, not blocked: the rule refuses bodies over 8 KB, and message templates take up to 20,000 characters
# (common.orgs.templates). The functions validate every body themselves.
COMMON_RULES_COUNTED = ("SizeRestrictions_BODY",)

# What a client over a rate limit gets from the API's web ACL: 429 and a problem body, as API Gateway's own
# throttling answers 429 (WAF's default would be a bare 403).
RATE_LIMITED = "rate-limited"
RATE_LIMITED_BODY = {
    "type": f"/problems/{RATE_LIMITED}",
    "title": "Too many requests",
    "status": 429,
    "detail": "too many requests from this address; retry in a few minutes",
}


def api_web_acl(scope: Construct, construct_id: str, *, metric_prefix: str) -> wafv2.CfnWebACL:
    rate_limited = wafv2.CfnWebACL.RuleActionProperty(
        block=wafv2.CfnWebACL.BlockActionProperty(
            custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                response_code=429, custom_response_body_key=RATE_LIMITED
            )
        )
    )
    return wafv2.CfnWebACL(
        scope,
        construct_id,
        scope="CLOUDFRONT",
        description="Partner programme API - IP reputation, per-IP rate limits, common rules",
        default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
        visibility_config=_visibility(metric_prefix),
        custom_response_bodies={
            RATE_LIMITED: wafv2.CfnWebACL.CustomResponseBodyProperty(
                content_type="APPLICATION_JSON", content=json.dumps(RATE_LIMITED_BODY)
            )
        },
        rules=[
            _managed(0, IP_REPUTATION, metric_prefix),
            _rate(1, "PerIp", API_REQUESTS_PER_IP, metric_prefix, action=rate_limited),
            _rate(
                2,
                "PublicPerIp",
                PUBLIC_REQUESTS_PER_IP,
                metric_prefix,
                path=(PUBLIC_PATH_PREFIX, "STARTS_WITH"),
                action=rate_limited,
            ),
            _managed(3, COMMON_RULES, metric_prefix, counted=COMMON_RULES_COUNTED),
        ],
    )


def sign_in_web_acl(scope: Construct, construct_id: str, *, metric_prefix: str) -> wafv2.CfnWebACL:
    """Cognito answers a blocked request with its own error (a custom response reaches only the first page of
    its hosted sign-in), so the rules block plainly."""
    block = wafv2.CfnWebACL.RuleActionProperty(block={})
    return wafv2.CfnWebACL(
        scope,
        construct_id,
        scope="REGIONAL",
        description="Partner programme sign-in, Cognito - IP reputation, per-IP rate limits",
        default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
        visibility_config=_visibility(metric_prefix),
        rules=[
            _managed(0, IP_REPUTATION, metric_prefix),
            _rate(1, "PerIp", SIGN_IN_REQUESTS_PER_IP, metric_prefix, action=block),
            _rate(2, "TokenPerIp", TOKEN_REQUESTS_PER_IP, metric_prefix, path=(TOKEN_PATH, "EXACTLY"), action=block),
        ],
    )


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    # Sampled requests stay in WAF for three hours (console); no WAF logs, which would hold client addresses.
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


def _managed(
    priority: int, name: str, metric_prefix: str, *, counted: tuple[str, ...] = ()
) -> wafv2.CfnWebACL.RuleProperty:
    count = wafv2.CfnWebACL.RuleActionProperty(count={})
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),  # the group's own actions
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                vendor_name="AWS",
                name=name,
                rule_action_overrides=[
                    wafv2.CfnWebACL.RuleActionOverrideProperty(name=rule, action_to_use=count) for rule in counted
                ]
                or None,
            )
        ),
        visibility_config=_visibility(f"{metric_prefix}-{name}"),
    )


def _rate(
    priority: int,
    name: str,
    limit: int,
    metric_prefix: str,
    *,
    action: wafv2.CfnWebACL.RuleActionProperty,
    path: tuple[str, str] | None = None,
) -> wafv2.CfnWebACL.RuleProperty:
    """Block an address over `limit` requests in the window; with `path` (text, how it matches), count only
    requests to that path."""
    scope_down = None
    if path:
        text, positional_constraint = path
        scope_down = wafv2.CfnWebACL.StatementProperty(
            byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
                positional_constraint=positional_constraint,
                search_string=text,
                # Decoded and in lower case: spelling the path another way does not step around the limit.
                text_transformations=[
                    wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="URL_DECODE"),
                    wafv2.CfnWebACL.TextTransformationProperty(priority=1, type="LOWERCASE"),
                ],
            )
        )
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        action=action,
        statement=wafv2.CfnWebACL.StatementProperty(
            rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                aggregate_key_type="IP",
                limit=limit,
                evaluation_window_sec=RATE_WINDOW_SECONDS,
                scope_down_statement=scope_down,
            )
        ),
        visibility_config=_visibility(f"{metric_prefix}-{name}"),
    )
