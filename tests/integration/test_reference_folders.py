"""Folders written by the reference library itself (sentence-transformers 6.x spellings; plain, with a Dense layer,
with prompts, after a short fine-tune) load in sentvec with the reference's vectors and truncation; folders sentvec
saves from them load in the reference with the same vectors."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

import sentvec
from sentvec.formats import SBERT_CONFIG_FILE, read_json

pytestmark = [pytest.mark.real_model, pytest.mark.reference]

ATOL = 1e-5
PROMPTS = {"query": "query: ", "document": "passage: "}


def _encode_both(ours: sentvec.SentenceEncoder, theirs, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    a = ours.encode(texts, batch_size=32)
    b = theirs.encode(texts, batch_size=32, convert_to_numpy=True, show_progress_bar=False)
    return a, b


def _dense_model(model_folder: Path):
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Dense, Normalize, Pooling, Transformer

    torch.manual_seed(0)
    transformer = Transformer(str(model_folder), max_seq_length=256)
    pooling = Pooling(384, "mean")
    dense = Dense(384, 128, activation_function=torch.nn.Tanh())
    return SentenceTransformer(modules=[transformer, pooling, dense, Normalize()], device="cpu")


def _finetuned_model(model_folder: Path, stsb_dir: Path, output: Path):
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.losses import MultipleNegativesRankingLoss

    with open(stsb_dir / "stsb-en-train.csv", newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f) if float(r[2]) >= 4.0][:64]
    data = Dataset.from_dict({"anchor": [r[0] for r in rows], "positive": [r[1] for r in rows]})
    model = SentenceTransformer(str(model_folder), device="cpu")
    args = SentenceTransformerTrainingArguments(
        output_dir=str(output / "run"),
        max_steps=3,
        per_device_train_batch_size=16,
        learning_rate=1e-4,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        seed=0,
    )
    SentenceTransformerTrainer(
        model=model, args=args, train_dataset=data, loss=MultipleNegativesRankingLoss(model)
    ).train()
    return model


@pytest.fixture(scope="module")
def reference_variants(reference_model, model_folder: Path, stsb_dir: Path, tmp_path_factory) -> dict[str, tuple]:
    """name -> (folder the reference saved, the reference model that saved it)."""
    from sentence_transformers import SentenceTransformer

    root = tmp_path_factory.mktemp("reference-saved")
    prompted = SentenceTransformer(str(model_folder), device="cpu", prompts=PROMPTS, default_prompt_name="query")
    variants = {
        "plain": reference_model,
        "dense": _dense_model(model_folder),
        "prompts": prompted,
        "finetuned": _finetuned_model(model_folder, stsb_dir, root),
    }
    out = {}
    for name, model in variants.items():
        model.save(str(root / name))
        out[name] = (root / name, model)
    return out


def test_reference_writes_the_6x_layout(reference_variants) -> None:
    # What this file is about: the 6.x module names and no max_seq_length in sentence_bert_config.json.
    folder, _ = reference_variants["plain"]
    types = [m["type"] for m in read_json(folder / "modules.json")]
    assert types[0] == "sentence_transformers.base.modules.transformer.Transformer"
    assert "max_seq_length" not in read_json(folder / SBERT_CONFIG_FILE)
    dense_types = [m["type"] for m in read_json(reference_variants["dense"][0] / "modules.json")]
    assert any(t.endswith(".Dense") for t in dense_types)


def test_plain_folder_on_all_of_stsb_and_long_texts(
    reference_variants, reference_stsb, reference_long, stsb_test_sentences: list[str], long_texts: list[str]
) -> None:
    folder, reference = reference_variants["plain"]
    model = sentvec.load(str(folder), device="cpu")
    assert model.max_seq_length == reference.max_seq_length == 256  # from tokenizer_config.json, as the reference
    short = model.encode(stsb_test_sentences, batch_size=32)
    assert np.abs(short - reference_stsb).max() <= ATOL
    long, info = model.encode(long_texts, batch_size=32, return_info=True)
    assert np.abs(long - reference_long).max() <= ATOL
    assert info.n_truncated == len(long_texts)  # every long text is cut where the reference cuts it


@pytest.mark.parametrize("variant", ["dense", "prompts", "finetuned"])
def test_reference_saves_sentvec_loads(
    reference_variants, variant: str, stsb_test_sentences: list[str], long_texts: list[str]
) -> None:
    folder, reference = reference_variants[variant]
    model = sentvec.load(str(folder), device="cpu")
    assert model.max_seq_length == reference.max_seq_length
    assert model.dimension == reference.get_sentence_embedding_dimension()
    texts = stsb_test_sentences[:300] + long_texts[:50]
    ours, theirs = _encode_both(model, reference, texts)
    assert np.abs(ours - theirs).max() <= ATOL
    if variant == "prompts":
        assert model.prompts == PROMPTS
        q = model.encode_query(texts[:50])
        d = model.encode_document(texts[:50])
        assert np.abs(q - reference.encode_query(texts[:50], convert_to_numpy=True)).max() <= ATOL
        assert np.abs(d - reference.encode_document(texts[:50], convert_to_numpy=True)).max() <= ATOL


@pytest.mark.parametrize("variant", ["plain", "dense", "prompts", "finetuned"])
def test_sentvec_saves_reference_loads(
    reference_variants, variant: str, stsb_test_sentences: list[str], long_texts: list[str], tmp_path: Path
) -> None:
    from sentence_transformers import SentenceTransformer

    folder, reference = reference_variants[variant]
    sentvec.load(str(folder), device="cpu").save(tmp_path / "resaved")
    reloaded = SentenceTransformer(str(tmp_path / "resaved"), device="cpu")
    assert reloaded.max_seq_length == reference.max_seq_length
    texts = stsb_test_sentences[:100] + long_texts[:20]
    theirs_before = reference.encode(texts, batch_size=32, convert_to_numpy=True, show_progress_bar=False)
    theirs_after = reloaded.encode(texts, batch_size=32, convert_to_numpy=True, show_progress_bar=False)
    assert np.abs(theirs_after - theirs_before).max() <= ATOL
