"""An SPA team can build on the published OpenAPI document: openapi-typescript turns the document the stack
serves into TypeScript types, and tests/client/portal.ts, an openapi-fetch client for what the portal and a
partner company's system call, type-checks against them (tsc, strict). Code that leans on what the
document does not declare fails the same check."""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from local.project import NODE_MODULES, ROOT
from local.stack import LocalStack

BIN = NODE_MODULES / ".bin"
CLIENT = ROOT / "tests" / "client"
# Follow the document's `required` lists: by default a field with a default value would be required in
# request bodies too (a manual lead without its defaulted location and priority would not type-check).
GENERATE_OPTIONS = ("--default-non-nullable", "false")
# How openapi-typescript marks a warning or an error about the document (stderr).
GENERATOR_COMPLAINTS = ("\u26a0", "\u2718")
TSC_ERROR = re.compile(r"^(?P<file>.+?)\(\d+,\d+\): error (?P<code>TS\d+): (?P<message>.*)$", re.MULTILINE)
TIMEOUT = 300


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str

    @property
    def errors(self) -> list[re.Match[str]]:
        return list(TSC_ERROR.finditer(self.output))


def _run(*command: str | Path) -> Run:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # the project's own node
    done = subprocess.run(  # noqa: S603 - the project's own node tools on files this module wrote
        [str(part) for part in command], capture_output=True, text=True, timeout=TIMEOUT, env=env, check=False
    )
    return Run(done.returncode, f"{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="module")
def generated_types(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("typed-client")
    answer = requests.get(f"{stack.url}/openapi.json", timeout=30)
    assert answer.status_code == 200, answer.text
    document = folder / "openapi.json"
    document.write_text(answer.text)
    types = folder / "api.d.ts"
    generated = _run(BIN / "openapi-typescript", document, *GENERATE_OPTIONS, "-o", types)
    assert generated.returncode == 0, generated.output
    assert not any(mark in generated.output for mark in GENERATOR_COMPLAINTS), generated.output
    return types


def _type_check(types: Path, *files: Path) -> Run:
    """tsc with tests/client/tsconfig.json, its "portal-api" mapped to the generated types."""
    config = types.parent / f"tsconfig.{files[0].stem}.json"
    config.write_text(
        json.dumps(
            {
                "extends": str(CLIENT / "tsconfig.json"),
                "compilerOptions": {"paths": {"portal-api": [str(types)]}},
                "files": [str(file) for file in files],
                "include": [],
            }
        )
    )
    return _run(BIN / "tsc", "-p", config, "--pretty", "false")


def test_the_portal_client_type_checks_against_the_published_document(generated_types: Path) -> None:
    checked = _type_check(generated_types, CLIENT / "portal.ts")
    assert checked.returncode == 0, checked.output


# Each snippet uses the portal client as an SPA would; the document does not back what it does.
UNBACKED = {
    "a wallet field the document does not declare": (
        """
        export async function iban(orgId: string) {
          const { data } = await portalClient("", "").GET("/orgs/{org_id}/portal/wallet", {
            params: { path: { org_id: orgId } },
          });
          return data?.iban;
        }
        """,
        # An answer declares exactly its fields (no index signature): the property does not exist.
        "TS2339",
        "'iban'",
    ),
    "a claimed lead without handling the 204 of an empty queue": (
        """
        export async function claimedLeadId(orgId: string): Promise<string> {
          const { data, error } = await portalClient("", "").POST("/orgs/{org_id}/lead-queue/claims", {
            params: { path: { org_id: orgId } },
          });
          if (error) throw error;
          return data.lead_id;
        }
        """,
        "TS18048",
        "'data'",
    ),
    "a query parameter the listing does not take": (
        """
        export function secondPage(orgId: string) {
          return portalClient("", "").GET("/orgs/{org_id}/leads", {
            params: { path: { org_id: orgId }, query: { page: 2 } },
          });
        }
        """,
        "TS2353",
        "'page'",
    ),
}


@pytest.mark.parametrize("case", list(UNBACKED))
def test_code_the_document_does_not_back_fails_the_check(generated_types: Path, case: str) -> None:
    body, code, name = UNBACKED[case]
    snippet = generated_types.parent / f"unbacked_{list(UNBACKED).index(case)}.ts"
    portal = os.path.relpath(CLIENT / "portal", snippet.parent)
    snippet.write_text(f'import {{ portalClient }} from "{portal}";\n{body}')
    checked = _type_check(generated_types, snippet)
    assert checked.returncode != 0, checked.output
    # Refused for the snippet's own reason: the client itself and the generated types stay clean.
    assert {Path(error["file"]).name for error in checked.errors} == {snippet.name}, checked.output
    assert any(error["code"] == code and name in error["message"] for error in checked.errors), checked.output
