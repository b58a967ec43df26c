"""Cross-encoder training on tiny random models built here: a new reranker from an encoder folder (seeded head,
saving, the card), each loss (finite, learns a toy task, gradients reach the model, label and column checks), the
trainer path (weights change, exact resume, best checkpoint, refusals), the evaluators on hand-made scores (exact
MRR/NDCG/MAP and correlations), hard-negative rows, and ``sentvec train --task rerank``."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import sentvec
from sentvec.evaluation import (
    CrossEncoderCorrelationEvaluator,
    CrossEncoderRerankingEvaluator,
    EvaluationResult,
    SimilarityEvaluator,
)
from sentvec.rerank import CrossEncoder, load_reranker, new_reranker
from sentvec.training.args import TrainingArgs
from sentvec.training.data import load_data
from sentvec.training.rerank_data import (
    hard_negative_lists,
    hard_negative_rows,
    labeled_pairs,
    lists_data,
    mine_reranker_pairs,
    negatives_from_ranking,
    pairs_data,
)
from sentvec.training.rerank_losses import (
    BinaryCrossEntropyLoss,
    CrossEncoderLoss,
    CrossEntropyLoss,
    ListNetLoss,
    MarginMSELoss,
    MSELoss,
)
from sentvec.training.trainer import BEST_DIR, LAST_DIR, Trainer

torch = pytest.importorskip("torch")

ANIMALS = ["cat", "dog", "bird", "fish", "horse", "mouse"]
QUERIES = [f"the {a} runs" for a in ANIMALS]
RELEVANT = [f"a {a} runs fast" for a in ANIMALS]
# (query, document, label): each query's own document is relevant, the next animal's is not
BINARY_ROWS = [(q, RELEVANT[i], 1.0) for i, q in enumerate(QUERIES)]
BINARY_ROWS += [(q, RELEVANT[(i + 1) % len(ANIMALS)], 0.0) for i, q in enumerate(QUERIES)]


@pytest.fixture
def fresh(model_dir):
    """A new one-label reranker from the tiny encoder folder (same seed: same head)."""
    return lambda num_labels=1, seed=0: new_reranker(model_dir, num_labels=num_labels, seed=seed, device="cpu")


def weights(model: CrossEncoder) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.torch.model.state_dict().items()}


def same_weights(a, b, atol=0.0):
    return a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=atol, rtol=0) for k in a)


def args(tmp_path, name, **kw):
    base = {"batch_size": 4, "learning_rate": 1e-3, "seed": 3, "show_progress_bar": False, "logging_steps": 1}
    return TrainingArgs(output_dir=str(tmp_path / name), **{**base, **kw})


# --- a new reranker from an encoder ------------------------------------------------------------------------------
def test_new_reranker_keeps_the_encoder_and_seeds_the_head(fresh, model):
    a, b, c = fresh(seed=5), fresh(seed=5), fresh(seed=6)
    head = a.torch.model.classifier.weight
    assert torch.equal(head, b.torch.model.classifier.weight) and not torch.equal(head, c.torch.model.classifier.weight)
    encoder = model.torch.pipeline.state_dict()
    word = next(v for k, v in encoder.items() if k.endswith("word_embeddings.weight"))
    assert torch.equal(a.torch.model.bert.embeddings.word_embeddings.weight, word)  # the encoder's weights
    assert (a.num_labels, a.labels, a.activation_fn.value, a.info().segment_ids) == (1, ("LABEL_0",), "sigmoid", True)
    assert fresh(num_labels=3).num_labels == 3 and fresh(num_labels=3).activation_fn.value == "identity"


def test_new_reranker_leaves_the_global_rng_alone(fresh):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    fresh(seed=9)
    assert torch.equal(torch.rand(3), expected)


def test_new_reranker_refuses_bad_arguments(model_dir, tmp_path):
    with pytest.raises(ValueError, match="num_labels must be a positive integer"):
        new_reranker(model_dir, num_labels=0)
    with pytest.raises(sentvec.errors.ModelFormatError, match=r"config\.json"):
        new_reranker(tmp_path)


def test_a_new_reranker_saves_and_loads_with_its_card(fresh, tmp_path):
    model = fresh()
    pairs = [(q, d) for q, d, _ in BINARY_ROWS]
    model.save(tmp_path / "rr")
    again = load_reranker(tmp_path / "rr")
    np.testing.assert_allclose(again.predict(pairs), model.predict(pairs), atol=1e-6)
    assert again.max_length == model.max_length and again.info().layout == "sentence-transformers"
    card = (tmp_path / "rr" / "README.md").read_text(encoding="utf-8")
    assert "pipeline_tag: text-ranking" in card and "sentvec.load_reranker" in card and "## Training" not in card


@pytest.mark.reference
def test_new_reranker_matches_the_references_num_labels_constructor(model_dir, tmp_path):
    """``new_reranker(path, seed=s)`` is ``torch.manual_seed(s); CrossEncoder(path, num_labels=1)`` of the
    reference: the same head, the same scores; and the reference reads what sentvec saves."""
    st = pytest.importorskip("sentence_transformers")
    pairs = [(q, d) for q, d, _ in BINARY_ROWS]
    ours = new_reranker(model_dir, num_labels=1, seed=11, device="cpu")
    torch.manual_seed(11)
    theirs = st.CrossEncoder(str(model_dir), num_labels=1, device="cpu")
    assert torch.equal(ours.torch.model.classifier.weight, theirs.model.classifier.weight)
    np.testing.assert_allclose(ours.predict(pairs), theirs.predict(pairs), atol=1e-6)
    ours.save(tmp_path / "rr")
    np.testing.assert_allclose(st.CrossEncoder(str(tmp_path / "rr")).predict(pairs), ours.predict(pairs), atol=1e-6)


# --- the losses --------------------------------------------------------------------------------------------------
def toy_batches():
    """One batch per loss: (loss factory, num_labels, columns, labels)."""
    queries, relevant = QUERIES[:4], RELEVANT[:4]
    other = ["the sun is red", "music is sad", "the book is old", "water is blue"]  # nothing in common
    return {
        "bce": (BinaryCrossEntropyLoss, 1, [queries * 2, relevant + other], torch.tensor([1.0] * 4 + [0.0] * 4)),
        "bce-weighted": (
            lambda m: BinaryCrossEntropyLoss(m, pos_weight=2.0),
            1,
            [queries * 2, relevant + other],
            torch.tensor([1.0] * 4 + [0.0] * 4),
        ),
        "ce": (CrossEntropyLoss, 3, [queries * 2, relevant + other], torch.tensor([2, 0, 1, 2, 0, 1, 1, 0])),
        "mse": (MSELoss, 1, [queries * 2, relevant + other], torch.tensor([4.0] * 4 + [-2.0] * 4)),
        "margin-mse": (MarginMSELoss, 1, [queries, relevant, other], torch.tensor([3.0, 2.0, 4.0, 3.5])),
        "listnet": (
            ListNetLoss,
            1,
            [queries, relevant, other, list(reversed(other))],
            torch.tensor([[1.0, 0.0, 0.0], [2.0, 0.0, 1.0], [1.0, 0.5, 0.0], [1.0, 0.0, 0.0]]),
        ),
    }


@pytest.mark.parametrize("name", sorted(toy_batches()))
def test_each_loss_is_finite_learns_a_toy_task_and_reaches_the_model(fresh, name):
    factory, num_labels, columns, labels = toy_batches()[name]
    model = fresh(num_labels=num_labels)
    loss = factory(model)
    assert isinstance(loss, CrossEncoderLoss)
    module = model.torch.model
    module.eval()  # no dropout: the loss of a fixed batch is a function of the weights
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-2)
    values = []
    for _ in range(30):
        optimizer.zero_grad()
        value = loss(columns, labels)
        assert value.ndim == 0 and math.isfinite(value.item())
        value.backward()
        if not values:  # gradients reach the head and the encoder below it
            assert module.classifier.weight.grad.abs().sum() > 0
            assert module.bert.embeddings.word_embeddings.weight.grad.abs().sum() > 0
        optimizer.step()
        values.append(value.item())
    floor = 0.0  # the loss's minimum: ListNet's is the entropy of the label distributions
    if name == "listnet":
        target = torch.softmax(labels, dim=1)
        floor = float(-(target * target.log()).sum(1).mean())
    assert values[-1] - floor < 0.5 * (values[0] - floor), values


def logit_table(model, pairs):
    """Raw logits of pairs, one pair at a time (no padding), for checking formulas."""
    model.torch.model.eval()
    return np.array([float(model.predict([p], activation_fn="identity")[0]) for p in pairs])


def test_margin_mse_and_listnet_compute_their_formulas(fresh):
    model = fresh()
    q, pos, neg = QUERIES[:3], RELEVANT[:3], RELEVANT[3:6]
    margins = torch.tensor([1.0, -0.5, 2.0])
    with torch.no_grad():
        got = float(MarginMSELoss(model)([q, pos, neg], margins))
    s_pos, s_neg = (
        logit_table(model, list(zip(q, pos, strict=True))),
        logit_table(model, list(zip(q, neg, strict=True))),
    )
    assert got == pytest.approx(float(np.mean((s_pos - s_neg - margins.numpy()) ** 2)), abs=1e-5)

    labels = torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.5, 0.5]])
    with torch.no_grad():
        got = float(ListNetLoss(model)([q, pos, neg], labels))
    scores = np.stack([s_pos, s_neg], axis=1)
    target = np.exp(labels.numpy()) / np.exp(labels.numpy()).sum(1, keepdims=True)
    log_p = scores - np.log(np.exp(scores).sum(1, keepdims=True))
    assert got == pytest.approx(float(-(target * log_p).sum(1).mean()), abs=1e-5)


def test_losses_check_labels_columns_and_the_head(fresh):
    model, three = fresh(), fresh(num_labels=3)
    q, d = QUERIES[:2], RELEVANT[:2]
    with pytest.raises(ValueError, match=r"labels in \[0, 1\], got 3"):
        BinaryCrossEntropyLoss(model)([q, d], torch.tensor([1.0, 3.0]))
    with pytest.raises(ValueError, match="needs labels"):
        BinaryCrossEntropyLoss(model)([q, d], None)
    with pytest.raises(ValueError, match=r"labels of shape \(2,\), got \(3,\)"):
        MSELoss(model)([q, d], torch.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="not finite"):
        MSELoss(model)([q, d], torch.tensor([1.0, float("nan")]))
    with pytest.raises(ValueError, match=r"class label 3 is outside \[0, 3\)"):
        CrossEntropyLoss(three)([q, d], torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="needs 3 text columns"):
        MarginMSELoss(model)([q, d], torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"labels of shape \(2, 2\)"):
        ListNetLoss(model)([q, d, d], torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="needs 2 text columns"):
        BinaryCrossEntropyLoss(model)([q, d, d], torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="columns of lengths"):
        BinaryCrossEntropyLoss(model)([q, d[:1]], torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="needs a reranker with 1 label"):
        BinaryCrossEntropyLoss(three)
    with pytest.raises(ValueError, match="2 or more labels"):
        CrossEntropyLoss(model)
    with pytest.raises(ValueError, match="pos_weight must be > 0"):
        BinaryCrossEntropyLoss(model, pos_weight=0.0)


# --- the trainer ---------------------------------------------------------------------------------------------------
def binary_data():
    return pairs_data(BINARY_ROWS)


def test_the_trainer_changes_the_weights_and_writes_a_reranker(fresh, tmp_path):
    model = fresh()
    before = weights(model)
    evaluator = CrossEncoderRerankingEvaluator(
        [
            {"query": q, "positive": [RELEVANT[i]], "negative": RELEVANT[:i] + RELEVANT[i + 1 :]}
            for i, q in enumerate(QUERIES)
        ],
        name="toy",
    )
    result = Trainer(
        model, BinaryCrossEntropyLoss(model), binary_data(), args(tmp_path, "run", epochs=3), evaluator
    ).train()
    assert result.steps == 9 and not same_weights(before, weights(model))
    out = tmp_path / "run"
    log = [json.loads(line) for line in (out / "trainer_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "eval" in r] == [3, 6, 9] and {r["primary"] for r in log if "eval" in r} == {
        "ndcg@10"
    }
    assert (out / "training_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pairs = [(q, d) for q, d, _ in BINARY_ROWS]
    np.testing.assert_allclose(load_reranker(out).predict(pairs), model.predict(pairs), atol=1e-6)
    best = load_reranker(out / BEST_DIR)
    assert evaluator(best).primary_value == pytest.approx(result.best_metric)
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "## Training" in card and "| train | query, document, label | 12 | BinaryCrossEntropyLoss |" in card
    assert "| ndcg@10 |" in card and "pipeline_tag: text-ranking" in card


def test_the_trainer_resumes_a_cross_encoder_exactly(fresh, tmp_path):
    class Interrupt(Exception):
        pass

    class StopAfter(BinaryCrossEntropyLoss):
        calls = 0

        def compute_loss(self, columns, labels):
            StopAfter.calls += 1
            if StopAfter.calls == 5:
                raise Interrupt
            return super().compute_loss(columns, labels)

    kw = {"epochs": 2, "save_steps": 2}
    model = fresh()
    Trainer(model, BinaryCrossEntropyLoss(model), binary_data(), args(tmp_path, "full", **kw)).train()
    expected = weights(model)
    model = fresh()
    with pytest.raises(Interrupt):  # dies during step 5, after the checkpoint at step 4 (in the second epoch)
        Trainer(model, StopAfter(model), binary_data(), args(tmp_path, "cut", **kw)).train()
    model = fresh()
    result = Trainer(model, BinaryCrossEntropyLoss(model), binary_data(), args(tmp_path, "cut", **kw)).train(
        resume_from=tmp_path / "cut" / LAST_DIR
    )
    assert result.steps == 6
    assert same_weights(expected, weights(model), atol=1e-6)


def test_listwise_and_margin_data_train_through_the_trainer(fresh, tmp_path):
    model = fresh()
    mined = [(q, RELEVANT[i], RELEVANT[(i + 1) % 6], RELEVANT[(i + 2) % 6]) for i, q in enumerate(QUERIES)]
    result = Trainer(model, ListNetLoss(model), lists_data(hard_negative_lists(mined)), args(tmp_path, "l")).train()
    assert result.steps == 2 and math.isfinite(result.final_loss)
    margin = load_data(
        [(q, RELEVANT[i], RELEVANT[i - 1], 2.5) for i, q in enumerate(QUERIES)],
        columns=[0, 1, 2],
        label=3,
        label_kind="score",
    )
    result = Trainer(model, MarginMSELoss(model), margin, args(tmp_path, "m")).train()
    assert result.steps == 2 and math.isfinite(result.final_loss)


def test_the_trainer_refuses_mismatched_losses_evaluators_and_data(fresh, model, model_dir, tmp_path):
    from sentvec.training.losses import CoSENTLoss

    reranker = fresh()
    encoder = sentvec.load(str(model_dir))
    with pytest.raises(TypeError, match="CoSENTLoss is a bi-encoder loss and the model is a cross-encoder"):
        Trainer(reranker, CoSENTLoss(encoder), binary_data(), args(tmp_path, "a"))
    with pytest.raises(TypeError, match="BinaryCrossEntropyLoss is a cross-encoder loss"):
        Trainer(encoder, BinaryCrossEntropyLoss(reranker), binary_data(), args(tmp_path, "b"))
    with pytest.raises(ValueError, match="built for another CrossEncoder"):
        Trainer(reranker, BinaryCrossEntropyLoss(fresh()), binary_data(), args(tmp_path, "c"))
    sts = SimilarityEvaluator(["a cat"] * 2, ["a dog", "a cat"], [0.0, 1.0])
    with pytest.raises(TypeError, match="SimilarityEvaluator cannot evaluate a cross-encoder"):
        Trainer(reranker, BinaryCrossEntropyLoss(reranker), binary_data(), args(tmp_path, "d"), sts)
    corr = CrossEncoderCorrelationEvaluator([("a cat", "a dog"), ("a cat", "a cat")], [0.0, 1.0])
    with pytest.raises(TypeError, match="CrossEncoderCorrelationEvaluator cannot evaluate a bi-encoder"):
        Trainer(
            encoder,
            CoSENTLoss(encoder),
            load_data([("a", "b", 0.5)], columns=[0, 1], label=2, label_kind="score"),
            args(tmp_path, "e"),
            corr,
        )
    triples = load_data([("q", "a", "b", 1.0)], columns=[0, 1, 2], label=3, label_kind="score")
    with pytest.raises(ValueError, match="takes at most 2"):
        Trainer(reranker, MSELoss(reranker), triples, args(tmp_path, "f"))
    with pytest.raises(ValueError, match="has 'score' labels but CrossEntropyLoss needs 'class'"):
        three = fresh(num_labels=3)
        Trainer(
            three,
            CrossEntropyLoss(three),
            load_data([("q", "a", 0.5)], columns=[0, 1], label=2, label_kind="score"),
            args(tmp_path, "g"),
        )


# --- the evaluators, on hand-made scores ------------------------------------------------------------------------
class TableReranker:
    """A :class:`~sentvec.Reranker` whose scores come from a table keyed by (query, document)."""

    name, num_labels, max_length = "table", 1, 512

    def __init__(self, table):
        self.table = table
        self.calls = 0

    def predict(self, pairs, *, batch_size=32, apply_softmax=False, show_progress_bar=None):
        self.calls += 1
        return np.array([self.table[p] for p in pairs], dtype=np.float32)

    def rank(self, query, documents, **kw):
        raise NotImplementedError


def test_reranking_evaluator_gives_exact_mrr_ndcg_and_map():
    table = {("q1", "p1"): 0.5, ("q1", "n1"): 0.9, ("q1", "n2"): 0.1}
    table |= {("q2", "p2"): 0.8, ("q2", "n3"): 0.7, ("q2", "p3"): 0.6}
    samples = [
        {"query": "q1", "positive": ["p1"], "negative": ["n1", "n2"]},
        {"query": "q2", "positive": ["p2", "p3"], "negative": ["n3"]},
    ]
    model = TableReranker(table)
    result = CrossEncoderRerankingEvaluator(samples, name="dev")(model)
    assert isinstance(result, EvaluationResult) and result.primary_metric == "ndcg@10" and model.calls == 1
    ndcg1 = 1 / math.log2(3)  # the positive second
    ndcg2 = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))  # positives first and third
    assert result.metrics["mrr@10"] == pytest.approx((0.5 + 1.0) / 2)
    assert result.metrics["ndcg@10"] == pytest.approx((ndcg1 + ndcg2) / 2)
    assert result.metrics["map"] == pytest.approx((0.5 + (1 + 2 / 3) / 2) / 2)
    assert set(result.metrics) == {"mrr@10", "ndcg@10", "map"}
    at1 = CrossEncoderRerankingEvaluator(samples, at_k=1)(model)
    assert at1.metrics["mrr@1"] == pytest.approx(0.5) and at1.metrics["ndcg@1"] == pytest.approx(0.5)


def test_reranking_evaluator_with_a_first_stage_ranking():
    """``documents``: the base figures are the given order's; a positive missing from the candidates is added
    (``always_rerank_positives``) or counts as not found."""
    table = {("q", "a"): 0.1, ("q", "p"): 0.9, ("q", "b"): 0.5, ("q", "missing"): 0.95}
    samples = [{"query": "q", "positive": ["p", "missing"], "documents": ["a", "p", "b"]}]
    model = TableReranker(table)
    kept = CrossEncoderRerankingEvaluator(samples, always_rerank_positives=False)(model)
    ideal = 1 + 1 / math.log2(3)
    assert kept.metrics["mrr@10"] == 1.0 and kept.metrics["ndcg@10"] == pytest.approx(1 / ideal)
    assert kept.metrics["base_mrr@10"] == 0.5 and kept.metrics["base_ndcg@10"] == pytest.approx(
        (1 / math.log2(3)) / ideal
    )
    assert kept.metrics["map"] == pytest.approx(0.5) and kept.metrics["base_map"] == pytest.approx(0.25)
    added = CrossEncoderRerankingEvaluator(samples)(model)
    assert added.metrics["ndcg@10"] == pytest.approx(1.0) and added.metrics["map"] == pytest.approx(1.0)


def test_reranking_evaluator_refuses_bad_samples():
    with pytest.raises(ValueError, match="exactly one of 'negative' and 'documents'"):
        CrossEncoderRerankingEvaluator([{"query": "q", "positive": ["p"]}])
    with pytest.raises(TypeError, match=r"samples\[0\]\['positive'\] must be a list of str"):
        CrossEncoderRerankingEvaluator([{"query": "q", "positive": "p", "negative": []}])
    with pytest.raises(ValueError, match="unknown key"):
        CrossEncoderRerankingEvaluator([{"query": "q", "positive": [], "negative": [], "extra": 1}])
    with pytest.raises(ValueError, match="at_k must be an integer >= 1"):
        CrossEncoderRerankingEvaluator([{"query": "q", "positive": ["p"], "negative": []}], at_k=0)
    with pytest.raises(ValueError, match="no sample has both"):
        CrossEncoderRerankingEvaluator([{"query": "q", "positive": [], "negative": ["n"]}])(TableReranker({}))


def test_correlation_evaluator_gives_exact_pearson_and_spearman(tmp_path):
    pairs = [("a", "b"), ("c", "d"), ("e", "f"), ("g", "h")]
    gold = [0.0, 1.0, 2.0, 5.0]
    table = dict(zip(pairs, [0.1, 0.2, 0.3, 0.4], strict=True))  # same order: Spearman 100
    result = CrossEncoderCorrelationEvaluator(pairs, gold, name="sts")(TableReranker(table))
    assert result.primary_metric == "spearman" and result.metrics["spearman"] == pytest.approx(100.0)
    x, y = np.array(gold), np.array([0.1, 0.2, 0.3, 0.4])
    assert result.metrics["pearson"] == pytest.approx(100 * np.corrcoef(x, y)[0, 1])
    table[("g", "h")] = 0.15  # now ranks 1, 3, 4, 2 against 1, 2, 3, 4
    assert CrossEncoderCorrelationEvaluator(pairs, gold)(TableReranker(table)).metrics["spearman"] == pytest.approx(
        40.0
    )
    path = tmp_path / "sts.csv"
    path.write_text("a,b,0\nc,d,1\ne,f,2\ng,h,5\n", encoding="utf-8")
    from_file = CrossEncoderCorrelationEvaluator.from_file(path)
    assert (
        from_file.name == "sts"
        and from_file(TableReranker(table)).metrics
        == CrossEncoderCorrelationEvaluator(pairs, gold)(TableReranker(table)).metrics
    )
    with pytest.raises(ValueError, match="differ in length"):
        CrossEncoderCorrelationEvaluator(pairs, gold[:3])
    with pytest.raises(TypeError, match=r"sentence_pairs\[0\] must be a \(text, text\) pair"):
        CrossEncoderCorrelationEvaluator([("a",), ("b", "c")], [0.0, 1.0])


# --- training rows from hard negatives ---------------------------------------------------------------------------
def test_hard_negative_rows_label_each_pair_once():
    mined = [("q1", "p1", "n1", "n2"), ("q1", "p2", "n2", "p1"), ("q2", "p3", "n1", "n3")]
    assert hard_negative_rows(mined) == [
        ("q1", "p1", 1.0),
        ("q1", "p2", 1.0),
        ("q1", "n1", 0.0),
        ("q1", "n2", 0.0),  # p1 is a positive of q1: never also a negative
        ("q2", "p3", 1.0),
        ("q2", "n1", 0.0),
        ("q2", "n3", 0.0),
    ]
    assert labeled_pairs("q", ["a", "a"], ["b", "a", "c"]) == [("q", "a", 1.0), ("q", "b", 0.0), ("q", "c", 0.0)]
    assert hard_negative_lists([("q", "p", "n1", "n2")]) == [(("q", "p", "n1", "n2"), [1.0, 0.0, 0.0])]
    with pytest.raises(TypeError, match=r"mined\[0\]"):
        hard_negative_rows(["q"])
    data = pairs_data(hard_negative_rows(mined))
    assert len(data) == 7 and data.column_names == ("query", "document", "label")
    with pytest.raises(sentvec.errors.DataFormatError, match="binary label must be 0 or 1"):
        list(pairs_data([("q", "d", 0.5)]))


def test_negatives_from_a_ranking():
    ranking = ["p", "a", "b", "a", "c", "d", "e"]
    assert negatives_from_ranking(ranking, {"p"}, 2) == ["a", "b"]
    assert negatives_from_ranking(ranking, {"p"}, 2, range_min=1) == ["b", "c"]
    assert negatives_from_ranking(ranking, {"p"}, 5, range_min=1, range_max=3) == ["b", "c"]
    assert negatives_from_ranking(ranking, {"p", "b"}, 10) == ["a", "c", "d", "e"]
    with pytest.raises(ValueError, match="num_negatives"):
        negatives_from_ranking(ranking, set(), 0)


def test_mine_reranker_pairs_with_a_bi_encoder(model):
    pairs = list(zip(QUERIES, RELEVANT, strict=True))
    data = mine_reranker_pairs(model, pairs, corpus=RELEVANT, num_negatives=2)
    rows = [(e.texts[0], e.texts[1], e.label) for e in data]
    assert len(rows) == 6 * 3 and sum(r[2] for r in rows) == 6
    for i, q in enumerate(QUERIES):
        mine = [r for r in rows if r[0] == q]
        assert mine[0] == (q, RELEVANT[i], 1.0) and all(r[1] != RELEVANT[i] for r in mine[1:])


# --- the command line ------------------------------------------------------------------------------------------
def test_cli_trains_a_reranker_from_an_encoder(model_dir, tmp_path, capsys):
    from sentvec.cli.main import main

    data = tmp_path / "pairs.csv"
    data.write_text(
        "query,document,label\n" + "".join(f"{q},{d},{int(y)}\n" for q, d, y in BINARY_ROWS), encoding="utf-8"
    )
    dev = tmp_path / "dev.jsonl"
    dev.write_text(
        "".join(
            json.dumps({"query": q, "positive": [RELEVANT[i]], "negative": [RELEVANT[i - 1]]}) + "\n"
            for i, q in enumerate(QUERIES)
        ),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    argv = ["train", "--task", "rerank", "--model", str(model_dir), "--data", str(data), "--eval", str(dev)]
    argv += ["--loss", "BinaryCrossEntropyLoss", "--output", str(out), "--max-steps", "3", "--batch-size", "4"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "trained 3 steps" in printed and "new 1-label head" in printed and "best evaluation" in printed
    reranker = load_reranker(out)
    assert reranker.num_labels == 1 and len(reranker.rank(QUERIES[0], RELEVANT)) == 6
    assert (
        "| train (pairs.csv) | query, document, label | 12 | BinaryCrossEntropyLoss |"
        in (out / "README.md").read_text()
    )
    # again from the trained reranker, with scores scaled and a correlation evaluation
    scored = tmp_path / "scored.csv"
    scored.write_text("".join(f"{q},{d},{5 * y}\n" for q, d, y in BINARY_ROWS), encoding="utf-8")
    argv = ["train", "--task", "rerank", "--model", str(out), "--data", str(scored), "--columns", "a,b,score"]
    argv += ["--score-range", "0,5", "--eval", str(scored), "--loss", "MSELoss", "--output", str(tmp_path / "o2")]
    argv += ["--max-steps", "2", "--batch-size", "4"]
    assert main(argv) == 0
    assert f"started from the reranker {out}" in capsys.readouterr().out


def test_cli_rerank_errors_are_one_line(model_dir, tmp_path, capsys):
    from sentvec.cli.main import main

    data = tmp_path / "pairs.csv"
    data.write_text("query,document,label\nq,d,1\n", encoding="utf-8")
    base = [
        "train",
        "--task",
        "rerank",
        "--model",
        str(model_dir),
        "--data",
        str(data),
        "--output",
        str(tmp_path / "o"),
    ]
    assert main([*base, "--loss", "CoSENTLoss"]) != 0
    err = capsys.readouterr().err
    assert "unknown loss 'CoSENTLoss' for --task rerank; valid: BinaryCrossEntropyLoss" in err and "ListNetLoss" in err
    assert "Traceback" not in err


def test_cli_settings_read_task_and_num_labels(tmp_path):
    from sentvec.cli.main import build_parser
    from sentvec.cli.train import TrainSettings

    parse = build_parser().parse_args
    settings = TrainSettings.from_args(parse(["train", "-m", "m", "--data", "d", "--loss", "L", "--output", "o"]))
    assert settings.task == "embedding" and settings.num_labels is None
    config = tmp_path / "c.yaml"
    config.write_text("model: m\ndata: d\nloss: L\noutput: o\ntask: rerank\nnum_labels: 3\n", encoding="utf-8")
    settings = TrainSettings.from_args(parse(["train", "--config", str(config)]))
    assert settings.task == "rerank" and settings.num_labels == 3
    config.write_text("model: m\ndata: d\nloss: L\noutput: o\ntask: classify\n", encoding="utf-8")
    with pytest.raises(ValueError, match="option task: expected one of embedding, rerank"):
        TrainSettings.from_args(parse(["train", "--config", str(config)]))
