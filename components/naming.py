"""Logical names from stable keys: a list entry keeps its name when the list is reordered or shrinks.

The key of an entry is a short digest of its value, so that a name never shows a value the stack
keeps secret (a principal ARN, an e-mail address) in a URN.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

__all__ = ["digest_key", "email_key", "keyed", "principal_key"]

KEY_LENGTH = 12
"""Hex characters of SHA-256 kept: 48 bits, far from a collision for the few entries of one list."""


def digest_key(value: str) -> str:
    """The first hex characters of the value's SHA-256: stable for the value, without showing it."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:KEY_LENGTH]


def principal_key(arn: str) -> str:
    """Key of an IAM principal: ARNs are case-sensitive, so the ARN as written."""
    return digest_key(arn)


def email_key(address: str) -> str:
    """Key of an e-mail address, compared case-insensitively (``Ops@x.io`` is ``ops@x.io``)."""
    return digest_key(address.lower())


def keyed(values: Iterable[str], key: Callable[[str], str]) -> dict[str, str]:
    """Each value under its key, in the given order.

    Raises:
        ValueError: two entries have the same key; the message names their positions, not values.
    """
    result: dict[str, str] = {}
    positions: dict[str, int] = {}
    for position, value in enumerate(values):
        name = key(value)
        if name in result:
            raise ValueError(f"entries {positions[name]} and {position} are the same")
        result[name] = value
        positions[name] = position
    return result
