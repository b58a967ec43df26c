"""API keys of the HTTP service: clients send ``Authorization: Bearer <key>`` (as OpenAI's clients do).

Keys are compared in constant time: the presented key and every accepted key are hashed (SHA-256, so neither
the content nor the length of a key leaks through timing) and compared with :func:`hmac.compare_digest`, all of
them, whatever matched. No FastAPI here: the CLI reads keys before importing the server.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from sentvec.server.limits import API_KEY_ENV

MISSING = "missing_api_key"
INVALID = "invalid_api_key"


def check_api_key(key: str, source: str = "API key") -> str:
    """``key`` if it can be sent in a header (visible ASCII, no spaces), else a ``ValueError`` naming ``source``."""
    if not key:
        raise ValueError(f"{source}: the API key is empty")
    bad = next((c for c in key if not "\x21" <= c <= "\x7e"), None)
    if bad is not None:
        raise ValueError(f"{source}: an API key may hold visible ASCII characters only, not {bad!r}")
    return key


def read_api_keys(
    key: str | None = None, key_file: Path | str | None = None, environ: Mapping[str, str] | None = None
) -> tuple[str, ...]:
    """The accepted API keys: ``key``; or the lines of ``key_file`` (one key a line; blank lines and lines
    starting with ``#`` are skipped; several keys let clients move to a new one); or, when neither is given,
    the environment variable ``SENTVEC_API_KEY``. Empty: no key is required."""
    if key is not None and key_file is not None:
        raise ValueError("give an API key or an API key file, not both")
    if key is not None:
        return (check_api_key(key.strip(), "--api-key"),)
    if key_file is not None:
        path = Path(key_file)
        text = path.read_text(encoding="utf-8")
        keys = []
        for n, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if line and not line.startswith("#"):
                keys.append(check_api_key(line, f"{path}:{n}"))
        if not keys:
            raise ValueError(f"{path}: no API key in the file")
        return tuple(keys)
    value = (os.environ if environ is None else environ).get(API_KEY_ENV, "").strip()
    return (check_api_key(value, API_KEY_ENV),) if value else ()


class ApiKeys:
    """The accepted keys, kept as SHA-256 digests; :meth:`problem` checks an ``Authorization`` header."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = tuple(_digest(check_api_key(k).encode("ascii")) for k in keys)
        if not self._digests:
            raise ValueError("no API key given")

    def __len__(self) -> int:
        return len(self._digests)

    def problem(self, authorization: bytes | None) -> str | None:
        """``None`` when ``authorization`` (the header's raw value) is ``Bearer`` and an accepted key, else the
        error code: ``missing_api_key`` (no header) or ``invalid_api_key`` (another scheme or a wrong key)."""
        if authorization is None:
            return MISSING
        scheme, _, token = authorization.strip().partition(b" ")
        presented = _digest(token.strip())
        matched = False
        for digest in self._digests:  # every key is compared, whichever matches
            matched |= hmac.compare_digest(digest, presented)
        return None if matched and scheme.lower() == b"bearer" else INVALID


def _digest(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()
