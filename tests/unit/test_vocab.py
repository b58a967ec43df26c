"""Vocabulary extension: unknown CJK characters become real tokens, embeddings grow, the folder round-trips."""

from __future__ import annotations

import numpy as np
import pytest

import sentvec
from sentvec.training.vocab import aligned_init, extend_vocabulary, is_cjk, unknown_characters


@pytest.fixture
def fresh(model_dir):
    return sentvec.load(str(model_dir))


def unk_count(model, text):
    unk = model.tokenizer.backend.token_to_id("[UNK]")
    return int((model.tokenizer.tokenize([text]).ids[0] == unk).sum())


def test_unknown_characters_are_found_by_frequency(fresh):
    texts = ["猫在睡觉", "猫 cat", "狗"]
    assert unknown_characters(fresh, texts) == ["猫", "在", "睡", "觉", "狗"]
    assert unknown_characters(fresh, ["the cat"]) == []  # known words, no CJK
    assert is_cjk("猫") and not is_cjk("a") and not is_cjk("。")


def test_extension_replaces_unk_and_grows_embeddings(fresh, tmp_path):
    before_rows = fresh.torch.pipeline[0].auto_model.get_input_embeddings().weight.shape[0]
    assert unk_count(fresh, "猫在睡觉") == 4
    size = extend_vocabulary(fresh, ["猫", "在", "睡", "觉"])
    assert size == before_rows + 4 == fresh.tokenizer.vocab_size
    assert unk_count(fresh, "猫在睡觉") == 0
    weight = fresh.torch.pipeline[0].auto_model.get_input_embeddings().weight.detach().numpy()
    np.testing.assert_allclose(weight[-4:], np.tile(weight[:before_rows].mean(0), (4, 1)), atol=1e-6)
    fresh.save(tmp_path / "ext")
    reloaded = sentvec.load(str(tmp_path / "ext"))
    assert unk_count(reloaded, "猫在睡觉") == 0
    vocab_txt = (tmp_path / "ext" / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert vocab_txt[-4:] == ["猫", "在", "睡", "觉"] and len(vocab_txt) == size
    texts = ["猫在睡觉", "the cat"]
    np.testing.assert_allclose(reloaded.encode(texts), fresh.encode(texts), atol=1e-6)


def test_extended_folder_loads_in_the_reference_library(fresh, tmp_path):
    st = pytest.importorskip("sentence_transformers")
    extend_vocabulary(fresh, ["猫", "狗"])
    fresh.save(tmp_path / "ext")
    ref = st.SentenceTransformer(str(tmp_path / "ext"), device="cpu")
    texts = ["猫 and 狗", "the dog"]
    np.testing.assert_allclose(ref.encode(texts), fresh.encode(texts), atol=1e-5)


def test_aligned_init_uses_the_translation_embedding(fresh):
    sources = ["the cat", "a cat", "the dog", "a dog", "the bird"]
    targets = ["猫", "猫", "狗", "狗", "鸟"]
    rows = aligned_init(fresh, ["猫", "狗", "龙"], sources, targets, top=1)
    weight = fresh.torch.pipeline[0].auto_model.get_input_embeddings().weight.detach().numpy()
    tok = fresh.tokenizer.backend
    np.testing.assert_allclose(rows[0], weight[tok.token_to_id("cat")], atol=1e-6)
    np.testing.assert_allclose(rows[1], weight[tok.token_to_id("dog")], atol=1e-6)
    np.testing.assert_allclose(rows[2], weight.mean(0), atol=1e-6)  # never seen: the mean row


def test_init_shape_and_non_wordpiece_errors(fresh):
    with pytest.raises(ValueError, match="shape"):
        extend_vocabulary(fresh, ["猫"], init=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="init"):
        extend_vocabulary(fresh, ["猫"], init="random")
