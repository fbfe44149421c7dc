#!/usr/bin/env python3
"""CDK entry point: `npx cdk synth`, or `make deploy STAGE=<stage>` (the stage's settings: cdk.json "stages",
-c key=value on top; docs/deploy.md)."""

from __future__ import annotations

import sys
from pathlib import Path

# The stack reads the table definition from the common package (layers/common/common).
sys.path.insert(0, str(Path(__file__).resolve().parent / "layers" / "common"))

from aws_cdk import App

from infra.stack import add_stack

app = App()
add_stack(app)
app.synth()
