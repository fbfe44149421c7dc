"""The local stack: the project's Lambda handlers served over HTTP against DynamoDB Local and moto.

Importing the package puts the Lambda import roots (the common layer and functions/) on sys.path, the
way the Lambda runtime does, so `python -m local.<tool>` works from the repository root.
"""

from infra.constants import add_import_roots

add_import_roots()
