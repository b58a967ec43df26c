"""sentvec vs the reference library (sentence-transformers) on the real all-MiniLM-L6-v2.

Each big set is encoded once per session by each library (fixtures below); the tests compare the cached results.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sentvec

pytestmark = pytest.mark.real_model

ATOL = 1e-5
BATCH_SIZE = 32
MAX_SEQ_LENGTH = 256
DIMENSION = 384


def sentvec_encode(model: Any, texts: list[str], **kwargs: Any) -> Any:
    kwargs.setdefault("batch_size", BATCH_SIZE)
    return model.encode(texts, normalize_embeddings=True, show_progress_bar=False, **kwargs)


def reference_encode(model: Any, texts: list[str], **kwargs: Any) -> np.ndarray:
    return model.encode(
        texts,
        batch_size=BATCH_SIZE,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
        **kwargs,
    )


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape, f"shapes differ: {a.shape} vs {b.shape}"
    return float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).max())


# --- session caches: each big set encoded once per library ------------------------------------------------------
@pytest.fixture(scope="session")
def sentvec_stsb(real_model: Any, stsb_test_sentences: list[str]) -> np.ndarray:
    return sentvec_encode(real_model, stsb_test_sentences)


@pytest.fixture(scope="session")
def sentvec_long(real_model: Any, long_texts: list[str]) -> tuple[np.ndarray, Any]:
    return sentvec_encode(real_model, long_texts, return_info=True)


# --- tests -------------------------------------------------------------------------------------------------------
@pytest.mark.reference
def test_stsb_test_sentences_match_reference(sentvec_stsb: np.ndarray, reference_stsb: np.ndarray) -> None:
    assert sentvec_stsb.shape == (2758, DIMENSION)
    assert sentvec_stsb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(sentvec_stsb, axis=1), 1.0, atol=1e-5)
    assert max_abs_diff(sentvec_stsb, reference_stsb) <= ATOL


@pytest.mark.reference
def test_saved_folder_round_trips(
    real_model: Any,
    reference_model: Any,
    stsb_test_sentences: list[str],
    long_texts: list[str],
    reference_stsb: np.ndarray,
    reference_long: np.ndarray,
    tmp_path: Path,
) -> None:
    # Short sentences and a few long ones: the saved max_seq_length must be honoured by both loaders.
    texts = stsb_test_sentences[:48] + long_texts[:4]
    expected = np.concatenate([reference_stsb[:48], reference_long[:4]])
    folder = tmp_path / "saved-minilm"
    real_model.save(folder)

    reloaded = sentvec.load(folder, device="cpu")
    assert reloaded.dimension == DIMENSION
    assert reloaded.max_seq_length == MAX_SEQ_LENGTH
    assert max_abs_diff(sentvec_encode(reloaded, texts), expected) <= ATOL

    from sentence_transformers import SentenceTransformer

    reference_on_saved = SentenceTransformer(str(folder), device="cpu")
    assert reference_on_saved.max_seq_length == MAX_SEQ_LENGTH
    assert max_abs_diff(reference_encode(reference_on_saved, texts), expected) <= ATOL


@pytest.mark.reference
def test_long_texts_match_reference(sentvec_long: tuple[np.ndarray, Any], reference_long: np.ndarray) -> None:
    embeddings, _ = sentvec_long
    assert embeddings.shape == (200, DIMENSION)
    assert max_abs_diff(embeddings, reference_long) <= ATOL


def test_long_texts_reported_truncated(
    real_model: Any, long_texts: list[str], sentvec_long: tuple[np.ndarray, Any]
) -> None:
    _, info = sentvec_long
    assert info.max_seq_length == MAX_SEQ_LENGTH
    assert info.n_truncated == len(long_texts)
    assert info.truncated_indices == list(range(len(long_texts)))
    assert info.truncated.dtype == bool and info.truncated.all()
    assert (info.token_counts >= 300).all()
    expected_counts = [real_model.tokenizer.count_tokens(t) for t in long_texts]
    assert info.token_counts.tolist() == expected_counts
    assert info.total_tokens == MAX_SEQ_LENGTH * len(long_texts)


def test_batch_size_does_not_change_vectors(real_model: Any, stsb_test_sentences: list[str]) -> None:
    subset = stsb_test_sentences[::27][:100]  # spread over the file: a range of lengths
    assert len(subset) == 100
    one = sentvec_encode(real_model, subset, batch_size=1)
    many = sentvec_encode(real_model, subset, batch_size=64)
    assert max_abs_diff(one, many) <= ATOL


@pytest.mark.reference
def test_token_embeddings_match_reference(
    real_model: Any, reference_model: Any, stsb_test_sentences: list[str]
) -> None:
    texts = stsb_test_sentences[::137][:20]
    assert len(texts) == 20
    tokens, info = real_model.encode(
        texts, output_value="token_embeddings", return_info=True, batch_size=BATCH_SIZE, show_progress_bar=False
    )
    reference = reference_model.encode(
        texts, output_value="token_embeddings", batch_size=BATCH_SIZE, show_progress_bar=False
    )
    assert len(tokens) == len(reference) == 20
    counts = [real_model.tokenizer.count_tokens(t) for t in texts]
    assert info.token_counts.tolist() == counts
    assert not info.truncated.any()
    for i, (mine, theirs) in enumerate(zip(tokens, reference, strict=True)):
        theirs = theirs.detach().cpu().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
        assert isinstance(mine, np.ndarray)
        assert mine.shape == (counts[i], DIMENSION), f"text {i}: {mine.shape} for {counts[i]} tokens"
        assert max_abs_diff(mine, theirs) <= ATOL, f"text {i}"


@pytest.mark.reference
def test_token_embeddings_of_long_texts_are_truncated(
    real_model: Any, reference_model: Any, long_texts: list[str]
) -> None:
    texts = long_texts[:2]
    tokens = real_model.encode(texts, output_value="token_embeddings", show_progress_bar=False)
    reference = reference_model.encode(texts, output_value="token_embeddings", show_progress_bar=False)
    for mine, theirs in zip(tokens, reference, strict=True):
        assert mine.shape == (MAX_SEQ_LENGTH, DIMENSION)
        assert max_abs_diff(mine, theirs.detach().cpu().numpy()) <= ATOL
