"""Integration tests drive the local stack over HTTP, as the portal and partner systems would.

One stack (DynamoDB Local, moto, the functions in worker processes) serves the whole session. Every test
in this folder is marked `integration`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from local.stack import LocalStack
from tests.integration.support.actors import PASSWORD
from tests.integration.support.contract import ResponseContract, checking_every_answer

HERE = Path(__file__).parent


# Files that take minutes (the 10,000-reminder backlog): collected first, so that with `--dist loadfile` a
# worker starts on them at once while the other works through the rest, instead of one ending the run alone.
STARTED_FIRST = ("test_team_reminders.py",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)
    items.sort(key=lambda item: item.path.name not in STARTED_FIRST)  # stable: the rest keep their order


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    """The running local stack; this process also gets the functions' environment (endpoints, table
    name, dummy credentials) so tests can use boto3 directly."""
    with LocalStack() as running, running.environment():
        yield running


@pytest.fixture(scope="session", autouse=True)
def response_contract(stack: LocalStack) -> Iterator[ResponseContract]:
    """Every answer of the API in this session, checked against the document the stack serves."""
    document = requests.get(f"{stack.url}/openapi.json", timeout=30).json()
    with checking_every_answer(ResponseContract(stack.url, document, stack.routes)) as contract:
        yield contract


@pytest.fixture(autouse=True)
def answers_match_the_document(response_contract: ResponseContract) -> Iterator[None]:
    response_contract.take_violations()
    yield
    violations = response_contract.take_violations()
    assert not violations, f"{len(violations)} answers differ from the published OpenAPI:\n" + "\n".join(violations)


class ApiSession(requests.Session):
    """A requests session against the stack: paths are relative to its URL; `token` sets the bearer."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        super().__init__()
        self.base_url = base_url
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if url.startswith("/"):
            url = self.base_url + url
        kwargs.setdefault("timeout", 30)
        return super().request(method, url, *args, **kwargs)

    def as_token(self, token: str | None) -> ApiSession:
        return ApiSession(self.base_url, token)


@pytest.fixture
def http(stack: LocalStack) -> Iterator[ApiSession]:
    with ApiSession(stack.url) as session:
        yield session


@dataclass(frozen=True)
class User:
    """A Cognito user with its sign-in details, for tests of the sign-in itself (actors.Actor keeps only
    the token); the password is actors.PASSWORD."""

    email: str
    user_id: str
    token: str
    password: str = PASSWORD


@pytest.fixture
def user(stack: LocalStack) -> User:
    email = f"user-{uuid.uuid4().hex[:10]}@it.example"
    user_id = stack.create_user(email, PASSWORD)
    return User(email, user_id, stack.user_token(email, PASSWORD))
