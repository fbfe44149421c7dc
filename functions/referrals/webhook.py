"""Entry point of Twilio's webhooks (POST /twilio/sms: a team member's reply; POST /twilio/status: the
delivery status of a text we sent). No bearer token: behind CloudFront a request that did not come through it
is refused (common.web.edge_origin), then a body that is not readable form data (common.web.request_body),
then referrals.twilio_requests checks Twilio's signature before anything else.

Kept small for its cold start: no API resolver and no Twilio REST client are imported here.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from common.platform.observability import logger, metrics, tracer
from common.platform.settings import Deployment, SmsWebhookUrls, TwilioAuthToken, TwilioNumber, validate_settings
from common.web import edge_origin, request_body

from referrals import twilio_requests

# Validated at cold start: without the token's parameter or the signed URLs no request can be checked.
validate_settings(Deployment, SmsWebhookUrls, TwilioAuthToken, TwilioNumber)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
# Form bodies and replies carry phone numbers and names: keep them out of traces.
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return (
        edge_origin.refusal(event)
        or request_body.refusal(event, request_body.FORM_MEDIA_TYPE)
        or twilio_requests.handle(event)
    )


def openapi_document() -> dict[str, Any]:
    """This function's part of the API's OpenAPI document (it has no resolver to generate one)."""
    from referrals import webhook_openapi  # only when the document is built: not on the cold-start path

    return webhook_openapi.document()
