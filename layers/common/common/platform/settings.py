"""Run-time settings, validated once at cold start.

The environment variable names are the field names upper-cased; infra sets exactly these names
(see infra/constants.py), and the local stack sets the same ones.
"""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    stage: str = Field(min_length=1)
    table_name: str = Field(min_length=3)
    powertools_service_name: str = Field(min_length=1)
    email_from: str = Field(min_length=3)
    user_pool_id: str = Field(default="", description="Cognito pool holding staff, partners and machine clients")
    lead_intake_scope: str = Field(default="leads/write")
    token_issuer: str = Field(default="", description="expected `iss` of bearer tokens (the Cognito pool)")
    jwks_url: str = Field(default="", description="where the token signing keys are published")
    portal_client_ids: str = Field(default="", description="comma-separated app clients whose user tokens we accept")
    token_url: str = Field(default="", description="OAuth token endpoint partner companies get tokens from")
    files_bucket: str = Field(default="", description="S3 bucket of uploaded files: terms PDFs, deal files")
    portal_url: str = Field(default="", description="the partner portal's address, for links in e-mails")
    twilio_account_sid: str = Field(default="", description="the Twilio account texts are sent from")
    twilio_from_number: str = Field(default="", description="the number (E.164) texts are sent from")
    twilio_auth_token_parameter: str = Field(default="", description="SSM SecureString holding the auth token")
    twilio_api_url: str = Field(default="https://api.twilio.com", description="Twilio's REST API base URL")
    sms_webhook_url: str = Field(default="", description="the public URL Twilio posts replies to (signed)")
    sms_status_url: str = Field(default="", description="the public URL Twilio posts delivery statuses to")
    ses_configuration_set: str = Field(default="", description="SES configuration set e-mails are sent with")
    consumer_queue_urls: str = Field(default="", description="JSON object: each change consumer's queue URL")
    sender_domains: str = Field(
        default="", description="comma-separated domains (SES identities) invitations may go out from"
    )

    def require(self, *fields: str) -> Settings:
        """Fail at cold start when a setting this function needs is empty (the defaults are empty because
        not every function needs every setting)."""
        missing = [name.upper() for name in fields if not getattr(self, name)]
        if missing:
            raise SettingsError(f"missing settings: {', '.join(missing)}")
        return self

    @property
    def portal_clients(self) -> frozenset[str]:
        return frozenset(c.strip() for c in self.portal_client_ids.split(",") if c.strip())

    @property
    def sender_domain_set(self) -> frozenset[str]:
        return frozenset(d.strip().lower() for d in self.sender_domains.split(",") if d.strip())


def env_name(field: str) -> str:
    """The environment variable a setting is read from."""
    if field not in Settings.model_fields:
        raise KeyError(field)
    return field.upper()


ENV_NAMES = tuple(env_name(name) for name in Settings.model_fields)


class SettingsError(RuntimeError):
    """Raised at cold start when the environment is incomplete: the function must not serve requests."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    raw = {name.lower(): os.environ[name] for name in ENV_NAMES if name in os.environ}
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        missing = ", ".join(".".join(str(p) for p in e["loc"]).upper() for e in exc.errors())
        raise SettingsError(f"invalid or missing settings: {missing}") from exc
