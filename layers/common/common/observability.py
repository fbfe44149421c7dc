"""Powertools Logger, Tracer and Metrics, created once per process and shared by every module."""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer

# A request that records no metric is normal (e.g. a refused one); Powertools would warn on each of them.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

METRICS_NAMESPACE = "PartnerProgramme"

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=METRICS_NAMESPACE)
