"""`make event-schemas`: write each event type's JSON Schema to docs/events/ (`<type>.v<version>.json`), from
the catalogue (common.integrations.event_docs). The files are published with the code; a unit test checks that
they are what the catalogue makes, so a change of an answer model shows in them, in review."""

from __future__ import annotations

import json
from pathlib import Path

from common.integrations import event_docs

from infra.constants import REPO_ROOT

SCHEMAS_DIR = REPO_ROOT / "docs" / "events"


def text(schema: dict[str, object]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write(directory: Path = SCHEMAS_DIR) -> list[Path]:
    """Write every type's schema, and remove the files of types or versions the catalogue no longer has."""
    directory.mkdir(parents=True, exist_ok=True)
    schemas = event_docs.json_schemas()
    for stale in directory.glob("*.json"):
        if stale.name not in schemas:
            stale.unlink()
    written = []
    for name, schema in schemas.items():
        path = directory / name
        path.write_text(text(schema))
        written.append(path)
    return written


if __name__ == "__main__":
    print(f"{len(write())} event schemas written to {SCHEMAS_DIR.relative_to(REPO_ROOT)}/")
