"""What `make dev ARGS=--keep-data` keeps between runs, in one folder: DynamoDB Local's database files and a
snapshot of the AWS stand-ins (moto, in this process) that hold data rather than plumbing: the user pool
(users, passwords, partner companies' app clients) and the files bucket. Queues, parameters, e-mail
identities and the fake Twilio are made again on every start: messages in flight when the stack stopped,
and the outbox of earlier runs, are not kept.

The snapshot is a pickle of moto's own state, written when the stack stops and read before moto serves its
first request; it is a local convenience, tied to the moto version that wrote it: one that cannot be read
is set aside (renamed) and the stack starts with an empty pool, saying so.
"""

from __future__ import annotations

import copyreg
import logging
import pickle
import shutil
from pathlib import Path
from typing import Any

from cryptography.hazmat.bindings._rust import openssl as rust_openssl
from cryptography.hazmat.primitives import serialization
from moto.backends import get_backend

log = logging.getLogger("local.kept_data")

KEPT_SERVICES = ("cognitoidp", "s3")
SNAPSHOT = "moto.pickle"
DATABASE = "dynamodb"


def _load_key(pem: bytes) -> rust_openssl.rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rust_openssl.rsa.RSAPrivateKey)
    return key


def _reduce_key(key: Any) -> tuple[Any, tuple[bytes]]:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return _load_key, (pem,)


def _picklable_keys() -> None:
    """User pools hold their signing key, which pickles as its PEM."""
    copyreg.pickle(rust_openssl.rsa.RSAPrivateKey, _reduce_key)


class KeptData:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @property
    def database(self) -> Path:
        """DynamoDB Local's -dbPath."""
        path = self.folder / DATABASE
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def snapshot(self) -> Path:
        return self.folder / SNAPSHOT

    def forget(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def restore(self) -> bool:
        """moto's kept state back in place; False when there is none (a first start) or it is unreadable."""
        if not self.snapshot.is_file():
            return False
        _picklable_keys()
        try:
            kept = pickle.loads(self.snapshot.read_bytes())  # noqa: S301 - written by this tool, on this machine
            for service, accounts in kept.items():
                backend = get_backend(service)
                for account, regions in accounts.items():
                    backend[account] = regions
        except Exception as error:  # a snapshot of another moto version, or a truncated one
            aside = self.snapshot.with_suffix(".unreadable")
            self.snapshot.replace(aside)
            log.warning("the kept user pool and files could not be read (%s): set aside as %s", error, aside.name)
            return False
        return True

    def save(self) -> None:
        _picklable_keys()
        state = {service: dict(get_backend(service)) for service in KEPT_SERVICES}  # type: ignore[call-overload]
        written = self.snapshot.with_suffix(".tmp")
        written.write_bytes(pickle.dumps(state))
        written.replace(self.snapshot)  # never a half-written snapshot
