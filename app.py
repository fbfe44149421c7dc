#!/usr/bin/env python3
"""CDK entry point: `npx cdk synth`, or `make deploy STAGE=<stage>` (the stage's settings: cdk.json "stages",
-c key=value on top; docs/deploy.md)."""

from __future__ import annotations

from infra.constants import add_import_roots

# The stack reads the table definition from the common package, as the functions import it.
add_import_roots()

import sys  # noqa: E402

from aws_cdk import App  # noqa: E402

from infra.config import StageSettingsError  # noqa: E402
from infra.stack import add_stack  # noqa: E402

app = App()
try:
    add_stack(app)
except StageSettingsError as error:
    # Every problem at once, as one message: a traceback would only show the first and bury it.
    sys.exit(str(error))
app.synth()
