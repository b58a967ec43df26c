"""What a reranker returns, and what ``info()`` says about it (numpy-free: the server and the index import these)."""

from __future__ import annotations

import dataclasses

from sentvec.backends.base import BackendInfo

# One input of ``predict``: a (query, document) pair, as a tuple or a two-item list (the reference takes both).
TextPair = tuple[str, str] | list[str]

_KEYS = ("corpus_id", "score", "text")


@dataclasses.dataclass(frozen=True)
class RankedDocument:
    """One document of a ``rank`` call: its position in the input (``corpus_id``), its score (after the activation),
    and its text when ``return_documents=True``.

    For code ported from sentence-transformers, ``to_dict()`` gives the reference's dict and ``hit["corpus_id"]``,
    ``hit["score"]``, ``hit["text"]`` read the same fields.
    """

    corpus_id: int
    score: float
    text: str | None = None

    def to_dict(self) -> dict[str, int | float | str]:
        """The reference's form: ``{"corpus_id", "score"}``, plus ``"text"`` when the text was asked for."""
        out: dict[str, int | float | str] = {"corpus_id": self.corpus_id, "score": self.score}
        if self.text is not None:
            out["text"] = self.text
        return out

    def __getitem__(self, key: str) -> int | float | str:
        """Read a field by the reference's dict key (``KeyError`` for ``"text"`` when it was not asked for)."""
        if key not in _KEYS or (key == "text" and self.text is None):
            raise KeyError(key)
        value: int | float | str | None = getattr(self, key)
        assert value is not None
        return value


@dataclasses.dataclass(frozen=True)
class RerankerInfo:
    """What a reranker is, as ``CrossEncoder.info()`` reports it."""

    name: str
    source: str | None
    backend: BackendInfo
    architecture: str  # config.json's model_type
    num_labels: int
    labels: tuple[str, ...]
    max_length: int
    activation: str  # the default activation applied by predict/rank ("sigmoid", "identity", ...)
    layout: str  # the folder layout read: "sentence-transformers" (6.x) or "huggingface" (config.json only)
    segment_ids: bool  # whether the model gets real token type ids (0 query / 1 document)
    vocab_size: int
