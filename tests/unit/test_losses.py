"""sentvec.training.losses: values against hand-written formulas and the reference library, gradients, GradCache."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from _tiny_model import WORDS

torch = pytest.importorskip("torch")

from sentvec.training.losses import (  # noqa: E402
    AnglELoss,
    BatchAllTripletLoss,
    BatchHardTripletLoss,
    CachedMultipleNegativesRankingLoss,
    ContrastiveLoss,
    CoSENTLoss,
    CosineSimilarityLoss,
    InBatchMarginLoss,
    LabelKind,
    MarginMSELoss,
    MatryoshkaLoss,
    MSELoss,
    MultipleNegativesRankingLoss,
    OnlineContrastiveLoss,
    SoftmaxLoss,
    TripletLoss,
)
from sentvec.training.losses._util import embed  # noqa: E402

# ---------------------------------------------------------------- hand-written reference formulas (numpy loops)


def _emb(*rows: list[float]) -> np.ndarray:
    return np.array(rows, dtype=np.float64)


def _t(x: np.ndarray) -> Any:
    return torch.tensor(x, dtype=torch.float64)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def _dist(a: np.ndarray, b: np.ndarray, kind: str) -> float:
    if kind == "cosine":
        return 1 - _cos(a, b)
    if kind == "euclidean":
        return float(math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True))))
    return float(sum(abs(x - y) for x, y in zip(a, b, strict=True)))


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


A = _emb([1.0, 0.0, 0.5, 0.2], [0.1, 1.0, -0.3, 0.0], [0.4, 0.4, 1.0, -0.5])
P = _emb([0.9, 0.2, 0.4, 0.1], [0.3, 0.8, 0.0, 0.3], [-0.2, 0.5, 0.9, 0.1])
N = _emb([0.0, -1.0, 0.2, 0.7], [0.8, 0.1, 0.3, 0.0], [0.5, -0.5, -0.5, 0.5])


def _value(loss: Any, embeddings: list[np.ndarray], labels: Any = None) -> float:
    lab = None if labels is None else torch.from_numpy(np.asarray(labels))  # python floats stay float64
    return loss.compute_loss_from_embeddings([_t(e) for e in embeddings], lab).item()


# ---------------------------------------------------------------- 1. InBatchMarginLoss


@pytest.mark.parametrize("negatives", ["anchors", "positives", "both"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_in_batch_margin_by_hand(model, negatives, reduction):
    m = 0.5
    total, terms = 0.0, 0
    sets = {"anchors": [A], "positives": [P], "both": [A, P]}[negatives]
    for i in range(3):
        for j in range(3):
            if i == j:
                continue
            for negs in sets:
                total += max(0.0, _cos(A[i], negs[j]) - _cos(A[i], P[i]) + m)
                terms += 1
    expected = total / terms if reduction == "mean" else total
    loss = InBatchMarginLoss(model, margin=m, reduction=reduction, negatives=negatives)
    assert _value(loss, [A, P]) == pytest.approx(expected, abs=1e-9)
    assert terms == (12 if negatives == "both" else 6)


def test_in_batch_margin_single_pair_and_validation(model):
    loss = InBatchMarginLoss(model)
    x = torch.tensor([[1.0, 2.0]], requires_grad=True)
    value = loss.compute_loss_from_embeddings([x, x * 2], None)
    assert value.item() == 0.0
    value.backward()  # still connected to the graph
    with pytest.raises(ValueError, match="reduction"):
        InBatchMarginLoss(model, reduction="max")
    with pytest.raises(ValueError, match="negatives"):
        InBatchMarginLoss(model, negatives="others")
    with pytest.raises(ValueError, match="at least 2"):
        loss([["only one column"]])
    with pytest.raises(ValueError, match=r"InBatchMarginLoss got an empty batch"):  # not a reshape error deep inside
        loss([[], []])


# ---------------------------------------------------------------- 2. Contrastive


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
@pytest.mark.parametrize("size_average", [True, False])
def test_contrastive_by_hand(model, distance, size_average):
    labels, m = [1, 0, 0], 1.2
    terms = []
    for i, y in enumerate(labels):
        d = _dist(A[i], P[i], distance)
        terms.append(0.5 * (y * d**2 + (1 - y) * max(0.0, m - d) ** 2))
    expected = sum(terms) / 3 if size_average else sum(terms)
    loss = ContrastiveLoss(model, margin=m, distance=distance, size_average=size_average)
    assert _value(loss, [A, P], labels) == pytest.approx(expected, abs=1e-9)


def test_contrastive_rejects_non_binary_labels(model):
    with pytest.raises(ValueError, match="binary"):
        _value(ContrastiveLoss(model), [A, P], [1, 0, 2])


def test_online_contrastive_by_hand(model):
    a = np.concatenate([A, N])
    b = np.concatenate([P, A])
    labels, m = [1, 0, 1, 0, 1, 0], 0.9
    d = [_dist(a[i], b[i], "cosine") for i in range(6)]
    pos = [d[i] for i in range(6) if labels[i] == 1]
    neg = [d[i] for i in range(6) if labels[i] == 0]
    hard_pos = [x for x in pos if x > min(neg)]
    hard_neg = [x for x in neg if x < max(pos)]
    expected = sum(x**2 for x in hard_pos) + sum(max(0.0, m - x) ** 2 for x in hard_neg)
    assert hard_pos or hard_neg  # the example exercises the mining
    assert len(hard_pos) + len(hard_neg) < 6  # ... and leaves some pairs out
    assert _value(OnlineContrastiveLoss(model, margin=m), [a, b], labels) == pytest.approx(expected, abs=1e-9)


# ---------------------------------------------------------------- 3. Scored pairs


def test_cosine_similarity_by_hand(model):
    labels = [0.9, 0.2, 0.5]
    expected = sum((_cos(A[i], P[i]) - labels[i]) ** 2 for i in range(3)) / 3
    assert _value(CosineSimilarityLoss(model), [A, P], labels) == pytest.approx(expected, abs=1e-9)


def _cosent_by_hand(sims: list[float], labels: list[float], scale: float) -> float:
    terms = [0.0]
    for i in range(len(sims)):
        for j in range(len(sims)):
            if labels[i] > labels[j]:
                terms.append(scale * (sims[j] - sims[i]))
    return _logsumexp(terms)


def test_cosent_by_hand(model):
    labels = [0.9, 0.2, 0.5]
    sims = [_cos(A[i], P[i]) for i in range(3)]
    expected = _cosent_by_hand(sims, labels, 20.0)
    assert _value(CoSENTLoss(model), [A, P], labels) == pytest.approx(expected, abs=1e-9)
    # equal labels give no pair: only the log(1 + 0) term remains
    assert _value(CoSENTLoss(model), [A, P], [0.5, 0.5, 0.5]) == pytest.approx(0.0, abs=1e-12)


def _angle_by_hand(x: np.ndarray, y: np.ndarray) -> float:
    """|sum(Re + Im)| of the complex quotient z_x / z_y normalized by |x||y| (AnglE's formulation)."""
    half = len(x) // 2
    zx = [complex(x[k], x[half + k]) for k in range(half)]
    zy = [complex(y[k], y[half + k]) for k in range(half)]
    norm = np.linalg.norm(x) * np.linalg.norm(y)
    total = 0.0
    for u, v in zip(zx, zy, strict=True):
        w = u / v * abs(v) ** 2 / norm  # = u * conj(v) / (|x||y|)
        total += w.real + w.imag
    return abs(total)


def test_angle_by_hand(model):
    labels = [0.9, 0.2, 0.5]
    sims = [_angle_by_hand(A[i], P[i]) for i in range(3)]
    assert sims != pytest.approx([abs(_cos(A[i], P[i])) for i in range(3)])  # not the cosine
    expected = _cosent_by_hand(sims, labels, 20.0)
    assert _value(AnglELoss(model), [A, P], labels) == pytest.approx(expected, abs=1e-9)


# ---------------------------------------------------------------- 4. MNRL


def _info_nce_by_hand(anchors, candidates, scale):
    total = 0.0
    for i in range(len(anchors)):
        logits = [scale * _cos(anchors[i], c) for c in candidates]
        total += _logsumexp(logits) - logits[i]
    return total / len(anchors)


@pytest.mark.parametrize("with_negatives", [False, True])
@pytest.mark.parametrize("symmetric", [False, True])
def test_mnrl_by_hand(model, with_negatives, symmetric):
    columns = [A, P, N] if with_negatives else [A, P]
    candidates = np.concatenate(columns[1:])
    expected = _info_nce_by_hand(A, candidates, 20.0)
    if symmetric:
        expected = (expected + _info_nce_by_hand(P, A, 20.0)) / 2
    loss = MultipleNegativesRankingLoss(model, symmetric=symmetric)
    assert _value(loss, columns) == pytest.approx(expected, abs=1e-9)
    cached = CachedMultipleNegativesRankingLoss(model, symmetric=symmetric)
    assert _value(cached, columns) == pytest.approx(expected, abs=1e-9)


# ---------------------------------------------------------------- 5. Triplets


@pytest.mark.parametrize(("distance", "margin"), [("euclidean", 5.0), ("cosine", 0.3), ("manhattan", 1.0)])
def test_triplet_by_hand(model, distance, margin):
    expected = sum(max(0.0, _dist(A[i], P[i], distance) - _dist(A[i], N[i], distance) + margin) for i in range(3)) / 3
    loss = TripletLoss(model, distance=distance, margin=margin)
    assert _value(loss, [A, P, N]) == pytest.approx(expected, abs=1e-9)


X = np.concatenate([A, P, N[:2]])  # 8 rows
CLASSES = [0, 1, 2, 0, 1, 2, 3, 0]  # class 3 has a single member (an anchor with no positive)


@pytest.mark.parametrize(("distance", "margin"), [("euclidean", 0.5), ("cosine", 0.2), ("manhattan", 0.5)])
def test_batch_hard_triplet_by_hand(model, distance, margin):
    hinges = []
    for i in range(8):
        pos = [_dist(X[i], X[j], distance) for j in range(8) if j != i and CLASSES[j] == CLASSES[i]]
        neg = [_dist(X[i], X[k], distance) for k in range(8) if CLASSES[k] != CLASSES[i]]
        if pos and neg:
            hinges.append(max(0.0, max(pos) - min(neg) + margin))
    assert len(hinges) == 7
    expected = sum(hinges) / len(hinges)
    loss = BatchHardTripletLoss(model, distance=distance, margin=margin)
    assert _value(loss, [X], CLASSES) == pytest.approx(expected, abs=1e-7)


@pytest.mark.parametrize(("distance", "margin"), [("euclidean", 0.5), ("cosine", 0.2)])
def test_batch_all_triplet_by_hand(model, distance, margin):
    total, active, valid = 0.0, 0, 0
    for i in range(8):
        for j in range(8):
            for k in range(8):
                if i == j or CLASSES[i] != CLASSES[j] or CLASSES[k] == CLASSES[i]:
                    continue
                valid += 1
                hinge = max(0.0, _dist(X[i], X[j], distance) - _dist(X[i], X[k], distance) + margin)
                total += hinge
                active += hinge > 0
    assert 0 < active < valid  # the mean is over the active triplets only
    loss = BatchAllTripletLoss(model, distance=distance, margin=margin)
    assert _value(loss, [X], CLASSES) == pytest.approx(total / active, abs=1e-7)


def test_batch_triplets_without_triplets_are_zero(model):
    x = torch.tensor(X[:3], requires_grad=True)
    for cls in (BatchHardTripletLoss, BatchAllTripletLoss):
        value = cls(model).compute_loss_from_embeddings([x], torch.tensor([0, 1, 2]))
        assert value.item() == 0.0
        value.backward()


# ---------------------------------------------------------------- 6. Softmax


def test_softmax_by_hand(model):
    loss = SoftmaxLoss(model, num_labels=3, embedding_dimension=4).double()
    assert loss.classifier.weight.shape == (3, 12)
    assert {id(p) for p in loss.parameters()} == {id(loss.classifier.weight), id(loss.classifier.bias)}
    w = loss.classifier.weight.detach().numpy()
    b = loss.classifier.bias.detach().numpy()
    labels = [2, 0, 1]
    total = 0.0
    for i in range(3):
        features = list(A[i]) + list(P[i]) + [abs(x - y) for x, y in zip(A[i], P[i], strict=True)]
        logits = [sum(w[c, f] * features[f] for f in range(12)) + b[c] for c in range(3)]
        total += _logsumexp(logits) - logits[labels[i]]
    assert _value(loss, [A, P], labels) == pytest.approx(total / 3, abs=1e-9)


def test_softmax_default_dimension(model):
    assert SoftmaxLoss(model, num_labels=2).classifier.in_features == 3 * model.dimension


# ---------------------------------------------------------------- 7. Distillation


def test_mse_by_hand(model):
    teacher = N
    expected = 0.0
    for column in (A, P):
        expected += sum((column[i, d] - teacher[i, d]) ** 2 for i in range(3) for d in range(4)) / 12
    expected /= 2
    assert _value(MSELoss(model), [A, P], teacher) == pytest.approx(expected, abs=1e-9)
    assert _value(MSELoss(model), [A], teacher) == pytest.approx(
        sum((A[i, d] - N[i, d]) ** 2 for i in range(3) for d in range(4)) / 12, abs=1e-9
    )


def test_margin_mse_by_hand(model):
    margins = [0.5, -0.2, 1.5]
    expected = sum((np.dot(A[i], P[i]) - np.dot(A[i], N[i]) - margins[i]) ** 2 for i in range(3)) / 3
    assert _value(MarginMSELoss(model), [A, P, N], margins) == pytest.approx(expected, abs=1e-9)
    # two negatives: one teacher margin per negative
    two = [[0.5, 0.1], [-0.2, 0.3], [1.5, 0.0]]
    negs = [N, N[::-1].copy()]
    expected2 = sum(
        (np.dot(A[i], P[i]) - np.dot(A[i], negs[k][i]) - two[i][k]) ** 2 for i in range(3) for k in range(2)
    )
    assert _value(MarginMSELoss(model), [A, P, *negs], two) == pytest.approx(expected2 / 6, abs=1e-9)


# ---------------------------------------------------------------- 8. Matryoshka


def test_matryoshka_by_hand(model):
    dims, weights = (4, 2), (1.0, 0.5)
    inner = MultipleNegativesRankingLoss(model)
    expected = sum(w * _info_nce_by_hand(A[:, :d], P[:, :d], 20.0) for d, w in zip(dims, weights, strict=True))
    loss = MatryoshkaLoss(model, inner, dims=dims, weights=weights)
    assert loss.label_kind is LabelKind.NONE and loss.min_columns == 2
    assert _value(loss, [A, P]) == pytest.approx(expected, abs=1e-9)


def test_matryoshka_truncates_teacher_embeddings(model):
    loss = MatryoshkaLoss(model, MSELoss(model), dims=(4, 3))
    assert loss.label_kind is LabelKind.EMBEDDING
    expected = sum(((A[:, :d] - N[:, :d]) ** 2).mean() for d in (4, 3))
    assert _value(loss, [A], N) == pytest.approx(expected, abs=1e-9)


def test_matryoshka_validates_dims(model):
    with pytest.raises(ValueError, match="exceed"):
        MatryoshkaLoss(model, MultipleNegativesRankingLoss(model), dims=(model.dimension + 1,))
    with pytest.raises(ValueError, match="weights"):
        MatryoshkaLoss(model, MultipleNegativesRankingLoss(model), dims=(8, 4), weights=(1.0,))


# ---------------------------------------------------------------- reference library, same fixed embeddings


@pytest.fixture(scope="module")
def st_losses():
    pytest.importorskip("sentence_transformers")
    from sentence_transformers.sentence_transformer import losses

    return losses


def _f32(*arrays: np.ndarray) -> list[Any]:
    return [torch.tensor(a, dtype=torch.float32) for a in arrays]


@pytest.mark.reference
def test_reference_ranking_losses(model, st_losses):
    for columns in ([A, P], [A, P, N]):
        emb = _f32(*columns)
        ours = MultipleNegativesRankingLoss(model).compute_loss_from_embeddings(emb, None)
        theirs = st_losses.MultipleNegativesRankingLoss(None).compute_loss_from_embeddings(emb, None)
        assert ours.item() == pytest.approx(theirs.item(), abs=1e-5)
    emb = _f32(A, P)
    ours = MultipleNegativesRankingLoss(model, symmetric=True).compute_loss_from_embeddings(emb, None)
    ref = st_losses.MultipleNegativesRankingLoss(
        None, directions=("query_to_doc", "doc_to_query"), partition_mode="per_direction"
    )
    assert ours.item() == pytest.approx(float(ref.compute_loss_from_embeddings(emb, None)), abs=1e-5)


@pytest.mark.reference
def test_reference_pair_losses(model, st_losses):
    emb = _f32(A, P)
    scores = torch.tensor([0.9, 0.2, 0.5])
    binary = torch.tensor([1, 0, 0])
    pairs = [
        (CoSENTLoss(model), st_losses.CoSENTLoss(None), scores),
        (AnglELoss(model), st_losses.AnglELoss(None), scores),
        (CosineSimilarityLoss(model), st_losses.CosineSimilarityLoss(None), scores),
        (ContrastiveLoss(model, margin=1.2), st_losses.ContrastiveLoss(None, margin=1.2), binary),
    ]
    for ours, theirs, labels in pairs:
        expected = float(theirs.compute_loss_from_embeddings(emb, labels))
        assert float(ours.compute_loss_from_embeddings(emb, labels)) == pytest.approx(expected, abs=1e-5)
    emb6 = _f32(np.concatenate([A, N]), np.concatenate([P, A]))
    labels6 = torch.tensor([1, 0, 1, 0, 1, 0])
    ours = OnlineContrastiveLoss(model, margin=0.9).compute_loss_from_embeddings(emb6, labels6)
    theirs = st_losses.OnlineContrastiveLoss(None, margin=0.9).compute_loss_from_embeddings(emb6, labels6)
    assert ours.item() == pytest.approx(theirs.item(), abs=1e-5)


@pytest.mark.reference
def test_reference_triplet_losses(model, st_losses):
    emb = _f32(A, P, N)
    ours = TripletLoss(model).compute_loss_from_embeddings(emb, None)
    assert ours.item() == pytest.approx(float(st_losses.TripletLoss(None).compute_loss_from_embeddings(emb, None)))
    x = _f32(X[:6])
    classes = torch.tensor(CLASSES[:6])  # every anchor has a positive and a negative
    for ours_cls, theirs_cls in (
        (BatchHardTripletLoss, st_losses.BatchHardTripletLoss),
        (BatchAllTripletLoss, st_losses.BatchAllTripletLoss),
    ):
        ours = ours_cls(model, margin=0.5).compute_loss_from_embeddings(x, classes)
        theirs = theirs_cls(None, margin=0.5).compute_loss_from_embeddings(x, classes)
        assert ours.item() == pytest.approx(theirs.item(), abs=1e-5)
    margins = torch.tensor([0.5, -0.2, 1.5])
    ours = MarginMSELoss(model).compute_loss_from_embeddings(emb, margins)
    theirs = st_losses.MarginMSELoss(None).compute_loss_from_embeddings(emb, margins)
    assert ours.item() == pytest.approx(theirs.item(), abs=1e-5)


# ---------------------------------------------------------------- gradients reach the encoder

ANCHORS = ["the cat sleeps", "a dog runs", "the bird sings", "a fish swims in the river"]
POSITIVES = ["a cat is sleeping", "the dog is running fast", "birds sing", "the fish in the water"]
NEGATIVES = ["the car is red", "stocks fell", "the moon at night", "a good book"]


@pytest.fixture(scope="module")
def trainable(make_model):
    import sentvec

    encoder = sentvec.load(str(make_model()), device="cpu")
    encoder.torch.pipeline.train()
    return encoder


def _case(name: str, m: Any) -> tuple[Any, list[list[str]], Any]:
    pairs = [ANCHORS, POSITIVES]
    triplets = [ANCHORS, POSITIVES, NEGATIVES]
    single = [ANCHORS + POSITIVES]
    cases: dict[str, tuple[Any, list[list[str]], Any]] = {
        "in_batch_margin": (InBatchMarginLoss(m, negatives="both"), pairs, None),
        "contrastive": (ContrastiveLoss(m), pairs, torch.tensor([1, 0, 1, 0])),
        "online_contrastive": (
            OnlineContrastiveLoss(m, margin=2.0),
            [ANCHORS, [POSITIVES[0], ANCHORS[1], POSITIVES[2], NEGATIVES[3]]],
            torch.tensor([1, 0, 1, 0]),
        ),
        "cosine_similarity": (CosineSimilarityLoss(m), pairs, torch.tensor([0.9, 0.1, 0.8, 0.3])),
        "cosent": (CoSENTLoss(m), pairs, torch.tensor([0.9, 0.1, 0.8, 0.3])),
        "angle": (AnglELoss(m), pairs, torch.tensor([0.9, 0.1, 0.8, 0.3])),
        "mnrl": (MultipleNegativesRankingLoss(m), triplets, None),
        "cached_mnrl": (CachedMultipleNegativesRankingLoss(m, mini_batch_size=3), triplets, None),
        "triplet": (TripletLoss(m), triplets, None),
        "batch_hard": (BatchHardTripletLoss(m), single, torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])),
        "batch_all": (BatchAllTripletLoss(m), single, torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])),
        "softmax": (SoftmaxLoss(m, num_labels=3), pairs, torch.tensor([0, 1, 2, 0])),
        "mse": (MSELoss(m), pairs, torch.randn(4, m.dimension, generator=torch.Generator().manual_seed(0))),
        "margin_mse": (MarginMSELoss(m), triplets, torch.tensor([3.0, 2.0, 1.0, 4.0])),
        "matryoshka": (MatryoshkaLoss(m, CoSENTLoss(m), dims=(32, 16, 8)), pairs, torch.tensor([0.9, 0.1, 0.8, 0.3])),
    }
    return cases[name]


CASES = [
    "in_batch_margin",
    "contrastive",
    "online_contrastive",
    "cosine_similarity",
    "cosent",
    "angle",
    "mnrl",
    "cached_mnrl",
    "triplet",
    "batch_hard",
    "batch_all",
    "softmax",
    "mse",
    "margin_mse",
    "matryoshka",
]


@pytest.mark.parametrize("name", CASES)
def test_gradients_reach_the_encoder(trainable, name):
    loss, columns, labels = _case(name, trainable)
    assert len(columns) >= loss.min_columns
    trainable.torch.pipeline.zero_grad(set_to_none=True)
    value = loss(columns, labels)
    assert value.ndim == 0 and torch.isfinite(value) and value.item() > 0
    value.backward()
    transformer = trainable.torch.pipeline[0]
    grads = [p.grad for p in transformer.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)
    assert all(torch.isfinite(g).all() for g in grads)
    if name == "softmax":
        assert loss.classifier.weight.grad is not None and float(loss.classifier.weight.grad.abs().sum()) > 0


# ---------------------------------------------------------------- GradCache equivalence


def _texts(n: int, offset: int) -> list[str]:
    return [" ".join(WORDS[(offset + 3 * i + k) % len(WORDS)] for k in range(2 + i % 4)) for i in range(n)]


def _fresh(make_model, dropout: float | None) -> Any:
    import sentvec

    encoder = sentvec.load(str(make_model()), device="cpu")
    encoder.torch.pipeline.train()
    if dropout is not None:
        for module in encoder.torch.pipeline.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = dropout
    return encoder


def _grads(encoder: Any) -> dict[str, Any]:
    return {n: p.grad.clone() for n, p in encoder.torch.pipeline.named_parameters() if p.grad is not None}


def _assert_same_grads(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got.keys() == want.keys() and len(want) > 10
    for name, grad in want.items():
        torch.testing.assert_close(got[name], grad, atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.parametrize("symmetric", [False, True])
def test_gradcache_matches_uncached_without_dropout(make_model, symmetric):
    encoder = _fresh(make_model, dropout=0.0)
    columns = [_texts(16, 0), _texts(16, 5), _texts(16, 11)]
    plain = MultipleNegativesRankingLoss(encoder, symmetric=symmetric)
    cached = CachedMultipleNegativesRankingLoss(encoder, mini_batch_size=4, symmetric=symmetric)
    encoder.torch.pipeline.zero_grad(set_to_none=True)
    want_value = plain(columns)
    want_value.backward()
    want = _grads(encoder)
    encoder.torch.pipeline.zero_grad(set_to_none=True)
    got_value = cached(columns)
    assert got_value.requires_grad
    got_value.backward()
    assert got_value.item() == pytest.approx(want_value.item(), abs=1e-5)
    _assert_same_grads(_grads(encoder), want)
    with torch.no_grad():
        assert cached(columns).item() == pytest.approx(want_value.item(), abs=1e-5)


def test_gradcache_replays_dropout(make_model):
    """With dropout on, the second pass must draw the first pass's masks: the gradients equal those of the
    same loss computed with gradients on mini-batches embedded in the same order from the same seed."""
    encoder = _fresh(make_model, dropout=None)  # BERT's default dropout 0.1, train mode
    columns = [_texts(16, 0), _texts(16, 7)]
    cached = CachedMultipleNegativesRankingLoss(encoder, mini_batch_size=4)

    torch.manual_seed(123)
    encoder.torch.pipeline.zero_grad(set_to_none=True)
    got_value = cached(columns)
    (got_value * 0.5).backward()  # a scaled backward (gradient accumulation) scales the replayed gradients
    got = _grads(encoder)

    torch.manual_seed(123)
    encoder.torch.pipeline.zero_grad(set_to_none=True)
    embeddings = [torch.cat([embed(encoder, col[i : i + 4]) for i in range(0, 16, 4)]) for col in columns]
    want_value = cached.compute_loss_from_embeddings(embeddings, None)
    (want_value * 0.5).backward()
    assert got_value.item() == pytest.approx(want_value.item(), abs=1e-5)
    _assert_same_grads(got, _grads(encoder))

    torch.manual_seed(999)  # another seed draws other masks: dropout is really active here
    encoder.torch.pipeline.zero_grad(set_to_none=True)
    (cached(columns) * 0.5).backward()
    other = _grads(encoder)
    assert any(not torch.allclose(other[n], got[n], atol=1e-5) for n in got)


def test_matryoshka_keeps_gradcache(make_model):
    encoder = _fresh(make_model, dropout=0.0)
    columns = [_texts(12, 0), _texts(12, 5)]
    results = []
    for inner in (
        MultipleNegativesRankingLoss(encoder),
        CachedMultipleNegativesRankingLoss(encoder, mini_batch_size=4),
    ):
        loss = MatryoshkaLoss(encoder, inner, dims=(32, 8), weights=(1.0, 0.5))
        encoder.torch.pipeline.zero_grad(set_to_none=True)
        value = loss(columns)
        value.backward()
        results.append((value.item(), _grads(encoder)))
    assert results[1][0] == pytest.approx(results[0][0], abs=1e-5)
    _assert_same_grads(results[1][1], results[0][1])


# ---------------------------------------------------------------- training lowers the loss


def test_in_batch_margin_training_lowers_the_loss(make_model):
    encoder = _fresh(make_model, dropout=None)
    anchors = ["the cat sleeps", "a dog runs fast", "the red car", "music and movie", "the sun at day", "a big tree"]
    positives = ["cats sleep", "the dog is fast", "a red car", "a movie with music", "the day sun", "the big trees"]
    loss = InBatchMarginLoss(encoder, margin=0.5)
    optimizer = torch.optim.AdamW(encoder.torch.pipeline.parameters(), lr=1e-3)

    def evaluate() -> float:
        encoder.torch.pipeline.eval()
        with torch.no_grad():
            value = float(loss([anchors, positives]))
        encoder.torch.pipeline.train()
        return value

    before = evaluate()
    torch.manual_seed(0)
    for _ in range(20):
        optimizer.zero_grad()
        loss([anchors, positives]).backward()
        optimizer.step()
    after = evaluate()
    assert before > 0
    assert after < 0.5 * before


def test_in_batch_negative_losses_are_flagged_for_duplicate_free_batches(model):
    from sentvec.training.losses import (
        CachedMultipleNegativesRankingLoss,
        CoSENTLoss,
        InBatchMarginLoss,
        MatryoshkaLoss,
        MultipleNegativesRankingLoss,
    )

    flagged = [MultipleNegativesRankingLoss(model), CachedMultipleNegativesRankingLoss(model), InBatchMarginLoss(model)]
    assert all(loss.in_batch_negatives for loss in flagged)
    assert not CoSENTLoss(model).in_batch_negatives
    assert MatryoshkaLoss(model, InBatchMarginLoss(model), dims=(8,)).in_batch_negatives
    assert not MatryoshkaLoss(model, CoSENTLoss(model), dims=(8,)).in_batch_negatives


def test_embed_merges_columns_of_similar_length_only(model, monkeypatch):
    """Columns share a forward pass when their longest texts are within MERGE_RATIO; a short query column is not
    padded to a long passage column's length. Either way each column gets its own rows, in order."""
    loss = MultipleNegativesRankingLoss(model)
    monkeypatch.setattr(model.torch.pipeline, "training", False)  # no dropout: embeddings comparable across batchings
    for sub in model.torch.pipeline.modules():
        monkeypatch.setattr(sub, "training", False)
    calls: list[int] = []
    torch_embed = model.torch.embed

    def recording_embed(tokenized, *args, **kwargs):
        calls.append(len(tokenized.ids))
        return torch_embed(tokenized, *args, **kwargs)

    monkeypatch.setattr(model.torch, "embed", recording_embed)
    short = ["the cat", "a dog", "birds"]
    similar = ["the big cat", "a dog", "red birds"]
    long = [" ".join(WORDS[i : i + 14]) for i in range(3)]
    out = loss.embed([short, long, similar])
    assert sorted(calls) == [3, 6]  # short + similar together, long alone
    for column, emb in zip([short, long, similar], out, strict=True):
        want = torch_embed(model.tokenize(column), model.tokenizer.pad_id)
        np.testing.assert_allclose(emb.detach().numpy(), want.detach().numpy(), atol=1e-5, rtol=0)
    calls.clear()
    loss.embed([short, similar])
    assert calls == [6]
