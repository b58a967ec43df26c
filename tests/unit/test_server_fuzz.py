"""Fuzzing the service: a few hundred seeded, generated requests to every route (malformed JSON, wrong types,
odd Unicode, huge and negative numbers, missing and extra fields, odd headers) must never get a 5xx; every
error is the JSON error shape; the service is alive afterwards. In process (TestClient), bounded, no network.
The routes include reranking (``/v1/rerank``, ``/rerank`` in TEI's and Cohere's shapes, ``/search``'s ``mode`` and
``rerank``), served by a tiny cross-encoder."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from sentvec.server.app import create_app
from sentvec.server.limits import Limits

SEED = int(os.environ.get("SENTVEC_FUZZ_SEED", "14"))  # another seed explores further
REQUESTS = 900
KEY = "fuzz-key-0123456789"
LIMITS = Limits(max_inputs=16, max_chars=500, max_body_bytes=64 * 1024, max_k=20)
AUTH = {"Authorization": f"Bearer {KEY}"}

ODD_TEXTS = [
    "",
    " ",
    "the cat sleeps",
    "\ud800",
    "a\udfffb",
    "\udc00\ud800",
    "\ud83d\ude00",  # a paired surrogate: one emoji
    "😀🙈🚀" * 20,
    "a\x00b",
    "\x00" * 50,
    "\u202eevil\u202c",  # right-to-left override
    "مرحبا بالعالم",
    "\u200b\u200c\u200d\ufeff",  # zero-width characters and a BOM
    "e" + "\u0301" * 400,  # combining marks
    "\uffff\ufffe",
    "\U0010ffff",
    "x" * 499,
    "x" * 501,  # over max_chars
    "y" * 30_000,
    "\\ud800",  # the escape as text: harmless
    '"}{][',
    "\r\n\t\x0b\x0c",
]
PLAIN_TEXTS = ["the cat sleeps", "a dog runs", "birds sing", "hello world", "the big red moon"]
ODD_NUMBERS: list[Any] = [
    0,
    1,
    -1,
    2,
    20,
    21,
    -(2**63),
    2**63 - 1,
    2**63,
    2**64,
    10**30,
    -(10**30),
    1.5,
    -0.0,
    1e308,
    float("nan"),
    float("inf"),
    float("-inf"),
    True,
    False,
]


def _scalar(rng: random.Random) -> Any:
    kind = rng.random()
    if kind < 0.45:
        return rng.choice(ODD_TEXTS)
    if kind < 0.85:
        return rng.choice(ODD_NUMBERS)
    return None


def _value(rng: random.Random, depth: int = 0) -> Any:
    """A random JSON-ish value (NaN and infinities included: Python's decoder takes them)."""
    kind = rng.random()
    if depth > 3 or kind < 0.55:
        return _scalar(rng)
    if kind < 0.8:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    return {rng.choice([*ODD_TEXTS[:16], "lang", "n", "k"]): _value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def _texts(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.3:  # plain texts, maybe one odd one among them: the request may well be served
        texts = [rng.choice(PLAIN_TEXTS) for _ in range(rng.randint(1, 6))]
        if rng.random() < 0.5:
            texts[rng.randrange(len(texts))] = rng.choice(ODD_TEXTS)
        return texts
    if roll < 0.6:
        return [rng.choice(ODD_TEXTS) for _ in range(rng.randint(0, 20))]  # up to over max_inputs
    if roll < 0.8:
        return rng.choice(ODD_TEXTS)
    return _value(rng)


def _embeddings_body(rng: random.Random) -> dict[str, Any]:
    body: dict[str, Any] = {"input": _texts(rng), "model": rng.choice(["m", "\ud800", 5, None])}
    if rng.random() < 0.5:
        body["encoding_format"] = rng.choice(["float", "base64", "hex", 1, None, "\ud800"])
    if rng.random() < 0.5:
        body["dimensions"] = rng.choice([*ODD_NUMBERS, 8, 32, 33, "8"])
    if rng.random() < 0.2:
        body["user"] = _value(rng)
    return body


def _similarity_body(rng: random.Random) -> dict[str, Any]:
    if rng.random() < 0.5:
        return {"texts": _texts(rng)}
    return {"a": _texts(rng), "b": _texts(rng)}


def _search_body(rng: random.Random) -> dict[str, Any]:
    body: dict[str, Any] = {"query": rng.choice(ODD_TEXTS) if rng.random() < 0.8 else _value(rng)}
    if rng.random() < 0.7:
        body["k"] = rng.choice([*ODD_NUMBERS, "3", [1]])
    if rng.random() < 0.6:
        roll = rng.random()
        body["filter"] = (
            {rng.choice(["lang", "n", "\ud800", "a.b", "$", "'", '"', "\x00", "]"]): _value(rng)}
            if roll < 0.7
            else _value(rng)
        )
    if rng.random() < 0.3:
        body["exact"] = rng.choice([True, False, "yes", 1, None])
    if rng.random() < 0.5:
        body["mode"] = rng.choice(["dense", "lexical", "hybrid", "hybrid", "sparse", "", None, 1, "\ud800"])
    if rng.random() < 0.4:
        body["rerank"] = rng.choice([True, True, False, "true", 1, None, "\ud800"])
    if rng.random() < 0.3:
        body["rerank_candidates"] = rng.choice([*ODD_NUMBERS, 5, 16, 17, "5"])
    return body


def _documents(rng: random.Random) -> Any:
    """Rerank documents: texts, {"text": ...} objects (Cohere, Jina), or anything."""
    docs = _texts(rng)
    if isinstance(docs, list) and rng.random() < 0.4:
        return [
            {"text": d, **({"title": _value(rng)} if rng.random() < 0.3 else {})} if rng.random() < 0.7 else _value(rng)
            for d in docs
        ]
    return docs


def _rerank_body(rng: random.Random) -> dict[str, Any]:
    """Cohere's and Jina's request."""
    body: dict[str, Any] = {"query": rng.choice(ODD_TEXTS) if rng.random() < 0.85 else _value(rng)}
    body["documents"] = _documents(rng)
    if rng.random() < 0.6:
        body["model"] = rng.choice(["rerank-english-v3.0", "jina-reranker-v2-base-multilingual", 5, None, "\ud800"])
    if rng.random() < 0.5:
        body["top_n"] = rng.choice([*ODD_NUMBERS, 3, "2", [1]])
    if rng.random() < 0.5:
        body["return_documents"] = rng.choice([True, False, "yes", 0, None])
    if rng.random() < 0.2:
        body[rng.choice(["rank_fields", "max_chunks_per_doc", "max_tokens_per_doc"])] = _value(rng)
    return body


def _tei_body(rng: random.Random) -> dict[str, Any]:
    """TEI's request (sometimes Cohere's, or both shapes at once: /rerank takes either)."""
    roll = rng.random()
    if roll < 0.2:
        return _rerank_body(rng)
    body: dict[str, Any] = {"query": rng.choice(ODD_TEXTS) if rng.random() < 0.85 else _value(rng)}
    body["texts"] = _texts(rng)
    if roll < 0.25:
        body["documents"] = _documents(rng)
    for key in ("raw_scores", "return_text", "truncate"):
        if rng.random() < 0.5:
            body[key] = rng.choice([True, False, True, "no", 1, None])
    if rng.random() < 0.3:
        body["truncation_direction"] = rng.choice(["right", "Right", "left", "Left", "up", 1, None])
    return body


BODIES: dict[str, Callable[[random.Random], dict[str, Any]]] = {
    "/v1/embeddings": _embeddings_body,
    "/similarity": _similarity_body,
    "/search": _search_body,
    "/v1/rerank": _rerank_body,
    "/v2/rerank": _rerank_body,
    "/rerank": _tei_body,
}


def _mutate(rng: random.Random, body: dict[str, Any]) -> Any:
    """Drop a field, add an unknown one, retype one, or replace the whole body."""
    roll = rng.random()
    if roll < 0.3:
        return body
    if roll < 0.4 and body:
        body.pop(rng.choice(list(body)))
    elif roll < 0.5:
        body[rng.choice(["extra", "\ud800", "", "input", "k", "documents", "texts", "query"])] = _value(rng)
    elif roll < 0.6 and body:
        body[rng.choice(list(body))] = _value(rng)
    elif roll < 0.7:
        return _value(rng)
    return body


def _encode(rng: random.Random, body: Any) -> bytes:
    """The body as bytes: JSON with ASCII escapes, or raw UTF-8 (surrogates as invalid bytes), or broken JSON."""
    text = json.dumps(body, ensure_ascii=rng.random() < 0.6)  # NaN and Infinity as Python writes them
    data = text.encode("utf-8", "surrogatepass")  # a lone surrogate unescaped is invalid UTF-8
    roll = rng.random()
    if roll < 0.08:
        return data[: rng.randint(0, len(data))]  # truncated
    if roll < 0.12:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64)))
    if roll < 0.14:
        return b"[" * rng.choice([100, 5000, 60_000]) + b"]" * 10
    if roll < 0.16:
        return b'{"input": ' + b"[" * 2000 + b'"a"' + b"]" * 2000 + b"}"
    if roll < 0.18:
        return b"\xef\xbb\xbf" + data  # a BOM
    if roll < 0.2:
        return data + b" trailing"
    if roll < 0.22:
        return b'{"input": "' + b"z" * (LIMITS.max_body_bytes + 10) + b'"}'  # over max_body_bytes
    if roll < 0.24:
        return b'{"k": 1' + b"0" * 5000 + b', "dimensions": 1e999, "query": "a"}'
    return data


def _headers(rng: random.Random) -> dict[str, str]:
    content_type = rng.choice(
        ["application/json"] * 6 + ["text/plain", "application/json; charset=utf-16", "application/x-www-form", ""]
    )
    headers = {"content-type": content_type} if content_type else {}
    roll = rng.random()
    if roll < 0.85:
        headers.update(AUTH)
    elif roll < 0.9:
        headers["Authorization"] = rng.choice(["Bearer", "Bearer ", f"Basic {KEY}", f"Bearer {KEY} x", "\x7f"])
    elif roll < 0.95:
        headers["Authorization"] = "Bearer " + "".join(chr(rng.randint(0x21, 0x7E)) for _ in range(rng.randint(0, 300)))
    return headers


@pytest.fixture(scope="module")
def index(model, tmp_path_factory) -> Iterator[Any]:
    Index = pytest.importorskip("sentvec.search.index").Index
    pytest.importorskip("usearch")
    folder = tmp_path_factory.mktemp("fuzz-index") / "index"
    docs = [
        {"id": "d1", "text": "the cat sleeps", "metadata": {"lang": "en", "n": 1, "tags": ["a", "b"]}},
        {"id": "d2", "text": "a dog runs", "metadata": {"lang": "de", "n": 2.5, "nested": {"x": None}}},
        {"id": "d3", "text": "birds sing", "metadata": {"lang": "en", "n": -(2**63), "ok": True}},
    ]
    with Index.create(folder, model) as writer:
        writer.add(docs)
    with Index.open(folder, model, read_only=True) as reader:
        yield reader


@pytest.fixture(scope="module")
def reranker(tmp_path_factory) -> Any:
    from test_rerank import build_reranker

    from sentvec.rerank import load_reranker

    return load_reranker(build_reranker(tmp_path_factory.mktemp("fuzz-reranker") / "r"), backend="torch")


def test_fuzzed_requests_never_get_a_5xx(model, index, reranker):
    rng = random.Random(SEED)
    statuses: dict[int, int] = {}
    served: dict[str, int] = {}
    app = create_app(model, index, limits=LIMITS, api_keys=KEY, reranker=reranker)
    with TestClient(app, raise_server_exceptions=False) as client:
        for n in range(REQUESTS):
            roll = rng.random()
            headers = _headers(rng)
            if roll < 0.85:
                path = rng.choice(list(BODIES))
                body = _mutate(rng, BODIES[path](rng))
                method, content = "POST", _encode(rng, body)
            else:
                path = rng.choice(["/health", "/metrics", "/v1/embeddings", "/nope", "/search/", "/v1/models", "//"])
                method, content = rng.choice(["GET", "PUT", "DELETE", "POST", "HEAD", "OPTIONS"]), b""
            response = client.request(method, path, content=content, headers=headers)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code == 200:
                served[path] = served.get(path, 0) + 1
            where = f"request {n}: {method} {path} {content[:300]!r} {headers}"
            assert response.status_code < 500, f"{where} -> {response.status_code} {response.text[:500]}"
            if response.status_code >= 400 and method != "HEAD":
                error = response.json()["error"]
                assert error["code"] and error["message"] and error["type"] == "invalid_request_error", where
        assert client.get("/health").status_code == 200
        alive = client.post("/v1/embeddings", json={"input": ["the cat", "a dog"]}, headers=AUTH)
        assert alive.status_code == 200 and len(alive.json()["data"]) == 2
        ranked = client.post("/v1/rerank", json={"query": "the cat", "documents": ["a dog", "the cat"]}, headers=AUTH)
        assert ranked.status_code == 200 and len(ranked.json()["results"]) == 2
        metrics = client.get("/metrics", headers=AUTH).text
    assert 'status="5' not in metrics
    # the generator reaches the service's answers, not only its first checks
    print(f"seed {SEED}: {dict(sorted(statuses.items()))}, served {dict(sorted(served.items()))}")
    assert statuses.get(200, 0) >= 20, statuses
    reranked = sum(served.get(path, 0) for path in ("/v1/rerank", "/v2/rerank", "/rerank"))
    assert reranked >= 5 and served.get("/search", 0) >= 1, served  # the reranking routes answer too
    assert {400, 401, 404, 413, 422} <= set(statuses), statuses
