"""The stack stays under AWS's hard limits, on every stage: measured on the synthesized template with
realistic names and ARNs and on the staged assets (tests/infra/limits_report.py, which also prints the
figures)."""

from __future__ import annotations

import pytest

from infra import manifest
from tests.infra import limits_report as limits
from tests.infra import realistic
from tests.infra.conftest import Synth
from tests.infra.limits_report import Measurements
from tests.infra.realistic import function_behind

pytestmark = pytest.mark.infra

STAGES = ["dev", "prod"]


@pytest.fixture(params=STAGES)
def measured(request: pytest.FixtureRequest) -> Measurements:
    synth: Synth = request.getfixturevalue(request.param)
    return Measurements.of(synth)


def test_every_function_resource_policy_fits(measured: Measurements) -> None:
    sizes = measured.function_policy_bytes()

    assert sizes, "no Lambda permission found: the measurement is broken"
    for name, size in sizes.items():
        assert size < limits.FUNCTION_POLICY_LIMIT_BYTES, f"{name}: {size:,} bytes"


def test_api_gateway_has_one_invoke_permission_per_function(measured: Measurements) -> None:
    # One per route would grow with every route added (PartnersApi had 82 of them).
    targets = [
        function_behind(measured.resources, permission["Properties"]["FunctionName"])
        for _, permission in measured.permissions()
        if permission["Properties"]["Principal"] == "apigateway.amazonaws.com"
    ]
    routed = {route.function for route in manifest.ROUTES} | {manifest.TOKEN_AUTHORIZER.name}
    names = {logical_id: name for name, logical_id, _ in measured.functions()}

    assert sorted(names[target] for target in targets) == sorted(routed)


def test_every_stack_resource_count_fits(measured: Measurements) -> None:
    counts = measured.resource_counts()

    assert "main" in counts
    for stack, count in counts.items():
        assert count <= limits.resource_budget(stack), f"{stack} stack: {count} resources"
    assert limits.MAIN_STACK_RESOURCES_BUDGET < limits.STACK_RESOURCES_LIMIT < 500


def test_the_api_keeps_its_route_budget(measured: Measurements) -> None:
    routes = measured.api_routes()

    assert 0 < routes <= limits.API_ROUTES_BUDGET, f"{routes} routes"
    assert limits.API_ROUTES_BUDGET < limits.API_ROUTES_QUOTA


def test_every_template_fits_when_uploaded(measured: Measurements) -> None:
    # Above the request-body limit the CDK CLI uploads the template to the bootstrap bucket: that is the
    # limit that matters; limits_report shows both.
    for stack, size in measured.template_bytes().items():
        assert size < limits.TEMPLATE_S3_LIMIT_BYTES, f"{stack} stack: {size:,} bytes"


def test_every_role_inline_policies_fit(measured: Measurements) -> None:
    for role, chars in measured.role_inline_policy_chars().items():
        assert chars < limits.ROLE_POLICIES_LIMIT_CHARS, f"{role}: {chars:,} characters"


def test_every_function_environment_fits(measured: Measurements) -> None:
    sizes = measured.environment_bytes()

    assert sizes.keys() == {function.name for function in manifest.FUNCTIONS}
    for name, size in sizes.items():
        assert size < limits.ENVIRONMENT_LIMIT_BYTES, f"{name}: {size:,} bytes"


def test_every_function_code_and_layers_fit_unzipped(measured: Measurements) -> None:
    for name, size in measured.code_and_layers_bytes().items():
        assert 0 < size < limits.CODE_AND_LAYERS_LIMIT_BYTES, f"{name}: {size:,} bytes"


def test_the_table_stream_has_one_reader(measured: Measurements) -> None:
    readers = measured.stream_readers()

    assert len(readers) <= limits.STREAM_READERS_LIMIT, f"stream readers: {', '.join(readers)}"


def test_the_report_names_every_limit(dev: Synth) -> None:
    rows = limits.report(Measurements.of(dev))
    what = " ".join(row[0] for row in rows)

    for expected in ("resource-based policy", "environment", "inline policies", "code + layers", "resources", "routes"):
        assert expected in what
    assert "template, uploaded to S3 (main stack)" in what and "template, as a request body (main stack)" in what


def test_references_resolve_to_realistic_arns(dev: Synth) -> None:
    resolver = Measurements.of(dev).resolver
    (_, permission) = next(
        item for item in dev.everywhere("AWS::Lambda::Permission").items() if "Authorizer" not in item[0]
    )
    (table_id, _) = dev.only("AWS::DynamoDB::Table")

    source = resolver.resolve(permission["Properties"]["SourceArn"])
    assert source.startswith(f"arn:aws:execute-api:{realistic.REGION}:{realistic.ACCOUNT}:")
    assert len(source.split(":")[-1].split("/")[0]) == 10  # an API id
    stream = resolver.get_att(table_id, "StreamArn")
    assert stream.startswith(f"arn:aws:dynamodb:{realistic.REGION}:{realistic.ACCOUNT}:table/PartnerProgramme-dev-")
    with pytest.raises(KeyError):
        resolver.resolve({"Fn::ImportValue": "elsewhere"})
