"""Per-request limits and micro-batching settings of the HTTP service (plain dataclasses: no FastAPI or numpy,
so the CLI reads their defaults without importing the server)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Limits:
    """Per-request limits. Breaking one is a 413 (body) or 422 (the others) whose ``code`` names the limit."""

    max_inputs: int = 1024  # texts per request (per list for /similarity)
    max_chars: int = 20_000  # characters per text
    max_body_bytes: int = 4 * 1024 * 1024  # request body size
    max_k: int = 1000  # results per /search

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            if getattr(self, field.name) < 1:
                raise ValueError(f"{field.name} must be >= 1, got {getattr(self, field.name)}")


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
