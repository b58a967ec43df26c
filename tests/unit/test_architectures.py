"""The encoder architectures the method names (BERT, RoBERTa, XLNet) and their common relatives: a tiny random model
of each loads in sentvec (torch), matches the reference library on the same folder, and exports to ONNX with the same
vectors (or fails with an error that names the architecture)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _tiny_model import HIDDEN, SENTENCES, VOCAB, build_tokenizer, write_json

import sentvec
from sentvec.export import export_onnx
from sentvec.export.onnx import default_calibration_texts

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

TEXTS = [*SENTENCES, "the cat " * 30]
COMMON = {"vocab_size": len(VOCAB), "pad_token_id": 0}
ARCHITECTURES = {
    "bert": (
        "BertConfig",
        {
            "hidden_size": HIDDEN,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "intermediate_size": 37,
            "max_position_embeddings": 64,
        },
    ),
    "roberta": (
        "RobertaConfig",
        {
            "hidden_size": HIDDEN,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "intermediate_size": 37,
            "max_position_embeddings": 66,
            "type_vocab_size": 1,
            "bos_token_id": 2,
            "eos_token_id": 3,
        },
    ),
    "xlm-roberta": (
        "XLMRobertaConfig",
        {
            "hidden_size": HIDDEN,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "intermediate_size": 37,
            "max_position_embeddings": 66,
            "type_vocab_size": 1,
            "bos_token_id": 2,
            "eos_token_id": 3,
        },
    ),
    "distilbert": (
        "DistilBertConfig",
        {"dim": HIDDEN, "n_layers": 2, "n_heads": 2, "hidden_dim": 37, "max_position_embeddings": 64},
    ),
    "mpnet": (
        "MPNetConfig",
        {
            "hidden_size": HIDDEN,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "intermediate_size": 37,
            "max_position_embeddings": 66,
            "bos_token_id": 2,
            "eos_token_id": 3,
        },
    ),
    "xlnet": (
        "XLNetConfig",
        {"d_model": HIDDEN, "n_layer": 2, "n_head": 2, "d_inner": 37, "bos_token_id": 2, "eos_token_id": 3},
    ),
}


def _tiny_folder(root: Path, arch: str) -> Path:
    """A sentence-transformers folder (Transformer + mean Pooling + Normalize) around a random ``arch`` model."""
    name, kwargs = ARCHITECTURES[arch]
    torch.manual_seed(0)
    config = getattr(transformers, name)(**COMMON, **kwargs)
    folder = root / arch
    transformers.AutoModel.from_config(config).eval().save_pretrained(str(folder), safe_serialization=True)
    build_tokenizer(folder / "tokenizer.json")
    write_json(
        folder / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": 32,
            "pad_token": "[PAD]",
            "unk_token": "[UNK]",
            "cls_token": "[CLS]",
            "sep_token": "[SEP]",
            "mask_token": "[MASK]",
        },
    )
    write_json(folder / "sentence_bert_config.json", {"max_seq_length": 32, "do_lower_case": False})
    write_json(
        folder / "1_Pooling" / "config.json", {"word_embedding_dimension": HIDDEN, "pooling_mode_mean_tokens": True}
    )
    (folder / "2_Normalize").mkdir()
    types = ("Transformer", "Pooling", "Normalize")
    paths = ("", "1_Pooling", "2_Normalize")
    write_json(
        folder / "modules.json",
        [
            {"idx": i, "name": str(i), "path": p, "type": f"sentence_transformers.models.{t}"}
            for i, (t, p) in enumerate(zip(types, paths, strict=True))
        ],
    )
    return folder


@pytest.fixture(scope="module", params=sorted(ARCHITECTURES))
def arch_folder(request, tmp_path_factory) -> tuple[str, Path]:
    return request.param, _tiny_folder(tmp_path_factory.mktemp("arch"), request.param)


@pytest.mark.reference
def test_torch_matches_the_reference(arch_folder):
    st = pytest.importorskip("sentence_transformers")
    arch, folder = arch_folder
    ours = sentvec.load(str(folder), backend="torch", device="cpu").encode(TEXTS, batch_size=4)
    theirs = st.SentenceTransformer(str(folder), device="cpu").encode(TEXTS, batch_size=4, convert_to_numpy=True)
    assert np.abs(ours - theirs).max() <= 1e-5, arch


def test_onnx_export_matches_torch(arch_folder, tmp_path):
    arch, folder = arch_folder
    model = sentvec.load(str(folder), backend="torch", device="cpu")
    out = tmp_path / "exported"
    export_onnx(model, out, calibration_texts=default_calibration_texts(16, max_words=40))
    onnx_model = sentvec.load(str(out), backend="onnx")
    assert onnx_model.info().backend.pooling == "graph"
    assert np.abs(onnx_model.encode(TEXTS) - model.encode(TEXTS)).max() <= 1e-5, arch
    assert json.loads((out / "config.json").read_text())["model_type"] == arch


def test_an_architecture_that_cannot_be_traced_is_named(arch_folder, tmp_path, monkeypatch):
    from sentvec.export.onnx import ExportError

    arch, folder = arch_folder
    model = sentvec.load(str(folder), backend="torch", device="cpu")

    def refuse(*args, **kwargs):
        raise RuntimeError("unsupported operator aten::something")

    monkeypatch.setattr(torch.onnx, "export", refuse)
    with pytest.raises(ExportError, match=rf"cannot export the '{arch}' architecture to ONNX .*aten::something"):
        export_onnx(model, tmp_path / "x", calibration_texts=["a"])
