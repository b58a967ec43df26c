"""STS evaluation: correlations against scipy, loaders and their errors, the evaluator on a fake model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sentvec.errors import DataFormatError
from sentvec.evaluation import EvaluationResult, SimilarityEvaluator, load_scored_pairs, pearson, spearman
from sentvec.similarity import SimilarityFunction

stats = pytest.importorskip("scipy.stats")


def test_spearman_and_pearson_match_scipy_with_ties():
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    y = np.round(x + rng.normal(size=300), 0)  # many ties
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    assert pearson(x, y) == pytest.approx(stats.pearsonr(x, y).statistic, abs=1e-12)


def test_headerless_csv_and_headed_tsv_and_jsonl(tmp_path):
    (tmp_path / "a.csv").write_text('a,b,1.5\n"x, y",z,4\n', encoding="utf-8")
    (tmp_path / "b.tsv").write_text("score\ts1\ts2\n2\tq\tr\n", encoding="utf-8")
    (tmp_path / "c.jsonl").write_text(json.dumps({"s1": "u", "s2": "v", "label": 0.5}) + "\n", encoding="utf-8")
    a = load_scored_pairs(tmp_path / "a.csv")
    assert (a.sentences1, a.sentences2, a.scores) == (["a", "x, y"], ["b", "z"], [1.5, 4.0])
    b = load_scored_pairs(tmp_path / "b.tsv", columns=["s1", "s2", "score"])
    assert (b.sentences1, b.sentences2, b.scores) == (["q"], ["r"], [2.0])
    c = load_scored_pairs(tmp_path / "c.jsonl", columns=["s1", "s2", "label"])
    assert (c.sentences1, c.sentences2, c.scores) == (["u"], ["v"], [0.5])


@pytest.mark.parametrize(
    ("name", "content", "line", "field"),
    [
        ("bad.csv", "a,b,1\nc,d\n", 2, "score"),
        ("bad2.csv", "a,b,1\nc,d,abc\n", 2, "score"),
        (
            "bad.jsonl",
            '{"sentence1": "a", "sentence2": "b", "score": 1}\n{"sentence1": "a", "score": 1}\n',
            2,
            "sentence2",
        ),
        ("bad2.jsonl", '{"sentence1": "a", "sentence2": "b", "score": 1}\n{not json\n', 2, None),
        ("bad3.jsonl", '{"sentence1": 5, "sentence2": "b", "score": 1}\n', 1, "sentence1"),
        ("bad.tsv", "sentence1\tsentence2\tgold\n", 1, "score"),
    ],
)
def test_bad_rows_name_file_line_and_field(tmp_path, name, content, line, field):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataFormatError) as err:
        load_scored_pairs(path)
    assert err.value.source == str(path)
    assert err.value.line == line
    assert err.value.field == field
    assert str(path) in str(err.value)


class _FakeModel:
    """Embeds a text as a fixed vector keyed by its first character (no model needed)."""

    similarity_fn = SimilarityFunction.COSINE

    def __init__(self):
        self.calls = []

    def encode(self, texts, **kwargs):
        self.calls.append(list(texts))
        table = {"a": [1.0, 0.0], "b": [0.8, 0.6], "c": [0.0, 1.0], "d": [-1.0, 0.1]}
        return np.array([table[t[0]] for t in texts], dtype=np.float32)


def test_evaluator_scores_each_pair_and_encodes_each_text_once():
    s1 = ["a1", "a1", "a1", "b1"]
    s2 = ["b2", "c2", "d2", "c2"]
    gold = [4.0, 2.0, 0.0, 3.0]
    model = _FakeModel()
    result = SimilarityEvaluator(s1, s2, gold)(model)
    assert isinstance(result, EvaluationResult)
    assert len(model.calls) == 1 and sorted(model.calls[0]) == sorted(set(s1 + s2))
    vec = {
        k: np.array(v) / np.linalg.norm(v)
        for k, v in {"a": [1, 0], "b": [0.8, 0.6], "c": [0, 1], "d": [-1, 0.1]}.items()
    }
    cos = [float(vec[x[0]] @ vec[y[0]]) for x, y in zip(s1, s2, strict=True)]
    assert result.metrics["spearman_cosine"] == pytest.approx(100 * stats.spearmanr(gold, cos).statistic)
    assert result.primary_metric == "spearman_cosine"
    assert result.primary_value == result.metrics["spearman_cosine"]
    with pytest.raises(TypeError):
        result.metrics["spearman_cosine"] = 0.0  # results are frozen


def test_evaluator_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="differ in length"):
        SimilarityEvaluator(["a", "b"], ["c"], [1.0, 2.0])
