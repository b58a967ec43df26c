"""The service's reranking: ``/v1/rerank`` and ``/v2/rerank`` answer requests as the Cohere and Jina clients send
them, ``/rerank`` TEI's (and Cohere's), ``/search`` takes ``mode`` and ``rerank``; scores equal the reranker's
``predict`` on the same pairs; bad requests are JSON 4xx; the API key applies; the work runs on the model thread."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from test_rerank import build_reranker

from sentvec.rerank import load_reranker

pytest.importorskip("fastapi")
pytest.importorskip("usearch")
from fastapi.testclient import TestClient

from sentvec.server.app import create_app
from sentvec.server.limits import Limits

LIMITS = Limits(max_inputs=8, max_chars=200, max_body_bytes=16384, max_k=50)
KEY = "rerank-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
QUERY = "the cat sleeps"
DOCS = ["a dog runs", "the cat sleeps on the red car", "birds sing", "hello world", "the big moon", "cats"]
LONG = " ".join(["the big red dog runs over the lazy cat"] * 4)  # over the reranker's 24 tokens with the query
SEARCH_DOCS = [
    {"id": "d1", "text": "the cat sleeps", "metadata": {"lang": "en"}},
    {"id": "d2", "text": "a dog runs in the city", "metadata": {"lang": "en"}},
    {"id": "d3", "text": "birds sing", "metadata": {"lang": "de"}},
    {"id": "d4", "text": "the red cat likes fish", "metadata": {"lang": "en"}},
    {"id": "d5", "text": "a big moon at night", "metadata": {"lang": "de"}},
]


@pytest.fixture(scope="module")
def reranker(tmp_path_factory) -> Any:
    return load_reranker(build_reranker(tmp_path_factory.mktemp("serve-reranker") / "r", seed=2), backend="torch")


def _index(model, folder, lexical=True) -> Any:
    from sentvec.search.index import Index

    with Index.create(folder, model, lexical=lexical) as writer:
        writer.add(SEARCH_DOCS)
    return Index.open(folder, model, read_only=True)


@pytest.fixture(scope="module")
def index(model, tmp_path_factory) -> Iterator[Any]:
    reader = _index(model, tmp_path_factory.mktemp("serve-rerank-index") / "index")
    yield reader
    reader.close()


@pytest.fixture(scope="module")
def client(model, index, reranker) -> Iterator[TestClient]:
    app = create_app(model, index, limits=LIMITS, api_keys=KEY, reranker=reranker)
    with TestClient(app, raise_server_exceptions=False) as c:
        c.headers.update(AUTH)
        yield c


def _expected(reranker, query, docs, **kwargs):
    scores = reranker.predict([(query, d) for d in docs], **kwargs)
    return scores, np.argsort(-scores, kind="stable").tolist()


def _tokens(reranker, query, docs) -> int:
    return reranker.tokenize([(query, d) for d in docs]).info.total_tokens


# --- Cohere and Jina ----------------------------------------------------------------------------------------------
def test_cohere_client_request(client, reranker):
    # as cohere.Client(...).rerank(model=..., query=..., documents=[...], top_n=3, return_documents=True) sends it
    body = {"model": "rerank-english-v3.0", "query": QUERY, "documents": DOCS, "top_n": 3, "return_documents": True}
    response = client.post("/v1/rerank", json=body, headers={"X-Client-Name": "my-app"})
    assert response.status_code == 200, response.text
    answer = response.json()
    scores, order = _expected(reranker, QUERY, DOCS)
    assert [r["index"] for r in answer["results"]] == order[:3]
    np.testing.assert_allclose([r["relevance_score"] for r in answer["results"]], scores[order[:3]], atol=1e-6)
    assert [r["document"] for r in answer["results"]] == [{"text": DOCS[i]} for i in order[:3]]
    assert answer["model"] == reranker.name and answer["id"] and answer["meta"]["api_version"]["version"] == "1"
    tokens = _tokens(reranker, QUERY, DOCS)
    assert answer["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens}

    # the defaults: every document, best first, no document text (Cohere's return_documents=false)
    plain = client.post("/v1/rerank", json={"model": "m", "query": QUERY, "documents": DOCS}).json()
    assert [r["index"] for r in plain["results"]] == order
    assert all(set(r) == {"index", "relevance_score"} for r in plain["results"])
    # a top_n beyond the documents returns them all; /v2/rerank (Cohere's v2 client) answers the same
    for path in ("/v1/rerank", "/v2/rerank"):
        many = client.post(path, json={"model": "m", "query": QUERY, "documents": DOCS, "top_n": 10**30}).json()
        assert [r["index"] for r in many["results"]] == order


def test_jina_client_request(client, reranker):
    # as Jina's API is called: documents as strings or {"text": ...} objects, top_n, return_documents
    docs = [{"text": d} for d in DOCS[:4]] + DOCS[4:]
    body = {"model": "jina-reranker-v2-base-multilingual", "query": QUERY, "documents": docs, "top_n": 2}
    response = client.post("/v1/rerank", json={**body, "return_documents": True})
    assert response.status_code == 200, response.text
    answer = response.json()
    scores, order = _expected(reranker, QUERY, DOCS)
    assert [(r["index"], r["document"]["text"]) for r in answer["results"]] == [(i, DOCS[i]) for i in order[:2]]
    np.testing.assert_allclose([r["relevance_score"] for r in answer["results"]], scores[order[:2]], atol=1e-6)
    assert answer["usage"]["total_tokens"] == _tokens(reranker, QUERY, DOCS)
    # objects with more fields than text (Cohere's structured documents): the text is ranked
    extra = [{"text": d, "title": "x", "id": i} for i, d in enumerate(DOCS)]
    same = client.post("/v1/rerank", json={"query": QUERY, "documents": extra}).json()
    assert [r["index"] for r in same["results"]] == order


def test_long_documents_are_truncated_and_counted(client, reranker):
    docs = [LONG, "the cat"]
    answer = client.post("/v1/rerank", json={"query": QUERY, "documents": docs}).json()
    _scores, order = _expected(reranker, QUERY, docs)
    assert [r["index"] for r in answer["results"]] == order
    assert answer["usage"]["total_tokens"] == _tokens(reranker, QUERY, docs)  # after truncation


# --- TEI ----------------------------------------------------------------------------------------------------------
def test_tei_request(client, reranker):
    body = {"query": QUERY, "texts": DOCS, "raw_scores": False, "return_text": True, "truncate": False}
    response = client.post("/rerank", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    scores, order = _expected(reranker, QUERY, DOCS)
    assert [r["index"] for r in answer] == order
    np.testing.assert_allclose([r["score"] for r in answer], scores[order], atol=1e-6)
    assert [r["text"] for r in answer] == [DOCS[i] for i in order]

    raw = client.post("/rerank", json={"query": QUERY, "texts": DOCS, "raw_scores": True}).json()
    logits, raw_order = _expected(reranker, QUERY, DOCS, activation_fn="identity")
    assert [r["index"] for r in raw] == raw_order and all(set(r) == {"index", "score"} for r in raw)
    np.testing.assert_allclose([r["score"] for r in raw], logits[raw_order], atol=1e-5)

    # TEI's truncate=false (its default) refuses a pair over the model's length; truncate=true truncates it
    refused = client.post("/rerank", json={"query": QUERY, "texts": ["birds", LONG]})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "max_tokens" and refused.json()["error"]["param"] == "texts[1]"
    cut = client.post("/rerank", json={"query": QUERY, "texts": ["birds", LONG], "truncate": True})
    assert cut.status_code == 200 and {r["index"] for r in cut.json()} == {0, 1}
    # Cohere's request on /rerank is answered Cohere's way (as infinity serves it)
    cohere = client.post("/rerank", json={"query": QUERY, "documents": DOCS, "top_n": 2}).json()
    assert [r["index"] for r in cohere["results"]] == order[:2]


# --- errors -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "body", "status", "code", "param"),
    [
        ("/v1/rerank", {"documents": DOCS}, 422, "invalid_request", "query"),
        ("/v1/rerank", {"query": QUERY}, 422, "invalid_request", "documents"),
        ("/v1/rerank", {"query": QUERY, "documents": []}, 422, "empty_input", "documents"),
        ("/v1/rerank", {"query": QUERY, "documents": DOCS, "top_n": 0}, 422, "invalid_request", "top_n"),
        ("/v1/rerank", {"query": QUERY, "documents": DOCS, "top_n": -3}, 422, "invalid_request", "top_n"),
        ("/v1/rerank", {"query": QUERY, "documents": [{"title": "no text"}]}, 422, "invalid_request", "documents"),
        ("/v1/rerank", {"query": QUERY, "documents": [1, 2]}, 422, "invalid_request", "documents"),
        ("/v1/rerank", {"query": QUERY, "documents": ["a"] * 9}, 422, "max_inputs", "documents"),
        ("/v1/rerank", {"query": QUERY, "documents": ["a", "x" * 201]}, 422, "max_chars", "documents[1]"),
        ("/v1/rerank", {"query": "x" * 201, "documents": ["a"]}, 422, "max_chars", "query"),
        ("/v1/rerank", {"query": QUERY, "documents": ["a", "b\ud800"]}, 422, "invalid_text", "documents[1]"),
        ("/v1/rerank", {"query": QUERY, "documents": DOCS, "return_documents": "maybe"}, 422, "invalid_request", None),
        ("/rerank", {"query": QUERY}, 422, "invalid_request", None),
        ("/rerank", {"query": QUERY, "texts": DOCS, "documents": DOCS}, 422, "invalid_request", None),
        ("/rerank", {"query": QUERY, "texts": []}, 422, "empty_input", "texts"),
        ("/rerank", {"query": QUERY, "texts": ["ok", "\udfff"]}, 422, "invalid_text", "texts[1]"),
        ("/rerank", {"query": QUERY, "texts": DOCS, "truncation_direction": "Left"}, 422, "unsupported", None),
        ("/rerank", {"query": QUERY, "texts": DOCS, "truncation_direction": "up"}, 422, "invalid_request", None),
    ],
)
def test_bad_requests_are_json_4xx(client, path, body, status, code, param):
    data = json.dumps(body).encode("utf-8", "surrogatepass")  # lone surrogates as JSON escapes
    response = client.post(path, content=data, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["type"] == "invalid_request_error" and error["message"]
    if param is not None:
        assert error["param"] == param, error


def test_malformed_json_and_auth(client, model, reranker):
    bad = client.post(
        "/v1/rerank", content=b'{"query": "a", "documents": [', headers={"content-type": "application/json"}
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_json"
    for path in ("/v1/rerank", "/rerank"):
        denied = client.post(path, json={"query": QUERY, "documents": DOCS}, headers={"Authorization": ""})
        assert denied.status_code == 401
        wrong = client.post(path, json={"query": QUERY, "texts": DOCS}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401


def test_without_a_reranker(model, index):
    with TestClient(create_app(model, index, limits=LIMITS), raise_server_exceptions=False) as client:
        for path, body in (
            ("/v1/rerank", {"query": QUERY, "documents": DOCS}),
            ("/v2/rerank", {"query": QUERY, "documents": DOCS}),
            ("/rerank", {"query": QUERY, "texts": DOCS}),
        ):
            response = client.post(path, json=body)
            assert response.status_code == 404, response.text
            assert response.json()["error"]["code"] == "no_reranker"
            assert "--reranker" in response.json()["error"]["message"]
        search = client.post("/search", json={"query": QUERY, "rerank": True})
        assert search.status_code == 422 and search.json()["error"]["code"] == "no_reranker"
        assert client.get("/health").json()["reranker"] is None
        assert client.post("/search", json={"query": QUERY, "rerank": False}).status_code == 200


def test_reranking_runs_on_the_model_thread(client, reranker, monkeypatch):
    threads: list[str] = []
    predict = reranker.predict

    def recording(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return predict(*args, **kwargs)

    monkeypatch.setattr(reranker, "predict", recording)
    assert client.post("/v1/rerank", json={"query": QUERY, "documents": DOCS}).status_code == 200
    assert client.post("/rerank", json={"query": QUERY, "texts": DOCS}).status_code == 200
    assert client.post("/search", json={"query": QUERY, "rerank": True, "k": 3}).status_code == 200
    assert len(threads) == 3 and all(name.startswith("sentvec-model") for name in threads), threads


# --- /search ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_search_mode_and_rerank(client, index, reranker, mode):
    for rerank in (False, True):
        body = {"query": "the cat", "k": 3, "mode": mode, "rerank": rerank, "rerank_candidates": 5}
        response = client.post("/search", json=body)
        assert response.status_code == 200, response.text
        expected = index.search("the cat", k=3, mode=mode, rerank=reranker if rerank else None, rerank_candidates=5)
        data = response.json()["data"]
        assert [h["id"] for h in data] == [h.id for h in expected]
        np.testing.assert_allclose([h["score"] for h in data], [h.score for h in expected], atol=1e-6)
    filtered = client.post(
        "/search", json={"query": "the cat", "mode": mode, "rerank": True, "k": 5, "filter": {"lang": "de"}}
    )
    assert filtered.status_code == 200, filtered.text
    assert {h["id"] for h in filtered.json()["data"]} <= {"d3", "d5"}


def test_search_rerank_limits_and_modes(client, model, reranker, tmp_path):
    over = client.post("/search", json={"query": "the cat", "rerank": True, "rerank_candidates": 9})
    assert over.status_code == 422 and over.json()["error"]["code"] == "max_inputs"
    deep_k = client.post("/search", json={"query": "the cat", "rerank": True, "k": 20})
    assert deep_k.status_code == 422 and deep_k.json()["error"]["param"] == "rerank_candidates"
    # without rerank_candidates: the default, capped at max_inputs (8 here)
    assert client.post("/search", json={"query": "the cat", "rerank": True, "k": 2}).status_code == 200
    for body, code in (
        ({"query": "a", "mode": "sparse"}, "invalid_request"),
        ({"query": "a", "rerank": True, "rerank_candidates": 0}, "invalid_request"),
        ({"query": "a", "rerank": "yes please"}, "invalid_request"),
    ):
        response = client.post("/search", json=body)
        assert response.status_code == 422 and response.json()["error"]["code"] == code, body
    # an index without a lexical index: lexical and hybrid search are a 422 saying how to add one
    plain = _index(model, tmp_path / "plain", lexical=False)
    try:
        app = create_app(model, plain, limits=LIMITS, reranker=reranker)
        with TestClient(app, raise_server_exceptions=False) as other:
            for mode in ("lexical", "hybrid"):
                response = other.post("/search", json={"query": "the cat", "mode": mode})
                assert response.status_code == 422 and response.json()["error"]["code"] == "mode_unavailable"
                assert "rebuild-lexical" in response.json()["error"]["message"]
            assert other.post("/search", json={"query": "the cat"}).status_code == 200
    finally:
        plain.close()


def test_health_and_openapi_name_the_reranker(client, reranker):
    assert client.get("/health").json()["reranker"] == reranker.name
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/rerank", "/v2/rerank", "/rerank"} <= set(paths)


# --- sentvec serve --reranker -------------------------------------------------------------------------------------
def test_cli_serve_loads_the_reranker(model_dir, reranker, tmp_path, capsys):
    from sentvec.cli.main import build_parser, main
    from sentvec.cli.serve import build_app

    args = build_parser().parse_args(["serve", "--model", str(model_dir), "--reranker", str(reranker.source)])
    app = build_app(args)
    assert app.state.reranking.reranker.source == reranker.source
    with TestClient(app) as c:
        answer = c.post("/v1/rerank", json={"query": QUERY, "documents": DOCS}).json()
    _, order = _expected(reranker, QUERY, DOCS)
    assert [r["index"] for r in answer["results"]] == order

    three = build_reranker(tmp_path / "three", num_labels=3, layout="hf")
    capsys.readouterr()
    assert main(["serve", "--model", str(model_dir), "--reranker", str(three)]) == 2
    assert "one-label" in capsys.readouterr().err.splitlines()[-1]
