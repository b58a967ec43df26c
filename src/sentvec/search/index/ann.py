"""The ANN half of an index folder: a usearch HNSW graph over float32, int8 or binary codes.

The graph holds the *compressed* vectors of the index's precision (:class:`VectorCodec`); search results are
always rescored with the float32 vectors kept in SQLite, so its scores only choose candidates.

A file is written once and never modified: :meth:`AnnIndex.save` writes a new file (temporary name, fsync,
rename) and the SQLite ``ann_state`` row is switched to it in one commit. Readers memory-map a file with
usearch's view (:meth:`AnnIndex.load` with ``view=True``), which is read-only: usearch crashes when adding to a
view of an index with deletions, so :meth:`AnnIndex.add` and :meth:`AnnIndex.remove` refuse views.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from sentvec._extras import require
from sentvec.quantization import Precision, quantize_embeddings
from sentvec.search.index.store import IndexFormatError, ReadOnlyIndexError
from sentvec.similarity import SimilarityFunction

if TYPE_CHECKING:
    from usearch.index import Index as UsearchIndex

CONNECTIVITY = 16  # HNSW M
EXPANSION_ADD = 100
EXPANSION_SEARCH = 64
# The precisions an index's graph can hold (of sentvec.quantization.Precision).
PRECISIONS = (Precision.FLOAT32, Precision.INT8, Precision.BINARY)
FEATURE = "A persistent semantic index (sentvec.search.index)"

# usearch metric per similarity for float32 vectors; manhattan has none, so l2sq picks its candidates.
_METRICS = {
    SimilarityFunction.COSINE: "cos",
    SimilarityFunction.DOT: "ip",
    SimilarityFunction.EUCLIDEAN: "l2sq",
    SimilarityFunction.MANHATTAN: "l2sq",
}


def usearch_index() -> type[UsearchIndex]:
    """usearch's ``Index`` class, or :class:`~sentvec.errors.MissingExtraError` with the install hint."""
    cls: type[UsearchIndex] = require("usearch.index", FEATURE).Index
    return cls


def parse_precision(value: str | Precision) -> Precision:
    """An index precision (one of :data:`PRECISIONS`) from a member or its name; ``ValueError`` otherwise."""
    try:
        precision = Precision.parse(value)
    except ValueError:
        precision = None
    if precision not in PRECISIONS:
        valid = ", ".join(p.value for p in PRECISIONS)
        raise ValueError(f"unknown index precision {value!r}; valid: {valid}")
    return precision


class UsearchOptions(TypedDict):
    """The keywords that make a usearch ``Index`` hold a codec's codes."""

    ndim: int
    metric: str
    dtype: str


@dataclasses.dataclass(frozen=True)
class VectorCodec:
    """How float32 vectors become the codes the ANN graph holds.

    - ``float32``: the vectors as they are.
    - ``int8``: :func:`~sentvec.quantization.quantize_embeddings` with the index's per-dimension ``ranges``. The codes
      are centred on each range's middle, so the graph compares them with L2 (L2 of the vectors, each dimension
      scaled by its range; cosine of centred codes would measure angles around the calibration centre), or with
      the inner product for dot-product models.
    - ``binary``: one sign bit per dimension, packed (usearch ``b1`` with the Hamming metric).
    """

    precision: Precision
    similarity: SimilarityFunction
    dimension: int
    ranges: np.ndarray | None = None

    def __post_init__(self) -> None:
        parse_precision(self.precision)

    @property
    def exact_candidates(self) -> bool:
        """Whether the graph ranks by the similarity itself (float32, not manhattan): no rescoring pool needed."""
        return self.precision is Precision.FLOAT32 and self.similarity is not SimilarityFunction.MANHATTAN

    def encode(self, vectors: np.ndarray) -> np.ndarray:
        """The codes of ``(n, D)`` float32 vectors."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.precision is Precision.FLOAT32:
            return vectors
        if self.precision is Precision.BINARY:
            return np.ascontiguousarray(quantize_embeddings(vectors, Precision.UBINARY))
        if self.ranges is None:
            raise ValueError("int8 codes need calibration ranges, which this index does not have yet")
        return np.ascontiguousarray(quantize_embeddings(vectors, Precision.INT8, ranges=self.ranges))

    def usearch_options(self) -> UsearchOptions:
        """``ndim``, ``metric`` and ``dtype`` for usearch."""
        if self.precision is Precision.BINARY:
            return {"ndim": self.dimension, "metric": "hamming", "dtype": "b1"}
        if self.precision is Precision.INT8:
            metric = "ip" if self.similarity is SimilarityFunction.DOT else "l2sq"
            return {"ndim": self.dimension, "metric": metric, "dtype": "i8"}
        return {"ndim": self.dimension, "metric": _METRICS[self.similarity], "dtype": "f32"}


class AnnIndex:
    """A usearch HNSW index keyed by document key; a memory-mapped view when ``read_only``."""

    def __init__(self, index: UsearchIndex, *, read_only: bool = False) -> None:
        self.index = index
        self.read_only = read_only

    @classmethod
    def new(cls, codec: VectorCodec) -> AnnIndex:
        """An empty writable graph for ``codec``'s codes (M=16, expansion 100 on add, 64 on search)."""
        index = usearch_index()(
            **codec.usearch_options(),
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )
        return cls(index)

    @classmethod
    def load(cls, path: Path, *, view: bool) -> AnnIndex:
        """Read a file fully (writable) or memory-map it (``view=True``, read-only).

        Raises FileNotFoundError when it does not exist, :class:`IndexFormatError` when usearch cannot read it.
        """
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such ANN file")
        try:
            index = usearch_index().restore(str(path), view=view)
        except (RuntimeError, ValueError) as e:
            raise IndexFormatError(f"{path}: unreadable ANN file: {e}") from e
        if index is None:
            raise IndexFormatError(f"{path}: unreadable ANN file")
        # usearch declares this setter apart from its getter, which mypy reads as a read-only property
        index.expansion_search = EXPANSION_SEARCH  # type: ignore[misc]
        return cls(index, read_only=view)

    def __len__(self) -> int:
        return len(self.index)

    def _check_writable(self) -> None:
        if self.read_only:
            raise ReadOnlyIndexError("the ANN index is a read-only memory-mapped view")

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """Boolean mask: which keys the graph holds."""
        if not len(keys):
            return np.zeros(0, dtype=bool)
        return np.asarray(self.index.contains(np.asarray(keys, dtype=np.uint64)), dtype=bool).reshape(-1)

    def add(self, keys: np.ndarray, codes: np.ndarray) -> None:
        """Add codes under keys; keys the graph already holds are skipped (so a catch-up can be repeated)."""
        self._check_writable()
        keys = np.asarray(keys, dtype=np.uint64)
        if not len(keys):
            return
        fresh = ~self.contains(keys)
        if fresh.any():
            self.index.add(keys[fresh], np.ascontiguousarray(codes[fresh]))

    def remove(self, keys: np.ndarray) -> None:
        """Remove keys (those absent are ignored)."""
        self._check_writable()
        keys = np.asarray(keys, dtype=np.uint64)
        present = keys[self.contains(keys)] if len(keys) else keys
        if len(present):
            self.index.remove(present)

    def search(self, codes: np.ndarray, count: int) -> list[np.ndarray]:
        """For each query code row, up to ``count`` keys, nearest first."""
        if not len(self) or not len(codes):
            return [np.zeros(0, dtype=np.int64) for _ in range(len(codes))]
        matches = self.index.search(np.ascontiguousarray(codes), count)
        if not hasattr(matches, "counts"):  # one query: usearch answers a single Matches
            return [np.asarray(matches.keys, dtype=np.int64).reshape(-1)]
        keys = np.asarray(matches.keys).reshape(len(codes), -1)
        counts = np.asarray(matches.counts).reshape(-1)
        return [keys[i, : counts[i]].astype(np.int64) for i in range(len(codes))]

    def save(self, folder: Path) -> str:
        """Write the graph to a new file in ``folder`` atomically (temporary name, fsync, rename); its name."""
        name = f"ann-{uuid.uuid4().hex[:16]}.usearch"
        tmp = folder / (name + ".tmp")
        self.index.save(str(tmp))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, folder / name)
        _fsync_dir(folder)
        return name


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # not possible on every platform (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
