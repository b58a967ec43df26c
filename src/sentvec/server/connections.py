"""Connection limits for uvicorn, including the header-read timeout it lacks (a slow-loris guard).

uvicorn (as of 0.54) times out only idle kept-alive connections (``timeout_keep_alive``, armed after a response):
a connection that opens and sends nothing, or sends its headers a byte at a time, is held forever. Its HTTP
protocol classes are therefore wrapped here: each connection gets a deadline, ``header_timeout`` seconds from
its opening (or from the first byte of a following request on a kept-alive connection), by which the request's
headers must be complete; otherwise it is closed. The deadline is not extended by the bytes that arrive, so a
client trickling one byte at a time is closed as fast as a silent one. Bodies have their own limit, enforced by
the app (``Limits.body_timeout``).

:func:`uvicorn_options` gives the keyword arguments of ``uvicorn.run`` / ``uvicorn.Config`` for a
:class:`~sentvec.server.limits.ConnectionLimits`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sentvec.server.limits import ConnectionLimits

logger = logging.getLogger(__name__)


class HeaderTimeoutMixin(asyncio.Protocol):
    """Closes a connection whose request headers are not complete ``header_timeout`` seconds after it opened
    (or after the first byte of a next request arrived on a kept-alive connection).

    Mixed in before one of uvicorn's HTTP/1.1 protocol classes (h11 or httptools): both create ``self.cycle``
    when a request's headers are complete, and mark ``cycle.response_complete`` when it has been answered;
    between requests their own keep-alive timer closes an idle connection."""

    header_timeout: float = ConnectionLimits.header_timeout
    _header_timer: asyncio.TimerHandle | None = None
    _header_cycle: object = None  # the request cycle that was current when the timer was armed
    _header_transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._header_transport = transport
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        transport = self._header_transport
        if transport is not None and transport.get_protocol() is not self:  # upgraded (a WebSocket): not ours
            self._cancel_header_timer()
            return
        cycle = getattr(self, "cycle", None)
        if self._header_timer is not None:
            if cycle is not self._header_cycle:  # a new request's headers are complete
                self._cancel_header_timer()
        elif cycle is not None and getattr(cycle, "response_complete", False):
            self._arm_header_timer()  # bytes of a next request after an answered one: its headers have a deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._header_cycle = getattr(self, "cycle", None)
        self._header_timer = asyncio.get_running_loop().call_later(self.header_timeout, self._header_timed_out)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        transport = self._header_transport
        if transport is not None and not transport.is_closing():
            logger.info("closing a connection that sent no complete request headers in %gs", self.header_timeout)
            transport.close()


def http_protocol(header_timeout: float, base: type[asyncio.Protocol] | None = None) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol class (``base``; by default the one ``http="auto"`` picks: httptools when it is
    installed, else h11) with a ``header_timeout`` deadline on request headers."""
    if base is None:
        from uvicorn.protocols.http.auto import AutoHTTPProtocol

        base = AutoHTTPProtocol
    name = f"HeaderTimeout{base.__name__}"
    return type(name, (HeaderTimeoutMixin, base), {"header_timeout": float(header_timeout)})


def uvicorn_options(limits: ConnectionLimits | None = None) -> dict[str, Any]:
    """The keyword arguments of ``uvicorn.run`` / ``uvicorn.Config`` that apply ``limits``."""
    limits = limits or ConnectionLimits()
    return {
        "http": http_protocol(limits.header_timeout),
        "timeout_keep_alive": limits.keep_alive_timeout,
        "limit_concurrency": limits.max_connections,
        "h11_max_incomplete_event_size": limits.max_header_bytes,
    }
