"""Reranking routes of the HTTP service, for the clients that speak one of the two common shapes:

- ``POST /v1/rerank`` (and ``/v2/rerank``): Cohere's and Jina's request, ``{"model", "query", "documents"}`` (texts,
  or ``{"text": ...}`` objects), ``top_n``, ``return_documents``; the answer ``{"id", "results": [{"index",
  "relevance_score", "document"?: {"text"}}], "model", "usage": {"prompt_tokens", "total_tokens"}, "meta"}``, best
  first.
- ``POST /rerank``: Hugging Face TEI's request, ``{"query", "texts", "raw_scores", "return_text", "truncate",
  "truncation_direction"}``, answered as TEI does: a list of ``{"index", "score", "text"?}``, best first. A request
  with ``documents`` instead of ``texts`` is taken as Cohere's and answered as ``/v1/rerank`` (as infinity serves it).

Scores are the reranker's ``predict`` on the (query, document) pairs: after the model's activation (sigmoid for a
one-label model unless its folder names another); TEI's ``raw_scores: true`` gives the logits. Pairs longer than the
model's ``max_length`` tokens are truncated, except that TEI's ``truncate: false`` (its default) makes them a 422
naming the text, as TEI refuses them. Equal scores keep the documents' order. The work runs on the model thread
(:meth:`~sentvec.server.batcher.MicroBatcher.run`), between embedding batches.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import numpy as np
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sentvec.server.batcher import MicroBatcher
from sentvec.server.checks import ApiError, check_texts
from sentvec.server.limits import Limits

if TYPE_CHECKING:
    from sentvec.batching import EncodeInfo
    from sentvec.rerank import CrossEncoder

# (pairs, raw logits?) -> (one score per pair (N,) float32, the tokenization report of the pass that made them)
ScoreFn = Callable[[list[tuple[str, str]], bool], tuple[np.ndarray, "EncodeInfo"]]
NO_RERANKER = "no reranker is loaded; start the server with --reranker MODEL (a cross-encoder name or folder)"


# --- request and response schemas -------------------------------------------------------------------------
class RerankDocument(BaseModel):
    """A document sent as an object (Cohere, Jina): its ``text`` is ranked; other fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    text: str


class RerankRequest(BaseModel):
    """``POST /v1/rerank``: Cohere's and Jina's request. ``model`` is not checked (the served reranker answers);
    fields of theirs this service has no use for (``rank_fields``, ``max_chunks_per_doc``, ...) are ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = Field(None, description="accepted for compatibility; the served reranker answers")
    query: str
    documents: list[str | RerankDocument] = Field(description="texts, or objects with a 'text' field")
    top_n: int | None = Field(None, ge=1, description="the best N only (default: all, best first)")
    return_documents: bool = Field(False, description="each result's document text too (Cohere's default: false)")

    def texts(self) -> list[str]:
        return [d if isinstance(d, str) else d.text for d in self.documents]


class AnyRerankRequest(BaseModel):
    """``POST /rerank``: TEI's request (``texts``, ``raw_scores``, ``return_text``, ``truncate``), or Cohere's
    (``documents``, ``top_n``, ``return_documents``), told apart by ``texts`` / ``documents``."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    query: str
    texts: list[str] | None = Field(None, description="TEI: the texts to rank")
    raw_scores: bool = Field(False, description="TEI: the model's logits instead of its activation's scores")
    return_text: bool = Field(False, description="TEI: each result's text too")
    truncate: bool | None = Field(False, description="TEI: truncate pairs over the model's max_length (else 422)")
    truncation_direction: Literal["right", "Right", "left", "Left"] = "right"
    documents: list[str | RerankDocument] | None = Field(None, description="Cohere's request instead")
    top_n: int | None = Field(None, ge=1)
    return_documents: bool = False

    @model_validator(mode="after")
    def _one_shape(self) -> AnyRerankRequest:
        if (self.texts is None) == (self.documents is None):
            raise ValueError("send 'texts' (TEI's request) or 'documents' (Cohere's), not both")
        return self

    def as_cohere(self) -> RerankRequest:
        assert self.documents is not None
        return RerankRequest(
            model=self.model,
            query=self.query,
            documents=self.documents,
            top_n=self.top_n,
            return_documents=self.return_documents,
        )


class RerankDocumentText(BaseModel):
    """A result's document (``return_documents``)."""

    text: str


class RerankResult(BaseModel):
    """One document of a Cohere/Jina answer: its position in the request and its score."""

    index: int
    relevance_score: float
    document: RerankDocumentText | None = None


class RerankUsage(BaseModel):
    """Tokens fed to the reranker (special tokens included, after truncation at its ``max_length``)."""

    prompt_tokens: int
    total_tokens: int


class RerankResponse(BaseModel):
    """The Cohere/Jina answer, best first."""

    id: str
    results: list[RerankResult]
    model: str
    usage: RerankUsage
    meta: dict[str, dict[str, str]]


class TEIRank(BaseModel):
    """One text of a TEI answer (the answer is a list of these, best first)."""

    index: int
    score: float
    text: str | None = None


# --- the reranker as the service runs it ------------------------------------------------------------------
def reranker_function(reranker: CrossEncoder, batch_size: int = 32) -> ScoreFn:
    """The service's view of a reranker: scores of pairs (raw logits on request) with the tokenization report of
    the very pass that made them (for ``usage`` and TEI's ``truncate: false``).

    This takes the concrete :class:`~sentvec.CrossEncoder` rather than the :class:`~sentvec.protocols.Reranker`
    contract, as :func:`~sentvec.server.app.model_functions` takes the encoder: the report and the activation
    override are keywords of its ``predict``."""

    def score(pairs: list[tuple[str, str]], raw: bool) -> tuple[np.ndarray, EncodeInfo]:
        scores, info = reranker.predict(
            pairs,
            batch_size=batch_size,
            activation_fn="identity" if raw else None,
            return_info=True,
            show_progress_bar=False,
        )
        return np.asarray(scores, dtype=np.float32).reshape(len(pairs)), info

    return score


class RerankService:
    """The reranking routes' state: the reranker (None: the routes answer 404), the model thread, the limits."""

    def __init__(
        self, reranker: CrossEncoder | None, batcher: MicroBatcher, limits: Limits, batch_size: int = 32
    ) -> None:
        if reranker is not None and reranker.num_labels != 1:
            raise ValueError(
                f"the reranker {reranker.name!r} has {reranker.num_labels} labels; serving needs a one-label model "
                "(one relevance score per pair)"
            )
        self.reranker = reranker
        self.name = reranker.name if reranker is not None else None
        self.batcher = batcher
        self.limits = limits
        self._score = reranker_function(reranker, batch_size) if reranker is not None else None

    def _scorer(self) -> ScoreFn:
        if self._score is None:
            raise ApiError(404, NO_RERANKER, "no_reranker")
        return self._score

    async def _run(self, query: str, texts: list[str], raw: bool, param: str) -> tuple[np.ndarray, EncodeInfo]:
        """Check the texts (422 naming ``param[i]``), then score every pair on the model thread."""
        score = self._scorer()
        check_texts([query], self.limits, "query", single=True)
        check_texts(texts, self.limits, param)
        # the request is fully checked by now: an error of the reranker is the server's (a 500)
        return await self.batcher.run(score, [(query, text) for text in texts], raw)

    async def cohere(self, body: RerankRequest) -> Response:
        """Rank ``documents`` by relevance to ``query`` (Cohere's and Jina's rerank API)."""
        texts = body.texts()
        scores, info = await self._run(body.query, texts, False, "documents")
        order = np.argsort(-scores, kind="stable")[: min(body.top_n or len(texts), len(texts))]
        results: list[dict[str, object]] = []
        for i in order.tolist():
            result: dict[str, object] = {"index": i, "relevance_score": float(scores[i])}
            if body.return_documents:
                result["document"] = {"text": texts[i]}
            results.append(result)
        tokens = info.total_tokens
        return JSONResponse(
            {
                "id": str(uuid.uuid4()),
                "results": results,
                "model": self.name,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                "meta": {"api_version": {"version": "1"}},
            }
        )

    async def any_shape(self, body: AnyRerankRequest) -> Response:
        """TEI's rerank (``texts``: a list of ``{index, score, text?}``), or Cohere's (``documents``)."""
        if body.texts is None:
            return await self.cohere(body.as_cohere())
        if body.truncation_direction.lower() == "left":
            message = "truncation_direction 'left' is not supported: pairs are truncated longest-first from the right"
            raise ApiError(422, message, "unsupported", "truncation_direction")
        scores, info = await self._run(body.query, body.texts, body.raw_scores, "texts")
        if not body.truncate and info.n_truncated:
            first = info.truncated_indices[0]
            message = (
                f"texts[{first}] makes a pair of {int(info.token_counts[first])} tokens with the query; the reranker "
                f"takes {info.max_seq_length}: send 'truncate': true to truncate it"
            )
            raise ApiError(422, message, "max_tokens", f"texts[{first}]")
        out: list[dict[str, object]] = []
        for i in np.argsort(-scores, kind="stable").tolist():
            item: dict[str, object] = {"index": i, "score": float(scores[i])}
            if body.return_text:
                item["text"] = body.texts[i]
            out.append(item)
        return JSONResponse(out)
