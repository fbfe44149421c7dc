"""Sortable ids: 48-bit millisecond time + 80 random bits, Crockford base32 (ULID layout, 26 chars)."""

from __future__ import annotations

import secrets

from common.platform import clock

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, index = divmod(value, 32)
        chars.append(_ALPHABET[index])
    return "".join(reversed(chars))


def new_id() -> str:
    millis = int(clock.now().timestamp() * 1000)
    return _encode(millis, 10) + _encode(secrets.randbits(80), 16)
