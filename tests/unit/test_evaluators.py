"""Evaluators: binary classification, triplet, MSE, translation, sequential, information retrieval (+ BEIR)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, average_precision_score, f1_score, precision_score, recall_score

from sentvec.errors import DataFormatError
from sentvec.evaluation import (
    BinaryClassificationEvaluator,
    EvaluationResult,
    InformationRetrievalEvaluator,
    MSEEvaluator,
    SequentialEvaluator,
    TranslationEvaluator,
    TripletEvaluator,
    load_beir,
)
from sentvec.evaluation.classification import average_precision, best_accuracy, best_f1
from sentvec.similarity import SimilarityFunction


class _Fixed:
    """A fake model: each text embeds as a fixed vector from a table; records every encode call."""

    def __init__(self, table, similarity_fn="cosine"):
        self.table = {key: np.asarray(value, dtype=np.float64) for key, value in table.items()}
        self.similarity_fn = SimilarityFunction.parse(similarity_fn)
        self.prompts = {}
        self.calls = []

    def encode(self, texts, **kwargs):
        self.calls.append((list(texts), kwargs))
        return np.stack([self.table[t] for t in texts]) if texts else np.empty((0, 2))


def _unit(degrees):
    return [math.cos(math.radians(degrees)), math.sin(math.radians(degrees))]


# --- binary classification ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_threshold_search_matches_brute_force_and_sklearn(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 60))
    labels = rng.integers(0, 2, n)
    labels[0] = 1
    scores = np.round(rng.standard_normal(n), 1)  # rounding forces ties
    candidates = [*np.unique(scores), np.inf]
    brute_acc = max(accuracy_score(labels, scores >= t) for t in candidates)
    brute_f1 = max(f1_score(labels, scores >= t, zero_division=0) for t in candidates)

    acc, acc_threshold = best_accuracy(scores, labels)
    assert acc == pytest.approx(brute_acc)
    assert accuracy_score(labels, scores >= acc_threshold) == pytest.approx(acc)

    f1, precision, recall, f1_threshold = best_f1(scores, labels)
    predicted = scores >= f1_threshold
    assert f1 == pytest.approx(brute_f1)
    assert f1_score(labels, predicted) == pytest.approx(f1)
    assert precision == pytest.approx(precision_score(labels, predicted))
    assert recall == pytest.approx(recall_score(labels, predicted))
    assert average_precision(scores, labels) == pytest.approx(average_precision_score(labels, scores))


def test_accuracy_may_predict_all_negative():
    acc, threshold = best_accuracy([0.9, 0.5, 0.4], [0, 0, 1])
    assert acc == pytest.approx(2 / 3) and threshold > 0.9


def test_binary_classification_evaluator():
    table = {"a": [1.0, 0.0], "b": [0.8, 0.6], "c": [0.0, 2.0], "d": [-1.0, 0.1], "e": [0.6, 0.8]}
    s1, s2 = ["a", "a", "a", "b", "c"], ["b", "c", "d", "e", "e"]
    labels = [1, 0, 0, 1, 1]
    model = _Fixed(table)
    result = BinaryClassificationEvaluator(s1, s2, labels, name="dup")(model)
    assert isinstance(result, EvaluationResult) and result.name == "dup"
    assert len(model.calls) == 1 and sorted(model.calls[0][0]) == sorted(table)  # each text once
    vec = {k: np.asarray(v) / np.linalg.norm(v) for k, v in table.items()}
    cosine = np.array([vec[x] @ vec[y] for x, y in zip(s1, s2, strict=True)])  # .8, 0, -.995, .96, .8
    assert result.metrics["cosine_ap"] == pytest.approx(average_precision_score(labels, cosine))
    assert result.metrics["cosine_accuracy"] == 1.0 and result.metrics["cosine_f1"] == 1.0
    assert result.metrics["cosine_f1_threshold"] == pytest.approx(0.4)  # midway between 0.8 and 0
    assert result.primary_metric == "cosine_ap" and result.greater_is_better
    for fn in ("cosine", "dot", "euclidean", "manhattan"):
        for key in ("accuracy", "accuracy_threshold", "f1", "f1_threshold", "precision", "recall", "ap"):
            assert f"{fn}_{key}" in result.metrics
    assert result.metrics["max_ap"] == max(
        result.metrics[f"{fn}_ap"] for fn in ("cosine", "dot", "euclidean", "manhattan")
    )
    only_dot = BinaryClassificationEvaluator(s1, s2, labels, similarity_fns=["dot"])(model)
    assert only_dot.primary_metric == "dot_ap" and "max_ap" not in only_dot.metrics
    with pytest.raises(ValueError, match="0 or 1"):
        BinaryClassificationEvaluator(["a"], ["b"], [2])
    with pytest.raises(ValueError, match="positive"):
        BinaryClassificationEvaluator(["a"], ["b"], [0])
    with pytest.raises(ValueError, match="similarity_fns is empty"):
        BinaryClassificationEvaluator(["a"], ["b"], [1], similarity_fns=[])
    with pytest.raises(ValueError, match=r"main similarity 'cosine' is not among the evaluated \['dot'\]"):
        TripletEvaluator(["a"], ["b"], ["c"], similarity_fns=["dot", "dot"], main_similarity="cosine")


# --- triplet, MSE, translation, sequential ------------------------------------------------------------------------


def test_triplet_evaluator():
    # anchor x; cosine prefers the aligned but short p1 over the long, off-axis n1; dot prefers n1.
    table = {"x": [1.0, 0.0], "p1": [0.5, 0.0], "n1": [3.0, 3.0], "p2": [0.0, 1.0], "n2": [0.9, 0.1], "p3": [1, 0]}
    model = _Fixed(table)
    result = TripletEvaluator(["x", "x", "x"], ["p1", "p2", "p3"], ["n1", "n2", "p3"])(model)
    # cosine: p1 (1 > .71) right, p2 (0 < .99) wrong, tie (p3 vs p3) wrong
    assert result.metrics["cosine_accuracy"] == pytest.approx(1 / 3)
    assert result.metrics["dot_accuracy"] == 0.0  # .5 < 3, 0 < .9, tie
    assert result.metrics["euclidean_accuracy"] == pytest.approx(1 / 3)  # .5 < 3.6, 1.41 > .14, tie
    assert result.metrics["max_accuracy"] == pytest.approx(1 / 3)
    assert result.primary_metric == "cosine_accuracy"
    assert TripletEvaluator(["x"], ["p1"], ["n1"])(_Fixed(table, "dot")).primary_metric == "dot_accuracy"


def test_mse_evaluator():
    teacher = _Fixed({"hello": [1.0, 2.0], "world": [0.0, 0.0]})
    evaluator = MSEEvaluator(["hello", "world"], ["hallo", "welt"], teacher)
    assert len(teacher.calls) == 1  # the teacher encodes once, at construction
    student = _Fixed({"hallo": [1.0, 0.0], "welt": [0.0, 1.0]})
    result = evaluator(student)
    assert result.metrics["mse"] == pytest.approx(100 * (0 + 4 + 0 + 1) / 4)
    assert result.primary_metric == "mse" and result.greater_is_better is False
    evaluator(student)
    assert len(teacher.calls) == 1
    with pytest.raises(ValueError, match="shape"):
        evaluator(_Fixed({"hallo": [1.0, 0.0, 0.0], "welt": [0.0, 1.0, 0.0]}))


@pytest.mark.parametrize("chunk_size", [1, 1024])
def test_translation_evaluator(chunk_size):
    table = {"s1": _unit(0), "s2": _unit(50), "s3": _unit(100), "t1": _unit(5), "t2": _unit(80), "t3": _unit(95)}
    result = TranslationEvaluator(["s1", "s2", "s3"], ["t1", "t2", "t3"], chunk_size=chunk_size)(_Fixed(table))
    # sources: s1 (0°) → t1 (5°), s2 (50°) → t2 (30° away; t1 is 45°), s3 (100°) → t3 (95°): all right.
    # targets: t1 → s1, t2 (80°) → s3 (20° away; s2 is 30°) wrong, t3 → s3.
    assert result.metrics["src2trg_accuracy"] == 1.0
    assert result.metrics["trg2src_accuracy"] == pytest.approx(2 / 3)
    assert result.primary_metric == "mean_accuracy" and result.primary_value == pytest.approx(5 / 6)


def test_sequential_evaluator():
    triplet = TripletEvaluator(["x"], ["p"], ["n"], name="tri", similarity_fns=["cosine"])
    teacher = _Fixed({"x": [1.0, 0.0]})
    mse = MSEEvaluator(["x"], ["x"], teacher, name="mse")
    model = _Fixed({"x": [1.0, 0.0], "p": [1.0, 0.1], "n": [0.0, 1.0]})
    result = SequentialEvaluator([mse, triplet])(model)
    assert dict(result.metrics) == {"mse_mse": 0.0, "tri_cosine_accuracy": 1.0, "combined": 1.0}
    assert result.primary_metric == "combined" and result.greater_is_better  # the last evaluator's direction
    mean = SequentialEvaluator([triplet, triplet.__class__(["x"], ["n"], ["p"], name="t2")], lambda s: sum(s) / 2)
    assert mean(model).primary_value == 0.5
    with pytest.raises(ValueError, match="greater_is_better"):
        SequentialEvaluator([mse, triplet], lambda s: s[0])(model)
    assert not SequentialEvaluator([mse, triplet], lambda s: s[0], greater_is_better=False)(model).greater_is_better
    with pytest.raises(ValueError, match="distinct"):
        SequentialEvaluator([triplet, triplet])


# --- information retrieval ----------------------------------------------------------------------------------------

# Docs at 0°, 20°, ..., 100°; queries at 0° (ranks d1..d6), 100° (d6..d1) and 45° (d3, d4, d2, d5, d1, d6).
IR_TABLE = {f"doc{i + 1}": _unit(20 * i) for i in range(6)} | {"q1": _unit(0), "q2": _unit(100), "q3": _unit(45)}
IR_QUERIES = {"q1": "q1", "q2": "q2", "q3": "q3", "q4": "q1", "q5": "q2"}
IR_CORPUS = {f"d{i + 1}": f"doc{i + 1}" for i in range(6)}
IR_KS = {
    "accuracy_at_k": (1, 3, 5),
    "precision_recall_at_k": (1, 3, 5),
    "mrr_at_k": (3, 10),
    "ndcg_at_k": (3, 10),
    "map_at_k": (5, 100),
}


@pytest.mark.parametrize("chunk", [50000, 2, 1])
def test_ir_metrics_by_hand(chunk):
    relevant = {"q1": {"d2", "d5"}, "q2": {"d1"}, "q3": {"d3", "d1"}, "q4": set()}  # q4, q5: no relevant docs
    evaluator = InformationRetrievalEvaluator(IR_QUERIES, IR_CORPUS, relevant, corpus_chunk_size=chunk, **IR_KS)
    assert evaluator.query_ids == ["q1", "q2", "q3"]
    result = evaluator(_Fixed(IR_TABLE))
    # hits: q1 at ranks 2 and 5 (2 relevant), q2 at rank 6 (1 relevant), q3 at ranks 1 and 5 (2 relevant)
    lg = math.log2
    expected = {
        "accuracy@1": 1 / 3,
        "accuracy@3": 2 / 3,
        "accuracy@5": 2 / 3,
        "precision@1": 1 / 3,
        "precision@3": (1 / 3 + 0 + 1 / 3) / 3,
        "precision@5": (2 / 5 + 0 + 2 / 5) / 3,
        "recall@1": (0 + 0 + 1 / 2) / 3,
        "recall@3": (1 / 2 + 0 + 1 / 2) / 3,
        "recall@5": (1 + 0 + 1) / 3,
        "mrr@3": (1 / 2 + 0 + 1) / 3,
        "mrr@10": (1 / 2 + 1 / 6 + 1) / 3,
        "ndcg@3": ((1 / lg(3)) / (1 + 1 / lg(3)) + 0 + 1 / (1 + 1 / lg(3))) / 3,
        "ndcg@10": ((1 / lg(3) + 1 / lg(6)) / (1 + 1 / lg(3)) + (1 / lg(7)) / 1 + (1 + 1 / lg(6)) / (1 + 1 / lg(3)))
        / 3,
        "map@5": ((1 / 2 + 2 / 5) / 2 + 0 + (1 + 2 / 5) / 2) / 3,
        "map@100": ((1 / 2 + 2 / 5) / 2 + 1 / 6 + (1 + 2 / 5) / 2) / 3,
    }
    assert dict(result.metrics) == pytest.approx({f"cosine_{key}": value for key, value in expected.items()})
    assert result.primary_metric == "cosine_ndcg@10" and result.greater_is_better


def test_ir_graded_relevance_functions_prompts_and_ties():
    relevant = {"q1": {"d2": 2, "d5": 1, "d1": 0}}  # grade 0: not relevant
    model = _Fixed(IR_TABLE, similarity_fn="dot")
    result = InformationRetrievalEvaluator(
        {"q1": "q1"}, IR_CORPUS, relevant, score_functions=["cosine", "dot"], query_prompt="query: ", **IR_KS
    )(model)
    lg = math.log2
    assert result.metrics["cosine_ndcg@10"] == pytest.approx((2 / lg(3) + 1 / lg(6)) / (2 + 1 / lg(3)))
    assert result.metrics["cosine_recall@3"] == 0.5 and result.metrics["cosine_mrr@10"] == 0.5
    assert result.primary_metric == "dot_ndcg@10"  # the model's function, evaluated among others
    assert model.calls[0][1]["prompt"] == "query: " and "prompt" not in model.calls[1][1]

    # without explicit prompts, the model's "query" and "passage" prompts are used (as encode_query/_document)
    model.prompts = {"query": "q: ", "passage": "p: ", "other": "o: "}
    InformationRetrievalEvaluator({"q1": "q1"}, IR_CORPUS, relevant)(model)
    assert model.calls[2][1]["prompt_name"] == "query" and model.calls[3][1]["prompt_name"] == "passage"
    InformationRetrievalEvaluator({"q1": "q1"}, IR_CORPUS, relevant, query_prompt="", corpus_prompt_name="other")(model)
    assert model.calls[4][1]["prompt"] == "" and model.calls[5][1]["prompt_name"] == "other"

    # equal vectors tie; the tie goes to corpus order, not id order
    tied = InformationRetrievalEvaluator(
        {"q": "q1"}, {"z": "doc1", "a": "doc1"}, {"q": {"a"}}, accuracy_at_k=[1], precision_recall_at_k=[1]
    )(_Fixed(IR_TABLE))
    assert tied.metrics["cosine_accuracy@1"] == 0.0 and tied.metrics["cosine_mrr@10"] == 0.5
    with pytest.raises(ValueError, match="no query"):
        InformationRetrievalEvaluator({"q": "q1"}, IR_CORPUS, {"q": {}})


def test_ir_matches_sentence_transformers(model, model_dir):
    st = pytest.importorskip("sentence_transformers")
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator as Reference

    docs = [
        "the cat sleeps in the house",
        "a dog runs in the river",
        "birds sing in the tree",
        "the red car is fast",
        "she reads a good book",
        "the sun and the moon",
        "they eat food at night",
        "the old city by the river",
        "a small fish in the water",
        "music and movie night",
        "the lazy brown dog sleeps",
        "a big green tree",
    ]
    corpus = {f"doc{i}": text for i, text in enumerate(docs)}
    queries = {"q0": "cat sleeps", "q1": "dog river", "q2": "book reads", "q3": "fish water", "q4": "city night"}
    relevant = {"q0": {"doc0", "doc10"}, "q1": {"doc1"}, "q2": {"doc4"}, "q3": {"doc8", "doc1"}, "q4": {"doc7"}}
    ks = {"mrr_at_k": [3, 10], "ndcg_at_k": [3, 10], "accuracy_at_k": [1, 3], "precision_recall_at_k": [1, 3, 5]}
    assert "query" in model.prompts  # both evaluators encode queries with the model's "query" prompt
    ours = InformationRetrievalEvaluator(queries, corpus, relevant, corpus_chunk_size=5, **ks)(model)
    reference = Reference(queries, corpus, relevant, name="toy", write_csv=False, **ks)(
        st.SentenceTransformer(str(model_dir), device="cpu")
    )
    assert ours.primary_metric == "cosine_ndcg@10"
    assert {f"toy_{key}" for key in ours.metrics} == set(reference)
    for key, value in ours.metrics.items():
        assert value == pytest.approx(reference[f"toy_{key}"], abs=1e-6), key


# --- BEIR ---------------------------------------------------------------------------------------------------------


def _write_beir(root, corpus=None, queries=None, qrels=None):
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    corpus = corpus or [
        {"_id": "d1", "title": "doc1", "text": ""},
        {"_id": 2, "title": "", "text": "doc6"},
        {"_id": "d3", "text": "doc3"},
    ]
    queries = queries or [{"_id": "q1", "text": "q1"}, {"_id": "q2", "text": "q2"}, {"_id": "q3", "text": "q3"}]
    (root / "corpus.jsonl").write_text("".join(json.dumps(o) + "\n" for o in corpus))
    (root / "queries.jsonl").write_text("".join(json.dumps(o) + "\n" for o in queries))
    (root / "qrels" / "test.tsv").write_text(
        qrels if qrels is not None else "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\t2\t2\nq3\td3\t0\n"
    )
    return root


def test_from_beir(tmp_path):
    root = _write_beir(tmp_path / "toy")
    queries, corpus, qrels = load_beir(root)
    assert queries == {"q1": "q1", "q2": "q2", "q3": "q3"}
    assert corpus == {"d1": "doc1", "2": "doc6", "d3": "doc3"}  # title + " " + text, stripped; ids as text
    assert qrels == {"q1": {"d1": 1.0}, "q2": {"2": 2.0}}  # score 0 rows dropped
    evaluator = InformationRetrievalEvaluator.from_beir(root, accuracy_at_k=[1], precision_recall_at_k=[1])
    assert evaluator.name == "toy-test" and evaluator.query_ids == ["q1", "q2"]  # q3 has no qrels
    result = evaluator(_Fixed(IR_TABLE))
    assert result.metrics["cosine_accuracy@1"] == 1.0  # q1 (0°) → doc1, q2 (100°) → doc6 (100°)


@pytest.mark.parametrize(
    ("kwargs", "file", "line", "field"),
    [
        ({"corpus": [{"_id": "d1", "text": "x"}, {"title": "t", "text": "y"}]}, "corpus.jsonl", 2, "_id"),
        ({"corpus": [{"_id": "d1", "title": "t"}]}, "corpus.jsonl", 1, "text"),
        ({"corpus": [{"_id": "d1", "text": "x"}, {"_id": "d1", "text": "y"}]}, "corpus.jsonl", 2, "_id"),
        ({"queries": [{"_id": "q1", "text": 3}]}, "queries.jsonl", 1, "text"),
        ({"qrels": "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\n"}, "test.tsv", 3, "score"),
        ({"qrels": "query-id\tcorpus-id\tscore\nq1\td1\thigh\n"}, "test.tsv", 2, "score"),
        ({"qrels": "qid\tdid\trel\nq1\td1\t1\n"}, "test.tsv", 1, None),
    ],
)
def test_beir_errors_name_file_line_and_field(tmp_path, kwargs, file, line, field):
    root = _write_beir(tmp_path, **kwargs)
    with pytest.raises(DataFormatError) as exc:
        load_beir(root)
    assert exc.value.source.endswith(file) and exc.value.line == line and exc.value.field == field


def test_beir_missing_split(tmp_path):
    with pytest.raises(DataFormatError, match="file not found") as exc:
        load_beir(_write_beir(tmp_path), split="dev")
    assert exc.value.source.endswith("dev.tsv")


# --- the reference's names and dict access (porting layer) -----------------------------------------------------------


def test_embedding_similarity_evaluator_is_the_similarity_evaluator():
    import sentvec.evaluation
    from sentvec.evaluation import EmbeddingSimilarityEvaluator, SimilarityEvaluator

    assert EmbeddingSimilarityEvaluator is SimilarityEvaluator
    assert "EmbeddingSimilarityEvaluator" in sentvec.evaluation.__all__
    model = _Fixed({"a": [1, 0], "b": [1, 0.1], "c": [0, 1], "d": [1, 1], "e": [-1, 0.2], "f": [1, -0.3]})
    evaluator = EmbeddingSimilarityEvaluator(["a", "c", "e"], ["b", "d", "f"], [5.0, 2.5, 0.0], name="sts-dev")
    result = evaluator(model)
    assert result["spearman_cosine"] == result.metrics["spearman_cosine"] == result.primary_value


def test_result_reads_like_the_reference_dict():
    result = EvaluationResult(
        name="sts-dev", metrics={"pearson_cosine": 80.0, "spearman_cosine": 81.5}, primary_metric="spearman_cosine"
    )
    assert result["spearman_cosine"] == 81.5 and result["pearson_cosine"] == 80.0
    assert result["sts-dev_spearman_cosine"] == 81.5  # the reference prefixes the evaluator's name
    assert "spearman_cosine" in result and "sts-dev_pearson_cosine" in result
    assert "spearman_dot" not in result and 3 not in result
    assert list(result.keys()) == ["pearson_cosine", "spearman_cosine"] == list(result)
    assert list(result.values()) == [80.0, 81.5] and len(result) == 2
    assert dict(result.items()) == dict(result) == dict(result.metrics)
    assert result.get("spearman_cosine") == 81.5 and result.get("nope") is None and result.get("nope", 0.0) == 0.0
    assert result.primary_metric == "spearman_cosine" and result.primary_value == 81.5  # the typed API stays


def test_result_unknown_metric_is_a_key_error_listing_the_metrics():
    result = EvaluationResult(name="x", metrics={"a": 1.0, "b": 2.0}, primary_metric="a")
    with pytest.raises(KeyError, match=r"no metric 'spearman_cosine' in result 'x'; the metrics are a, b"):
        result["spearman_cosine"]
    unnamed = EvaluationResult(name="", metrics={"a": 1.0}, primary_metric="a")
    assert unnamed["a"] == 1.0 and "_a" not in unnamed
