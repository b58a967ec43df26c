"""The OpenVINO backend: the same ONNX graphs as the ONNX backend (sentvec's whole-pipeline export, or a Hub-style
transformer-only graph with the numpy head), compiled by OpenVINO for the CPU.

Why a second engine for the same graph: on CPUs with AVX512-BF16 or AMX, OpenVINO runs the graph's matrix products
in bfloat16 on those units (``dtype="bfloat16"``), several times faster than float32 and within ~1e-4 cosine of it;
onnxruntime has no bf16 CPU kernels. ``dtype="float32"`` (the default) keeps every value in float32 (the exact path,
≤ 1e-5 from torch), whatever OpenVINO's own default for the CPU would be.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sentvec._extras import require
from sentvec.backends.base import BackendInfo, BackendKind, OutputValue
from sentvec.backends.onnx import OnnxBackend
from sentvec.errors import ModelFormatError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from openvino import CompiledModel, InferRequest

    from sentvec.backends.numpy_head import NumpyHead
    from sentvec.batching import TokenBatch

# sentvec's dtype names -> OpenVINO's inference precision hints
PRECISIONS = {"float32": "f32", "bfloat16": "bf16"}
# Where compiled models are cached between processes ("0" or "" turns the cache off); default
# $XDG_CACHE_HOME/sentvec/openvino (~/.cache/...).
CACHE_ENV = "SENTVEC_OPENVINO_CACHE"


def compile_cache_dir() -> Path | None:
    """OpenVINO's compile cache folder (created), or None when turned off or not writable. With it, a process that
    loads a model compiled before (same graph, precision and settings; OpenVINO keys the cache on all three) reads
    the compiled blob instead of compiling again: the cold start of a worker or a CLI call drops to the import."""
    import os

    chosen = os.environ.get(CACHE_ENV)
    if chosen is not None and chosen.strip() in ("", "0"):
        return None
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = Path(chosen) if chosen else base / "sentvec" / "openvino"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK) else None


class OpenVinoBackend(OnnxBackend):
    """Runs one ONNX graph with OpenVINO on the CPU; one infer request per calling thread (thread-safe)."""

    kind = BackendKind.OPENVINO

    def __init__(
        self,
        path: Path,
        *,
        root: Path | None = None,
        head: Callable[[], NumpyHead] | None = None,
        device: str | None = None,
        threads: int | None = None,
        dtype: str = "float32",
    ) -> None:
        if dtype not in PRECISIONS:
            raise ValueError(f"dtype {dtype!r} for the openvino backend; valid: {', '.join(PRECISIONS)}")
        self.dtype = dtype
        super().__init__(path, root=root, head=head, device=device, threads=threads)

    def _open(self, path: Path, device: str | None, threads: int | None) -> tuple[set[str], list[str]]:
        """Read and compile the graph for the CPU at the requested precision."""
        ov = require("openvino", "The openvino backend")
        if device not in (None, "cpu"):
            raise ValueError(f"the openvino backend runs on the CPU; device {device!r} is not supported")
        core = ov.Core()
        self._providers = ["OpenVINO CPU"]
        config: dict[str, object] = {
            "INFERENCE_PRECISION_HINT": PRECISIONS[self.dtype],
            # several streams, each on its share of the cores: encode keeps one batch in flight per stream
            # (forward_batches); a single call runs on one stream
            "PERFORMANCE_HINT": "THROUGHPUT",
        }
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        cache = compile_cache_dir()
        if cache is not None:
            config["CACHE_DIR"] = str(cache)
        try:
            # compiled from the file, so that with the cache a hit skips reading the graph too
            self.compiled = core.compile_model(str(path), "CPU", config)
        except Exception as e:  # OpenVINO's errors are long multi-line C++ reports
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelFormatError(path, f"OpenVINO cannot compile this graph: {first}") from e
        self._core, self._config, self._path = core, config, path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._latency: CompiledModel | None = None
        self._streams = max(1, int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        inputs = {name for port in self.compiled.inputs for name in port.get_names()}
        outputs = [port.get_any_name() for port in self.compiled.outputs]
        return inputs, outputs

    def _requests(self) -> list[InferRequest]:
        """This thread's infer requests, one per stream (a request is not thread-safe; made once per thread)."""
        requests: list[InferRequest] | None = getattr(self._local, "requests", None)
        if requests is None:
            requests = self._local.requests = [self.compiled.create_infer_request() for _ in range(self._streams)]
        return requests

    def _single_request(self) -> InferRequest:
        """This thread's request for a lone batch (one query): compiled for latency, so the batch runs on every
        core instead of one stream's share. Compiled on first use; with one stream the throughput model is it."""
        request: InferRequest | None = getattr(self._local, "single", None)
        if request is None:
            if self._streams == 1:
                request = self._requests()[0]
            else:
                with self._lock:
                    if self._latency is None:
                        config = {**self._config, "PERFORMANCE_HINT": "LATENCY"}
                        self._latency = self._core.compile_model(str(self._path), "CPU", config)
                request = self._latency.create_infer_request()
            self._local.single = request
        return request

    def _run(self, output: str, feeds: dict[str, np.ndarray]) -> np.ndarray:
        request = self._single_request()
        request.infer(feeds)
        return np.array(request.get_tensor(output).data, dtype=np.float32)

    def forward_batches(
        self, batches: Iterable[TokenBatch], output: OutputValue, prompt_length: int | None = None
    ) -> Iterator[tuple[TokenBatch, np.ndarray]]:
        """The batches through OpenVINO's streams: one request in flight per stream, each waited for (and its
        result read) on this thread before it takes the next batch. A lone batch runs on the latency-compiled
        request instead (a stream has only its share of the cores). No Python callback runs on OpenVINO's threads:
        a callback needs the GIL there, which deadlocks when the compiled model is freed. Requests still in flight
        when the caller stops early are waited for, so the thread's requests are idle for its next call."""
        name = self._graph_output(output)
        batches = iter(batches)
        first, second = next(batches, None), next(batches, None)
        if first is None:
            return
        if second is None:  # one batch (a query, a small request): all cores on it
            yield first, self.forward(first, output, prompt_length)
            return
        batches = itertools.chain((first, second), batches)
        requests = self._requests()
        in_flight: list[TokenBatch | None] = [None] * len(requests)
        sent = 0
        try:
            for batch in batches:
                slot = sent % len(requests)
                waiting, in_flight[slot] = in_flight[slot], None
                if waiting is not None:
                    yield waiting, self._collect(requests[slot], name, waiting, output, prompt_length)
                requests[slot].start_async(self._feeds(batch, prompt_length))
                in_flight[slot] = batch
                sent += 1
            for k in range(len(requests)):  # the last ones, oldest first
                slot = (sent + k) % len(requests)
                waiting, in_flight[slot] = in_flight[slot], None
                if waiting is not None:
                    yield waiting, self._collect(requests[slot], name, waiting, output, prompt_length)
        finally:
            for slot, waiting in enumerate(in_flight):
                if waiting is not None:
                    requests[slot].wait()

    def _collect(
        self, request: InferRequest, name: str, batch: TokenBatch, output: OutputValue, prompt_length: int | None
    ) -> np.ndarray:
        """Wait for ``request`` and read its result (copied: the request reuses its buffers)."""
        request.wait()
        raw = np.array(request.get_tensor(name).data, dtype=np.float32)
        return self._finish(raw, batch, output, prompt_length)

    def _output_width(self, output: str) -> int:
        return int(self.compiled.output(output).get_partial_shape()[-1].get_length())

    def describe(self) -> BackendInfo:
        """As the ONNX backend's, with the compute precision."""
        return dataclasses.replace(super().describe(), dtype=self.dtype)
