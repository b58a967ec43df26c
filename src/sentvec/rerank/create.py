"""A new reranker from an encoder checkpoint: the encoder's Transformer weights and a classification head of
``num_labels`` outputs, randomly initialised with a fixed seed (what ``CrossEncoder(path, num_labels=1)`` does in
the reference) — the starting point of cross-encoder training."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from sentvec._extras import available
from sentvec.errors import MissingExtraError, ModelFormatError
from sentvec.formats import (
    HF_CONFIG_FILE,
    MODULES_FILE,
    ModuleKind,
    RerankerConfig,
    _default_max_seq_length,
    _segment_ids,
    is_reranker_folder,
    read_json,
    read_layout,
    read_transformer_config,
)
from sentvec.hub import HubOptions, resolve_model_path
from sentvec.rerank.activation import ActivationFn
from sentvec.rerank.model import CrossEncoder

logger = logging.getLogger(__name__)


def transformer_folder(root: Path) -> Path:
    """The folder of a model's Transformer: the root of a Hugging Face folder or of a reranker, else the folder of
    the Transformer module that ``modules.json`` lists (``""`` or ``0_Transformer``)."""
    if not (root / MODULES_FILE).is_file() or is_reranker_folder(root):
        return root
    layout = read_layout(root)
    for entry in layout.modules:
        if entry.kind is ModuleKind.TRANSFORMER:
            return layout.module_dir(entry)
    raise ModelFormatError(root / MODULES_FILE, "lists no Transformer module to build a reranker from")


def new_reranker(
    model_name_or_path: str | os.PathLike[str],
    *,
    num_labels: int = 1,
    seed: int = 42,
    device: str | None = None,
    max_length: int | None = None,
    activation_fn: ActivationFn | None = None,
    trust_remote_code: bool = False,
    revision: str | None = None,
    cache_folder: str | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
) -> CrossEncoder:
    """A :class:`~sentvec.CrossEncoder` (torch backend) from an encoder checkpoint, ready to train.

    ``model_name_or_path`` is a sentence-embedding folder (its Transformer module is used; pooling, Dense and
    Normalize are not), a plain Hugging Face encoder folder, or a model name. The encoder's weights are loaded into
    ``AutoModelForSequenceClassification`` with ``num_labels`` outputs; weights the checkpoint lacks (the
    classification head) are initialised by transformers under ``torch.manual_seed(seed)``, in a forked RNG (the
    global RNG is left as it was), so the same seed gives the same head. A checkpoint that already has a head of
    ``num_labels`` outputs keeps it; one of another size gets a new one.

    ``max_length``: where pairs are truncated (default: as the reference, the tokenizer's ``model_max_length`` capped
    at the model's positions — an embedding model's ``max_seq_length`` is for one text). ``activation_fn``: the
    scores' activation (default: sigmoid for one label, identity otherwise, as the reference). Save the result with
    :meth:`~sentvec.CrossEncoder.save` (the reference's 6.x reranker layout).
    """
    if isinstance(num_labels, bool) or not isinstance(num_labels, int) or num_labels < 1:
        raise ValueError(f"num_labels must be a positive integer, got {num_labels!r}")
    if not (available("torch") and available("transformers")):
        raise MissingExtraError("torch", "torch", "Creating a reranker")
    import torch
    import transformers

    from sentvec.backends.rerank_torch import TorchRerankBackend
    from sentvec.batching import PairTokenizer

    hub = HubOptions(revision=revision, cache_folder=cache_folder, local_files_only=local_files_only, token=token)
    root = Path(resolve_model_path(model_name_or_path, hub))
    folder = transformer_folder(root)
    hf_path = folder / HF_CONFIG_FILE
    if not hf_path.is_file():
        raise ModelFormatError(hf_path, "missing: a reranker is built from a Hugging Face encoder (config.json)")
    try:
        config = transformers.AutoConfig.from_pretrained(
            str(folder), num_labels=num_labels, local_files_only=True, trust_remote_code=trust_remote_code
        )
        with torch.random.fork_rng(devices=[]), _quiet_loading(transformers):
            torch.manual_seed(seed)
            model, loading = transformers.AutoModelForSequenceClassification.from_pretrained(
                str(folder),
                config=config,
                local_files_only=True,
                trust_remote_code=trust_remote_code,
                ignore_mismatched_sizes=True,
                output_loading_info=True,
            )
    except (OSError, ValueError, KeyError) as e:
        raise ModelFormatError(hf_path, f"cannot build a sequence-classification model: {e}") from e
    fresh = sorted({*(loading.get("missing_keys") or []), *(k for k, *_ in loading.get("mismatched_keys") or [])})
    if fresh:  # expected (the head); said once, without transformers' report
        logger.info("new reranker from %s: initialised %s (seed %d)", folder, ", ".join(fresh), seed)
    tconfig = read_transformer_config(folder, max_length)
    length = tconfig.max_seq_length
    if max_length is None and not is_reranker_folder(root):  # an embedding model's limit is for one text, not a pair:
        length = _default_max_seq_length(folder)  # the tokenizer's (capped at the positions), as the reference
    hf = read_json(hf_path)
    labels = tuple(str(model.config.id2label[i]) for i in range(num_labels))
    rconfig = RerankerConfig(
        root=folder,
        layout="huggingface",
        architecture=str(model.config.model_type),
        num_labels=num_labels,
        labels=labels,
        max_length=length,
        do_lower_case=tconfig.do_lower_case,
        segment_ids=_segment_ids(folder, hf if isinstance(hf, dict) else {}),
    )
    tokenizer = PairTokenizer.from_folder(folder, rconfig.max_length, rconfig.do_lower_case, rconfig.segment_ids)
    backend = TorchRerankBackend(model, device=device, trust_remote_code=trust_remote_code)
    return CrossEncoder.from_parts(
        tokenizer, backend, rconfig, activation_fn=activation_fn, name=str(model_name_or_path)
    )


@contextlib.contextmanager
def _quiet_loading(transformers: ModuleType) -> Iterator[None]:
    """transformers without its load report (the missing head is what a new reranker is) and progress bar."""
    tf_logging = transformers.utils.logging
    verbosity, bar = tf_logging.get_verbosity(), tf_logging.is_progress_bar_enabled()
    tf_logging.set_verbosity_error()
    tf_logging.disable_progress_bar()
    try:
        yield
    finally:
        tf_logging.set_verbosity(verbosity)
        if bar:
            tf_logging.enable_progress_bar()
