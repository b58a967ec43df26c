"""Cross-encoder parity with the reference on real weights: a reranker built by sentence-transformers from
all-MiniLM-L6-v2's weights (randomly initialised one-label head, fixed seed) and saved by it loads in sentvec with
the same scores on 500 STSb-en test pairs (torch, and ONNX fp32 after sentvec's export); the folder sentvec saves loads
in the reference with the same scores, and in the reference 5.x too, which also exports its own ONNX reranker graph
that sentvec runs."""

from __future__ import annotations

import csv
import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sentvec.export import export_reranker_onnx
from sentvec.export.rerank_onnx import default_calibration_pairs
from sentvec.rerank import Activation, load_reranker

pytestmark = [pytest.mark.real_model, pytest.mark.reference]

SEED = 12
N_PAIRS = 500
ATOL = 1e-5
BATCH_SIZE = 32


def max_abs_diff(a: Any, b: Any) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"shapes differ: {a.shape} vs {b.shape}"
    return float(np.abs(a - b).max())


@pytest.fixture(scope="module")
def pairs(stsb_dir: Path) -> list[tuple[str, str]]:
    with open(stsb_dir / "stsb-en-test.csv", newline="", encoding="utf-8") as f:
        rows = [(r[0], r[1], float(r[2])) for r in csv.reader(f)][:N_PAIRS]
    assert len(rows) == N_PAIRS
    return [(s1, s2) for s1, s2, _ in rows]


@pytest.fixture(scope="module")
def reference_folder(model_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference's CrossEncoder from all-MiniLM-L6-v2's weights, random head (seed fixed), saved by it."""
    st = pytest.importorskip("sentence_transformers")
    import torch

    torch.manual_seed(SEED)
    model = st.CrossEncoder(str(model_folder), num_labels=1, device="cpu")
    folder = tmp_path_factory.mktemp("reference-cross-encoder")
    model.save(str(folder))
    return folder


@pytest.fixture(scope="module")
def reference_scores(reference_folder: Path, pairs: list[tuple[str, str]]) -> dict[str, np.ndarray]:
    """The reference's logits (identity) and default scores (sigmoid), computed once."""
    import torch
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(str(reference_folder), device="cpu")
    kwargs = {"batch_size": BATCH_SIZE, "show_progress_bar": False}
    return {
        "logits": model.predict(pairs, activation_fn=torch.nn.Identity(), **kwargs),
        "scores": model.predict(pairs, **kwargs),
    }


@pytest.fixture(scope="module")
def sentvec_torch(reference_folder: Path) -> Any:
    return load_reranker(reference_folder, backend="torch", device="cpu")


@pytest.fixture(scope="module")
def exported(sentvec_torch: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """sentvec's save of the reference's folder, with sentvec's ONNX export (fp32 and int8) inside."""
    folder = tmp_path_factory.mktemp("sentvec-saved")
    report = export_reranker_onnx(
        sentvec_torch, folder, quantize="int8", calibration_pairs=default_calibration_pairs(64, max_words=120)
    )
    return folder, report


def test_the_reference_writes_the_6x_layout(reference_folder: Path) -> None:
    st = json.loads((reference_folder / "config_sentence_transformers.json").read_text())
    assert st["model_type"] == "CrossEncoder" and st["activation_fn"] == "torch.nn.modules.activation.Sigmoid"
    sbert = json.loads((reference_folder / "sentence_bert_config.json").read_text())
    assert sbert["transformer_task"] == "sequence-classification"
    hf = json.loads((reference_folder / "config.json").read_text())
    assert hf["architectures"] == ["BertForSequenceClassification"] and hf["id2label"] == {"0": "LABEL_0"}


def test_torch_scores_match_the_reference(
    sentvec_torch: Any, pairs: list[tuple[str, str]], reference_scores: dict[str, np.ndarray]
) -> None:
    info = sentvec_torch.info()
    facts = (info.layout, info.num_labels, info.activation, info.max_length)
    assert facts == ("sentence-transformers", 1, "sigmoid", 512)
    logits = sentvec_torch.predict(pairs, batch_size=BATCH_SIZE, activation_fn=Activation.IDENTITY)
    assert logits.shape == (N_PAIRS,) and logits.dtype == np.float32
    assert np.ptp(logits) > 0.01  # the random head separates the pairs: the comparison means something
    assert max_abs_diff(logits, reference_scores["logits"]) <= ATOL
    assert max_abs_diff(sentvec_torch.predict(pairs, batch_size=BATCH_SIZE), reference_scores["scores"]) <= ATOL
    assert max_abs_diff(sentvec_torch.predict(pairs[:100], batch_size=7), reference_scores["scores"][:100]) <= ATOL


def test_rank_matches_the_reference(sentvec_torch: Any, reference_folder: Path, pairs: list[tuple[str, str]]) -> None:
    from sentence_transformers import CrossEncoder

    query, documents = pairs[0][0], [s2 for _, s2 in pairs[:100]]
    want = CrossEncoder(str(reference_folder), device="cpu").rank(query, documents, top_k=10, return_documents=True)
    got = [hit.to_dict() for hit in sentvec_torch.rank(query, documents, top_k=10, return_documents=True)]
    assert [h["corpus_id"] for h in got] == [h["corpus_id"] for h in want]
    assert [h["text"] for h in got] == [h["text"] for h in want]
    assert max_abs_diff([h["score"] for h in got], [h["score"] for h in want]) <= ATOL


def test_onnx_fp32_scores_match_the_reference(
    exported: tuple[Path, Any], pairs: list[tuple[str, str]], reference_scores: dict[str, np.ndarray]
) -> None:
    folder, report = exported
    assert report.checks[0].max_abs_diff <= ATOL
    model = load_reranker(folder, backend="onnx")
    assert model.info().backend.graph.endswith("onnx/model.onnx")
    logits = model.predict(pairs, batch_size=BATCH_SIZE, activation_fn="identity")
    assert max_abs_diff(logits, reference_scores["logits"]) <= ATOL
    assert max_abs_diff(model.predict(pairs, batch_size=BATCH_SIZE), reference_scores["scores"]) <= ATOL


def test_onnx_int8_ranks_like_the_reference(
    exported: tuple[Path, Any], pairs: list[tuple[str, str]], reference_scores: dict[str, np.ndarray]
) -> None:
    from scipy.stats import spearmanr

    folder, _ = exported
    logits = load_reranker(folder, quantized=True).predict(pairs, batch_size=BATCH_SIZE, activation_fn="identity")
    assert max_abs_diff(logits, reference_scores["logits"]) < 0.05
    assert spearmanr(logits, reference_scores["logits"]).statistic > 0.9


def test_the_reference_loads_what_sentvec_saves(
    exported: tuple[Path, Any], pairs: list[tuple[str, str]], reference_scores: dict[str, np.ndarray]
) -> None:
    import torch
    from sentence_transformers import CrossEncoder

    folder, _ = exported
    model = CrossEncoder(str(folder), device="cpu")
    assert type(model.activation_fn).__name__ == "Sigmoid" and model.max_seq_length == 512
    logits = model.predict(pairs, batch_size=BATCH_SIZE, activation_fn=torch.nn.Identity(), show_progress_bar=False)
    assert max_abs_diff(logits, reference_scores["logits"]) <= ATOL
    assert max_abs_diff(model.predict(pairs[:100], batch_size=BATCH_SIZE), reference_scores["scores"][:100]) <= ATOL


# --- the reference 5.x (side venv): reads sentvec's folder, and exports its own ONNX reranker graph -----------------
REFERENCE_5X = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import numpy as np
    import torch
    from sentence_transformers import CrossEncoder, __version__
    folder, out = Path(sys.argv[1]), Path(sys.argv[2])
    pairs = [tuple(p) for p in json.loads((out / "pairs.json").read_text())]
    model = CrossEncoder(str(folder), device="cpu")
    np.save(out / "torch.npy", model.predict(pairs, batch_size=32, activation_fn=torch.nn.Identity()))
    onnx = CrossEncoder(str(folder), device="cpu", backend="onnx", model_kwargs={"file_name": "model_ref.onnx"})
    np.save(out / "onnx.npy", onnx.predict(pairs, batch_size=32, activation_fn=torch.nn.Identity()))
    onnx.save_pretrained(str(out / "exported"))
    print(json.dumps({"version": __version__, "activation": type(model.activation_fn).__name__}))
    """
)


@pytest.mark.slow
def test_reference_5x_reads_sentvecs_folder_and_its_onnx_export_runs_in_sentvec(
    exported: tuple[Path, Any], pairs: list[tuple[str, str]], reference_scores: dict[str, np.ndarray], tmp_path: Path
) -> None:
    from _venvs import reference_onnx_python

    folder, _ = exported
    subset = pairs[:100]
    (tmp_path / "pairs.json").write_text(json.dumps(subset))
    run = subprocess.run(
        [str(reference_onnx_python()), "-c", REFERENCE_5X, str(folder), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    facts = json.loads(run.stdout.strip().splitlines()[-1])
    assert facts["version"].startswith("5.") and facts["activation"] == "Sigmoid"
    want = reference_scores["logits"][:100]
    assert max_abs_diff(np.load(tmp_path / "torch.npy"), want) <= ATOL
    assert max_abs_diff(np.load(tmp_path / "onnx.npy"), want) <= ATOL
    graphs = sorted(p.name for p in (tmp_path / "exported" / "onnx").glob("*.onnx"))
    assert graphs, "the reference exported no graph"
    theirs = load_reranker(tmp_path / "exported", file_name=graphs[0])
    assert max_abs_diff(theirs.predict(subset, activation_fn="identity"), want) <= ATOL
