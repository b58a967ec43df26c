"""Exposing the service safely: text the tokenizer cannot take is a 422 naming it (never a 500), API keys
(``Authorization: Bearer``), and connection limits against slow clients, tested on a real uvicorn server on a free
127.0.0.1 port (bounded: loopback only, a few seconds)."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
from fastapi.testclient import TestClient  # noqa: E402

from sentvec.server import auth  # noqa: E402
from sentvec.server.app import create_app  # noqa: E402
from sentvec.server.connections import HeaderTimeoutMixin, http_protocol, uvicorn_options  # noqa: E402
from sentvec.server.limits import API_KEY_ENV, ConnectionLimits, Limits  # noqa: E402

KEY = "sk-test-0123456789abcdef"
JSON = {"content-type": "application/json"}
HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 2.0
SLACK = 2.0  # seconds a closing may lag its deadline on a loaded machine


def _post(client: Any, path: str, body: object, **headers: str) -> Any:
    """POST ``body`` as JSON with ASCII escapes, so lone surrogates travel as ``\\ud800`` (as a JS client's would)."""
    return client.post(path, content=json.dumps(body).encode("ascii"), headers={**JSON, **headers})


@contextlib.contextmanager
def serving(app: Any, connections: ConnectionLimits) -> Iterator[tuple[str, int]]:
    """``app`` under uvicorn with the options ``sentvec serve`` passes, on a free loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False, **uvicorn_options(connections))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield sock.getsockname()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


SEARCH_DOCS = [
    {"id": "d1", "text": "the cat sleeps", "metadata": {"lang": "en", "n": 1}},
    {"id": "d2", "text": "a dog runs", "metadata": {"lang": "de", "n": 2}},
]


@pytest.fixture(scope="module")
def index(model, tmp_path_factory) -> Iterator[Any]:
    Index = pytest.importorskip("sentvec.search.index").Index
    pytest.importorskip("usearch")
    folder = tmp_path_factory.mktemp("security-index") / "index"
    with Index.create(folder, model) as writer:
        writer.add(SEARCH_DOCS)
    with Index.open(folder, model, read_only=True) as reader:
        yield reader


@pytest.fixture(scope="module")
def client(model, index) -> Iterator[TestClient]:
    with TestClient(create_app(model, index), raise_server_exceptions=False) as c:
        yield c


# --- point 7: text the tokenizer cannot take --------------------------------------------------------------------
SURROGATE_CASES = [
    ("/v1/embeddings", {"input": ["ok", "fine", "a cat", "x\ud800y"]}, "input[3]"),
    ("/v1/embeddings", {"input": "\udfff"}, "input"),
    ("/v1/embeddings", {"input": ["the \ud83d cat"], "encoding_format": "base64"}, "input[0]"),
    ("/similarity", {"a": ["ok", "\ud800"], "b": ["ok"]}, "a[1]"),
    ("/similarity", {"a": ["ok"], "b": ["\udc00\ud800"]}, "b[0]"),
    ("/similarity", {"texts": ["a", "b", "c\ud800"]}, "texts[2]"),
    ("/search", {"query": "cat \ud800"}, "query"),
]


@pytest.mark.parametrize(("path", "body", "param"), SURROGATE_CASES)
def test_lone_surrogate_is_422_naming_the_text(client, path, body, param):
    response = _post(client, path, body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"], error["type"]) == ("invalid_text", param, "invalid_request_error")
    assert error["message"].startswith(f"{param} holds a lone surrogate (U+")


def test_raw_surrogate_bytes_are_422_too(client):
    """Python's JSON decoder lets a surrogate encoded as if UTF-8 (``ED A0 80``, not UTF-8) through as well."""
    response = client.post("/v1/embeddings", content=b'{"input": ["a", "\xed\xa0\x80"]}', headers=JSON)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["param"] == "input[1]"


def test_paired_surrogates_and_odd_text_are_fine(client):
    """An escaped pair is one character (an emoji); NUL, RTL marks and noncharacters reach the model."""
    texts = ["\ud83d\ude00 cat", "a\x00b", "\u202eabc", "\uffff", "\U0010ffff", ""]
    response = _post(client, "/v1/embeddings", {"input": texts})
    assert response.status_code == 200, response.text
    assert len(response.json()["data"]) == len(texts)


FILTER_CASES = [
    ({"lang": "e\ud800n"}, "filter.lang"),
    ({"\ud800": "en"}, "filter"),
    ({"n": 2**70}, "filter.n"),
    ({"n": -(2**63) - 1}, "filter.n"),
    ({"n": [1, {"m": [2**64]}]}, "filter.n[1].m[0]"),
]


def test_odd_filter_field_names_are_served(client):
    """Field names SQLite's JSON paths cannot spell (NUL, quotes, backslashes) are matched in Python."""
    for field in ("a\x00b", '"', "\\", "a.b", "$", "]", "\u202e"):
        response = _post(client, "/search", {"query": "cat", "filter": {field: 1, "lang": "en"}})
        assert response.status_code == 200, (field, response.text)
        assert response.json()["data"] == []


@pytest.mark.parametrize(("flt", "param"), FILTER_CASES)
def test_filter_the_index_cannot_take_is_422(client, flt, param):
    response = _post(client, "/search", {"query": "cat", "filter": flt})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_filter", param)


BAD_BODIES = [
    # json.dumps cannot write an int of 5,000 digits (Python's int/str conversion limit): written by hand
    (b'{"query": "cat", "filter": {"n": 1' + b"0" * 5000 + b"}}", "integer string conversion"),
    (b'{"query": "caf\xe9"}', "invalid UTF-8 at byte 14"),
    (b"[" * 100_000, "nested too deeply"),
]


@pytest.mark.parametrize(("body", "reason"), BAD_BODIES, ids=["long int", "latin-1", "deep"])
def test_body_that_is_not_json_is_400_saying_why(client, body, reason):
    response = client.post("/search", content=body, headers=JSON)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_json"
    assert error["message"].startswith("the request body is not valid JSON: ")
    assert reason in error["message"]


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_filter_number_is_422(client, literal):
    response = client.post("/search", content=b'{"query": "cat", "filter": {"n": ' + literal + b"}}", headers=JSON)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_filter"


def test_error_quoting_a_surrogate_is_still_json(client):
    """A field name with a lone surrogate is a schema error, and an error quoting one escapes it (no 500)."""
    for body in ({"texts": ["a"], "\ud800": 1}, {"texts": ["a"], "x\udfff": 1}, {"query": "a", "\ud800": {}}):
        response = _post(client, "/similarity" if "texts" in body else "/search", body)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid_request"
    from sentvec.server.app import _error_json

    response = _error_json(422, "field 'a\ud800' is wrong", "x", "a\ud800")  # a message may quote the request
    assert json.loads(response.body)["error"]["param"] == "a\\ud800"


def test_huge_numbers_are_422(client):
    too_long = b'{"input": "a", "dimensions": 1' + b"0" * 100 + b"}"
    response = client.post("/v1/embeddings", content=too_long, headers=JSON)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "dimensions"
    response = client.post("/search", content=b'{"query": "a", "k": 1' + b"0" * 100 + b"}", headers=JSON)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "max_k"


# --- point 8: API keys --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keyed(model) -> Iterator[TestClient]:
    with TestClient(create_app(model, api_keys=[KEY, "second-key"]), raise_server_exceptions=False) as c:
        yield c


def test_api_key_missing_or_wrong_is_401(keyed):
    cases = [
        ({}, "missing_api_key"),
        ({"Authorization": "Bearer wrong-key"}, "invalid_api_key"),
        ({"Authorization": f"Bearer {KEY}x"}, "invalid_api_key"),
        ({"Authorization": f"Bearer {KEY[:-1]}"}, "invalid_api_key"),
        ({"Authorization": f"Basic {KEY}"}, "invalid_api_key"),
        ({"Authorization": KEY}, "invalid_api_key"),
        ({"Authorization": "Bearer"}, "invalid_api_key"),
        ({"X-Api-Key": KEY}, "missing_api_key"),
    ]
    for headers, code in cases:
        for path in ("/v1/embeddings", "/similarity", "/search", "/nope"):
            response = _post(keyed, path, {"input": "a cat"}, **headers)
            assert response.status_code == 401, (headers, path, response.text)
            assert response.json()["error"] == {
                "message": response.json()["error"]["message"],
                "type": "invalid_request_error",
                "param": None,
                "code": code,
            }
            assert response.headers["www-authenticate"] == "Bearer"
        for path in ("/metrics", "/openapi.json", "/docs"):
            assert keyed.get(path, headers=headers).status_code == 401


def test_api_key_right_is_200_and_health_is_open(keyed):
    for key in (KEY, "second-key"):
        for scheme in ("Bearer", "bearer"):
            response = _post(keyed, "/v1/embeddings", {"input": ["a cat"]}, Authorization=f"{scheme} {key}")
            assert response.status_code == 200, response.text
    assert _post(keyed, "/similarity", {"texts": ["a"]}, Authorization=f"Bearer {KEY}").status_code == 200
    assert keyed.get("/health").status_code == 200
    metrics = keyed.get("/metrics", headers={"Authorization": f"Bearer {KEY}"})
    assert metrics.status_code == 200
    assert 'sentvec_http_errors_total{route="/v1/embeddings",status="401",code="missing_api_key"}' in metrics.text


def test_keys_are_compared_in_constant_time(monkeypatch):
    calls: list[tuple[bytes, bytes]] = []
    real = auth.hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", recording)
    keys = auth.ApiKeys(["first-key", "second-key", "third-key"])
    assert keys.problem(b"Bearer first-key") is None  # the first key matches, and the other two are compared too
    assert len(calls) == 3 and all(len(a) == len(b) == 32 for a, b in calls)  # digests: lengths do not leak
    assert keys.problem(b"Bearer nope") == "invalid_api_key"
    assert keys.problem(None) == "missing_api_key"


def test_read_api_keys(tmp_path):
    assert auth.read_api_keys(environ={}) == ()
    assert auth.read_api_keys(environ={API_KEY_ENV: f" {KEY}\n"}) == (KEY,)
    assert auth.read_api_keys("k1", environ={API_KEY_ENV: KEY}) == ("k1",)  # the option wins
    key_file = tmp_path / "keys"
    key_file.write_text(f"# rotated on Monday\n{KEY}\n\n  new-key  \n", encoding="utf-8")
    assert auth.read_api_keys(key_file=key_file, environ={API_KEY_ENV: "x"}) == (KEY, "new-key")
    with pytest.raises(ValueError, match="not both"):
        auth.read_api_keys("k1", key_file)
    (tmp_path / "empty").write_text("# nothing\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no API key"):
        auth.read_api_keys(key_file=tmp_path / "empty")
    (tmp_path / "spaces").write_text("two words\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"spaces:1: .*visible ASCII"):
        auth.read_api_keys(key_file=tmp_path / "spaces")
    with pytest.raises(OSError):
        auth.read_api_keys(key_file=tmp_path / "missing")
    with pytest.raises(ValueError):
        auth.read_api_keys("clé")


def test_cli_serve_security_options(monkeypatch, model_dir, tmp_path, capsys, caplog):
    from sentvec.cli.main import build_parser, main

    ran: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: ran.update(app=app, **kw))
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    key_file = tmp_path / "keys"
    key_file.write_text(KEY + "\n", encoding="utf-8")
    argv = ["serve", "--model", str(model_dir), "--api-key-file", str(key_file), "--header-timeout", "3"]
    argv += ["--body-timeout", "7.5", "--keep-alive-timeout", "2", "--max-connections", "64"]
    assert main([*argv, "--max-header-bytes", "4096"]) == 0
    assert ran["app"].state.requires_api_key
    assert ran["app"].state.service.limits.body_timeout == 7.5
    assert (ran["timeout_keep_alive"], ran["limit_concurrency"], ran["h11_max_incomplete_event_size"]) == (2, 64, 4096)
    assert issubclass(ran["http"], HeaderTimeoutMixin) and ran["http"].header_timeout == 3.0
    with TestClient(ran["app"]) as c:
        assert _post(c, "/v1/embeddings", {"input": "a"}).status_code == 401
        assert _post(c, "/v1/embeddings", {"input": "a"}, Authorization=f"Bearer {KEY}").status_code == 200

    # the defaults are the library's; the environment variable is read when no option names a key
    monkeypatch.setenv(API_KEY_ENV, KEY)
    assert main(["serve", "--model", str(model_dir), "--host", "0.0.0.0"]) == 0
    assert ran["app"].state.requires_api_key
    defaults = ConnectionLimits()
    assert ran["http"].header_timeout == defaults.header_timeout
    assert ran["limit_concurrency"] == defaults.max_connections
    assert ran["timeout_keep_alive"] == defaults.keep_alive_timeout
    assert ran["app"].state.service.limits.body_timeout == Limits().body_timeout
    monkeypatch.delenv(API_KEY_ENV)
    assert main(["serve", "--model", str(model_dir), "--host", "0.0.0.0"]) == 0
    assert not ran["app"].state.requires_api_key
    assert "serving on 0.0.0.0 without an API key" in caplog.text
    capsys.readouterr()

    # a bad key file is a one-line error before the model loads
    def no_model(args: Any) -> Any:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr("sentvec.cli.serve.load_model", no_model)
    assert main(["serve", "--model", str(model_dir), "--api-key-file", str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--model", "m", "--api-key", "a", "--api-key-file", "f"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--model", "m", "--header-timeout", "0"])


# --- point 8: slow clients against a real server ----------------------------------------------------------------
@pytest.fixture(scope="module")
def server(model) -> Iterator[tuple[str, int]]:
    app = create_app(model, api_keys=KEY, limits=Limits(body_timeout=BODY_TIMEOUT))
    # a long keep-alive: a connection closed within the header timeout was closed by the header timeout
    connections = ConnectionLimits(header_timeout=HEADER_TIMEOUT, keep_alive_timeout=30)
    with serving(app, connections) as address:
        yield address


def _closed_within(socks: list[socket.socket], seconds: float) -> list[socket.socket]:
    """The sockets of ``socks`` still open after ``seconds`` (a socket is closed when it reads EOF or a reset)."""
    open_ = list(socks)
    deadline = time.monotonic() + seconds
    while open_ and time.monotonic() < deadline:
        readable, _, _ = select.select(open_, [], [], max(deadline - time.monotonic(), 0))
        for s in readable:
            try:
                data = s.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            if not data:
                open_.remove(s)
    return open_


def test_slow_loris_connections_are_closed_and_others_served(server):
    host, port = server
    socks: list[socket.socket] = []
    try:
        t0 = time.monotonic()
        for i in range(50):
            s = socket.create_connection((host, port), timeout=5)
            if i % 5:  # most send part of their headers; every fifth sends nothing at all
                s.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
            socks.append(s)
        with httpx.Client(base_url=f"http://{host}:{port}", trust_env=False, timeout=10) as http:
            response = http.post("/v1/embeddings", json={"input": "a cat"}, headers={"Authorization": f"Bearer {KEY}"})
            assert response.status_code == 200, response.text
            assert http.get("/health").status_code == 200
        assert time.monotonic() - t0 < HEADER_TIMEOUT + SLACK
        still_open = _closed_within(socks, HEADER_TIMEOUT + SLACK - (time.monotonic() - t0))
        assert not still_open, f"{len(still_open)} of 50 slow connections still open"
        assert time.monotonic() - t0 >= HEADER_TIMEOUT * 0.9  # they were closed by the timeout, not at once
    finally:
        for s in socks:
            s.close()


def test_openai_client_sends_the_key(server):
    openai = pytest.importorskip("openai")
    host, port = server
    with httpx.Client(trust_env=False, timeout=30) as transport:
        right = openai.OpenAI(base_url=f"http://{host}:{port}/v1", api_key=KEY, max_retries=0, http_client=transport)
        assert len(right.embeddings.create(model="m", input=["a cat", "a dog"]).data) == 2
        wrong = openai.OpenAI(base_url=f"http://{host}:{port}/v1", api_key="nope", max_retries=0, http_client=transport)
        with pytest.raises(openai.AuthenticationError, match="invalid API key") as raised:
            wrong.embeddings.create(model="m", input="a cat")
        assert raised.value.code == "invalid_api_key"


def test_trickling_headers_do_not_extend_the_deadline(server):
    host, port = server
    head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 200
    with socket.create_connection((host, port), timeout=5) as s:
        t0 = time.monotonic()
        closed_at = None
        for byte in head:  # one byte every 50 ms: 10 s of headers, were the deadline extended by each byte
            try:
                s.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed_at = time.monotonic()
                break
            if not _closed_within([s], 0.05):
                closed_at = time.monotonic()
                break
        assert closed_at is not None and closed_at - t0 < HEADER_TIMEOUT + SLACK


def test_next_request_on_a_kept_alive_connection_has_a_header_deadline(server):
    host, port = server
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(65536).startswith(b"HTTP/1.1 200")
        time.sleep(HEADER_TIMEOUT * 1.5)  # idle between requests: the keep-alive timeout (30 s) applies
        s.sendall(b"GET /health HTTP/1.1\r\n")  # a next request, partly
        t0 = time.monotonic()
        assert not _closed_within([s], HEADER_TIMEOUT + SLACK)
        assert time.monotonic() - t0 >= HEADER_TIMEOUT * 0.9


def test_slow_body_within_its_timeout_is_served(server):
    """The header deadline ends with the headers: a body that follows later (within body_timeout) is fine."""
    host, port = server
    body = b'{"input": "a cat"}'
    head = f"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
    head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(head.encode("ascii") + body[:5])
        time.sleep(HEADER_TIMEOUT * 1.3)
        s.sendall(body[5:])
        assert s.recv(65536).startswith(b"HTTP/1.1 200")


def test_body_that_never_arrives_is_408_and_closed(server):
    host, port = server
    head = f"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
    head += "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    with socket.create_connection((host, port), timeout=BODY_TIMEOUT + SLACK + 2) as s:
        t0 = time.monotonic()
        s.sendall(head.encode("ascii") + b'{"input": "a')
        response = b""
        while b"}}" not in response:
            chunk = s.recv(65536)
            if not chunk:
                break
            response += chunk
        assert BODY_TIMEOUT * 0.9 <= time.monotonic() - t0 < BODY_TIMEOUT + SLACK
        status, _, rest = response.partition(b"\r\n")
        assert status == b"HTTP/1.1 408 Request Timeout"
        assert json.loads(rest.partition(b"\r\n\r\n")[2])["error"]["code"] == "body_timeout"
        assert not _closed_within([s], SLACK)


def test_http_protocol_wraps_the_given_class():
    from uvicorn.protocols.http.h11_impl import H11Protocol

    cls = http_protocol(2.5, H11Protocol)
    assert issubclass(cls, H11Protocol) and issubclass(cls, HeaderTimeoutMixin)
    assert cls.header_timeout == 2.5
    with pytest.raises(ValueError, match="header_timeout"):
        ConnectionLimits(header_timeout=0)
    with pytest.raises(ValueError, match="body_timeout"):
        Limits(body_timeout=0)
