"""Per-request limits, connection limits and micro-batching settings of the HTTP service (plain dataclasses: no
FastAPI, numpy or asyncio, so the CLI reads their defaults without importing the server)."""

from __future__ import annotations

import dataclasses

API_KEY_ENV = "SENTVEC_API_KEY"  # the environment variable ``sentvec serve`` reads an API key from


@dataclasses.dataclass(frozen=True)
class Limits:
    """Per-request limits, enforced by the app itself (so under any ASGI server). Breaking one is a 413 (body),
    408 (``body_timeout``) or 422 (the others) whose ``code`` names the limit."""

    max_inputs: int = 1024  # texts per request (per list for /similarity)
    max_chars: int = 20_000  # characters per text
    max_body_bytes: int = 4 * 1024 * 1024  # request body size
    max_k: int = 1000  # results per /search
    # seconds from a request's headers to the end of its body: 4 MiB in 60 s is ~0.6 Mbit/s, well under any
    # real client, while a client that trickles its body (slow POST) holds a connection for one minute at most
    body_timeout: float = 60.0

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "body_timeout":
                if not value > 0:
                    raise ValueError(f"body_timeout must be > 0, got {value}")
            elif value < 1:
                raise ValueError(f"{field.name} must be >= 1, got {value}")


@dataclasses.dataclass(frozen=True)
class ConnectionLimits:
    """What the HTTP server (uvicorn) allows a connection, so that slow or idle clients cannot hold it.

    ``header_timeout``: seconds from a connection's opening, or from the first byte of a following request on a
    kept-alive connection, to the end of the request's headers; then the connection is closed (uvicorn has no
    such timeout: :mod:`sentvec.server.connections` adds it). Real clients send their headers in one packet, so
    10 s is generous, and a slow-loris connection is dropped after 10 s however it trickles bytes.
    ``keep_alive_timeout``: seconds an idle connection is kept between requests (uvicorn's default).
    ``max_connections``: open connections (and requests in flight) beyond which a request is answered 503 at once;
    below the common limit of 1024 open files, and far above what one model can serve concurrently.
    ``max_header_bytes``: the request line and headers (h11's limit; an oversized head is a 400).
    """

    header_timeout: float = 10.0
    keep_alive_timeout: float = 5.0
    max_connections: int = 512
    max_header_bytes: int = 16 * 1024

    def __post_init__(self) -> None:
        for name in ("header_timeout", "keep_alive_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("max_connections", "max_header_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


@dataclasses.dataclass(frozen=True)
class BatcherConfig:
    """How requests are merged: ``max_batch_tokens`` per micro-batch; ``max_wait_ms``, how long a batch waits
    for more requests after its oldest one arrived or the previous batch ended, whichever is later."""

    max_batch_tokens: int = 8192
    max_wait_ms: float = 5.0

    def __post_init__(self) -> None:
        if self.max_batch_tokens < 1:
            raise ValueError(f"max_batch_tokens must be >= 1, got {self.max_batch_tokens}")
        if self.max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be >= 0, got {self.max_wait_ms}")
