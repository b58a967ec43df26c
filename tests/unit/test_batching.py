"""Tokenization with a truncation report, padding and length-sorted batches."""

from __future__ import annotations

import numpy as np
import pytest
from _tiny_model import SENTENCES, build_tokenizer

from sentvec.batching import EncodeInfo, TextTokenizer, Tokenized, length_sorted_batches, pad_batch

LONG = " ".join(["a quick brown fox jumps over the lazy dog"] * 5)


@pytest.fixture
def tokenizer(base_files):
    return TextTokenizer.from_folder(base_files, max_seq_length=16)


def _tokenized(lengths: list[int]) -> Tokenized:
    ids = [np.arange(100 + 10 * i, 100 + 10 * i + n, dtype=np.int64) for i, n in enumerate(lengths)]
    counts = np.array(lengths, dtype=np.int64)
    info = EncodeInfo(token_counts=counts, truncated=np.zeros(len(lengths), bool), max_seq_length=512)
    return Tokenized(ids=ids, lengths=counts, info=info)


class TestTextTokenizer:
    def test_ids_match_tokenizers(self, tokenizer, raw_tokenizer):
        tokenized = tokenizer.tokenize(SENTENCES)
        for ids, length, text in zip(tokenized.ids, tokenized.lengths, SENTENCES, strict=True):
            expected = raw_tokenizer.encode(text).ids
            assert ids.tolist() == expected
            assert length == len(expected)
        assert tokenizer.pad_id == raw_tokenizer.token_to_id("[PAD]")

    def test_truncation_report(self, tokenizer, raw_tokenizer):
        texts = ["hello", LONG, "the cat", LONG + " " + LONG]
        tokenized = tokenizer.tokenize(texts)
        full = [len(raw_tokenizer.encode(t).ids) for t in texts]
        np.testing.assert_array_equal(tokenized.info.token_counts, full)
        np.testing.assert_array_equal(tokenized.lengths, np.minimum(full, 16))
        assert tokenized.info.truncated_indices == [1, 3]
        sep, cls = raw_tokenizer.token_to_id("[SEP]"), raw_tokenizer.token_to_id("[CLS]")
        kept = tokenized.ids[1]
        # the truncated input keeps its first tokens and still ends with [SEP]
        assert kept.tolist() == [*raw_tokenizer.encode(LONG).ids[:15], sep]
        assert kept[0] == cls

    def test_count_tokens(self, tokenizer, raw_tokenizer):
        assert tokenizer.count_tokens(LONG) == len(raw_tokenizer.encode(LONG).ids)
        assert tokenizer.count_tokens("") == 2

    def test_set_max_seq_length(self, tokenizer, raw_tokenizer):
        tokenizer.set_max_seq_length(6)
        tokenized = tokenizer.tokenize(["the cat sleeps", "the big red dog runs"])
        assert tokenized.lengths.tolist() == [5, 6]
        assert tokenized.info.truncated.tolist() == [False, True]
        assert tokenized.info.token_counts.tolist() == [5, 7]
        assert tokenized.info.max_seq_length == 6

    def test_do_lower_case(self, tmp_path, raw_tokenizer):
        build_tokenizer(tmp_path / "tokenizer.json", lowercase=False)  # a cased tokenizer: "The" is unknown
        cased = TextTokenizer.from_folder(tmp_path, 16)
        lowered = TextTokenizer.from_folder(tmp_path, 16, do_lower_case=True)
        unk = raw_tokenizer.token_to_id("[UNK]")
        assert cased.tokenize(["The CAT"]).ids[0].tolist()[1:3] == [unk, unk]
        assert lowered.tokenize(["The CAT"]).ids[0].tolist() == raw_tokenizer.encode("the cat").ids


class TestEncodeInfo:
    def test_properties(self):
        info = EncodeInfo(
            token_counts=np.array([3, 20, 16, 40]), truncated=np.array([False, True, False, True]), max_seq_length=16
        )
        assert info.n_truncated == 2
        assert info.truncated_indices == [1, 3]
        assert info.total_tokens == 3 + 16 + 16 + 16


class TestPadBatch:
    def test_right_padding(self):
        seqs = [np.array([5, 6, 7]), np.array([8]), np.array([9, 10])]
        batch = pad_batch(seqs, np.array([4, 0, 2]), pad_id=1)
        assert batch.input_ids.tolist() == [[5, 6, 7], [8, 1, 1], [9, 10, 1]]
        assert batch.attention_mask.tolist() == [[1, 1, 1], [1, 0, 0], [1, 1, 0]]
        assert batch.token_type_ids.tolist() == [[0, 0, 0]] * 3
        assert batch.rows.tolist() == [4, 0, 2]
        assert batch.input_ids.dtype == np.int64

    def test_empty(self):
        batch = pad_batch([], np.array([], dtype=np.int64))
        assert batch.input_ids.shape == (0, 0)


class TestLengthSortedBatches:
    def test_covers_every_row_once_longest_first(self):
        lengths = [3, 9, 1, 9, 5, 2, 7]
        tokenized = _tokenized(lengths)
        batches = list(length_sorted_batches(tokenized, batch_size=3, pad_id=0))
        assert [len(b.rows) for b in batches] == [3, 3, 1]
        rows = np.concatenate([b.rows for b in batches])
        assert sorted(rows.tolist()) == list(range(len(lengths)))
        assert [lengths[r] for r in rows] == sorted(lengths, reverse=True)
        assert rows[:2].tolist() == [1, 3]  # ties keep input order
        for batch in batches:
            assert batch.input_ids.shape[1] == max(lengths[r] for r in batch.rows)
            for j, r in enumerate(batch.rows):
                n = lengths[r]
                assert batch.input_ids[j, :n].tolist() == tokenized.ids[r].tolist()
                assert batch.attention_mask[j].sum() == n
                assert np.all(batch.input_ids[j, n:] == 0)

    def test_empty(self):
        assert list(length_sorted_batches(_tokenized([]), batch_size=4)) == []

    def test_bad_batch_size(self):
        with pytest.raises(ValueError, match="batch_size"):
            list(length_sorted_batches(_tokenized([1, 2]), batch_size=0))


def test_token_budget_bounds_padded_tokens_and_keeps_every_row(model):
    from sentvec.batching import length_sorted_batches

    texts = ["word " * n for n in (1, 2, 3, 5, 8, 13, 13, 2, 1, 9, 4, 6)]
    tokenized = model.tokenizer.tokenize(texts)
    batches = list(length_sorted_batches(tokenized, batch_size=8, max_tokens=24))
    seen = sorted(int(r) for b in batches for r in b.rows)
    assert seen == list(range(len(texts)))  # none lost, none twice
    for b in batches:
        assert b.input_ids.size <= 24 or len(b.rows) == 1  # a single over-long row still runs
        assert len(b.rows) <= 8


def test_token_budget_does_not_change_embeddings(model):
    texts = ["word " * n for n in (1, 2, 3, 5, 8, 13, 13, 2, 1, 9, 4, 6)]
    a = model.encode(texts, batch_size=4)
    b = model.encode(texts, batch_size=64, max_batch_tokens=20)
    assert abs(a - b).max() <= 1e-5


def test_backend_default_token_budget_applies_unless_encode_sets_one(model, monkeypatch):
    texts = ["word " * n for n in (1, 2, 3, 5, 8, 13, 13, 2, 1, 9, 4, 6)]
    widths: list[tuple[int, int]] = []
    forward = model.backend.forward

    def counting(batch, *args, **kwargs):
        widths.append(batch.input_ids.shape)
        return forward(batch, *args, **kwargs)

    monkeypatch.setattr(model.backend, "forward", counting)
    unbounded = model.encode(texts, batch_size=64)
    assert widths == [(len(texts), widths[0][1])]  # one batch: no default budget on this backend
    widths.clear()
    monkeypatch.setattr(model.backend, "default_max_batch_tokens", 20)
    bounded = model.encode(texts, batch_size=64)
    assert len(widths) > 1 and all(rows * width <= 20 or rows == 1 for rows, width in widths)
    assert abs(unbounded - bounded).max() <= 1e-5
    widths.clear()
    model.encode(texts, batch_size=64, max_batch_tokens=10_000)  # the caller's budget wins over the default
    assert len(widths) == 1
