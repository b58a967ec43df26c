"""SentenceEncoder.encode: shapes, keywords, batching, prompts, precision, truncation report, save/load."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch
from _tiny_model import HIDDEN, MAX_SEQ_LENGTH, PROMPTS, SENTENCES, VOCAB, token_embeddings

import sentvec
from sentvec.encoder import ENCODE_KEYWORDS

LONG = " ".join(["the big red dog runs to the old house"] * 4)  # 36 words → 38 tokens with [CLS]/[SEP]
MEDIUM = "the cat sleeps under the big green tree by the river at night"  # 13 words → 15 tokens


def _load(folder, **kwargs):
    return sentvec.load(str(folder), device="cpu", **kwargs)


class TestShapes:
    def test_str_gives_1d(self, model):
        vec = model.encode("the cat sleeps")
        assert isinstance(vec, np.ndarray)
        assert vec.shape == (HIDDEN,)
        assert vec.dtype == np.float32
        assert model.dimension == HIDDEN

    def test_list_gives_2d_matching_single(self, model):
        batch = model.encode(SENTENCES)
        assert batch.shape == (len(SENTENCES), HIDDEN)
        np.testing.assert_allclose(batch[0], model.encode(SENTENCES[0]), atol=1e-5)

    def test_empty_list(self, model):
        out = model.encode([])
        assert isinstance(out, np.ndarray)
        assert out.shape == (0, HIDDEN)
        assert model.encode([], truncate_dim=8).shape == (0, 8)

    def test_empty_string_is_allowed(self, model, raw_model):
        vec = model.encode("")
        assert vec.shape == (HIDDEN,)
        assert np.all(np.isfinite(vec))
        # It embeds as the special tokens alone: [CLS] [SEP].
        (tokens,) = token_embeddings(raw_model, [""])
        assert tokens.shape == (2, HIDDEN)
        np.testing.assert_allclose(raw_model.encode(""), tokens.mean(0), atol=1e-5)

    def test_non_str_item_names_index_and_type(self, model):
        with pytest.raises(TypeError, match=r"index 2.*int"):
            model.encode(["a", "b", 3])
        with pytest.raises(TypeError, match=r"index 0.*NoneType"):
            model.encode([None])

    def test_non_iterable_input(self, model):
        with pytest.raises(TypeError, match="takes a str or an iterable of str, got int"):
            model.encode(42)

    def test_unknown_keyword_lists_valid_keywords(self, model):
        with pytest.raises(TypeError, match="normalise_embeddings") as exc:
            model.encode("a", normalise_embeddings=True)
        for keyword in ENCODE_KEYWORDS:
            assert keyword in str(exc.value)

    @pytest.mark.parametrize("batch_size", [0, -1, 2.5])
    def test_bad_batch_size(self, model, batch_size):
        with pytest.raises(ValueError, match="batch_size"):
            model.encode(["a"], batch_size=batch_size)


class TestBatching:
    def test_batch_size_does_not_change_results(self, model):
        one = model.encode(SENTENCES, batch_size=1)
        many = model.encode(SENTENCES, batch_size=64)
        assert np.abs(one - many).max() <= 1e-5

    def test_order_is_restored(self, raw_model):
        # Lengths differ, so length-sorted batching reorders internally; the output must follow the input.
        texts = [*SENTENCES, *reversed(SENTENCES)]
        batch = raw_model.encode(texts, batch_size=3)
        alone = np.stack([raw_model.encode(t) for t in texts])
        np.testing.assert_allclose(batch, alone, atol=1e-5)
        distinct = raw_model.encode(SENTENCES)
        assert not np.allclose(distinct[0], distinct[1], atol=1e-3)

    def test_generator_input(self, model):
        expected = model.encode(SENTENCES)
        np.testing.assert_allclose(model.encode(s for s in SENTENCES), expected, atol=1e-6)
        np.testing.assert_allclose(model.encode(tuple(SENTENCES)), expected, atol=1e-6)


class TestConversion:
    def test_convert_to_tensor(self, model):
        out = model.encode(SENTENCES, convert_to_tensor=True)
        assert isinstance(out, torch.Tensor)
        assert tuple(out.shape) == (len(SENTENCES), HIDDEN)
        np.testing.assert_allclose(out.cpu().numpy(), model.encode(SENTENCES), atol=1e-6)
        single = model.encode("hello world", convert_to_tensor=True)
        assert isinstance(single, torch.Tensor)
        assert tuple(single.shape) == (HIDDEN,)

    def test_convert_to_numpy_false_gives_list(self, model):
        out = model.encode(SENTENCES, convert_to_numpy=False)
        assert isinstance(out, list)
        assert len(out) == len(SENTENCES)
        np.testing.assert_allclose(np.stack([np.asarray(v) for v in out]), model.encode(SENTENCES), atol=1e-6)

    def test_normalize_embeddings(self, raw_model):
        raw = raw_model.encode(SENTENCES)
        norms = np.linalg.norm(raw, axis=1)
        assert not np.allclose(norms, 1.0, atol=1e-2)  # the fixture really is unnormalized
        unit = raw_model.encode(SENTENCES, normalize_embeddings=True)
        np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(unit, raw / norms[:, None], atol=1e-5)
        tensor = raw_model.encode(SENTENCES, normalize_embeddings=True, convert_to_tensor=True)
        np.testing.assert_allclose(tensor.norm(dim=1).numpy(), 1.0, atol=1e-5)

    def test_normalize_module_gives_unit_vectors(self, model):
        np.testing.assert_allclose(np.linalg.norm(model.encode(SENTENCES), axis=1), 1.0, atol=1e-5)

    def test_truncate_dim(self, raw_model, model_dir):
        full = raw_model.encode(SENTENCES)
        cut = raw_model.encode(SENTENCES, truncate_dim=8)
        assert cut.shape == (len(SENTENCES), 8)
        np.testing.assert_allclose(cut, full[:, :8], atol=1e-6)
        # truncate, then normalize (the reference library's order)
        cut_unit = raw_model.encode(SENTENCES, truncate_dim=8, normalize_embeddings=True)
        np.testing.assert_allclose(
            cut_unit, full[:, :8] / np.linalg.norm(full[:, :8], axis=1, keepdims=True), atol=1e-5
        )
        # the load-time default
        encoder = _load(model_dir, truncate_dim=8)
        assert encoder.dimension == 8
        assert encoder.encode("hello world").shape == (8,)


class TestPrompts:
    def test_prompt_equals_prepended_text(self, model):
        texts = ["the cat sleeps", "hello world"]
        prepended = model.encode(["query: " + t for t in texts])
        np.testing.assert_allclose(model.encode(texts, prompt="query: "), prepended, atol=1e-5)
        np.testing.assert_allclose(model.encode(texts, prompt_name="query"), prepended, atol=1e-5)
        assert not np.allclose(model.encode(texts), prepended, atol=1e-3)

    def test_unknown_prompt_name(self, model):
        with pytest.raises(ValueError, match="passage") as exc:
            model.encode("a", prompt_name="passage")
        assert "query" in str(exc.value)

    def test_prompts_property(self, model):
        assert model.prompts == PROMPTS

    def test_default_prompt_name_is_applied(self, make_model, model):
        encoder = _load(make_model(default_prompt_name="query"))
        np.testing.assert_allclose(encoder.encode("hello world"), model.encode("query: hello world"), atol=1e-5)
        # an explicit prompt wins over the default
        np.testing.assert_allclose(encoder.encode("hello world", prompt=""), model.encode("hello world"), atol=1e-5)


class TestPrecision:
    @pytest.mark.parametrize(
        ("precision", "dtype", "width"),
        [
            ("int8", np.int8, HIDDEN),
            ("uint8", np.uint8, HIDDEN),
            ("binary", np.int8, HIDDEN // 8),
            ("ubinary", np.uint8, HIDDEN // 8),
        ],
    )
    def test_shapes_and_dtypes(self, model, precision, dtype, width):
        out = model.encode(SENTENCES, precision=precision)
        assert out.dtype == dtype
        assert out.shape == (len(SENTENCES), width)
        single = model.encode("hello world", precision=precision)
        assert single.shape == (width,)
        assert single.dtype == dtype

    def test_binary_codes(self, model):
        floats = model.encode(SENTENCES)
        packed = np.packbits(floats > 0, axis=1)
        np.testing.assert_array_equal(model.encode(SENTENCES, precision="ubinary"), packed)
        np.testing.assert_array_equal(
            model.encode(SENTENCES, precision="binary"), (packed.astype(np.int16) - 128).astype(np.int8)
        )

    def test_int8_of_unit_vectors_uses_fixed_range(self, model):
        floats = model.encode(SENTENCES)
        codes = model.encode(SENTENCES, precision="uint8").astype(np.int64)
        # 256 levels over [-1, 1]: each code decodes to within half a step of the float
        decoded = -1.0 + codes * (2.0 / 255.0)
        assert np.abs(decoded - floats).max() <= (1.0 / 255.0) + 1e-6
        int8 = model.encode(SENTENCES, precision="int8").astype(np.int64)
        np.testing.assert_array_equal(int8, codes - 128)

    def test_int8_of_unnormalized_needs_ranges(self, raw_model):
        with pytest.raises(ValueError, match="quantization_ranges"):
            raw_model.encode(SENTENCES, precision="int8")
        floats = raw_model.encode(SENTENCES)
        ranges = np.stack([floats.min(0), floats.max(0)])
        codes = raw_model.encode(SENTENCES, precision="uint8", quantization_ranges=ranges)
        assert codes.min() == 0
        assert codes.max() == 255

    def test_unknown_precision(self, model):
        with pytest.raises(ValueError, match="float8"):
            model.encode("a", precision="float8")

    def test_empty_list_quantized(self, model):
        # an empty input must not need calibration ranges any more than a non-empty one does
        out = model.encode([], precision="int8")
        assert out.shape == (0, HIDDEN)
        assert out.dtype == np.int8


class TestTruncation:
    def test_report(self, model, raw_tokenizer):
        texts = ["hello world", LONG, MEDIUM, LONG + " " + LONG]
        emb, info = model.encode(texts, return_info=True)
        assert emb.shape == (len(texts), HIDDEN)
        full_counts = [len(raw_tokenizer.encode(t).ids) for t in texts]
        assert full_counts[1] > MAX_SEQ_LENGTH  # the fixture really overflows
        np.testing.assert_array_equal(info.token_counts, full_counts)
        np.testing.assert_array_equal(info.truncated, [c > MAX_SEQ_LENGTH for c in full_counts])
        assert info.n_truncated == 2
        assert info.truncated_indices == [1, 3]
        assert info.max_seq_length == MAX_SEQ_LENGTH
        assert info.total_tokens == sum(min(c, MAX_SEQ_LENGTH) for c in full_counts)

    def test_single_string_report(self, model, raw_tokenizer):
        vec, info = model.encode(LONG, return_info=True)
        assert vec.shape == (HIDDEN,)
        assert info.token_counts.tolist() == [len(raw_tokenizer.encode(LONG).ids)]
        assert info.truncated.tolist() == [True]

    def test_truncated_text_embeds_as_its_first_tokens(self, raw_model):
        # max_seq_length 16 keeps [CLS] + 14 words + [SEP]
        words = LONG.split()
        np.testing.assert_allclose(raw_model.encode(LONG), raw_model.encode(" ".join(words[:14])), atol=1e-5)

    def test_one_warning_naming_the_count(self, model, caplog):
        texts = [LONG, "hello", LONG, MEDIUM, LONG]
        with caplog.at_level(logging.WARNING, logger="sentvec"):
            model.encode(texts, batch_size=2)
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1
        message = warnings[0].getMessage()
        assert "3 of 5" in message
        assert str(MAX_SEQ_LENGTH) in message

    def test_no_warning_without_truncation(self, model, caplog):
        with caplog.at_level(logging.WARNING, logger="sentvec"):
            _, info = model.encode(SENTENCES, return_info=True)
        assert info.n_truncated == 0
        assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []

    def test_max_seq_length_setter(self, model_dir, raw_model, tmp_path, caplog):
        encoder = _load(model_dir)
        _, before = encoder.encode([MEDIUM], return_info=True)
        assert before.truncated.tolist() == [False]
        encoder.max_seq_length = 8
        assert encoder.max_seq_length == 8
        with caplog.at_level(logging.WARNING, logger="sentvec"):
            emb, after = encoder.encode([MEDIUM], return_info=True)
        assert after.truncated.tolist() == [True]
        assert after.max_seq_length == 8
        assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1
        # [CLS] + 6 words + [SEP]
        expected = raw_model.encode(" ".join(MEDIUM.split()[:6]), normalize_embeddings=True)
        np.testing.assert_allclose(emb[0], expected, atol=1e-5)
        # the new length is saved
        encoder.save(tmp_path / "saved")
        assert _load(tmp_path / "saved").max_seq_length == 8

    def test_load_max_seq_length(self, model_dir):
        encoder = _load(model_dir, max_seq_length=8)
        assert encoder.max_seq_length == 8
        _, info = encoder.encode([MEDIUM, "hello"], return_info=True)
        assert info.truncated.tolist() == [True, False]


class TestSaveLoad:
    def test_round_trip_identical(self, model, tmp_path):
        model.save(tmp_path / "saved")
        reloaded = _load(tmp_path / "saved")
        np.testing.assert_allclose(reloaded.encode(SENTENCES), model.encode(SENTENCES), atol=1e-6)
        assert reloaded.max_seq_length == model.max_seq_length
        assert reloaded.dimension == model.dimension

    def test_saved_files(self, model, tmp_path):
        root = tmp_path / "saved"
        model.save(root)
        for name in ("modules.json", "tokenizer.json", "config_sentence_transformers.json", "config.json"):
            assert (root / name).is_file(), name
        modules = json.loads((root / "modules.json").read_text())
        assert [m["type"].rsplit(".", 1)[1] for m in modules] == ["Transformer", "Pooling", "Normalize"]
        assert modules[0]["path"] == ""
        config = json.loads((root / "config_sentence_transformers.json").read_text())
        assert config["prompts"] == PROMPTS
        assert config["similarity_fn_name"] == "cosine"
        sbert = json.loads((root / "sentence_bert_config.json").read_text())
        assert sbert["max_seq_length"] == MAX_SEQ_LENGTH
        reloaded = _load(root)
        assert reloaded.prompts == PROMPTS
        np.testing.assert_allclose(
            reloaded.encode("hello world", prompt_name="query"), model.encode("query: hello world"), atol=1e-5
        )

    def test_dense_matches_numpy_and_round_trips(self, make_model, base_files, tmp_path):
        from safetensors.numpy import load_file

        encoder = _load(make_model(dense=True, normalize=False))
        assert encoder.dimension == 16
        weights = load_file(str(base_files / "dense.safetensors"))
        pooled = np.stack([t.mean(0) for t in token_embeddings(encoder, SENTENCES)])
        expected = np.tanh(pooled @ weights["linear.weight"].T.astype(np.float64) + weights["linear.bias"])
        got = encoder.encode(SENTENCES)
        assert got.shape == (len(SENTENCES), 16)
        np.testing.assert_allclose(got, expected, atol=1e-5)
        encoder.save(tmp_path / "saved")
        dense_dir = tmp_path / "saved" / "2_Dense"
        assert set(load_file(str(dense_dir / "model.safetensors"))) == {"linear.weight", "linear.bias"}
        np.testing.assert_allclose(_load(tmp_path / "saved").encode(SENTENCES), got, atol=1e-6)

    def test_plain_folder_saves_as_sentence_transformers(self, make_model, tmp_path):
        encoder = _load(make_model(plain_hf=True), pooling="cls")
        encoder.save(tmp_path / "saved")
        assert (tmp_path / "saved" / "modules.json").is_file()
        reloaded = _load(tmp_path / "saved")
        np.testing.assert_allclose(reloaded.encode(SENTENCES), encoder.encode(SENTENCES), atol=1e-6)

    def test_save_into_own_folder(self, make_model):
        folder = make_model(dense=True)
        encoder = _load(folder)
        expected = encoder.encode(SENTENCES)
        encoder.save(folder)
        np.testing.assert_allclose(_load(folder).encode(SENTENCES), expected, atol=1e-6)


class TestSimilarityFunction:
    def test_cosine_default(self, model, raw_model):
        a = raw_model.encode(SENTENCES[:3])
        b = raw_model.encode(SENTENCES[3:])
        expected = (a / np.linalg.norm(a, axis=1, keepdims=True)) @ (b / np.linalg.norm(b, axis=1, keepdims=True)).T
        assert raw_model.similarity_fn.value == "cosine"
        np.testing.assert_allclose(raw_model.similarity(a, b), expected, atol=1e-5)

    def test_dot_from_config(self, make_model, tmp_path):
        encoder = _load(make_model(similarity="dot", normalize=False))
        assert encoder.similarity_fn is sentvec.SimilarityFunction.DOT
        a = encoder.encode(SENTENCES[:3])
        b = encoder.encode(SENTENCES[3:])
        np.testing.assert_allclose(encoder.similarity(a, b), a.astype(np.float64) @ b.T, rtol=1e-5, atol=1e-5)
        pairs = encoder.similarity_pairwise(a, b[:3])
        np.testing.assert_allclose(pairs, np.einsum("ij,ij->i", a, b[:3]), rtol=1e-5, atol=1e-5)
        # not cosine: the vectors are not unit length
        assert not np.allclose(encoder.similarity(a, b), sentvec.SimilarityFunction.COSINE.matrix(a, b), atol=1e-3)
        # and the choice survives save/load
        encoder.save(tmp_path / "saved")
        config = json.loads((tmp_path / "saved" / "config_sentence_transformers.json").read_text())
        assert config["similarity_fn_name"] == "dot"
        assert _load(tmp_path / "saved").similarity_fn is sentvec.SimilarityFunction.DOT

    def test_unknown_similarity_in_config(self, make_model):
        from sentvec.errors import ModelFormatError

        with pytest.raises(ModelFormatError, match=r"config_sentence_transformers\.json"):
            _load(make_model(similarity="jaccard"))


def test_tokenize_matches_tokenizers(model, raw_tokenizer):
    tokenized = model.tokenize(SENTENCES)
    for ids, text in zip(tokenized.ids, SENTENCES, strict=True):
        assert ids.tolist() == raw_tokenizer.encode(text).ids
    assert model.tokenizer.vocab_size == len(VOCAB)


def test_info(model):
    info = model.info()
    assert info.dimension == HIDDEN
    assert info.max_seq_length == MAX_SEQ_LENGTH
    assert info.similarity_fn == "cosine"
    assert info.backend.modules == ("Transformer", "Pooling", "Normalize")


class TestPortingNames:
    """sentence-transformers' accessor names on the encoder."""

    def test_dimension_and_length_aliases(self, model):
        assert model.get_embedding_dimension() == model.get_sentence_embedding_dimension() == HIDDEN
        assert model.get_max_seq_length() == MAX_SEQ_LENGTH

    def test_similarity_fn_name_is_settable(self, model_dir):
        model = _load(model_dir)
        a = model.encode(["the cat", "a dog runs"])
        assert model.similarity_fn_name == "cosine"
        model.similarity_fn_name = "dot"
        assert model.similarity_fn_name == "dot"
        np.testing.assert_allclose(model.similarity(a, a), a @ a.T, rtol=1e-6)
        with pytest.raises(ValueError, match="unknown similarity function 'jaccard'"):
            model.similarity_fn_name = "jaccard"


class TestModelCard:
    def test_save_writes_a_card_with_the_facts(self, model, tmp_path):
        model.save(tmp_path / "m")
        card = (tmp_path / "m" / "README.md").read_text()
        assert f"| dimension | {HIDDEN} |" in card
        assert f"| max sequence length | {MAX_SEQ_LENGTH} tokens" in card
        assert "Transformer → Pooling → Normalize" in card
        assert "`query`: 'query: '" in card

    def test_an_existing_card_is_kept_unless_replaced(self, model, tmp_path):
        folder = tmp_path / "m"
        folder.mkdir()
        (folder / "README.md").write_text("my own card\n")
        model.save(folder)
        assert (folder / "README.md").read_text() == "my own card\n"
        model.save(folder, replace_card=True)
        assert "| dimension |" in (folder / "README.md").read_text()
        model.save(tmp_path / "nocard", model_card=False)
        assert not (tmp_path / "nocard" / "README.md").exists()


def test_a_lone_surrogate_is_named_by_index(model):
    with pytest.raises(ValueError, match=r"input at index 1 is not valid Unicode \(surrogates not allowed"):
        model.encode(["fine", "bad \ud800 text"])
