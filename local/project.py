"""Where things are in the repository, and the import roots the Lambda runtime would provide."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Lambda puts the layer's packages and the function's folder on the path; the root holds infra/ and local/.
IMPORT_ROOTS = (ROOT, ROOT / "layers" / "common", ROOT / "functions")
NODE_MODULES = ROOT / "node_modules"
STATE_FILE = ROOT / ".local" / "dev.json"
# Shell variables for the running dev stack and its demo organisation: `source .local/demo.env`.
DEMO_ENV_FILE = ROOT / ".local" / "demo.env"


def add_import_roots() -> None:
    for root in reversed(IMPORT_ROOTS):
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
