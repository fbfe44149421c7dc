"""The operator's tools, run against a stage (`--stage <stage>`, with your AWS credentials) or the running
`make dev` stack: `python -m ops.redrive`, `python -m ops.replay`, `python -m ops.verify_ledger` (`make
redrive`, `make replay`, `make verify-ledger`). Not part of the deployment: nothing here ships to Lambda.

Importing the package puts the Lambda import roots (the common layer and functions/) on sys.path, so the tools
use the layer's own code (the dispatcher's fan-out, the ledger's keys) from the repository root.
"""

from infra.constants import add_import_roots

add_import_roots()
