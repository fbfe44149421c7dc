"""Every manifest function is an arm64 Lambda on the layer's Python, with the settings it validates."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from common.platform.settings import ENV_NAMES, env_name

from infra import constants, manifest
from infra.functions import RUNTIME
from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra

FUNCTION_NAMES = [function.name for function in manifest.FUNCTIONS]
# Settings only the local stack sets: outbound requests to loopback addresses and over plain http.
LOCAL_ONLY = {env_name("outbound_allow_loopback")}


@pytest.mark.parametrize("spec", manifest.FUNCTIONS, ids=FUNCTION_NAMES)
def test_every_other_variable_is_read_by_powertools(dev: Synth, spec: manifest.Function) -> None:
    variables = dev.function(spec.name)[1]["Properties"]["Environment"]["Variables"]

    assert variables.keys() - set(ENV_NAMES) == {constants.ENV_LOG_LEVEL, *constants.TRACER_ENVIRONMENT}


def test_runtime_matches_the_layer_build() -> None:
    assert RUNTIME.name == f"python{constants.PYTHON_VERSION}"


@pytest.mark.parametrize("spec", manifest.FUNCTIONS, ids=FUNCTION_NAMES)
def test_function_runtime_handler_and_layer(dev: Synth, spec: manifest.Function) -> None:
    (layer_id, _) = dev.only("AWS::Lambda::LayerVersion")
    _, function = dev.function(spec.name)
    properties = function["Properties"]

    assert properties["Architectures"] == ["arm64"]
    assert properties["Runtime"] == f"python{constants.PYTHON_VERSION}"
    assert properties["Handler"] == spec.handler
    assert properties["MemorySize"] == spec.memory_mb
    assert properties["Timeout"] == spec.timeout_s
    assert properties["Layers"] == [{"Ref": layer_id}]
    assert properties["TracingConfig"] == {"Mode": "Active"}


@pytest.mark.parametrize("spec", manifest.FUNCTIONS, ids=FUNCTION_NAMES)
def test_function_environment(dev: Synth, spec: manifest.Function) -> None:
    (table_id, _) = dev.only("AWS::DynamoDB::Table")
    (pool_id, _) = dev.only("AWS::Cognito::UserPool")
    (client_id, _) = dev.only("AWS::Cognito::UserPoolClient")
    (domain_id, _) = dev.only("AWS::Cognito::UserPoolDomain")
    variables = dev.function(spec.name)[1]["Properties"]["Environment"]["Variables"]

    # The queue URLs only where they are used: the consumers' the dispatcher's (sending to them), the sweep
    # work queue's the sweep's, the delivery queue's its producers' (the events' fan-out, the API's resends,
    # replays and test events, the leads API's sale post resends; WebhookDelivery sends on what is not due).
    senders = {
        env_name("consumer_queue_urls"): {manifest.STREAM_DISPATCHER.name},
        env_name("sweep_work_queue_url"): {manifest.STATUS_SWEEP.name},
        env_name("webhook_queue_url"): {
            manifest.WEBHOOK_DELIVERY.name,
            manifest.INTEGRATIONS_EVENTS.name,
            manifest.INTEGRATIONS_API.name,
            manifest.LEADS_API.name,
        },
    }
    assert set(ENV_NAMES) - senders.keys() - LOCAL_ONLY <= variables.keys()
    assert {name for name in senders if name in variables} == {
        name for name, sending in senders.items() if spec.name in sending
    }
    assert variables["STAGE"] == "dev"
    assert variables["TABLE_NAME"] == {"Ref": table_id}
    assert variables["USER_POOL_ID"] == {"Ref": pool_id}
    assert variables["EMAIL_FROM"] == "no-reply@example.com"
    assert variables["LEAD_INTAKE_SCOPE"] == manifest.LEAD_INTAKE_SCOPE
    assert variables["POWERTOOLS_SERVICE_NAME"] == spec.folder
    assert "POWERTOOLS_METRICS_NAMESPACE" not in variables  # the code names its namespace
    assert variables["LOG_LEVEL"] == constants.LOG_LEVEL
    issuer = ["https://cognito-idp.", {"Ref": "AWS::Region"}, ".amazonaws.com/", {"Ref": pool_id}]
    assert variables["TOKEN_ISSUER"] == {"Fn::Join": ["", issuer]}
    assert variables["JWKS_URL"] == {"Fn::Join": ["", [*issuer, "/.well-known/jwks.json"]]}
    assert variables["PORTAL_CLIENT_IDS"] == {"Ref": client_id}
    token_url = variables["TOKEN_URL"]["Fn::Join"][1]
    assert token_url[0] == "https://"
    assert {"Ref": domain_id} in token_url
    assert token_url[-1].endswith(".amazoncognito.com/oauth2/token")
    assert variables["FILES_BUCKET"] == {"Ref": dev.only("AWS::S3::Bucket")[0]}
    assert variables["PORTAL_URL"] == constants.DEV_PORTAL_ORIGIN


@pytest.mark.parametrize("spec", manifest.FUNCTIONS, ids=FUNCTION_NAMES)
def test_no_stage_lets_outbound_requests_reach_loopback_addresses(
    dev: Synth, prod: Synth, spec: manifest.Function
) -> None:
    # Unset, a function's outbound policy is the deployed one: HTTPS to public addresses only.
    for synth in (dev, prod):
        variables = synth.function(spec.name)[1]["Properties"]["Environment"]["Variables"]
        assert not LOCAL_ONLY & variables.keys()


@pytest.mark.parametrize("spec", manifest.FUNCTIONS, ids=FUNCTION_NAMES)
def test_prod_portal_url_is_the_portal_origin(prod: Synth, spec: manifest.Function) -> None:
    # From the first portalCallbackUrls entry, as no portalUrl is given.
    variables = prod.function(spec.name)[1]["Properties"]["Environment"]["Variables"]

    assert variables["PORTAL_URL"] == "https://partners.example.com"


@pytest.mark.parametrize("spec", manifest.FUNCTIONS, ids=FUNCTION_NAMES)
def test_traces_carry_no_responses_or_errors(prod: Synth, spec: manifest.Function) -> None:
    # Both can hold personal data; the variables back up the handlers' capture_* arguments.
    variables = prod.function(spec.name)[1]["Properties"]["Environment"]["Variables"]

    assert variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
    assert variables["POWERTOOLS_TRACER_CAPTURE_ERROR"] == "false"


@pytest.mark.parametrize("spec", manifest.FUNCTIONS, ids=FUNCTION_NAMES)
def test_function_asset_holds_only_its_own_folder(dev: Synth, spec: manifest.Function) -> None:
    asset = dev.outdir / dev.function(spec.name)[1]["Metadata"]["aws:asset:path"]

    assert sorted(os.listdir(asset)) == [spec.folder]
    assert not list(asset.rglob("__pycache__"))


@pytest.mark.parametrize("spec", manifest.FUNCTIONS, ids=FUNCTION_NAMES)
def test_function_logs_to_its_own_log_group(dev: Synth, spec: manifest.Function) -> None:
    log_groups = dev.resources("AWS::Logs::LogGroup")
    logging_config = dev.function(spec.name)[1]["Properties"]["LoggingConfig"]

    assert logging_config["LogGroup"]["Ref"] in log_groups


def test_every_log_group_has_a_retention(dev: Synth, prod: Synth) -> None:
    for synth, days in ((dev, 30), (prod, 90)):
        for log_group in synth.resources("AWS::Logs::LogGroup").values():
            assert log_group["Properties"]["RetentionInDays"] == days


def test_layer_is_built_for_the_runtime(dev: Synth, layer: Path) -> None:
    (_, layer_version) = dev.only("AWS::Lambda::LayerVersion")
    site = layer / "python"

    assert layer_version["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert layer_version["Properties"]["CompatibleRuntimes"] == [f"python{constants.PYTHON_VERSION}"]
    assert (site / "common" / "platform" / "table_schema.py").is_file()
    tag = constants.PYTHON_VERSION.replace(".", "")
    assert list(site.glob(f"pydantic_core/_pydantic_core.cpython-{tag}-aarch64-linux-gnu.so"))
    assert not (site / "bin").exists()
