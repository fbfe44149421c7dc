"""Powertools Logger, Tracer and Metrics, created once per process and shared by every module."""

from __future__ import annotations

import os
import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer

from common.platform.settings import env_name

# A request that records no metric is normal (e.g. a refused one); Powertools would warn on each of them.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

METRICS_NAMESPACE = "PartnerProgramme"
# Every metric carries the stage, so one account's stages (and their alarms) stay apart.
STAGE_DIMENSION = "stage"

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=METRICS_NAMESPACE)
metrics.set_default_dimensions(**{STAGE_DIMENSION: os.environ.get(env_name("stage")) or "unknown"})
