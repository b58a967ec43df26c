"""Prometheus metrics written by hand: counters, gauges and histograms in the text exposition format 0.0.4.

No ``prometheus_client`` dependency. Every metric is thread-safe (a lock per metric) and lives in a
:class:`Registry` that renders all of them in registration order. :class:`ServerMetrics` is the set the HTTP
service records: requests by route and status, errors, batch sizes, queue time and latency.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Sequence

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_TEXT_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)
BATCH_REQUEST_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128)
BATCH_TOKEN_BUCKETS = (16, 64, 256, 1024, 2048, 4096, 8192, 16384, 32768, 65536)

LabelValues = tuple[str, ...]


def _format_value(value: float) -> str:
    """A sample value as Prometheus writes it (``+Inf``, ``NaN``, integers without a fraction)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: Sequence[str]) -> str:
    if not names:
        return ""
    return "{" + ",".join(f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)) + "}"


class _Metric:
    """Common parts: name, help, label names, a lock, and the ``# HELP``/``# TYPE`` header."""

    kind = "untyped"

    def __init__(self, name: str, help_text: str, label_names: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.label_names = tuple(label_names)
        self._lock = threading.Lock()

    def _key(self, labels: Sequence[str]) -> LabelValues:
        key = tuple(str(v) for v in labels)
        if len(key) != len(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}, got {key}")
        return key

    def header(self) -> list[str]:
        """The ``# HELP`` and ``# TYPE`` lines."""
        return [f"# HELP {self.name} {_escape(self.help)}", f"# TYPE {self.name} {self.kind}"]

    def render(self) -> list[str]:
        """The exposition lines of this metric (header included)."""
        raise NotImplementedError


class _Series(_Metric):
    """One float value per label set (counters and gauges)."""

    def __init__(self, name: str, help_text: str, label_names: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, label_names)
        self._values: dict[LabelValues, float] = {}

    def render(self) -> list[str]:
        """Header plus one line per series."""
        with self._lock:
            items = sorted(self._values.items())
        return self.header() + [f"{self.name}{_labels(self.label_names, k)} {_format_value(v)}" for k, v in items]


class Counter(_Series):
    """A monotonically increasing count per label set."""

    kind = "counter"

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        """Add ``amount`` (>= 0) to the series of ``labels`` (one value per label name, in order)."""
        if amount < 0:
            raise ValueError(f"{self.name}: a counter cannot decrease (amount={amount})")
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount


class Gauge(_Series):
    """A value that goes up and down (one series per label set)."""

    kind = "gauge"

    def __init__(self, name: str, help_text: str, label_names: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, label_names)
        if not label_names:
            self._values[()] = 0.0  # an unlabelled gauge is exposed from the start

    def set(self, value: float, *labels: str) -> None:
        """Set the series of ``labels`` to ``value``."""
        key = self._key(labels)
        with self._lock:
            self._values[key] = float(value)


class Histogram(_Metric):
    """Observations counted into cumulative ``le`` buckets, with ``_sum`` and ``_count``, per label set."""

    kind = "histogram"

    def __init__(self, name: str, help_text: str, buckets: Sequence[float], label_names: Sequence[str] = ()) -> None:
        if "le" in label_names:
            raise ValueError("'le' is reserved for histogram buckets")
        bounds = sorted(float(b) for b in buckets)
        if not bounds or len(set(bounds)) != len(bounds):
            raise ValueError(f"{name}: buckets must be distinct and non-empty, got {list(buckets)}")
        super().__init__(name, help_text, label_names)
        self.buckets = tuple(b for b in bounds if not math.isinf(b))
        self._series: dict[LabelValues, tuple[list[int], list[float]]] = {}

    def observe(self, value: float, *labels: str) -> None:
        """Record one observation in the series of ``labels``."""
        key = self._key(labels)
        slot = bisect.bisect_left(self.buckets, value)  # first bucket with value <= bound; len(): +Inf only
        with self._lock:
            counts, totals = self._series.setdefault(key, ([0] * (len(self.buckets) + 1), [0.0]))
            counts[slot] += 1
            totals[0] += value

    def snapshot(self, *labels: str) -> tuple[list[int], float, int]:
        """``(cumulative bucket counts incl. +Inf, sum, count)`` of one series."""
        with self._lock:
            counts, totals = self._series.get(self._key(labels), ([0] * (len(self.buckets) + 1), [0.0]))
            counts, total = list(counts), totals[0]
        cumulative = [sum(counts[: i + 1]) for i in range(len(counts))]
        return cumulative, total, cumulative[-1]

    def render(self) -> list[str]:
        """Header plus ``_bucket`` lines (``le`` ascending, then ``+Inf``), ``_sum`` and ``_count`` per series."""
        with self._lock:
            keys = sorted(self._series)
        lines = self.header()
        bounds = [*(repr(b) for b in self.buckets), "+Inf"]
        for key in keys:
            cumulative, total, count = self.snapshot(*key)
            for bound, n in zip(bounds, cumulative, strict=True):
                labels = _labels((*self.label_names, "le"), (*key, bound))
                lines.append(f"{self.name}_bucket{labels} {n}")
            labels = _labels(self.label_names, key)
            lines.append(f"{self.name}_sum{labels} {_format_value(total)}")
            lines.append(f"{self.name}_count{labels} {count}")
        return lines


class Registry:
    """An ordered set of metrics with unique names, rendered together."""

    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}

    def _add(self, metric: _Metric) -> None:
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name!r} is already registered")
        self._metrics[metric.name] = metric

    def counter(self, name: str, help_text: str, label_names: Sequence[str] = ()) -> Counter:
        """Register and return a :class:`Counter`."""
        metric = Counter(name, help_text, label_names)
        self._add(metric)
        return metric

    def gauge(self, name: str, help_text: str, label_names: Sequence[str] = ()) -> Gauge:
        """Register and return a :class:`Gauge`."""
        metric = Gauge(name, help_text, label_names)
        self._add(metric)
        return metric

    def histogram(
        self, name: str, help_text: str, buckets: Sequence[float], label_names: Sequence[str] = ()
    ) -> Histogram:
        """Register and return a :class:`Histogram`."""
        metric = Histogram(name, help_text, buckets, label_names)
        self._add(metric)
        return metric

    def render(self) -> str:
        """The whole exposition text (ends with a newline)."""
        lines: list[str] = []
        for metric in self._metrics.values():
            lines += metric.render()
        return "\n".join(lines) + "\n"


class ServerMetrics:
    """The metrics of one ``sentvec serve`` process (one instance per app: nothing global)."""

    def __init__(self) -> None:
        r = self.registry = Registry()
        self.requests = r.counter(
            "sentvec_http_requests_total",
            "HTTP requests by route, method and status code",
            ("route", "method", "status"),
        )
        self.errors = r.counter(
            "sentvec_http_errors_total",
            "HTTP error responses (status >= 400) by route, status and error code",
            ("route", "status", "code"),
        )
        self.latency = r.histogram(
            "sentvec_http_request_duration_seconds",
            "Time from request start to the end of the response, by route",
            LATENCY_BUCKETS,
            ("route",),
        )
        self.queue_seconds = r.histogram(
            "sentvec_queue_seconds", "Time a request's texts waited before their model batch started", LATENCY_BUCKETS
        )
        self.encode_seconds = r.histogram(
            "sentvec_batch_encode_seconds", "Time the model took to encode one micro-batch", LATENCY_BUCKETS
        )
        self.batch_texts = r.histogram("sentvec_batch_texts", "Texts per model micro-batch", BATCH_TEXT_BUCKETS)
        self.batch_requests = r.histogram(
            "sentvec_batch_requests", "Requests merged into one model micro-batch", BATCH_REQUEST_BUCKETS
        )
        self.batch_tokens = r.histogram("sentvec_batch_tokens", "Tokens per model micro-batch", BATCH_TOKEN_BUCKETS)
        self.texts = r.counter("sentvec_texts_total", "Texts encoded by the model")
        self.tokens = r.counter("sentvec_tokens_total", "Tokens fed to the model (after truncation)")
        self.queued_texts = r.gauge("sentvec_queued_texts", "Texts waiting for a model batch")

    def render(self) -> str:
        """The exposition text of all metrics."""
        return self.registry.render()
