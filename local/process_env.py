"""Giving this process the functions' environment for a while (for direct boto3 calls and handler imports in
tests), and taking it back."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager


def apply_env(env: Mapping[str, str], environ: MutableMapping[str, str] = os.environ) -> dict[str, str | None]:
    """Set `env` in `environ`; returns the previous values for `restore_env`."""
    previous = {name: environ.get(name) for name in env}
    environ.update(env)
    return previous


def restore_env(previous: Mapping[str, str | None], environ: MutableMapping[str, str] = os.environ) -> None:
    for name, value in previous.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value


@contextmanager
def applied_env(env: dict[str, str]) -> Iterator[dict[str, str]]:
    previous = apply_env(env)
    try:
        yield env
    finally:
        restore_env(previous)
