"""Tiny, offline sentence-transformers model folders built once per session (a few seconds on CPU)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

# the tests compile throwaway tiny models: keep them out of the user's OpenVINO compile cache
os.environ.setdefault("SENTVEC_OPENVINO_CACHE", "0")
from _tiny_model import (
    HIDDEN,
    LEGACY_POOLING_KEYS,
    MAX_SEQ_LENGTH,
    PROMPTS,
    ST_TYPE,
    VOCAB,
    build_tokenizer,
    write_json,
)


@pytest.fixture(scope="session")
def base_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with config.json, model.safetensors (random BERT) and tokenizer.json, plus Dense weights."""
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("base")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
        type_vocab_size=2,
        pad_token_id=0,
    )
    BertModel(config).eval().save_pretrained(str(folder), safe_serialization=True)
    build_tokenizer(folder / "tokenizer.json")
    torch.manual_seed(1)
    linear = torch.nn.Linear(HIDDEN, 16)
    save_file(
        {"linear.weight": linear.weight.detach().contiguous(), "linear.bias": linear.bias.detach().contiguous()},
        str(folder / "dense.safetensors"),
    )
    return folder


ModelFactory = Callable[..., Path]


@pytest.fixture(scope="session")
def make_model(base_files: Path, tmp_path_factory: pytest.TempPathFactory) -> ModelFactory:
    """Factory writing a model folder variant; returns its path.

    Keywords: ``pooling`` (sequence of mode names, written as legacy booleans; or a dict written as is),
    ``normalize`` (add Normalize), ``dense`` (add Dense 32->16 with Tanh at 2_Dense), ``similarity``,
    ``prompts``, ``default_prompt_name``, ``include_prompt``, ``max_seq_length``, ``plain_hf`` (only
    config.json + weights + tokenizer.json).
    """
    counter = iter(range(10**6))

    def factory(
        *,
        pooling: Sequence[str] | dict[str, Any] = ("mean",),
        normalize: bool = True,
        dense: bool = False,
        similarity: str = "cosine",
        prompts: dict[str, str] | None = None,
        default_prompt_name: str | None = None,
        include_prompt: bool = True,
        max_seq_length: int = MAX_SEQ_LENGTH,
        plain_hf: bool = False,
    ) -> Path:
        folder = tmp_path_factory.getbasetemp() / f"model{next(counter)}"
        folder.mkdir()
        for name in ("config.json", "model.safetensors", "tokenizer.json"):
            shutil.copyfile(base_files / name, folder / name)
        if plain_hf:
            return folder
        modules = [{"idx": 0, "name": "0", "path": "", "type": ST_TYPE.format("Transformer")}]
        if isinstance(pooling, dict):
            pooling_config = pooling
        else:
            pooling_config = {"word_embedding_dimension": HIDDEN}
            pooling_config.update({key: mode in pooling for key, mode in LEGACY_POOLING_KEYS.items()})
            pooling_config["include_prompt"] = include_prompt
        write_json(folder / "1_Pooling" / "config.json", pooling_config)
        modules.append({"idx": 1, "name": "1", "path": "1_Pooling", "type": ST_TYPE.format("Pooling")})
        if dense:
            write_json(
                folder / "2_Dense" / "config.json",
                {
                    "in_features": HIDDEN,
                    "out_features": 16,
                    "bias": True,
                    "activation_function": "torch.nn.modules.activation.Tanh",
                },
            )
            shutil.copyfile(base_files / "dense.safetensors", folder / "2_Dense" / "model.safetensors")
            modules.append({"idx": 2, "name": "2", "path": "2_Dense", "type": ST_TYPE.format("Dense")})
        if normalize:
            idx = len(modules)
            (folder / f"{idx}_Normalize").mkdir()
            modules.append(
                {"idx": idx, "name": str(idx), "path": f"{idx}_Normalize", "type": ST_TYPE.format("Normalize")}
            )
        write_json(folder / "modules.json", modules)
        write_json(folder / "sentence_bert_config.json", {"max_seq_length": max_seq_length, "do_lower_case": False})
        write_json(
            folder / "config_sentence_transformers.json",
            {
                "prompts": dict(PROMPTS if prompts is None else prompts),
                "default_prompt_name": default_prompt_name,
                "similarity_fn_name": similarity,
            },
        )
        return folder

    return factory


@pytest.fixture(scope="session")
def model_dir(make_model: ModelFactory) -> Path:
    """The default tiny model: Transformer → mean Pooling → Normalize. Do not mutate."""
    return make_model()


@pytest.fixture(scope="session")
def model(model_dir: Path) -> Any:
    """The default tiny model, loaded once. Tests that mutate it must load their own."""
    import sentvec

    return sentvec.load(str(model_dir), device="cpu")


@pytest.fixture(scope="session")
def raw_model(make_model: ModelFactory) -> Any:
    """Transformer → mean Pooling, no Normalize (vectors are not unit length). Do not mutate."""
    import sentvec

    return sentvec.load(str(make_model(normalize=False)), device="cpu")


@pytest.fixture(scope="session")
def raw_tokenizer(base_files: Path) -> Any:
    """The tokenizer read directly with the tokenizers library, without truncation."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(base_files / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Any:
    """Tiny models run fastest on one intra-op thread; several threads spin against each other on 2 cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach the network."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
