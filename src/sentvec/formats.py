"""The model folder format (sentence-transformers layout), read and written in one place.

Accepted layouts are described as data (:data:`LAYOUTS`) and tried in turn; when none fits, the error
lists what was tried. Module types resolve through a closed registry (:data:`MODULE_TYPES`): a dotted path
found in a file is matched against known names, never imported.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from pathlib import Path
from typing import Any

from sentvec.errors import ModelFormatError, UnknownModuleError
from sentvec.similarity import SimilarityFunction


class ModuleKind(str, enum.Enum):
    """The module types sentvec runs."""

    TRANSFORMER = "Transformer"
    POOLING = "Pooling"
    DENSE = "Dense"
    NORMALIZE = "Normalize"


# The closed registry: type strings found in modules.json -> module kind.
# Every spelling sentence-transformers has written, 2.x to 6.x: ``sentence_transformers.models.Pooling`` (classic),
# and 6.x's ``sentence_transformers.base.modules.transformer.Transformer`` /
# ``sentence_transformers.sentence_transformer.modules.pooling.Pooling`` (package + module file + class).
_TYPE_PREFIXES = (
    "sentence_transformers.models",
    "sentence_transformers.base.modules",
    "sentence_transformers.sentence_transformer.modules",
    "sentvec.modules",
)
MODULE_TYPES: dict[str, ModuleKind] = {
    name: kind
    for kind in ModuleKind
    for prefix in _TYPE_PREFIXES
    for name in (f"{prefix}.{kind.value}", f"{prefix}.{kind.value.lower()}.{kind.value}")
}
# What sentvec writes: the classic names, which every sentence-transformers version loads.
WRITE_TYPE = {kind: f"sentence_transformers.models.{kind.value}" for kind in ModuleKind}

MODULES_FILE = "modules.json"
ST_CONFIG_FILE = "config_sentence_transformers.json"
SBERT_CONFIG_FILE = "sentence_bert_config.json"
TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
HF_CONFIG_FILE = "config.json"
# Files that describe a tokenizer to libraries other than ``tokenizers`` (copied on save).
TOKENIZER_SIDE_FILES = (
    TOKENIZER_CONFIG_FILE,
    "special_tokens_map.json",
    "vocab.txt",
    "merges.txt",
    "vocab.json",
    "sentencepiece.bpe.model",
    "spiece.model",
    "added_tokens.json",
)
# Encoder weights, in the order they are looked for.
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
# A module's own weights (Dense) and its config.
MODULE_CONFIG_FILE = "config.json"
MODULE_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# The exported graphs.
ONNX_DIR = "onnx"
ONNX_FP32_FILE = "model.onnx"
ONNX_INT8_FILE = "model_qint8.onnx"


# int8 graphs as sentence-transformers names its exports, one per instruction set, best first.
ONNX_INT8_ISA_FILES = (
    ("avx512_vnni", "model_qint8_avx512_vnni.onnx"),
    ("avx512", "model_qint8_avx512.onnx"),
    ("avx2", "model_quint8_avx2.onnx"),  # the reference names its AVX2 export quint8 (unsigned activations)
    ("avx2", "model_qint8_avx2.onnx"),
    ("arm64", "model_qint8_arm64.onnx"),
)


def onnx_graph_path(root: Path, quantized: bool) -> Path:
    """Where sentvec's exported graph of a model folder lives."""
    return root / ONNX_DIR / (ONNX_INT8_FILE if quantized else ONNX_FP32_FILE)


def onnx_graph_candidates(root: Path, quantized: bool, isa: frozenset[str]) -> list[Path]:
    """The graphs ``load`` tries, in order: sentvec's own export first (it pools in the graph), then for int8 the
    reference's per-instruction-set exports that this CPU (``isa``: e.g. {"avx2", "avx512", "avx512_vnni"}) runs."""
    if not quantized:
        return [root / ONNX_DIR / ONNX_FP32_FILE]
    return [root / ONNX_DIR / ONNX_INT8_FILE] + [root / ONNX_DIR / f for need, f in ONNX_INT8_ISA_FILES if need in isa]


def onnx_named_graph(root: Path, file_name: str) -> Path:
    """A graph chosen by name, as the reference's ``file_name`` (``"model_O3.onnx"`` or ``"onnx/model_O3.onnx"``);
    it must stay inside the model folder."""
    for candidate in (root / file_name, root / ONNX_DIR / file_name):
        resolved, base = candidate.resolve(), root.resolve()
        if base not in resolved.parents:
            raise ModelFormatError(candidate, "file_name leads outside the model folder")
        if candidate.is_file():
            return candidate
    raise ModelFormatError(root / ONNX_DIR / file_name, f"no ONNX graph named {file_name!r} in the model folder")


@dataclasses.dataclass(frozen=True)
class ModuleEntry:
    """One line of ``modules.json``."""

    idx: int
    name: str
    path: str
    kind: ModuleKind


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    """``config_sentence_transformers.json``: prompts and the similarity function."""

    prompts: dict[str, str] = dataclasses.field(default_factory=dict)
    default_prompt_name: str | None = None
    similarity_fn: SimilarityFunction = SimilarityFunction.COSINE

    def to_json(self) -> dict[str, Any]:
        """The on-disk form."""
        from sentvec import __version__

        return {
            "__version__": {"sentvec": __version__},
            "prompts": dict(self.prompts),
            "default_prompt_name": self.default_prompt_name,
            "similarity_fn_name": self.similarity_fn.value,
        }


@dataclasses.dataclass(frozen=True)
class ModelLayout:
    """What a model folder holds, as found on disk."""

    root: Path
    layout: str  # name of the entry of LAYOUTS that matched
    modules: tuple[ModuleEntry, ...]
    config: EncoderConfig

    def module_dir(self, entry: ModuleEntry) -> Path:
        """The folder of one module."""
        return self.root / entry.path if entry.path else self.root


def read_json(path: Path) -> Any:  # noqa: ANN401 -- any JSON value; each reader checks the shape it needs
    """Parse a JSON file; a syntax error names the file, line and column."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ModelFormatError(path, f"malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}") from e
    except OSError as e:
        raise ModelFormatError(path, f"cannot read: {e.strerror}") from e


def write_json(path: Path, data: Any) -> None:  # noqa: ANN401 -- any JSON-serializable value
    """Write ``data`` as indented JSON."""
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _read_sentence_transformers(root: Path) -> tuple[ModuleEntry, ...]:
    path = root / MODULES_FILE
    raw = read_json(path)
    if not isinstance(raw, list) or not raw:
        raise ModelFormatError(path, "expected a non-empty list of modules")
    entries = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or "type" not in item:
            raise ModelFormatError(path, f"entry {i} has no 'type' field")
        kind = MODULE_TYPES.get(item["type"])
        if kind is None:
            supported = sorted({k.value for k in MODULE_TYPES.values()})
            raise UnknownModuleError(
                path,
                f"entry {i} has unsupported module type {item['type']!r}; "
                f"sentvec supports {', '.join(supported)} (from sentence_transformers.models)",
            )
        entries.append(
            ModuleEntry(
                idx=int(item.get("idx", i)),
                name=str(item.get("name", i)),
                path=_module_path(root, path, i, item.get("path", "")),
                kind=kind,
            )
        )
    if entries[0].kind is not ModuleKind.TRANSFORMER:
        raise ModelFormatError(path, "the first module must be a Transformer")
    return tuple(entries)


def _module_path(root: Path, modules_file: Path, i: int, raw: object) -> str:
    """A module's folder as written in ``modules.json``; it must stay inside the model folder (symlinks
    resolved), so a shared model can never make sentvec read files elsewhere."""
    if not isinstance(raw, str):
        raise ModelFormatError(modules_file, f"entry {i}: 'path' must be a string, got {type(raw).__name__}")
    if not raw:
        return ""
    base = root.resolve()
    target = (root / raw).resolve()
    if Path(raw).is_absolute() or (target != base and base not in target.parents):
        raise ModelFormatError(modules_file, f"entry {i}: module path {raw!r} leads outside the model folder")
    return raw


def _read_huggingface(root: Path) -> tuple[ModuleEntry, ...]:
    # A plain encoder: Transformer + Pooling (mode chosen by the caller, mean by default).
    return (
        ModuleEntry(0, "0", "", ModuleKind.TRANSFORMER),
        ModuleEntry(1, "1", "", ModuleKind.POOLING),
    )


@dataclasses.dataclass(frozen=True)
class TransformerConfig:
    """``sentence_bert_config.json``: where inputs are truncated and whether they are lowercased."""

    max_seq_length: int
    do_lower_case: bool = False

    def to_json(self) -> dict[str, Any]:
        """The on-disk form."""
        return {"max_seq_length": self.max_seq_length, "do_lower_case": self.do_lower_case}


def read_transformer_config(folder: Path, max_seq_length: int | None = None) -> TransformerConfig:
    """Read ``sentence_bert_config.json`` (or derive a default from ``config.json``)."""
    path = folder / SBERT_CONFIG_FILE
    raw = read_json(path) if path.is_file() else {}
    if not isinstance(raw, dict):
        raise ModelFormatError(path, "expected a JSON object")
    length = max_seq_length or raw.get("max_seq_length") or _default_max_seq_length(folder)
    if not isinstance(length, int) or length < 2:
        raise ModelFormatError(path, f"max_seq_length must be an integer >= 2, got {length!r}")
    return TransformerConfig(max_seq_length=length, do_lower_case=bool(raw.get("do_lower_case", False)))


def _default_max_seq_length(folder: Path) -> int:
    """Where a folder without ``max_seq_length`` truncates, in the reference's order: ``tokenizer_config.json``'s
    ``model_max_length`` capped at ``config.json``'s ``max_position_embeddings`` (sentence-transformers 6.x writes no
    ``max_seq_length``); with no tokenizer limit, ``max_position_embeddings`` capped at 512."""
    tok_path, hf_path = folder / TOKENIZER_CONFIG_FILE, folder / HF_CONFIG_FILE
    tok_config = read_json(tok_path) if tok_path.is_file() else {}
    hf_config = read_json(hf_path) if hf_path.is_file() else {}
    positions = hf_config.get("max_position_embeddings") if isinstance(hf_config, dict) else None
    if not isinstance(positions, int) or positions < 2:  # XLNet writes -1: no limit
        positions = None
    tokenizer_limit = tok_config.get("model_max_length") if isinstance(tok_config, dict) else None
    if isinstance(tokenizer_limit, int) and 2 <= tokenizer_limit < 1_000_000:  # transformers' "no limit" is 1e30
        return min(tokenizer_limit, positions) if positions else tokenizer_limit
    return min(positions or 512, 512)


# Accepted layouts, tried in order: (name, file that identifies it, reader).
LAYOUTS = (
    ("sentence-transformers", MODULES_FILE, _read_sentence_transformers),
    ("huggingface", "config.json", _read_huggingface),
)


def read_encoder_config(root: Path) -> EncoderConfig:
    """Read ``config_sentence_transformers.json`` when present."""
    path = root / ST_CONFIG_FILE
    if not path.is_file():
        return EncoderConfig()
    raw = read_json(path)
    if not isinstance(raw, dict):
        raise ModelFormatError(path, "expected a JSON object")
    prompts = raw.get("prompts") or {}
    if not isinstance(prompts, dict) or not all(isinstance(v, str) for v in prompts.values()):
        raise ModelFormatError(path, "'prompts' must map names to strings")
    default = raw.get("default_prompt_name")
    if default is not None and default not in prompts:
        raise ModelFormatError(path, f"default_prompt_name {default!r} is not one of the prompts {sorted(prompts)}")
    try:
        sim = SimilarityFunction.parse(raw.get("similarity_fn_name") or "cosine")
    except ValueError as e:
        raise ModelFormatError(path, str(e)) from e
    return EncoderConfig(prompts=dict(prompts), default_prompt_name=default, similarity_fn=sim)


def read_layout(root: Path) -> ModelLayout:
    """Identify and read a model folder, or fail listing the layouts that were tried."""
    if not root.is_dir():
        raise ModelFormatError(root, "not a folder")
    for name, marker, reader in LAYOUTS:
        if (root / marker).is_file():
            return ModelLayout(root=root, layout=name, modules=reader(root), config=read_encoder_config(root))
    tried = "; ".join(f"{name} (needs {marker})" for name, marker, _ in LAYOUTS)
    raise ModelFormatError(root, f"not a model folder: tried {tried}")


def write_modules(root: Path, kinds_and_paths: list[tuple[ModuleKind, str]]) -> None:
    """Write ``modules.json`` for a pipeline of modules."""
    data = [
        {"idx": i, "name": str(i), "path": path, "type": WRITE_TYPE[kind]}
        for i, (kind, path) in enumerate(kinds_and_paths)
    ]
    write_json(root / MODULES_FILE, data)
