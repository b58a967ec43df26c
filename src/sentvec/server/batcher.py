"""Dynamic micro-batching for the HTTP service.

Requests submit their texts with :meth:`MicroBatcher.encode` and await an :class:`asyncio.Future`. One
collector task merges the queued requests, oldest first, into a micro-batch of at most ``max_batch_tokens``
tokens (a request is never split; a request larger than the budget runs alone). A batch starts when the
budget is full, or ``max_wait_ms`` after the later of its oldest request's arrival and the end of the previous
batch. Counting from the end of the previous batch matters under load: the requests queued while a batch ran
would otherwise start the next one at once, and clients answered by that batch, asking again a few
milliseconds later, would always miss it, so two half-size batches would alternate (and larger batches encode
faster per text: ``benchmarks/serve.py --micro-batches 64,128`` measures by how much). Batches are
encoded on one dedicated worker thread, so the event loop never blocks and exactly one batch runs at a time;
while one runs, new requests queue up and form the next batch. Each request gets back its own rows.

If a merged batch fails, its requests are retried one by one, so one bad request cannot fail the others.
A request whose caller went away (its future was cancelled) is dropped before it is encoded.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import numpy as np

from sentvec.server.limits import BatcherConfig
from sentvec.server.metrics import ServerMetrics

__all__ = ["BatcherClosedError", "BatcherConfig", "Encoded", "MicroBatcher"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")
# (texts, prompt name or None for the model's default) -> (embeddings (N, D), tokens fed to the model per text (N,))
EncodeFn = Callable[[list[str], str | None], tuple[np.ndarray, np.ndarray]]
# (texts, prompt name) -> total tokens they will take in a batch (used for the token budget)
CountFn = Callable[[list[str], str | None], int]
# Requests with at most this many characters are token-counted on the event loop (microseconds);
# larger ones on a thread, so a huge request cannot stall the loop.
INLINE_COUNT_CHARS = 8192


@dataclasses.dataclass(frozen=True)
class Encoded:
    """One request's result: its rows of the batch and the tokens of each text."""

    embeddings: np.ndarray  # (n, D)
    token_counts: np.ndarray  # (n,) int

    @property
    def total_tokens(self) -> int:
        """Tokens of all the request's texts."""
        return int(self.token_counts.sum())


@dataclasses.dataclass
class _Job:
    texts: list[str]
    tokens: int
    future: asyncio.Future[Encoded]
    enqueued: float
    prompt_name: str | None = None  # requests share a batch only with requests of the same prompt


class BatcherClosedError(RuntimeError):
    """The batcher is not running (not started yet, or shutting down)."""


class MicroBatcher:
    """Merges concurrent requests' texts into shared model batches; see the module docstring.

    ``encode`` maps texts to ``(embeddings, token counts)`` and runs on the worker thread; ``count_tokens``
    sizes a request for the budget. Call :meth:`start` and :meth:`stop` on the event loop that serves requests.
    """

    def __init__(
        self,
        encode: EncodeFn,
        count_tokens: CountFn,
        config: BatcherConfig | None = None,
        metrics: ServerMetrics | None = None,
    ) -> None:
        self._encode = encode
        self._count_tokens = count_tokens
        self.config = config or BatcherConfig()
        self.metrics = metrics or ServerMetrics()
        self._queue: collections.deque[_Job] = collections.deque()
        self._queued_tokens = 0
        self._queued_texts = 0
        self._inflight: list[_Job] = []
        self._idle_since = 0.0
        self._arrived: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    @property
    def running(self) -> bool:
        """Whether :meth:`start` was called and :meth:`stop` not yet."""
        return self._task is not None

    @property
    def queued_texts(self) -> int:
        """Texts waiting for a batch (not counting the batch being encoded)."""
        return self._queued_texts

    async def start(self) -> None:
        """Start the worker thread and the collector task on the running loop."""
        if self._task is not None:
            return
        self._arrived = asyncio.Event()
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentvec-model")
        self._task = asyncio.get_running_loop().create_task(self._collect(), name="sentvec-batcher")

    async def stop(self) -> None:
        """Stop collecting; requests still queued or in flight fail with :class:`BatcherClosedError`."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        error = BatcherClosedError("the server is shutting down")
        for job in [*self._inflight, *self._queue]:
            _fail(job.future, error)
        self._queue.clear()
        self._inflight = []
        self._queued_tokens = self._queued_texts = 0
        self.metrics.queued_texts.set(0)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def encode(self, texts: list[str], prompt_name: str | None = None) -> Encoded:
        """Queue ``texts`` (non-empty) for the next batch and wait for their embeddings (behind the model's prompt
        ``prompt_name``; None: its default prompt)."""
        if not texts:
            raise ValueError("no texts to encode")
        if self._task is None or self._arrived is None:
            raise BatcherClosedError("the batcher is not running")
        loop = asyncio.get_running_loop()
        if sum(len(t) for t in texts) <= INLINE_COUNT_CHARS:
            tokens = self._count_tokens(texts, prompt_name)
        else:
            tokens = await loop.run_in_executor(None, self._count_tokens, texts, prompt_name)
        job = _Job(list(texts), max(int(tokens), 1), loop.create_future(), time.perf_counter(), prompt_name)
        self._queue.append(job)
        self._queued_tokens += job.tokens
        self._queued_texts += len(job.texts)
        self.metrics.queued_texts.set(self._queued_texts)
        self._arrived.set()
        return await job.future

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` on the model thread, between batches (for work that uses the model)."""
        if self._executor is None:
            raise BatcherClosedError("the batcher is not running")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    # --- collector ----------------------------------------------------------------------------------------
    async def _collect(self) -> None:
        while True:
            await self._wait_for_work()
            await self._fill()
            jobs = self._take()
            if jobs:
                await self._run(jobs)

    async def _wait_for_work(self) -> None:
        assert self._arrived is not None
        while not self._queue:
            self._arrived.clear()
            await self._arrived.wait()

    async def _fill(self) -> None:
        """Wait until the token budget is full or ``max_wait_ms`` after the oldest request's arrival or the end of
        the previous batch, whichever is later."""
        assert self._arrived is not None
        deadline = max(self._queue[0].enqueued, self._idle_since) + self.config.max_wait_ms / 1000
        while self._queued_tokens < self.config.max_batch_tokens:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except asyncio.TimeoutError:
                return

    def _take(self) -> list[_Job]:
        """Oldest requests first, while they fit the budget (the first always fits), all with the oldest one's
        prompt (others wait their turn, in order); cancelled ones dropped."""
        jobs: list[_Job] = []
        kept: collections.deque[_Job] = collections.deque()
        tokens = 0
        prompt = self._queue[0].prompt_name if self._queue else None
        while self._queue:
            job = self._queue[0]
            if job.prompt_name != prompt:
                kept.append(self._queue.popleft())
                continue
            if jobs and tokens + job.tokens > self.config.max_batch_tokens:
                break
            self._queue.popleft()
            self._queued_tokens -= job.tokens
            self._queued_texts -= len(job.texts)
            if not job.future.done():
                jobs.append(job)
                tokens += job.tokens
        self._queue.extendleft(reversed(kept))
        self.metrics.queued_texts.set(self._queued_texts)
        return jobs

    async def _run(self, jobs: list[_Job]) -> None:
        started = time.perf_counter()
        self._inflight = jobs
        try:
            results = await self._encode_isolated(jobs)
        finally:
            self._inflight = []
            self._idle_since = time.perf_counter()
        for job, result in zip(jobs, results, strict=True):
            self.metrics.queue_seconds.observe(started - job.enqueued)
            if result is not None and not job.future.done():
                job.future.set_result(Encoded(result[0], result[1]))

    async def _encode_isolated(self, jobs: list[_Job]) -> list[tuple[np.ndarray, np.ndarray] | None]:
        """Encode the jobs as one batch; if that fails, each job alone (a failed job's future gets the error)."""
        try:
            return list(await self._encode_jobs(jobs))
        except Exception as e:
            if len(jobs) == 1:
                # the error goes to the request's caller (the app logs it once, with the route, as a 500)
                logger.debug("encoding a request of %d texts failed", len(jobs[0].texts), exc_info=True)
                _fail(jobs[0].future, e)
                return [None]
        results: list[tuple[np.ndarray, np.ndarray] | None] = []
        for job in jobs:  # isolate the culprit
            results += await self._encode_isolated([job])
        return results

    async def _encode_jobs(self, jobs: list[_Job]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Encode the jobs' texts as one batch on the model thread; each job's slice of the result."""
        assert self._executor is not None
        texts = [t for job in jobs for t in job.texts]
        t0 = time.perf_counter()
        loop = asyncio.get_running_loop()
        emb, counts = await loop.run_in_executor(self._executor, self._encode, texts, jobs[0].prompt_name)
        if len(emb) != len(texts) or len(counts) != len(texts):
            raise RuntimeError(f"encode returned {len(emb)} rows and {len(counts)} counts for {len(texts)} texts")
        m = self.metrics
        m.encode_seconds.observe(time.perf_counter() - t0)
        m.batch_texts.observe(len(texts))
        m.batch_requests.observe(len(jobs))
        m.batch_tokens.observe(float(np.sum(counts)))
        m.texts.inc(amount=len(texts))
        m.tokens.inc(amount=float(np.sum(counts)))
        out: list[tuple[np.ndarray, np.ndarray]] = []
        offset = 0
        for job in jobs:
            n = len(job.texts)
            out.append((emb[offset : offset + n], counts[offset : offset + n]))
            offset += n
        return out


def _fail(future: asyncio.Future[Encoded], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
