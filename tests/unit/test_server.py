"""The HTTP service on the tiny model: uvicorn on a free loopback port, the real openai client, errors, metrics,
micro-batching under concurrency, search through a real index; plus the batcher and metrics on their own."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import socket
import sys
import threading
import time
import types
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from _tiny_model import SENTENCES

from sentvec.server.batcher import BatcherConfig, MicroBatcher
from sentvec.server.metrics import Registry, ServerMetrics

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
openai = pytest.importorskip("openai")

from sentvec.server.app import Limits, create_app  # noqa: E402

LIMITS = Limits(max_inputs=8, max_chars=200, max_body_bytes=8192, max_k=50)
WAIT_MS = 40.0  # long enough that concurrent requests meet in one batch


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn in a background thread on a free 127.0.0.1 port; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


SEARCH_DOCS = [
    {"id": "d1", "text": "the cat sleeps", "metadata": {"lang": "en", "n": 1}},
    {"id": "d2", "text": "a dog runs", "metadata": {"lang": "en", "n": 2}},
    {"id": "d3", "text": "birds sing", "metadata": {"lang": "de", "n": 3}},
]


@pytest.fixture(scope="module")
def index(model, tmp_path_factory) -> Iterator[Any]:
    """A real, read-only index of three documents (as ``sentvec serve --index`` opens it)."""
    Index = pytest.importorskip("sentvec.search.index").Index
    pytest.importorskip("usearch")
    folder = tmp_path_factory.mktemp("serve-index") / "index"
    with Index.create(folder, model) as writer:
        writer.add(SEARCH_DOCS)
    with Index.open(folder, model, read_only=True) as reader:
        yield reader


@pytest.fixture(scope="module")
def base_url(model, index) -> Iterator[str]:
    app = create_app(model, index, limits=LIMITS, batching=BatcherConfig(max_batch_tokens=4096, max_wait_ms=WAIT_MS))
    with serving(app) as url:
        yield url


@pytest.fixture(scope="module")
def http(base_url) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, trust_env=False, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def oai(base_url) -> Iterator[Any]:
    with httpx.Client(trust_env=False, timeout=30) as transport:
        yield openai.OpenAI(base_url=f"{base_url}/v1", api_key="x", max_retries=0, http_client=transport)


def _expected(model, texts, dim=None):
    return model.encode(texts, normalize_embeddings=True, truncate_dim=dim)


def _tokens(model, texts):
    return int(model.tokenizer.tokenize(texts).info.total_tokens)


def _metrics(http) -> dict[str, float]:
    """``{'name{labels}': value}`` of the exposition text (labels as written)."""
    response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    out = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


# --- the openai client ----------------------------------------------------------------------------------------
def test_openai_client_float_and_base64(oai, model):
    texts = list(SENTENCES)
    expected = _expected(model, texts)
    response = oai.embeddings.create(model="tiny", input=texts, encoding_format="float")
    assert [d.index for d in response.data] == list(range(len(texts)))
    np.testing.assert_allclose(np.array([d.embedding for d in response.data]), expected, atol=1e-5)
    assert response.model == model.name
    assert response.usage.prompt_tokens == response.usage.total_tokens == _tokens(model, texts)

    raw = oai.embeddings.create(model="tiny", input=texts, encoding_format="base64")
    decoded = np.array([np.frombuffer(base64.b64decode(d.embedding), dtype="<f4") for d in raw.data])
    np.testing.assert_allclose(decoded, expected, atol=1e-5)

    default = oai.embeddings.create(model="tiny", input=texts)  # the client asks for base64 and decodes it
    np.testing.assert_allclose(np.array([d.embedding for d in default.data]), expected, atol=1e-5)

    single = oai.embeddings.create(model="tiny", input="the cat sleeps")
    assert len(single.data) == 1
    np.testing.assert_allclose(single.data[0].embedding, _expected(model, ["the cat sleeps"])[0], atol=1e-5)


def test_dimensions_truncate_then_renormalize(oai, http, model):
    texts = SENTENCES[:3]
    response = oai.embeddings.create(model="tiny", input=texts, dimensions=8, encoding_format="float")
    got = np.array([d.embedding for d in response.data])
    assert got.shape == (3, 8)
    np.testing.assert_allclose(got, _expected(model, texts, dim=8), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    too_big = http.post("/v1/embeddings", json={"input": "x", "model": "m", "dimensions": model.dimension + 1})
    assert too_big.status_code == 422
    assert too_big.json()["error"]["code"] == "dimensions"
    with pytest.raises(openai.UnprocessableEntityError, match="max_inputs=8"):
        oai.embeddings.create(model="tiny", input=["a"] * 9)


# --- client errors --------------------------------------------------------------------------------------------
def _chunks(data: bytes, size: int = 1024) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


ERROR_CASES = [
    ("too many inputs", {"json": {"input": ["a"] * 9, "model": "m"}}, 422, "max_inputs"),
    ("input too long", {"json": {"input": ["ok", "x" * 201], "model": "m"}}, 422, "max_chars"),
    ("empty input", {"json": {"input": [], "model": "m"}}, 422, "empty_input"),
    ("body too large", {"json": {"input": "x" * 9000, "model": "m"}}, 413, "max_body_bytes"),
    (
        "body too large, chunked",
        {"content": _chunks(b'{"input": "' + b"a" * 9000 + b'"}'), "headers": {"content-type": "application/json"}},
        413,
        "max_body_bytes",
    ),
    ("malformed json", {"content": b'{"input": ["a",', "headers": {"content-type": "application/json"}}, 400, None),
    ("input is a number", {"json": {"input": 5, "model": "m"}}, 422, "invalid_request"),
    ("token ids", {"json": {"input": [101, 2023], "model": "m"}}, 422, "invalid_request"),
    ("nested token ids", {"json": {"input": [[101, 2023]], "model": "m"}}, 422, "invalid_request"),
    ("bad encoding_format", {"json": {"input": "a", "encoding_format": "hex"}}, 422, "invalid_request"),
    ("dimensions 0", {"json": {"input": "a", "dimensions": 0}}, 422, "invalid_request"),
    ("body is a list", {"json": ["a", "b"]}, 422, "invalid_request"),
    ("no content type", {"content": b'{"input": "a"}'}, 422, "invalid_request"),
]


@pytest.mark.parametrize(("case", "request_kwargs", "status", "code"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_client_errors_are_json_4xx(http, case, request_kwargs, status, code):
    response = http.post("/v1/embeddings", **request_kwargs)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == (code or "invalid_json")
    assert error["message"]
    if code in ("max_inputs", "max_chars", "max_body_bytes"):
        assert f"{code}=" in error["message"]
    if case == "token ids":
        assert "token-id" in error["message"]


def test_other_routes_errors(http):
    assert http.get("/nope").json()["error"]["code"] == "not_found"
    wrong_method = http.get("/v1/embeddings")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"
    for body in ({"a": ["x"]}, {}, {"a": ["x"], "b": ["y"], "texts": ["z"]}, {"texts": "x"}):
        response = http.post("/similarity", json=body)
        assert response.status_code == 422, body
    assert http.post("/search", json={"query": "x", "k": 0}).status_code == 422
    assert http.post("/search", json={"query": "x", "k": LIMITS.max_k + 1}).json()["error"]["code"] == "max_k"


def test_slow_client_does_not_stall_others(base_url, http):
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as slow:
        slow.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
        slow.sendall(b'Content-Length: 1000\r\n\r\n{"input": "the')  # and then nothing more
        t0 = time.perf_counter()
        response = http.post("/v1/embeddings", json={"input": "the cat", "model": "m"})
        assert response.status_code == 200
        assert time.perf_counter() - t0 < 5


# --- similarity, search, health, openapi ------------------------------------------------------------------------
def test_similarity_matches_model(http, model):
    a, b = SENTENCES[:3], SENTENCES[3:5]
    body = http.post("/similarity", json={"a": a, "b": b}).json()
    assert body["similarity_fn"] == model.similarity_fn.value
    np.testing.assert_allclose(body["scores"], model.similarity(model.encode(a), model.encode(b)), atol=1e-5)
    assert body["usage"]["total_tokens"] == _tokens(model, a + b)
    square = http.post("/similarity", json={"texts": a}).json()["scores"]
    np.testing.assert_allclose(square, model.similarity(model.encode(a), model.encode(a)), atol=1e-5)


def test_search_through_index(http, index):
    response = http.post("/search", json={"query": "the cat", "k": 2, "filter": {"lang": "en"}, "exact": True})
    assert response.status_code == 200, response.text
    expected = index.search("the cat", k=2, filter={"lang": "en"}, exact=True)
    assert {h.id for h in expected} == {"d1", "d2"}  # d3 is filtered out
    assert response.json()["data"] == [
        {"id": h.id, "score": h.score, "text": h.text, "metadata": dict(h.metadata)} for h in expected
    ]
    top = http.post("/search", json={"query": "birds", "k": 1}).json()["data"]
    assert [h["id"] for h in top] == [h.id for h in index.search("birds", k=1)]
    nothing = http.post("/search", json={"query": "the cat", "filter": {"lang": "fr"}})
    assert nothing.status_code == 200 and nothing.json()["data"] == []


def test_search_without_index_is_404(model):
    with serving(create_app(model)) as url, httpx.Client(base_url=url, trust_env=False) as client:
        response = client.post("/search", json={"query": "the cat"})
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "no_index"
        assert client.get("/health").json()["index"] is False


class BrokenModel:
    """The tiny model, except that encoding fails: a server error, the only kind of 500."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def encode(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the model broke")


def test_server_failure_is_json_500_and_counted(model):
    app = create_app(BrokenModel(model))
    with serving(app) as url, httpx.Client(base_url=url, trust_env=False) as client:
        response = client.post("/v1/embeddings", json={"input": ["a", "b"]})
        assert response.status_code == 500
        assert response.json()["error"] == {
            "message": "internal server error (RuntimeError)",
            "type": "server_error",
            "param": None,
            "code": "internal_error",
        }
        metrics = _metrics(client)
        assert metrics['sentvec_http_errors_total{route="/v1/embeddings",status="500",code="internal_error"}'] == 1


def test_health_and_openapi(http, model):
    health = http.get("/health").json()
    assert health["status"] == "ok"
    assert health["dimension"] == model.dimension
    assert health["index"] is True
    spec = http.get("/openapi.json").json()
    assert {"/v1/embeddings", "/similarity", "/search", "/health", "/metrics"} <= set(spec["paths"])


# --- metrics and batching ------------------------------------------------------------------------------------------
def test_metrics_count_requests_and_errors(http):
    route = 'route="/v1/embeddings"'
    before = _metrics(http)
    assert http.post("/v1/embeddings", json={"input": "a cat"}).status_code == 200
    assert http.post("/v1/embeddings", json={"input": ["a", "b"]}).status_code == 200
    assert http.post("/v1/embeddings", json={"input": ["a"] * 9}).status_code == 422
    assert http.post("/v1/embeddings", content=b"{", headers={"content-type": "application/json"}).status_code == 400
    assert http.get("/missing").status_code == 404
    after = _metrics(http)

    def delta(key: str) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta(f'sentvec_http_requests_total{{{route},method="POST",status="200"}}') == 2
    assert delta(f'sentvec_http_requests_total{{{route},method="POST",status="422"}}') == 1
    assert delta(f'sentvec_http_requests_total{{{route},method="POST",status="400"}}') == 1
    assert delta('sentvec_http_requests_total{route="other",method="GET",status="404"}') == 1
    assert delta(f'sentvec_http_errors_total{{{route},status="422",code="max_inputs"}}') == 1
    assert delta(f'sentvec_http_errors_total{{{route},status="400",code="invalid_json"}}') == 1
    assert delta('sentvec_http_errors_total{route="other",status="404",code="not_found"}') == 1
    assert delta(f"sentvec_http_request_duration_seconds_count{{{route}}}") == 4
    assert delta("sentvec_texts_total") == 3
    assert delta("sentvec_batch_requests_count") == 2
    assert delta("sentvec_queue_seconds_count") == 2
    assert delta('sentvec_batch_texts_bucket{le="+Inf"}') == 2
    assert not any('status="500"' in key for key in after)


def test_concurrent_requests_are_merged_and_routed(http, model):
    n = 16
    requests = [[SENTENCES[(i + j) % len(SENTENCES)] for j in range(1 + i % 3)] for i in range(n)]
    expected = [_expected(model, texts) for texts in requests]
    results: list[Any] = [None] * n
    barrier = threading.Barrier(n)
    before = _metrics(http)

    def worker(i: int) -> None:
        barrier.wait()
        results[i] = http.post("/v1/embeddings", json={"input": requests[i], "model": "m"})

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(n):
        assert results[i].status_code == 200
        got = np.array([d["embedding"] for d in results[i].json()["data"]])
        np.testing.assert_allclose(got, expected[i], atol=1e-5)
        assert results[i].json()["usage"]["prompt_tokens"] == _tokens(model, requests[i])
    after = _metrics(http)
    batches = after["sentvec_batch_requests_count"] - before["sentvec_batch_requests_count"]
    merged_requests = after["sentvec_batch_requests_sum"] - before["sentvec_batch_requests_sum"]
    single = after['sentvec_batch_requests_bucket{le="1.0"}'] - before['sentvec_batch_requests_bucket{le="1.0"}']
    assert merged_requests == n
    assert batches < n and single < batches  # some batch merged more than one request


# --- the batcher and the metrics on their own ------------------------------------------------------------------
def _fake_encode(texts: list[str], prompt_name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    if any("boom" in t for t in texts):
        raise RuntimeError("boom")
    emb = np.array([[len(t), t.count("a")] for t in texts], dtype=np.float32)
    return emb, np.array([len(t.split()) + 2 for t in texts])


def test_batcher_budget_isolation_and_stop():
    calls: list[list[str]] = []

    def recording_encode(texts: list[str], prompt_name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        calls.append(list(texts))
        return _fake_encode(texts)

    async def scenario() -> tuple[list[Any], ServerMetrics]:
        metrics = ServerMetrics()
        config = BatcherConfig(max_batch_tokens=8, max_wait_ms=20)
        batcher = MicroBatcher(recording_encode, lambda ts, _p: sum(len(t.split()) + 2 for t in ts), config, metrics)
        await batcher.start()
        jobs = [["a b", "c"], ["boom"], ["aa"], ["a b c d e f g h"]]  # 7, 3, 3, 10 tokens
        results = await asyncio.gather(*(batcher.encode(j) for j in jobs), return_exceptions=True)
        await batcher.stop()
        return results, metrics

    results, metrics = asyncio.run(scenario())
    np.testing.assert_array_equal(results[0].embeddings, [[3, 1], [1, 0]])
    assert isinstance(results[1], RuntimeError)  # the failing request alone
    np.testing.assert_array_equal(results[2].embeddings, [[2, 2]])
    assert results[3].total_tokens == 10
    assert calls == [
        ["a b", "c"],  # 7 tokens: "boom" (3 more) would pass the budget of 8
        ["boom", "aa"],  # 6 tokens, merged; it fails ...
        ["boom"],  # ... so each request runs alone: only "boom" fails
        ["aa"],
        ["a b c d e f g h"],  # 10 tokens, over the budget: alone
    ]
    _, _, batches = metrics.batch_tokens.snapshot()
    assert batches == 3  # the model batches that succeeded


def test_batcher_waits_for_returning_clients_after_a_batch():
    """Under load the requests queued during a batch would start the next one at once, so clients that get their
    answer and ask again at once always land a batch later: two half-size batches alternate. The batcher waits up
    to max_wait_ms after the model frees, so they join (larger batches encode faster per text: see the README's
    service benchmark)."""

    def slow_encode(texts: list[str], prompt_name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        time.sleep(0.15)
        return _fake_encode(texts)

    async def scenario() -> ServerMetrics:
        metrics = ServerMetrics()
        batcher = MicroBatcher(slow_encode, lambda ts, _p: 1, BatcherConfig(max_wait_ms=60), metrics)
        await batcher.start()

        async def returning_client() -> None:  # asks again as soon as it is answered
            await batcher.encode(["first"])
            await batcher.encode(["again"])

        async def late_client() -> None:  # arrives while the first batch (60 to 210 ms) runs
            await asyncio.sleep(0.1)
            await batcher.encode(["late"])

        await asyncio.gather(returning_client(), late_client())
        await batcher.stop()
        return metrics

    metrics = asyncio.run(scenario())
    _, total, batches = metrics.batch_requests.snapshot()
    assert total == 3
    assert batches == 2  # ["first"], then ["late", "again"] together


def test_batcher_fails_pending_on_stop():
    async def scenario() -> Any:
        batcher = MicroBatcher(_fake_encode, lambda ts, _p: 1, BatcherConfig(max_wait_ms=10_000))
        await batcher.start()
        task = asyncio.ensure_future(batcher.encode(["a"]))
        await asyncio.sleep(0.01)
        await batcher.stop()
        return await asyncio.gather(task, return_exceptions=True)

    (result,) = asyncio.run(scenario())
    assert "shutting down" in str(result)


def test_metrics_exposition_format():
    registry = Registry()
    counter = registry.counter("c_total", "a counter", ("route",))
    hist = registry.histogram("h_seconds", "a histogram", (0.1, 1), ("route",))
    counter.inc('/a"b')
    for value in (0.05, 0.1, 0.5, 3):
        hist.observe(value, "/x")
    text = registry.render()
    assert '# TYPE c_total counter\nc_total{route="/a\\"b"} 1\n' in text
    assert 'h_seconds_bucket{route="/x",le="0.1"} 2\n' in text
    assert 'h_seconds_bucket{route="/x",le="1.0"} 3\n' in text
    assert 'h_seconds_bucket{route="/x",le="+Inf"} 4\n' in text
    assert re.search(r'h_seconds_sum\{route="/x"\} 3\.65\d*\n', text)
    assert 'h_seconds_count{route="/x"} 4\n' in text
    with pytest.raises(ValueError):
        counter.inc("x", amount=-1)


# --- the CLI ------------------------------------------------------------------------------------------------------
def test_cli_serve_builds_app_with_flags(monkeypatch, model_dir, tmp_path):
    from sentvec.cli.main import main
    from sentvec.cli.serve import build_app

    opened: list[tuple[Any, dict[str, Any]]] = []

    opened_index = object()

    class Index:
        @classmethod
        def open(cls, path, **kwargs):
            opened.append((path, kwargs))
            return opened_index

    monkeypatch.setitem(sys.modules, "sentvec.search.index", types.SimpleNamespace(Index=Index))
    ran: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: ran.update(app=app, **kw))
    argv = ["serve", "--model", str(model_dir), "--index", str(tmp_path), "--port", "0", "--max-inputs", "3"]
    assert main([*argv, "--max-wait-ms", "2", "--max-batch-tokens", "100", "--max-chars", "50"]) == 0
    service = ran["app"].state.service
    assert (ran["host"], ran["port"]) == ("127.0.0.1", 0)
    assert (service.limits.max_inputs, service.limits.max_chars) == (3, 50)
    assert service.limits.max_body_bytes == Limits().max_body_bytes  # CLI defaults are the library's
    assert ran["app"].state.batcher.config == BatcherConfig(max_batch_tokens=100, max_wait_ms=2.0)
    assert opened[0][0] == tmp_path and opened[0][1]["read_only"] is True
    assert service.index is opened_index

    from sentvec.cli.main import build_parser

    defaults = build_parser().parse_args(["serve", "--model", str(model_dir)])
    assert (defaults.max_inputs, defaults.max_chars) == (Limits().max_inputs, Limits().max_chars)
    assert build_app(defaults).state.service.index is None
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--model", "m", "--max-inputs", "0"])


class TestPromptChoice:
    """Per-request prompts: ``input_type`` (query/document, Cohere's search_* names) or ``prompt_name`` (TEI)."""

    TEXTS = ("the cat sleeps", "a dog runs")

    def _vectors(self, http, **extra):
        response = http.post("/v1/embeddings", json={"input": self.TEXTS, **extra})
        assert response.status_code == 200, response.text
        return np.array([d["embedding"] for d in response.json()["data"]]), response.json()["usage"]

    @pytest.mark.parametrize(
        ("extra", "prompt"),
        [
            ({"input_type": "query"}, "query: "),
            ({"input_type": "search_query"}, "query: "),
            ({"prompt_name": "query"}, "query: "),
            ({"input_type": "document"}, None),  # the model has no document prompt: its default (none)
            ({}, None),
        ],
    )
    def test_the_prompt_is_applied_and_counted(self, http, model, extra, prompt):
        vectors, usage = self._vectors(http, **extra)
        expected = model.encode(self.TEXTS, prompt=prompt, normalize_embeddings=True)
        np.testing.assert_allclose(vectors, expected, atol=1e-5)
        assert usage["prompt_tokens"] == model.tokenize(self.TEXTS, prompt=prompt).info.total_tokens

    def test_bad_prompt_choices_are_422(self, http):
        bad = http.post("/v1/embeddings", json={"input": "x", "prompt_name": "passage"})
        assert bad.status_code == 422 and bad.json()["error"]["param"] == "prompt_name"
        both = http.post("/v1/embeddings", json={"input": "x", "prompt_name": "query", "input_type": "query"})
        assert both.status_code == 422
        kind = http.post("/v1/embeddings", json={"input": "x", "input_type": "classification"})
        assert kind.status_code == 422

    def test_concurrent_requests_with_different_prompts_stay_apart(self, base_url, model):
        import concurrent.futures

        def post(extra):
            with httpx.Client(base_url=base_url, trust_env=False, timeout=30) as client:
                r = client.post("/v1/embeddings", json={"input": self.TEXTS, **extra})
                return np.array([d["embedding"] for d in r.json()["data"]])

        choices = [{"input_type": "query"}, {}] * 4
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(post, choices))
        query = model.encode(self.TEXTS, prompt="query: ", normalize_embeddings=True)
        plain = model.encode(self.TEXTS, prompt="", normalize_embeddings=True)
        for extra, got in zip(choices, results, strict=True):
            np.testing.assert_allclose(got, query if extra else plain, atol=1e-5)
