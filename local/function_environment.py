"""What the functions get on the local stack: the settings the deployment gives them (infra/functions.py), with
the local stand-ins' names and addresses, and the standard AWS_ENDPOINT_URL* variables that send boto3 to
DynamoDB Local and moto, so the functions' code has no local branches."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from common.platform.settings import environment

from infra import constants
from infra.manifest import LEAD_INTAKE_SCOPE, STATUS_SWEEP_WORK, WEBHOOK_DELIVERY
from local.state import ACCESS_KEY_ID, SECRET_ACCESS_KEY

if TYPE_CHECKING:
    from local.stack import LocalStack


def function_environment(
    stack: LocalStack, *, sender_domains: Iterable[str], twilio_from_number: str
) -> dict[str, str]:
    """Of a stack whose front, user pool, fake Twilio and queues exist (its workers start with it)."""
    work_queue = stack.work_queues.get(STATUS_SWEEP_WORK.name)
    delivery_queue = stack.work_queues.get(WEBHOOK_DELIVERY.name)
    return {
        **environment(
            stage=stack.stage,
            table_name=stack.table_name,
            powertools_service_name=constants.RESOURCE_PREFIX,
            email_from=stack.email_from,
            user_pool_id=stack.user_pool_id,
            lead_intake_scope=LEAD_INTAKE_SCOPE,
            token_issuer=stack.issuer,
            jwks_url=stack.jwks_url,
            portal_client_ids=stack.portal_client_id,
            token_url=stack.token_url,
            files_bucket=stack.files_bucket,
            portal_url=constants.DEV_PORTAL_ORIGIN,
            twilio_account_sid=stack.twilio.account_sid,
            twilio_from_number=twilio_from_number,
            twilio_auth_token_parameter=stack.twilio_auth_token_parameter,
            company_secret_prefix=constants.company_secret_prefix(stack.stage),
            twilio_api_url=stack.twilio.url,
            sms_webhook_url=f"{stack.url}{constants.SMS_WEBHOOK_PATH}",
            sms_status_url=f"{stack.url}{constants.SMS_STATUS_PATH}",
            consumer_queue_urls=json.dumps({n: q.queue_url for n, q in stack.change_queues.items()}),
            sender_domains=",".join(sender_domains),
            # Webhook receivers in the tests listen on this machine; deployed stages never allow it.
            outbound_allow_loopback="true",
            money_mfa_required="false",  # dev stages' default: no MFA asked
        ),
        # The queue the daily sweep hands its work on to (where the stack runs the sweep's work function).
        **(environment(sweep_work_queue_url=work_queue.queue_url) if work_queue else {}),
        # The queue every outbound delivery goes through (where the stack runs the delivery function).
        **(environment(webhook_queue_url=delivery_queue.queue_url) if delivery_queue else {}),
        constants.ENV_LOG_LEVEL: constants.LOG_LEVEL,
        **constants.TRACER_ENVIRONMENT,
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
        "AWS_REGION": stack.region,
        "AWS_DEFAULT_REGION": stack.region,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_ENDPOINT_URL": stack.moto_endpoint,
        "AWS_ENDPOINT_URL_DYNAMODB": stack.dynamodb_endpoint,
        "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": stack.dynamodb_endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
