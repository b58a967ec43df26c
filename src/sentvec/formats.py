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
# OpenVINO IR (xml + bin), named as the reference's ``backend="openvino"`` writes it.
OPENVINO_DIR = "openvino"
OPENVINO_FILE = "openvino_model.xml"
OPENVINO_WEIGHTS_FILE = "openvino_model.bin"  # beside it
OPENVINO_INT8_FILE = "openvino_model_qint8_quantized.xml"


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


def onnx_named_graph(root: Path, file_name: str, subdir: str = ONNX_DIR) -> Path:
    """A graph chosen by name, as the reference's ``file_name`` (``"model_O3.onnx"`` or ``"onnx/model_O3.onnx"``;
    with ``subdir="openvino"`` also ``"openvino_model_qint8_quantized.xml"``); it must stay inside the model
    folder."""
    kind = "OpenVINO or ONNX model" if subdir == OPENVINO_DIR else "ONNX graph"
    for candidate in (root / file_name, root / subdir / file_name, root / ONNX_DIR / file_name):
        resolved, base = candidate.resolve(), root.resolve()
        if base not in resolved.parents:
            raise ModelFormatError(candidate, "file_name leads outside the model folder")
        if candidate.is_file():
            return candidate
    raise ModelFormatError(root / subdir / file_name, f"no {kind} named {file_name!r} in the model folder")


def openvino_graph_candidates(root: Path, quantized: bool, isa: frozenset[str]) -> list[Path]:
    """The graphs the OpenVINO backend tries, in order: an OpenVINO IR (``openvino/openvino_model.xml`` — sentvec's
    ``export --format openvino``, converted from the torch pipeline, or the reference's ``backend="openvino"``
    export; with ``quantized``, the reference's ``openvino_model_qint8_quantized.xml``), then the ONNX graphs."""
    ir = OPENVINO_INT8_FILE if quantized else OPENVINO_FILE
    return [root / OPENVINO_DIR / ir, *onnx_graph_candidates(root, quantized, isa)]


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


def is_reranker_folder(root: Path) -> bool:
    """Whether ``config_sentence_transformers.json`` says the folder is a cross-encoder (the reference's 6.x layout)."""
    path = root / ST_CONFIG_FILE
    if not path.is_file():
        return False
    raw = read_json(path)
    return isinstance(raw, dict) and raw.get("model_type") == "CrossEncoder"


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


# --- cross-encoder (reranker) folders -----------------------------------------------------------------------------
# The reference writes a reranker as a Hugging Face sequence-classification model plus, depending on its version:
#   6.x:   modules.json (one Transformer at the root), sentence_bert_config.json with ``transformer_task:
#          "sequence-classification"``, config_sentence_transformers.json with ``model_type: "CrossEncoder"`` and
#          ``activation_fn``;
#   4.x-5.x: config.json's ``sentence_transformers`` key: ``{"activation_fn": ..., "version": ...}``;
#   < 4.0: config.json's ``sbert_ce_default_activation_function``.
CROSS_ENCODER_MODEL_TYPE = "CrossEncoder"
CROSS_ENCODER_TASK = "sequence-classification"
HF_ST_KEY = "sentence_transformers"  # config.json key of 4.x-5.x rerankers (also read by vLLM and TEI)
HF_LEGACY_ACTIVATION_KEY = "sbert_ce_default_activation_function"  # config.json key before 4.0
# The module type 6.x writes for a reranker's single Transformer; its sentence_bert_config.json as 6.x writes it.
CROSS_ENCODER_TRANSFORMER_TYPE = "sentence_transformers.base.modules.transformer.Transformer"
CROSS_ENCODER_SBERT_CONFIG: dict[str, Any] = {
    "transformer_task": CROSS_ENCODER_TASK,
    "modality_config": {"text": {"method": "forward", "method_output_name": "logits"}},
    "module_output_name": "scores",
}
SEQUENCE_CLASSIFICATION_SUFFIX = "ForSequenceClassification"
ONNX_LOGITS_OUTPUT = "logits"  # the output of a reranker graph (sentvec's export and the reference's alike)


@dataclasses.dataclass(frozen=True)
class RerankerConfig:
    """What a reranker folder says about itself, from whichever of the reference's layouts it is written in.

    ``activation_fn`` is the dotted name as written (resolved later through a closed registry, never imported) and
    ``activation_source`` the file and key it came from; both are None when the folder names no activation.
    ``segment_ids``: whether the model gets real token type ids (0 for the query, 1 for the document), as the
    reference feeds them: when its tokenizer lists them (``model_input_names``, else by tokenizer class, see
    :data:`SEGMENT_ID_TOKENIZERS`) and the model has two token types or more.
    """

    root: Path
    layout: str  # "sentence-transformers" (6.x modules.json layout) or "huggingface" (config.json only)
    architecture: str  # config.json's model_type ("bert", "xlm-roberta", ...)
    num_labels: int
    labels: tuple[str, ...]
    max_length: int
    do_lower_case: bool
    segment_ids: bool
    activation_fn: str | None = None
    activation_source: str | None = None
    prompts: dict[str, str] = dataclasses.field(default_factory=dict)
    default_prompt_name: str | None = None


def _labels(path: Path, hf: dict[str, Any]) -> tuple[str, ...]:
    """The class labels in index order: ``id2label`` (transformers' default when absent: two labels)."""
    id2label = hf.get("id2label")
    if id2label is None:
        count = hf.get("num_labels", 2)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ModelFormatError(path, f"num_labels must be a positive integer, got {count!r}")
        return tuple(f"LABEL_{i}" for i in range(count))
    if not isinstance(id2label, dict) or not id2label:
        raise ModelFormatError(path, "'id2label' must be a non-empty object")
    try:
        ordered = sorted(id2label.items(), key=lambda kv: int(kv[0]))
    except ValueError as e:
        raise ModelFormatError(path, f"'id2label' keys must be integers: {e}") from e
    return tuple(str(label) for _, label in ordered)


def _reranker_layout(root: Path) -> str:
    """The layout of a reranker folder: "sentence-transformers" (6.x) or "huggingface" (config.json only).

    Anything else (an embedding model, another module pipeline) is a ModelFormatError saying what it is."""
    modules_path, st_path = root / MODULES_FILE, root / ST_CONFIG_FILE
    if not modules_path.is_file():
        return "huggingface"
    st = read_json(st_path) if st_path.is_file() else {}
    model_type = st.get("model_type") if isinstance(st, dict) else None
    if model_type not in (None, CROSS_ENCODER_MODEL_TYPE):
        raise ModelFormatError(st_path, f"model_type is {model_type!r}, not a cross-encoder; load it with sentvec.load")
    raw = read_json(modules_path)
    entries = raw if isinstance(raw, list) else []
    types = [item.get("type") for item in entries if isinstance(item, dict)]
    if len(entries) != 1 or MODULE_TYPES.get(str(types[0]) if types else "") is not ModuleKind.TRANSFORMER:
        raise ModelFormatError(
            modules_path,
            f"a cross-encoder folder lists one Transformer module (a sequence-classification model); found {types}"
            + ("; this looks like a sentence-embedding model: load it with sentvec.load" if len(types) > 1 else ""),
        )
    path = _module_path(root, modules_path, 0, entries[0].get("path", ""))
    sbert_path = root / SBERT_CONFIG_FILE
    sbert = read_json(sbert_path) if sbert_path.is_file() else {}
    task = sbert.get("transformer_task") if isinstance(sbert, dict) else None
    if path or task != CROSS_ENCODER_TASK:
        raise ModelFormatError(
            sbert_path,
            f"transformer_task is {task!r} (module path {path!r}): sentvec reranks with a sequence-classification "
            f"Transformer at the folder's root (transformer_task {CROSS_ENCODER_TASK!r})",
        )
    return "sentence-transformers"


def _reranker_activation(root: Path, hf: dict[str, Any]) -> tuple[str | None, str | None]:
    """The activation named by the folder and where, in the reference's order of precedence."""
    st_path = root / ST_CONFIG_FILE
    st = read_json(st_path) if st_path.is_file() else {}
    candidates = (
        (st.get("activation_fn") if isinstance(st, dict) else None, f"{ST_CONFIG_FILE}: activation_fn"),
        ((hf.get(HF_ST_KEY) or {}).get("activation_fn"), f"{HF_CONFIG_FILE}: {HF_ST_KEY}.activation_fn"),
        (hf.get(HF_LEGACY_ACTIVATION_KEY), f"{HF_CONFIG_FILE}: {HF_LEGACY_ACTIVATION_KEY}"),
    )
    for value, source in candidates:
        if value is None:
            continue
        if not isinstance(value, str):
            raise ModelFormatError(root / source.split(":")[0], f"{source.split(': ')[1]} must be a string")
        return value, source
    return None, None


# Whether a reranker gets real token type ids follows the tokenizer class's ``model_input_names`` in transformers 5
# (what sentence-transformers 6.x runs on): these classes list ``token_type_ids`` (ELECTRA, MobileBERT, SqueezeBERT,
# LayoutLM and LXMERT tokenizers are BERT's); every other class, the generic ``PreTrainedTokenizerFast`` included,
# does not. Without a ``tokenizer_class``, the model type decides (its default tokenizer).
SEGMENT_ID_TOKENIZERS = frozenset(
    {
        "BertTokenizer",
        "ElectraTokenizer",
        "MobileBertTokenizer",
        "SqueezeBertTokenizer",
        "LayoutLMTokenizer",
        "LxmertTokenizer",
        "DPRContextEncoderTokenizer",
        "DPRQuestionEncoderTokenizer",
        "ConvBertTokenizer",
        "DebertaTokenizer",
        "DebertaV2Tokenizer",
        "CanineTokenizer",
        "FNetTokenizer",
        "LayoutLMv2Tokenizer",
        "MarkupLMTokenizer",
        "TapasTokenizer",
    }
)
SEGMENT_ID_MODEL_TYPES = frozenset(
    {"bert", "electra", "mobilebert", "squeezebert", "layoutlm", "lxmert", "dpr", "convbert", "deberta", "deberta-v2"}
    | {"canine", "fnet", "layoutlmv2", "markuplm", "tapas"}
)


def _segment_ids(root: Path, hf: dict[str, Any]) -> bool:
    """Whether the reference feeds this model real token type ids (see :data:`SEGMENT_ID_TOKENIZERS`)."""
    type_vocab = hf.get("type_vocab_size")
    if isinstance(type_vocab, int) and type_vocab < 2:  # one token type (RoBERTa, XLM-R) or none (DeBERTa-v3)
        return False
    tok_path = root / TOKENIZER_CONFIG_FILE
    tok = read_json(tok_path) if tok_path.is_file() else {}
    tok = tok if isinstance(tok, dict) else {}
    names = tok.get("model_input_names")
    if isinstance(names, list):
        return "token_type_ids" in names
    cls = tok.get("tokenizer_class")
    if isinstance(cls, str):
        return cls.removesuffix("Fast") in SEGMENT_ID_TOKENIZERS
    return hf.get("model_type") in SEGMENT_ID_MODEL_TYPES


def read_reranker_config(root: Path, max_length: int | None = None) -> RerankerConfig:
    """Identify and read a reranker folder (either layout); a folder that is no sequence-classification model is a
    ModelFormatError naming the file that says so."""
    if not root.is_dir():
        raise ModelFormatError(root, "not a folder")
    hf_path = root / HF_CONFIG_FILE
    if not hf_path.is_file():
        raise ModelFormatError(hf_path, "missing: a reranker folder holds a Hugging Face sequence-classification model")
    layout = _reranker_layout(root)
    hf = read_json(hf_path)
    if not isinstance(hf, dict):
        raise ModelFormatError(hf_path, "expected a JSON object")
    architectures = hf.get("architectures") or []
    if not any(isinstance(a, str) and a.endswith(SEQUENCE_CLASSIFICATION_SUFFIX) for a in architectures):
        raise ModelFormatError(
            hf_path,
            f"architectures {architectures} has no *{SEQUENCE_CLASSIFICATION_SUFFIX}: not a cross-encoder "
            "(an embedding model loads with sentvec.load; a reranker needs a trained classification head)",
        )
    labels = _labels(hf_path, hf)
    tconfig = read_transformer_config(root, max_length)
    activation, source = _reranker_activation(root, hf)
    prompts = read_encoder_config(root) if layout == "sentence-transformers" else EncoderConfig()
    return RerankerConfig(
        root=root,
        layout=layout,
        architecture=str(hf.get("model_type", "unknown")),
        num_labels=len(labels),
        labels=labels,
        max_length=tconfig.max_seq_length,
        do_lower_case=tconfig.do_lower_case,
        segment_ids=_segment_ids(root, hf),
        activation_fn=activation,
        activation_source=source,
        prompts=dict(prompts.prompts),
        default_prompt_name=prompts.default_prompt_name,
    )


def write_reranker_files(
    root: Path,
    *,
    activation_fn: str | None,
    max_length: int,
    do_lower_case: bool,
    prompts: dict[str, str] | None = None,
    default_prompt_name: str | None = None,
) -> None:
    """Write the reference's reranker files into a folder that already holds the model and its tokenizer: the 6.x
    layout (modules.json, sentence_bert_config.json, config_sentence_transformers.json) and the activation in
    config.json's ``sentence_transformers`` key (what 4.x-5.x, vLLM and TEI read); ``tokenizer_config.json``'s
    ``model_max_length`` follows ``max_length``."""
    from sentvec import __version__

    write_json(root / MODULES_FILE, [{"idx": 0, "name": "0", "path": "", "type": CROSS_ENCODER_TRANSFORMER_TYPE}])
    write_json(
        root / SBERT_CONFIG_FILE,
        {**CROSS_ENCODER_SBERT_CONFIG, "max_seq_length": max_length, "do_lower_case": do_lower_case},
    )
    st: dict[str, Any] = {
        "__version__": {"sentvec": __version__},
        "model_type": CROSS_ENCODER_MODEL_TYPE,
        "prompts": dict(prompts or {}),
        "default_prompt_name": default_prompt_name,
    }
    if activation_fn is not None:
        st["activation_fn"] = activation_fn
    write_json(root / ST_CONFIG_FILE, st)
    hf_path = root / HF_CONFIG_FILE
    hf = read_json(hf_path)
    hf.pop(HF_LEGACY_ACTIVATION_KEY, None)
    if activation_fn is not None:
        hf[HF_ST_KEY] = {"activation_fn": activation_fn}
    else:
        hf.pop(HF_ST_KEY, None)
    write_json(hf_path, hf)
    tok_path = root / TOKENIZER_CONFIG_FILE
    tok = read_json(tok_path) if tok_path.is_file() else {}
    if isinstance(tok, dict):
        tok["model_max_length"] = max_length
        write_json(tok_path, tok)
