"""What an index is (:class:`IndexConfig`, kept in its SQLite ``config`` table) and what it holds (:class:`IndexInfo`).

The config is fixed when the index is created (only the int8 ranges may be set later, by the first batch added,
and the lexical settings by :meth:`~sentvec.search.index.Index.rebuild_lexical`); its on-disk form is one JSON
value per field, so folders written before these types existed open unchanged.

Format versions: 1, dense only; 2, with a lexical index (an FTS5 table and triggers on the documents table that an
older sentvec would not keep up to date, so it refuses such a folder instead).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sentvec.arrays import ArrayLike, as_embedding_matrix
from sentvec.prompts import Role, role_prompt_name
from sentvec.quantization import Precision, calibration_ranges
from sentvec.search.index.ann import CONNECTIVITY, EXPANSION_ADD, EXPANSION_SEARCH, parse_precision
from sentvec.search.index.fingerprint import FINGERPRINT_VERSION, fingerprint_v1, model_fingerprint
from sentvec.search.index.lexical import LexicalConfig
from sentvec.search.index.store import IndexFormatError, IndexModelMismatchError, JSONValue
from sentvec.similarity import SimilarityFunction

if TYPE_CHECKING:
    from sentvec.protocols import Embedder

DENSE_FORMAT_VERSION = 1  # documents and vectors
LEXICAL_FORMAT_VERSION = 2  # and a lexical index
FORMAT_VERSION = LEXICAL_FORMAT_VERSION  # the newest this sentvec reads and writes
REQUIRED_CONFIG = ("format_version", "model_name", "fingerprint", "dimension", "similarity", "precision")


@dataclasses.dataclass(frozen=True)
class HnswParams:
    """The HNSW parameters an index's graph was created with."""

    connectivity: int = CONNECTIVITY
    expansion_add: int = EXPANSION_ADD
    expansion_search: int = EXPANSION_SEARCH


@dataclasses.dataclass(frozen=True)
class IndexConfig:
    """An index's facts: the model it encodes with, how its vectors are compared and what its graph holds.

    Attributes:
        model_name, model_source: the model's name and its folder (resolved), when it had one.
        fingerprint: :func:`~sentvec.search.index.model_fingerprint` of the model (weights, pipeline, prompts,
            ``max_seq_length``, dimension), computed with the index's prompt names.
        fingerprint_version: how ``fingerprint`` was computed: 2; 1 in folders written before (weights and
            dimension only, :func:`~sentvec.search.index.fingerprint.fingerprint_v1`).
        dimension, similarity: the model's vector size and similarity function.
        precision: what the ANN graph holds (float32, int8 or binary codes).
        int8_ranges: ``(2, D)`` calibration ranges of int8 codes (None until calibrated, and for other precisions).
        query_prompt_name, document_prompt_name: the model's prompts for queries and documents (None: its default).
        hnsw: the graph's parameters (None in folders written before they were recorded).
        lexical: the lexical index's settings (None: the index has none).
        format_version: 2 with a lexical index, else 1.
    """

    model_name: str
    fingerprint: str
    dimension: int
    similarity: SimilarityFunction
    precision: Precision
    model_source: str | None = None
    int8_ranges: np.ndarray | None = dataclasses.field(default=None, compare=False)
    query_prompt_name: str | None = None
    document_prompt_name: str | None = None
    hnsw: HnswParams | None = None
    lexical: LexicalConfig | None = None
    format_version: int = DENSE_FORMAT_VERSION
    fingerprint_version: int = FINGERPRINT_VERSION

    @classmethod
    def for_model(
        cls,
        model: Embedder,
        precision: Precision,
        int8_ranges: np.ndarray | None = None,
        lexical: LexicalConfig | None = None,
    ) -> IndexConfig:
        """The config of a new index of ``model``'s vectors (prompts chosen by :mod:`sentvec.prompts`), with a
        lexical index when ``lexical`` is given."""
        source = model.source
        prompt_names = (role_prompt_name(model.prompts, Role.QUERY), role_prompt_name(model.prompts, Role.DOCUMENT))
        return cls(
            model_name=str(model.name or source or type(model).__name__),
            model_source=None if source is None else str(Path(source).resolve()),
            fingerprint=model_fingerprint(model, prompt_names),
            dimension=int(model.dimension),
            similarity=SimilarityFunction.parse(model.similarity_fn),
            precision=precision,
            int8_ranges=int8_ranges,
            query_prompt_name=prompt_names[0],
            document_prompt_name=prompt_names[1],
            hnsw=HnswParams(),
            lexical=lexical,
            format_version=DENSE_FORMAT_VERSION if lexical is None else LEXICAL_FORMAT_VERSION,
        )

    def with_lexical(self, lexical: LexicalConfig | None) -> IndexConfig:
        """This config with other lexical settings (and the format version they need)."""
        version = max(self.format_version, LEXICAL_FORMAT_VERSION) if lexical is not None else self.format_version
        return dataclasses.replace(self, lexical=lexical, format_version=version)

    @classmethod
    def from_json(cls, values: Mapping[str, JSONValue], folder: str | Path) -> IndexConfig:
        """Read the stored values of the index in ``folder`` (named in errors); :class:`IndexFormatError` when
        a field is missing or malformed, or the format is newer than this sentvec's."""
        missing = [key for key in REQUIRED_CONFIG if key not in values]
        if missing:
            raise IndexFormatError(f"{folder}: index config lacks {', '.join(missing)}")
        fields = _Fields(values, folder)
        version = fields.integer("format_version")
        if version > FORMAT_VERSION:
            raise IndexFormatError(f"{folder}: index format {version} is newer than this sentvec's")
        # folders written before fingerprint version 2 have no such key
        fingerprint_version = fields.integer("fingerprint_version") if "fingerprint_version" in values else 1
        if not 1 <= fingerprint_version <= FINGERPRINT_VERSION:
            raise IndexFormatError(
                f"{folder}: model fingerprint version {fingerprint_version} is not one this sentvec knows "
                f"(1 to {FINGERPRINT_VERSION})"
            )
        try:
            similarity = SimilarityFunction.parse(fields.text("similarity"))
            precision = parse_precision(fields.text("precision"))
        except ValueError as e:
            raise IndexFormatError(f"{folder}: index config: {e}") from None
        ranges = values.get("int8_ranges")
        hnsw = values.get("hnsw")
        return cls(
            format_version=version,
            fingerprint_version=fingerprint_version,
            model_name=fields.text("model_name"),
            model_source=fields.optional_text("model_source"),
            fingerprint=fields.text("fingerprint"),
            dimension=fields.integer("dimension"),
            similarity=similarity,
            precision=precision,
            int8_ranges=None if ranges is None else np.asarray(ranges, dtype=np.float32),
            query_prompt_name=fields.optional_text("query_prompt_name"),
            document_prompt_name=fields.optional_text("document_prompt_name"),
            hnsw=None if hnsw is None else HnswParams(**{f.name: _Fields(hnsw, folder).integer(f.name) for f in _HNSW}),
            lexical=LexicalConfig.from_json(values.get("lexical"), folder),
        )

    def to_json(self) -> dict[str, JSONValue]:
        """The stored values (enums by value, arrays as lists): what :meth:`from_json` reads back."""
        return {
            "format_version": self.format_version,
            "model_name": self.model_name,
            "model_source": self.model_source,
            "fingerprint": self.fingerprint,
            "fingerprint_version": self.fingerprint_version,
            "dimension": self.dimension,
            "similarity": self.similarity.value,
            "precision": self.precision.value,
            "int8_ranges": None if self.int8_ranges is None else self.int8_ranges.tolist(),
            "query_prompt_name": self.query_prompt_name,
            "document_prompt_name": self.document_prompt_name,
            "hnsw": None if self.hnsw is None else dataclasses.asdict(self.hnsw),
            "lexical": None if self.lexical is None else self.lexical.to_json(),
        }

    def prompt_name(self, role: Role) -> str | None:
        """The prompt name the index encodes queries or documents with (None: the model's default)."""
        return self.query_prompt_name if role is Role.QUERY else self.document_prompt_name

    def model_reference(self) -> str:
        """What to load the index's model from: its folder while that still exists, else its name."""
        source = self.model_source
        return source if source and Path(source).is_dir() else self.model_name

    def check_model(self, model: Embedder, folder: str | Path) -> None:
        """Raise :class:`IndexModelMismatchError` unless ``model`` embeds as the model the index was built with.

        A version-2 fingerprint is compared with ``model``'s, computed with the index's prompt names. A folder
        written before version 2 recorded the weights and dimension only (:func:`fingerprint_v1`): it opens with
        any model of the same weights and dimension, as it always did, since nothing else was recorded to check
        (rebuild it to have its pooling, Dense, Normalize, prompts and ``max_seq_length`` checked too).
        """
        if self.fingerprint_version == 1:
            given = fingerprint_v1(model)
        else:
            given = model_fingerprint(model, (self.query_prompt_name, self.document_prompt_name))
        if given != self.fingerprint or int(model.dimension) != self.dimension:
            raise IndexModelMismatchError(folder, self.model_name, self.fingerprint, model.name, given)


_HNSW = dataclasses.fields(HnswParams)


class _Fields:
    """Typed reads of a stored JSON object; a value of the wrong type is an :class:`IndexFormatError`."""

    def __init__(self, values: Mapping[str, JSONValue] | JSONValue, folder: str | Path) -> None:
        if not isinstance(values, Mapping):
            raise IndexFormatError(f"{folder}: malformed index config: expected an object, got {values!r}")
        self.values, self.folder = values, folder

    def _wrong(self, key: str, expected: str) -> IndexFormatError:
        return IndexFormatError(f"{self.folder}: malformed index config: {key} is {self.values.get(key)!r}, {expected}")

    def integer(self, key: str) -> int:
        value = self.values.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise self._wrong(key, "expected an integer")
        try:
            return int(value)
        except ValueError:
            raise self._wrong(key, "expected an integer") from None

    def text(self, key: str) -> str:
        value = self.values.get(key)
        if not isinstance(value, str):
            raise self._wrong(key, "expected a string")
        return value

    def optional_text(self, key: str) -> str | None:
        return None if self.values.get(key) is None else self.text(key)


@dataclasses.dataclass(frozen=True)
class IndexInfo:
    """What :meth:`Index.info <sentvec.search.index.Index.info>` reports: the config, counts and the ANN file.

    Attributes:
        path: the index folder.
        model, model_source, fingerprint, dimension, similarity, precision: as in :class:`IndexConfig`.
        documents: documents stored.
        ann_file: the ANN file in use (None before the first checkpoint).
        ann_pending: documents the ANN file lacks (searched exactly until the next checkpoint).
        int8_calibrated: whether int8 codes have their ranges yet (None for other precisions).
        hnsw: the graph's parameters as created (a memory-mapped view does not know ``expansion_add``).
        read_only: whether this :class:`Index` was opened read-only.
        lexical: the lexical index's settings (None: it has none; lexical and hybrid search need one).
    """

    path: Path
    model: str
    model_source: str | None
    fingerprint: str
    dimension: int
    similarity: SimilarityFunction
    precision: Precision
    documents: int
    ann_file: str | None
    ann_pending: int
    int8_calibrated: bool | None
    hnsw: HnswParams | None
    read_only: bool
    lexical: LexicalConfig | None = None

    def as_dict(self) -> dict[str, JSONValue]:
        """The facts as plain JSON values in field order (enums by value, the path as a string)."""
        out: dict[str, JSONValue] = dataclasses.asdict(self)
        out.update(path=str(self.path), similarity=self.similarity.value, precision=self.precision.value)
        out["lexical"] = None if self.lexical is None else self.lexical.to_json()
        return out


def calibrated_ranges(
    model: Embedder, precision: Precision, calibration: ArrayLike | Sequence[str] | None, prompt_name: str | None
) -> np.ndarray | None:
    """int8 ranges from a calibration set: an ``(N, D)`` array of embeddings or a list of texts (encoded with
    ``prompt_name``, the index's document prompt)."""
    if calibration is None:
        return None
    if precision is not Precision.INT8:
        raise ValueError(f"calibration= is only used with precision='int8', not {precision.value!r}")
    if isinstance(calibration, (list, tuple)) and calibration and all(isinstance(t, str) for t in calibration):
        calibration = model.encode([str(t) for t in calibration], prompt_name=prompt_name, show_progress_bar=False)
    vectors = as_embedding_matrix(calibration, "calibration embeddings")
    if vectors.shape[1] != model.dimension:
        raise ValueError(f"calibration embeddings have dimension {vectors.shape[1]}, the model {model.dimension}")
    return calibration_ranges(vectors)
