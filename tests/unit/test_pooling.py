"""Pooling modes checked against hand-written numpy loops over the model's own token embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _tiny_model import HIDDEN, PROMPTS, SENTENCES, token_embeddings

import sentvec


def _np_pool(mode: str, tokens: np.ndarray, start: int = 0) -> np.ndarray:
    """One mode over the unpadded token embeddings (L, H) of one text, written out by hand.

    Positions before ``start`` (prompt tokens) are left out; weighted mean keeps each token's absolute
    position (1-based) as its weight, as sentence-transformers does.
    """
    length, hidden = tokens.shape
    out = np.zeros(hidden)
    if mode == "cls":
        return tokens[start].copy()
    if mode == "lasttoken":
        return tokens[length - 1].copy()
    if mode == "max":
        out[:] = -np.inf
        for t in range(start, length):
            out = np.maximum(out, tokens[t])
        return out
    if mode in ("mean", "mean_sqrt_len_tokens"):
        for t in range(start, length):
            out += tokens[t]
        count = length - start
        return out / (count if mode == "mean" else np.sqrt(count))
    if mode == "weightedmean":
        weight_sum = 0.0
        for t in range(start, length):
            out += (t + 1) * tokens[t]
            weight_sum += t + 1
        return out / weight_sum
    raise AssertionError(mode)


def _load(folder: Path, **kwargs: object) -> sentvec.SentenceEncoder:
    return sentvec.load(str(folder), device="cpu", **kwargs)


SINGLE_MODES = ["mean", "max", "cls", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"]


@pytest.mark.parametrize("mode", SINGLE_MODES)
def test_single_mode_matches_numpy(make_model, mode):
    encoder = _load(make_model(pooling=(mode,), normalize=False))
    tokens = token_embeddings(encoder, SENTENCES)
    expected = np.stack([_np_pool(mode, t) for t in tokens])
    got = encoder.encode(SENTENCES, batch_size=3)
    assert got.shape == (len(SENTENCES), HIDDEN)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)


def test_token_embeddings_are_unpadded(model, raw_tokenizer):
    tokens = model.encode(SENTENCES, output_value="token_embeddings")
    assert isinstance(tokens, list)
    assert [t.shape for t in tokens] == [(len(raw_tokenizer.encode(s).ids), HIDDEN) for s in SENTENCES]


def test_legacy_multi_mode_concatenates_in_sentence_transformers_order(make_model):
    # sentence-transformers concatenates enabled legacy booleans as cls, max, mean, mean_sqrt_len,
    # weightedmean, lasttoken (its _LEGACY_POOLING_MODE_KWARGS order); a legacy folder must embed the same.
    modes = ("cls", "max", "mean")
    encoder = _load(make_model(pooling=modes, normalize=False))
    tokens = token_embeddings(encoder, SENTENCES)
    expected = np.stack([np.concatenate([_np_pool(m, t) for m in modes]) for t in tokens])
    got = encoder.encode(SENTENCES)
    assert got.shape == (len(SENTENCES), 3 * HIDDEN)
    assert encoder.dimension == 3 * HIDDEN
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "modes", [["mean", "max"], ["max", "mean"], ["lasttoken", "cls", "weightedmean"]], ids="+".join
)
def test_new_json_multi_mode_concatenates_in_listed_order(make_model, modes):
    encoder = _load(make_model(pooling={"embedding_dimension": HIDDEN, "pooling_mode": modes}, normalize=False))
    tokens = token_embeddings(encoder, SENTENCES)
    expected = np.stack([np.concatenate([_np_pool(m, t) for m in modes]) for t in tokens])
    np.testing.assert_allclose(encoder.encode(SENTENCES), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("modes", [["mean", "max"], ["max", "mean"]], ids="+".join)
def test_multi_mode_survives_save_and_load(make_model, tmp_path, modes):
    encoder = _load(make_model(pooling={"embedding_dimension": HIDDEN, "pooling_mode": modes}, normalize=False))
    encoder.save(tmp_path / "saved")
    reloaded = _load(tmp_path / "saved")
    np.testing.assert_allclose(reloaded.encode(SENTENCES), encoder.encode(SENTENCES), atol=1e-6)


@pytest.mark.parametrize("mode", ["mean", "max", "cls", "weightedmean", "lasttoken"])
def test_include_prompt_false_pools_only_text_tokens(make_model, raw_tokenizer, mode):
    prompt = PROMPTS["query"]
    encoder = _load(make_model(pooling=(mode,), include_prompt=False, normalize=False))
    # Prompt tokens: [CLS] + the prompt's words (its trailing [SEP] excluded), counted by tokenizers itself.
    n_prompt = len(raw_tokenizer.encode(prompt).ids) - 1
    assert n_prompt == 3  # [CLS] query :
    texts = [s for s in SENTENCES if s]
    tokens = token_embeddings(encoder, [prompt + s for s in texts])
    expected = np.stack([_np_pool(mode, t, start=n_prompt) for t in tokens])
    got = encoder.encode(texts, prompt_name="query")
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)
    if mode == "lasttoken":  # the last token is never a prompt token: nothing to tell apart
        return
    with_prompt = _load(make_model(pooling=(mode,), include_prompt=True, normalize=False))
    assert not np.allclose(with_prompt.encode(texts, prompt_name="query"), got, atol=1e-4)


def test_plain_folder_pooling_argument(make_model):
    folder = make_model(plain_hf=True)
    mean_encoder = _load(folder)
    tokens = token_embeddings(mean_encoder, SENTENCES)
    np.testing.assert_allclose(
        mean_encoder.encode(SENTENCES), np.stack([_np_pool("mean", t) for t in tokens]), atol=1e-5, rtol=1e-5
    )
    cls_encoder = _load(folder, pooling="cls")
    np.testing.assert_allclose(cls_encoder.encode(SENTENCES), np.stack([t[0] for t in tokens]), atol=1e-5, rtol=1e-5)


class TestPoolingMode:
    @pytest.mark.parametrize(
        ("alias", "value"),
        [
            ("mean", "mean"),
            ("MEAN", "mean"),
            ("mean_tokens", "mean"),
            ("max_tokens", "max"),
            ("cls_token", "cls"),
            ("mean_sqrt_len", "mean_sqrt_len_tokens"),
            ("mean-sqrt-len-tokens", "mean_sqrt_len_tokens"),
            ("weighted_mean", "weightedmean"),
            ("weightedmean_tokens", "weightedmean"),
            ("last_token", "lasttoken"),
            ("last-token", "lasttoken"),
        ],
    )
    def test_parse_aliases(self, alias, value):
        from sentvec.modules.pooling import PoolingMode

        assert PoolingMode.parse(alias) is PoolingMode(value)

    def test_parse_member_is_identity(self):
        from sentvec.modules.pooling import PoolingMode

        assert PoolingMode.parse(PoolingMode.MAX) is PoolingMode.MAX

    def test_parse_unknown_lists_valid(self):
        from sentvec.modules.pooling import PoolingMode

        with pytest.raises(ValueError, match="median") as exc:
            PoolingMode.parse("median")
        for mode in PoolingMode:
            assert mode.value in str(exc.value)


class TestPoolingConfig:
    def test_legacy_json(self, tmp_path):
        from sentvec.modules.pooling import PoolingConfig, PoolingMode

        data = {
            "word_embedding_dimension": 8,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        }
        config = PoolingConfig.from_json(data, tmp_path / "config.json")
        assert config.modes == (PoolingMode.MEAN,)
        assert config.dimension == 8
        assert config.include_prompt is True
        assert config.output_dimension == 8

    @pytest.mark.parametrize(
        ("raw", "modes"),
        [
            ("lasttoken", ("lasttoken",)),
            (["mean"], ("mean",)),
            (["weightedmean", "cls"], ("weightedmean", "cls")),
        ],
    )
    def test_new_json(self, tmp_path, raw, modes):
        from sentvec.modules.pooling import PoolingConfig, PoolingMode

        data = {"embedding_dimension": 16, "pooling_mode": raw, "include_prompt": False}
        config = PoolingConfig.from_json(data, tmp_path / "config.json")
        assert config.modes == tuple(PoolingMode(m) for m in modes)
        assert config.include_prompt is False
        assert config.output_dimension == 16 * len(modes)

    @pytest.mark.parametrize(
        "modes",
        [
            ("mean",),
            ("cls",),
            ("lasttoken",),
            ("cls", "max", "mean"),  # sentence-transformers' canonical concatenation order
            ("mean_sqrt_len_tokens", "weightedmean"),
        ],
        ids="+".join,
    )
    @pytest.mark.parametrize("include_prompt", [True, False])
    def test_round_trip(self, tmp_path, modes, include_prompt):
        from sentvec.modules.pooling import PoolingConfig, PoolingMode

        config = PoolingConfig(dimension=12, modes=tuple(PoolingMode(m) for m in modes), include_prompt=include_prompt)
        again = PoolingConfig.from_json(config.to_json(), tmp_path / "config.json")
        assert again == config

    def test_to_json_is_classic_form(self):
        from sentvec.modules.pooling import PoolingConfig, PoolingMode

        data = PoolingConfig(dimension=12, modes=(PoolingMode.MAX,)).to_json()
        assert data["word_embedding_dimension"] == 12
        assert data["pooling_mode_max_tokens"] is True
        assert data["pooling_mode_mean_tokens"] is False

    @pytest.mark.parametrize(
        ("data", "needle"),
        [
            ({"pooling_mode_mean_tokens": True}, "word_embedding_dimension"),
            ({"word_embedding_dimension": 8, "pooling_mode_mean_tokens": False}, "no pooling mode"),
            ({"word_embedding_dimension": 8, "pooling_mode": "median"}, "median"),
        ],
    )
    def test_invalid(self, tmp_path, data, needle):
        from sentvec.errors import ModelFormatError
        from sentvec.modules.pooling import PoolingConfig

        source = tmp_path / "1_Pooling" / "config.json"
        with pytest.raises(ModelFormatError, match=needle) as exc:
            PoolingConfig.from_json(data, source)
        assert str(source) in str(exc.value)
