"""``sentvec serve``: the HTTP service (FastAPI + uvicorn; ``pip install 'sentvec[server]'``).

``import sentvec.server`` is light; :func:`create_app` imports FastAPI on first use.
The micro-batcher (:mod:`sentvec.server.batcher`) and metrics (:mod:`sentvec.server.metrics`) need neither.
API keys live in :mod:`sentvec.server.auth`; the connection limits uvicorn is run with (a header-read timeout
included) in :mod:`sentvec.server.connections`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sentvec._lazy import lazy_getattr

if TYPE_CHECKING:
    from sentvec.server.app import create_app
    from sentvec.server.batcher import MicroBatcher
    from sentvec.server.limits import BatcherConfig, ConnectionLimits, Limits
    from sentvec.server.metrics import ServerMetrics

__all__ = ["BatcherConfig", "ConnectionLimits", "Limits", "MicroBatcher", "ServerMetrics", "create_app"]

_LAZY = {
    "create_app": "sentvec.server.app",
    "Limits": "sentvec.server.limits",
    "BatcherConfig": "sentvec.server.limits",
    "ConnectionLimits": "sentvec.server.limits",
    "MicroBatcher": "sentvec.server.batcher",
    "ServerMetrics": "sentvec.server.metrics",
}


def _needs_fastapi(module: str) -> None:
    if module == "sentvec.server.app":
        from sentvec._extras import require

        require("fastapi", "The sentvec HTTP server")


__getattr__ = lazy_getattr(__name__, _LAZY, _needs_fastapi)
