"""The settings of edge protection (CloudFront and AWS WAF in front of the API), read and checked for
infra/config.py; infra/edge.py and infra/edge_stack.py build what they say.

An HTTP API whose execute-api endpoint is disabled answers only at a custom domain name, so CloudFront's origin
is a regional API Gateway domain name with an ACM certificate of the stage's own region (`apiDomainName`,
`apiCertificateArn`). The distribution answers at its generated *.cloudfront.net name, or at a public name of
yours with an ACM certificate in us-east-1, the only region CloudFront takes certificates from
(`publicDomainName`, `publicCertificateArn`). Protected stages need the first pair; a dev stage may give it to
rehearse the edge, or leave it out and keep the execute-api endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from common.platform.validation import DOMAIN_PATTERN

from infra import constants

API_DOMAIN = constants.CONTEXT_API_DOMAIN_NAME
API_CERTIFICATE = constants.CONTEXT_API_CERTIFICATE_ARN
PUBLIC_DOMAIN = constants.CONTEXT_PUBLIC_DOMAIN_NAME
PUBLIC_CERTIFICATE = constants.CONTEXT_PUBLIC_CERTIFICATE_ARN
SECRET_VERSION = constants.CONTEXT_ORIGIN_SECRET_VERSION

DOMAIN = re.compile(f"^{DOMAIN_PATTERN}$")
CERTIFICATE_ARN = re.compile(
    r"^arn:aws(?:-[a-z]+)*:acm:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):certificate/[0-9a-f-]{36}$"
)
# Secrets Manager's version ids are 32 to 64 characters (UUIDs when Secrets Manager makes them).
SECRET_VERSION_ID = re.compile(r"^[A-Za-z0-9-]{32,64}$")


@dataclass(frozen=True)
class EdgeSettings:
    # The API's regional custom domain, CloudFront's origin, and its certificate (the stage's region).
    api_domain_name: str
    api_certificate_arn: str
    # The distribution's own public name and its us-east-1 certificate; None: its *.cloudfront.net name.
    public_domain_name: str | None = None
    public_certificate_arn: str | None = None
    # The version of the origin secret CloudFront sends; None: the current one when the distribution is made.
    origin_secret_version: str | None = None


def read_edge_settings(
    given: Callable[[str], str], *, protected: bool, account: str | None, region: str | None
) -> tuple[EdgeSettings | None, list[str]]:
    """The stage's edge settings (None: no edge, the API keeps its execute-api endpoint) and every problem
    with them. `given` reads a setting's text; `account` and `region` are the stage's, where it names them."""
    api_domain, api_certificate = given(API_DOMAIN).lower(), given(API_CERTIFICATE)
    public_domain, public_certificate = given(PUBLIC_DOMAIN).lower(), given(PUBLIC_CERTIFICATE)
    secret_version = given(SECRET_VERSION)
    if not (api_domain or api_certificate):
        problems = []
        if protected:
            problems.append(
                f"set the API's origin with -c {API_DOMAIN}=api-origin.your-domain -c {API_CERTIFICATE}=arn:aws:acm:"
                "<the stage's region>:...: protected stages serve the API through CloudFront and AWS WAF, and "
                "an API without its execute-api endpoint answers only at a custom domain"
            )
        edge_only = [name for name, value in _optional(public_domain, public_certificate, secret_version) if value]
        if edge_only:
            problems.append(f"{', '.join(edge_only)}: only with edge protection ({API_DOMAIN}, {API_CERTIFICATE})")
        return None, problems

    problems = _domain_problems(API_DOMAIN, api_domain)
    problems += _certificate_problems(API_CERTIFICATE, api_certificate, account=account, region=region, named=True)
    if public_domain or public_certificate:
        problems += _domain_problems(PUBLIC_DOMAIN, public_domain)
        problems += _certificate_problems(
            PUBLIC_CERTIFICATE, public_certificate, account=account, region=constants.EDGE_REGION, named=False
        )
        if public_domain and public_domain == api_domain:
            problems.append(
                f"{PUBLIC_DOMAIN} and {API_DOMAIN} must differ: the public name is CloudFront's, the origin "
                "API Gateway's"
            )
    if secret_version and not SECRET_VERSION_ID.match(secret_version):
        problems.append(f"{SECRET_VERSION} {secret_version!r}: a Secrets Manager version id (32-64 letters, digits, -)")
    settings = EdgeSettings(
        api_domain_name=api_domain,
        api_certificate_arn=api_certificate,
        public_domain_name=public_domain or None,
        public_certificate_arn=public_certificate or None,
        origin_secret_version=secret_version or None,
    )
    return (None if problems else settings), problems


def _optional(public_domain: str, public_certificate: str, secret_version: str) -> list[tuple[str, str]]:
    return [(PUBLIC_DOMAIN, public_domain), (PUBLIC_CERTIFICATE, public_certificate), (SECRET_VERSION, secret_version)]


def _domain_problems(name: str, domain: str) -> list[str]:
    if not domain:
        return [f"{name}: give the domain name as well (a name and its certificate go together)"]
    if not DOMAIN.match(domain) or len(domain) > 253:
        return [f"{name} {domain!r} is not a domain name"]
    return []


def _certificate_problems(name: str, arn: str, *, account: str | None, region: str | None, named: bool) -> list[str]:
    """An ACM certificate's ARN, in the region it must be in (the stage's, or us-east-1 for CloudFront) and
    the stage's account, where those are known."""
    if not arn:
        return [f"{name}: give the ACM certificate's ARN as well (a name and its certificate go together)"]
    found = CERTIFICATE_ARN.match(arn)
    if not found:
        return [f"{name} {arn!r} is not an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)"]
    problems = []
    if region and found["region"] != region:
        where = f"the stage's region ({region})" if named else f"{region}, where CloudFront takes its certificates from"
        problems.append(f"{name}: the certificate is in {found['region']}; it must be in {where}")
    if account and found["account"] != account:
        problems.append(f"{name}: the certificate belongs to account {found['account']}, not the stage's ({account})")
    return problems
