"""Where the local stack keeps things in the repository; the import roots are infra.constants'."""

from __future__ import annotations

from infra.constants import REPO_ROOT

ROOT = REPO_ROOT
NODE_MODULES = ROOT / "node_modules"
STATE_FILE = ROOT / ".local" / "dev.json"
# Shell variables for the running dev stack and its demo organisation: `source .local/demo.env`.
DEMO_ENV_FILE = ROOT / ".local" / "demo.env"
