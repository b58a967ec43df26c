"""The HTTP service: OpenAI-compatible embeddings, similarity, search, reranking, health and Prometheus metrics.

:func:`create_app` builds a FastAPI app around one loaded model (and optionally a search index and a reranker:
the reranking routes are :mod:`sentvec.server.rerank`'s). Texts from
concurrent requests share model batches through :class:`~sentvec.server.batcher.MicroBatcher`; the model runs
on one worker thread, never on the event loop.

Every error is a JSON body ``{"error": {"message", "type", "param", "code"}}`` (OpenAI's shape): malformed
JSON is 400, a missing or wrong API key 401 (when the app has keys; ``/health`` stays open), a body over
``max_body_bytes`` is 413, a body that does not arrive within ``body_timeout`` 408, a request that breaks a limit
or the schema is 422 (the ``code`` names the limit: ``max_inputs``, ``max_chars``, ...; a text that is not valid
Unicode, such as a lone surrogate ``"\\ud800"``, is ``invalid_text`` naming it: ``input[3]``), an unknown route
404. Only a failure of the server itself is a 500.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sentvec import __version__
from sentvec.arrays import to_numpy
from sentvec.postprocess import postprocess
from sentvec.prompts import Role, role_prompt_name
from sentvec.server.auth import ApiKeys
from sentvec.server.batcher import BatcherClosedError, BatcherConfig, CountFn, EncodeFn, MicroBatcher
from sentvec.server.checks import ApiError, check_filter, check_texts, short
from sentvec.server.checks import text_problem as text_problem  # re-exported: it lived here
from sentvec.server.limits import Limits
from sentvec.server.metrics import CONTENT_TYPE, ServerMetrics
from sentvec.server.rerank import NO_RERANKER, RerankResponse, RerankService, TEIRank

if TYPE_CHECKING:
    from sentvec.encoder import SentenceEncoder
    from sentvec.protocols import Embedder, Reranker
    from sentvec.rerank import CrossEncoder

logger = logging.getLogger(__name__)

ERROR_CODE_KEY = "sentvec.error_code"  # scope key: the error code of the response, for the metrics
OPEN_PATHS = frozenset({"/health"})  # served without an API key (a load balancer's probe has none)
RERANK_CANDIDATES = 100  # /search with rerank: candidates reranked unless the request says (at most max_inputs)
MAX_PARAM_CHARS = 200  # an error's ``param`` (a path into the request) is cut to this length


class IndexHit(Protocol):
    """What ``/search`` returns of one hit of the index (``sentvec.search.index.SearchHit`` has these fields)."""

    @property
    def id(self) -> str:
        """The document's id."""

    @property
    def score(self) -> float:
        """Its similarity to the query (larger is more similar)."""

    @property
    def text(self) -> str | None:
        """The document's text."""

    @property
    def metadata(self) -> Mapping[str, object]:
        """The document's metadata (JSON values)."""


class SearchIndex(Protocol):
    """What ``/search`` needs of an index: ``sentvec.search.index.Index`` satisfies it structurally, and a test
    double can too (the server never imports the index package)."""

    def search(
        self,
        query: str,
        /,
        *,
        k: int = ...,
        filter: Mapping[str, JsonValue] | None = ...,
        exact: bool = ...,
        mode: str = ...,
        rerank: Reranker | None = ...,
        rerank_candidates: int = ...,
    ) -> Sequence[IndexHit]:
        """The ``k`` best hits for a query text, best first, among the documents whose metadata match ``filter``,
        by ``mode`` (dense, lexical or hybrid), reranked by ``rerank`` when given."""


# --- request and response schemas -------------------------------------------------------------------------
InputType = Literal["query", "document", "search_query", "search_document"]
INPUT_TYPE_ROLES: dict[str, Role] = {
    "query": Role.QUERY,
    "search_query": Role.QUERY,
    "document": Role.DOCUMENT,
    "search_document": Role.DOCUMENT,
}


class EmbeddingRequest(BaseModel):
    """``POST /v1/embeddings``: OpenAI's request. Token-id inputs are rejected; ``model`` is not checked."""

    model_config = ConfigDict(extra="ignore")

    input: str | list[str] = Field(description="a text or a list of texts")
    model: str | None = Field(None, description="accepted for compatibility; the served model answers")
    encoding_format: Literal["float", "base64"] = Field("float", description="base64: little-endian float32")
    dimensions: int | None = Field(None, ge=1, description="keep the first N dimensions, then renormalize")
    user: str | None = None
    input_type: InputType | None = Field(
        None, description="query or document: the model's query/document prompt (Cohere's search_* names too)"
    )
    prompt_name: str | None = Field(None, description="one of the model's named prompts (TEI's field)")

    @field_validator("input", mode="before")
    @classmethod
    def _no_token_ids(cls, value: object) -> object:
        if isinstance(value, list) and any(isinstance(v, (int, list)) and not isinstance(v, bool) for v in value):
            raise ValueError("token-id inputs are not supported; send a string or a list of strings")
        return value


class EmbeddingData(BaseModel):
    """One embedding of the response."""

    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class Usage(BaseModel):
    """Tokens fed to the model (special tokens included, after truncation at ``max_seq_length``)."""

    prompt_tokens: int
    total_tokens: int


class EmbeddingResponse(BaseModel):
    """OpenAI's embeddings response."""

    object: Literal["list"] = "list"
    data: list[EmbeddingData]
    model: str
    usage: Usage


class SimilarityRequest(BaseModel):
    """``POST /similarity``: ``a`` and ``b`` (an N x M matrix) or ``texts`` (all pairs, N x N)."""

    model_config = ConfigDict(extra="forbid")

    a: list[str] | None = None
    b: list[str] | None = None
    texts: list[str] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> SimilarityRequest:
        if (self.texts is None) == (self.a is None and self.b is None) or (self.a is None) != (self.b is None):
            raise ValueError("send either 'a' and 'b', or 'texts'")
        return self


class SimilarityResponse(BaseModel):
    """The similarity matrix, with the model's function (larger is more similar; distances negated)."""

    object: Literal["similarity"] = "similarity"
    model: str
    similarity_fn: str
    scores: list[list[float]]
    usage: Usage


class SearchRequest(BaseModel):
    """``POST /search`` over the loaded index."""

    model_config = ConfigDict(extra="forbid")

    query: str
    k: int = Field(10, ge=1)
    filter: dict[str, JsonValue] | None = None
    exact: bool = False
    mode: Literal["dense", "lexical", "hybrid"] = Field(
        "dense", description="embeddings, BM25 (the index's lexical index) or both fused by RRF"
    )
    rerank: bool = Field(False, description="rerank the best rerank_candidates with the served reranker")
    rerank_candidates: int | None = Field(
        None, ge=1, description=f"with rerank: how many to rerank (default {RERANK_CANDIDATES}, at least k)"
    )


class SearchHitModel(BaseModel):
    """One search result."""

    id: str
    score: float
    text: str | None = None
    metadata: dict[str, JsonValue] | None = None


class SearchResponse(BaseModel):
    """Search results, best first."""

    object: Literal["list"] = "list"
    model: str
    data: list[SearchHitModel]


class HealthResponse(BaseModel):
    """Service state."""

    status: str
    model: str
    dimension: int
    max_seq_length: int
    similarity_fn: str
    index: bool
    reranker: str | None
    queued_texts: int


class ErrorDetail(BaseModel):
    """OpenAI's error object."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """Every non-2xx response."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, type[BaseModel]]] = {
    status: {"model": ErrorResponse} for status in (400, 401, 404, 408, 413, 422, 503)
}


# --- the service ------------------------------------------------------------------------------------------
class _Service:
    """The state behind the routes: model, batcher, metrics, limits, index."""

    def __init__(
        self,
        model: Embedder,
        index: SearchIndex | None,
        limits: Limits,
        batcher: MicroBatcher,
        normalize: bool,
        reranker: Reranker | None = None,
    ) -> None:
        self.model = model
        self.index = index
        self.reranker = reranker
        self.limits = limits
        self.batcher = batcher
        self.metrics = batcher.metrics
        self.normalize = normalize
        self.name = model.name

    def check_texts(self, texts: list[str], param: str, *, single: bool = False) -> None:
        """422 when the request sends no text, breaks ``max_inputs`` or ``max_chars``, or sends a text the
        tokenizer cannot take (see :func:`check_texts`)."""
        check_texts(texts, self.limits, param, single=single)

    async def embeddings(self, body: EmbeddingRequest) -> Response:
        """Embed ``input`` (OpenAI's embeddings API)."""
        texts = [body.input] if isinstance(body.input, str) else list(body.input)
        self.check_texts(texts, "input", single=isinstance(body.input, str))
        dim = self.model.dimension
        if body.dimensions is not None and body.dimensions > dim:
            message = f"dimensions={short(body.dimensions)} exceeds the model's {dim}"
            raise ApiError(422, message, "dimensions", "dimensions")
        result = await self.batcher.encode(texts, self.prompt_name(body.input_type, body.prompt_name))
        vectors = to_numpy(
            postprocess(result.embeddings, truncate_dim=body.dimensions, normalize_embeddings=self.normalize)
        )
        data = [
            {"object": "embedding", "index": i, "embedding": _vector_json(v, body.encoding_format)}
            for i, v in enumerate(vectors)
        ]
        usage = {"prompt_tokens": result.total_tokens, "total_tokens": result.total_tokens}
        return JSONResponse({"object": "list", "data": data, "model": self.name, "usage": usage})

    def prompt_name(self, input_type: InputType | None, prompt_name: str | None) -> str | None:
        """The model prompt a request asks for: by name, or by role (``input_type``); None: the default prompt."""
        if prompt_name is not None and input_type is not None:
            raise ApiError(422, "send input_type or prompt_name, not both", "invalid_prompt", "prompt_name")
        if prompt_name is not None:
            if prompt_name not in self.model.prompts:
                known = ", ".join(sorted(self.model.prompts)) or "none"
                raise ApiError(
                    422, f"unknown prompt_name; the model's prompts: {known}", "invalid_prompt", "prompt_name"
                )
            return prompt_name
        if input_type is None:
            return None
        return role_prompt_name(self.model.prompts, INPUT_TYPE_ROLES[input_type])

    async def similarity(self, body: SimilarityRequest) -> Response:
        """The similarity matrix of ``a`` x ``b`` (or ``texts`` x ``texts``) with the model's function."""
        if body.texts is not None:
            self.check_texts(body.texts, "texts")
            a, texts = body.texts, body.texts
        else:
            assert body.a is not None and body.b is not None
            self.check_texts(body.a, "a")
            self.check_texts(body.b, "b")
            a, texts = body.a, body.a + body.b
        result = await self.batcher.encode(texts)
        emb_a = result.embeddings[: len(a)]
        emb_b = emb_a if body.texts is not None else result.embeddings[len(a) :]
        scores = await asyncio.to_thread(self.model.similarity, emb_a, emb_b)
        usage = {"prompt_tokens": result.total_tokens, "total_tokens": result.total_tokens}
        return JSONResponse(
            {
                "object": "similarity",
                "model": self.name,
                "similarity_fn": self.model.similarity_fn.value,
                "scores": np.asarray(scores, dtype=np.float64).tolist(),
                "usage": usage,
            }
        )

    async def search(self, body: SearchRequest) -> Response:
        """The ``k`` best hits of the index for ``query`` (run on the model thread: the index encodes it)."""
        if self.index is None:
            raise ApiError(404, "no index is loaded; start the server with --index DIR", "no_index")
        self.check_texts([body.query], "query", single=True)
        if body.k > self.limits.max_k:
            raise ApiError(422, f"k={short(body.k)} exceeds the limit max_k={self.limits.max_k}", "max_k", "k")
        if body.filter is not None:
            check_filter(body.filter)
        candidates = self._rerank_candidates(body)
        # the request is fully checked by now: an error of the index is the server's (a 500), but for a mode the
        # index cannot search (no lexical index)
        try:
            hits = await self.batcher.run(
                self.index.search,
                body.query,
                k=body.k,
                filter=body.filter,
                exact=body.exact,
                mode=body.mode,
                rerank=self.reranker if body.rerank else None,
                rerank_candidates=candidates,
            )
        except Exception as e:
            if body.mode != "dense" and _lexical_unavailable(e):
                raise ApiError(422, str(e).splitlines()[0], "mode_unavailable", "mode") from None
            raise
        data = [{"id": h.id, "score": h.score, "text": h.text, "metadata": dict(h.metadata)} for h in hits]
        return JSONResponse({"object": "list", "model": self.name, "data": data})

    def _rerank_candidates(self, body: SearchRequest) -> int:
        """The candidates a reranked search scores: 422 without a reranker, or beyond ``max_inputs`` (the pairs one
        ``/v1/rerank`` request may send)."""
        default = min(RERANK_CANDIDATES, self.limits.max_inputs)
        if not body.rerank:
            return default
        if self.reranker is None:
            raise ApiError(422, "rerank: " + NO_RERANKER, "no_reranker", "rerank")
        candidates = max(body.k, body.rerank_candidates or default)
        if candidates > self.limits.max_inputs:
            message = (
                f"rerank scores max(k, rerank_candidates)={short(candidates)} documents; the limit is "
                f"max_inputs={self.limits.max_inputs}"
            )
            raise ApiError(422, message, "max_inputs", "rerank_candidates")
        return candidates

    async def health(self) -> Response:
        """``ok`` while the batcher runs (503 otherwise), with facts about the model."""
        body = {
            "status": "ok" if self.batcher.running else "unavailable",
            "model": self.name,
            "dimension": int(self.model.dimension),
            "max_seq_length": int(self.model.max_seq_length),
            "similarity_fn": self.model.similarity_fn.value,
            "index": self.index is not None,
            "reranker": None if self.reranker is None else self.reranker.name,
            "queued_texts": self.batcher.queued_texts,
        }
        return JSONResponse(body, status_code=200 if self.batcher.running else 503)

    async def metrics_text(self) -> Response:
        """Prometheus text exposition of the service's metrics."""
        return Response(self.metrics.render(), media_type=CONTENT_TYPE)


def _lexical_unavailable(error: Exception) -> bool:
    """Whether ``error`` says the index has no lexical index (or SQLite lacks FTS5): a mode it cannot serve."""
    from sentvec.search.index.lexical import LexicalSearchUnavailableError  # loaded with the index already

    return isinstance(error, LexicalSearchUnavailableError)


def _vector_json(vector: np.ndarray, encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":
        return base64.b64encode(np.ascontiguousarray(vector, dtype="<f4").tobytes()).decode("ascii")
    values: list[float] = vector.tolist()
    return values


def model_functions(model: SentenceEncoder, batch_size: int = 32) -> tuple[EncodeFn, CountFn]:
    """The batcher's view of a model: raw embeddings with per-text token counts, and a token counter.

    This takes the concrete encoder rather than the :class:`~sentvec.protocols.Embedder` contract because a
    response's ``usage`` is the tokens fed in the very pass that made its vectors (the default prompt and
    truncation included): ``encode(..., return_info=True)`` reports them from its own tokenization, where the
    contract's ``encode`` returns vectors only and counting with ``tokenize`` would tokenize every batch twice.

    A micro-batch's token budget (``BatcherConfig.max_batch_tokens``) sizes the merge of requests only; inside
    one, ``encode`` runs ``batch_size`` texts per forward pass, as in-process ``encode`` does."""

    def encode(texts: list[str], prompt_name: str | None) -> tuple[np.ndarray, np.ndarray]:
        emb, info = model.encode(
            texts,
            prompt_name=prompt_name,
            return_info=True,
            normalize_embeddings=False,
            convert_to_numpy=True,
            show_progress_bar=False,
            batch_size=batch_size,
        )
        return np.asarray(emb, dtype=np.float32), info.fed_counts

    def count_tokens(texts: list[str], prompt_name: str | None) -> int:
        return model.tokenize(texts, prompt_name=prompt_name).info.total_tokens

    return encode, count_tokens


# --- errors and metrics -----------------------------------------------------------------------------------
def _error_json(
    status: int, message: str, code: str, param: str | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    if param is not None and len(param) > MAX_PARAM_CHARS:
        param = param[: MAX_PARAM_CHARS - 3] + "..."
    # a message or param may quote the request (a field name, say): lone surrogates are escaped, not sent
    body = {"error": {"message": _unicode(message), "type": kind, "param": _unicode(param), "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def _unicode(text: str | None) -> str | None:
    if text is None:
        return None
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _error(request: Request, status: int, message: str, code: str, param: str | None = None) -> JSONResponse:
    request.scope[ERROR_CODE_KEY] = code
    return _error_json(status, message, code, param)


def _reason(error: BaseException) -> str:
    if isinstance(error, UnicodeDecodeError):
        return f"invalid UTF-8 at byte {error.start}"
    if isinstance(error, RecursionError):
        return "nested too deeply"
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:200]


def _loc(loc: Iterable[object]) -> str:
    """Where a validation error is, ``a.b[0]``-style (the ``body`` prefix dropped, cut to ``MAX_PARAM_CHARS``)."""
    where = ""
    for part in loc:
        if part == "body":
            continue
        where += f"[{part}]" if isinstance(part, int) else f".{part}" if where else str(part)
        if len(where) > MAX_PARAM_CHARS:
            return where[: MAX_PARAM_CHARS - 3] + "..."
    return where


def _install_error_handlers(app: FastAPI, limits: Limits) -> None:
    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return _error(request, exc.status, exc.message, exc.code, exc.param)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = list(exc.errors())
        bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
        if bad_json is not None:
            reason = (bad_json.get("ctx") or {}).get("error", "JSON decode error")
            return _error(request, 400, f"the request body is not valid JSON: {reason}", "invalid_json")
        parts = []
        for e in errors[:5]:
            where = _loc(e.get("loc", ()))
            parts.append(f"{where}: {e.get('msg')}" if where else str(e.get("msg")))
        message = "; ".join(parts) + (f" (and {len(errors) - 5} more)" if len(errors) > 5 else "")
        loc = [str(p) for p in (errors[0].get("loc", ()) if errors else ()) if p != "body"]
        return _error(request, 422, message or "invalid request", "invalid_request", loc[0] if loc else None)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        status, message = exc.status_code, str(exc.detail)
        codes = {
            400: "bad_request",
            404: "not_found",
            405: "method_not_allowed",
            408: "body_timeout",
            413: "max_body_bytes",
        }
        if status == 413:
            message = f"the request body exceeds the limit max_body_bytes={limits.max_body_bytes}"
        elif status == 408:
            message = f"the request body did not arrive within the limit body_timeout={limits.body_timeout:g}s"
        code = codes.get(status, f"http_{status}")
        cause = exc.__cause__
        if status == 400 and cause is not None:  # FastAPI could not decode the body: say why
            code, message = "invalid_json", f"the request body is not valid JSON: {_reason(cause)}"
        response = _error(request, status, message, code)
        response.headers.update(exc.headers or {})
        return response

    async def closed(request: Request, exc: Exception) -> Response:
        return _error(request, 503, str(exc), "unavailable")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(BatcherClosedError, closed)


class ServiceMiddleware:
    """Pure ASGI middleware: checks the API key (401), caps the request body (413) and the time to receive it
    (408), records requests, errors and latency, and turns an unexpected exception into a JSON 500 (logged with
    its traceback; the connection stays usable).

    With ``api_keys``, every path but ``OPEN_PATHS`` needs ``Authorization: Bearer <key>``; the key is checked
    before anything of the body is read. The body cap rejects a declared ``Content-Length`` over the limit before
    reading anything, and counts the bytes of bodies without one. The body must arrive within
    ``limits.body_timeout`` seconds of the request's start, however it trickles. Metrics are recorded before the
    response's last byte is sent, so a client that reads ``/metrics`` right after a response sees it counted.
    Unknown paths share the route label ``other``.
    """

    def __init__(
        self,
        app: ASGIApp,
        metrics: ServerMetrics,
        limits: Limits,
        routes: frozenset[str],
        api_keys: ApiKeys | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.limits = limits
        self.routes = routes
        self.api_keys = api_keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = scope["path"] if scope["path"] in self.routes else "other"
        start = time.perf_counter()
        status = 0

        async def send_recorded(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                self._count(scope, route, status)
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                self.metrics.latency.observe(time.perf_counter() - start, route)
            await send(message)

        denied = self._denied(scope)
        if denied is not None:
            await denied(scope, receive, send_recorded)
            return
        try:
            await self.app(scope, self._guarded(receive, _content_length(scope)), send_recorded)
        except Exception as e:
            if status != 0:  # the response has started: nothing to send; uvicorn closes the connection
                raise
            logger.exception("%s %s failed", scope.get("method"), scope["path"])
            scope[ERROR_CODE_KEY] = "internal_error"
            response = _error_json(500, f"internal server error ({type(e).__name__})", "internal_error")
            await response(scope, receive, send_recorded)

    def _denied(self, scope: Scope) -> Response | None:
        """The 401 response when the request needs an API key and lacks the right one, else ``None``."""
        if self.api_keys is None or scope["path"] in OPEN_PATHS:
            return None
        header = next((v for k, v in scope.get("headers", ()) if k == b"authorization"), None)
        code = self.api_keys.problem(header)
        if code is None:
            return None
        scope[ERROR_CODE_KEY] = code
        message = (
            "an API key is required: send the header 'Authorization: Bearer <key>'"
            if header is None
            else "invalid API key: send the header 'Authorization: Bearer <key>' with a key the server accepts"
        )
        return _error_json(401, message, code, headers={"WWW-Authenticate": "Bearer"})

    def _count(self, scope: Scope, route: str, status: int) -> None:
        self.metrics.requests.inc(route, scope.get("method", ""), str(status))
        if status >= 400:
            self.metrics.errors.inc(route, str(status), str(scope.get(ERROR_CODE_KEY, f"http_{status}")))

    def _guarded(self, receive: Receive, declared: int | None) -> Receive:
        """``receive`` with the body's size cap (413) and deadline (408, and the connection is closed)."""
        limit = self.limits.max_body_bytes
        deadline = time.monotonic() + self.limits.body_timeout
        received = 0
        body_done = False

        async def receive_guarded() -> Message:
            nonlocal received, body_done
            if declared is not None and declared > limit:
                raise StarletteHTTPException(413)
            if body_done:  # after the body: only a disconnect can come, with no deadline
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0.0))
            except asyncio.TimeoutError:
                raise StarletteHTTPException(408, headers={"Connection": "close"}) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise StarletteHTTPException(413)
                body_done = not message.get("more_body", False)
            else:
                body_done = True
            return message

        return receive_guarded


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


# --- the app ----------------------------------------------------------------------------------------------
def create_app(
    model: SentenceEncoder,
    index: SearchIndex | None = None,
    *,
    limits: Limits | None = None,
    batching: BatcherConfig | None = None,
    batch_size: int = 32,
    normalize: bool = True,
    api_keys: str | Iterable[str] | None = None,
    reranker: CrossEncoder | None = None,
) -> FastAPI:
    """A FastAPI app serving ``model`` (a :class:`~sentvec.SentenceEncoder`) and, when given, ``index``.

    Routes: ``POST /v1/embeddings`` (OpenAI's API), ``POST /similarity``, ``POST /search`` (404 without an index),
    ``GET /health``, ``GET /metrics`` (Prometheus text) and FastAPI's ``GET /openapi.json`` and ``/docs``.
    ``batching`` sets the micro-batches (token budget, wait); ``batch_size`` the rows per forward pass inside one;
    ``normalize`` L2-normalizes ``/v1/embeddings`` vectors (after ``dimensions`` truncation), as OpenAI does.
    ``/similarity`` and ``/search`` use the model's own vectors and similarity function.
    ``api_keys`` (one key or several): every route but ``/health`` then needs ``Authorization: Bearer <key>``
    (401 otherwise); :func:`sentvec.server.auth.read_api_keys` reads them as ``sentvec serve`` does.
    ``reranker`` (a one-label :class:`~sentvec.CrossEncoder`): ``POST /v1/rerank`` and ``/v2/rerank`` (Cohere's and
    Jina's API), ``POST /rerank`` (TEI's, or Cohere's) and ``/search``'s ``rerank``; without one they answer 404
    (``/search``: 422) saying how to serve one. Reranking runs on the model thread, as the embeddings do.
    """
    key_list = [api_keys] if isinstance(api_keys, str) else list(api_keys or ())
    keys = ApiKeys(key_list) if key_list else None
    limits = limits or Limits()
    batching = batching or BatcherConfig()
    encode, count_tokens = model_functions(model, batch_size)
    batcher = MicroBatcher(encode, count_tokens, batching, ServerMetrics())
    reranking = RerankService(reranker, batcher, limits, batch_size)
    service = _Service(model, index, limits, batcher, normalize, reranker)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await batcher.start()
        try:
            yield
        finally:
            await batcher.stop()

    app = FastAPI(
        title="sentvec",
        version=__version__,
        summary=f"Sentence embeddings with {service.name}",
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.reranking = reranking
    app.state.batcher = batcher
    app.state.requires_api_key = keys is not None
    errors = ERROR_RESPONSES
    app.post("/v1/embeddings", response_model=EmbeddingResponse, responses=errors, tags=["embeddings"])(
        service.embeddings
    )
    app.post("/similarity", response_model=SimilarityResponse, responses=errors, tags=["embeddings"])(
        service.similarity
    )
    app.post("/search", response_model=SearchResponse, responses=errors, tags=["search"])(service.search)
    for path in ("/v1/rerank", "/v2/rerank"):
        app.post(path, response_model=RerankResponse, responses=errors, tags=["rerank"])(reranking.cohere)
    app.post("/rerank", response_model=list[TEIRank] | RerankResponse, responses=errors, tags=["rerank"])(
        reranking.any_shape
    )
    app.get("/health", response_model=HealthResponse, tags=["service"])(service.health)
    app.get("/metrics", response_class=Response, tags=["service"])(service.metrics_text)
    _install_error_handlers(app, limits)
    routes = frozenset(str(getattr(r, "path", "")) for r in app.routes)
    app.add_middleware(ServiceMiddleware, metrics=batcher.metrics, limits=limits, routes=routes, api_keys=keys)
    return app
