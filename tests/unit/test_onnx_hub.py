"""Transformer-only ONNX graphs, as the Hub ships them (output ``last_hidden_state``): sentvec runs them torch-free
and applies the folder's Pooling, Dense and Normalize in numpy, with the same vectors as torch."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from _hub_graph import export_transformer_only
from _tiny_model import SENTENCES

import sentvec
from sentvec.errors import ModelFormatError
from sentvec.formats import ONNX_DIR, onnx_graph_candidates

pytest.importorskip("onnx")
torch = pytest.importorskip("torch")

TEXTS = [*SENTENCES, "", "the cat " * 40]


@pytest.mark.parametrize(
    "variant",
    [
        {},
        {"dense": True},
        {"pooling": ("cls",)},
        {"pooling": ("max", "mean")},
        {"pooling": ("mean_sqrt_len_tokens",)},
        {"pooling": ("weightedmean",)},
        {"pooling": ("lasttoken",)},
        {"normalize": False, "dense": True},
    ],
)
def test_hub_graph_matches_torch(make_model, variant):
    folder = make_model(**variant)
    export_transformer_only(folder)
    torch_model = sentvec.load(str(folder), backend="torch", device="cpu")
    onnx_model = sentvec.load(str(folder), backend="onnx")
    assert onnx_model.info().backend.pooling == "numpy"
    assert onnx_model.dimension == torch_model.dimension
    np.testing.assert_allclose(onnx_model.encode(TEXTS), torch_model.encode(TEXTS), atol=1e-5)
    tokens = onnx_model.encode(TEXTS[:3], output_value="token_embeddings")
    reference = torch_model.encode(TEXTS[:3], output_value="token_embeddings")
    for a, b in zip(tokens, reference, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_prompt_excluded_from_pooling(make_model):
    folder = make_model(prompts={"query": "query: "}, include_prompt=False)
    export_transformer_only(folder)
    torch_model = sentvec.load(str(folder), backend="torch", device="cpu")
    onnx_model = sentvec.load(str(folder), backend="onnx")
    np.testing.assert_allclose(onnx_model.encode_query(TEXTS), torch_model.encode_query(TEXTS), atol=1e-5)


def test_token_embeddings_output_name_and_file_name(make_model):
    folder = make_model()
    export_transformer_only(folder, file="model_O3.onnx", output="token_embeddings")
    torch_model = sentvec.load(str(folder), backend="torch", device="cpu")
    for name in ("model_O3.onnx", "onnx/model_O3.onnx"):
        model = sentvec.load(str(folder), file_name=name)
        assert model.info().backend.graph.endswith("model_O3.onnx")
        np.testing.assert_allclose(model.encode(TEXTS), torch_model.encode(TEXTS), atol=1e-5)
    with pytest.raises(ModelFormatError, match=r"no ONNX graph named 'model_O9\.onnx'"):
        sentvec.load(str(folder), file_name="model_O9.onnx")
    with pytest.raises(ModelFormatError, match="outside the model folder"):
        sentvec.load(str(folder), file_name="../../etc/passwd")


def test_quantized_picks_the_int8_file_for_this_cpu(make_model, tmp_path):
    folder = make_model()
    fp32 = export_transformer_only(folder)
    isa = frozenset({"avx2"})
    shutil.copyfile(fp32, folder / ONNX_DIR / "model_qint8_arm64.onnx")
    shutil.copyfile(fp32, folder / ONNX_DIR / "model_qint8_avx2.onnx")
    shutil.copyfile(fp32, folder / ONNX_DIR / "model_qint8_avx512_vnni.onnx")
    found = [p.name for p in onnx_graph_candidates(folder, True, isa) if p.is_file()]
    assert found == ["model_qint8_avx2.onnx"]
    found = [p.name for p in onnx_graph_candidates(folder, True, frozenset({"avx2", "avx512", "avx512_vnni"}))]
    assert found[:2] == ["model_qint8.onnx", "model_qint8_avx512_vnni.onnx"]  # sentvec's own export first
    model = sentvec.load(str(folder), quantized=True)
    assert Path(model.info().backend.graph).name.startswith("model_qint8_")


def test_unknown_outputs_are_named(make_model):
    folder = make_model()
    export_transformer_only(folder, output="pooler_output_x")
    with pytest.raises(ModelFormatError, match=r"unknown graph outputs \['pooler_output_x'\]") as e:
        sentvec.load(str(folder), backend="onnx")
    assert e.value.path.endswith("model.onnx")
