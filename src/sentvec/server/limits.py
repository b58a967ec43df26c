"""Per-request limits of the HTTP service (no FastAPI needed, so the CLI can read the defaults cheaply)."""

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
