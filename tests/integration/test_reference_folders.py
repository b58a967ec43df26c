"""Folders written by the reference library itself (sentence-transformers 6.x spellings) load in sentvec and give
the reference's vectors, truncation included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sentvec
from sentvec.formats import SBERT_CONFIG_FILE, read_json

pytestmark = [pytest.mark.real_model, pytest.mark.reference]


@pytest.fixture(scope="module")
def reference_saved(reference_model, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("st6") / "saved"
    reference_model.save(str(folder))
    return folder


def test_reference_writes_the_6x_layout(reference_saved: Path) -> None:
    # What this test is about: the 6.x module names and no max_seq_length in sentence_bert_config.json.
    types = [m["type"] for m in read_json(reference_saved / "modules.json")]
    assert types[0] == "sentence_transformers.base.modules.transformer.Transformer"
    assert "max_seq_length" not in read_json(reference_saved / SBERT_CONFIG_FILE)


def test_reference_saved_folder_loads_with_the_reference_truncation(
    reference_saved: Path, reference_model, stsb_test_sentences: list[str], long_texts: list[str]
) -> None:
    model = sentvec.load(str(reference_saved), device="cpu")
    assert model.max_seq_length == reference_model.max_seq_length == 256
    texts = stsb_test_sentences[:300] + long_texts
    ours = model.encode(texts, batch_size=32)
    theirs = reference_model.encode(texts, batch_size=32, convert_to_numpy=True)
    assert np.abs(ours - theirs).max() <= 1e-5
