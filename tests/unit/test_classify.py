"""The logistic-regression head: fits a toy task, matches scikit-learn, saves as JSON and loads back."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("sklearn")

import sentvec
from sentvec.classify import EmbeddingClassifier, classify
from sentvec.errors import ModelFormatError

TEXTS = [
    "the cat sleeps",
    "a cat sleeps in the house",
    "the lazy cat sleeps",
    "cats sleep at night",
    "the dog runs",
    "a dog runs fast",
    "the quick dog runs",
    "dogs run in the city",
    "she reads a good book",
    "he reads the old book",
    "they read a new book",
    "i read books at night",
]
LABELS = ["cat"] * 4 + ["dog"] * 4 + ["book"] * 4


@pytest.fixture(scope="module")
def fitted(model):
    return EmbeddingClassifier().fit(model, TEXTS, LABELS)


def test_fits_the_training_data(fitted):
    assert fitted.predict(TEXTS) == LABELS
    proba = fitted.predict_proba(TEXTS)
    assert proba.shape == (12, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert fitted.classes == ["book", "cat", "dog"]


@pytest.mark.parametrize("labels", [LABELS, [int(label == "dog") for label in LABELS]])
def test_probabilities_match_sklearn(model, labels):
    from sklearn.linear_model import LogisticRegression

    clf = EmbeddingClassifier().fit(model, TEXTS, labels)
    emb = model.encode(TEXTS).astype(np.float64)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    reference = LogisticRegression(C=1.0, max_iter=1000).fit(emb, labels)
    np.testing.assert_allclose(clf.predict_proba(TEXTS), reference.predict_proba(emb), atol=1e-6)
    assert clf.predict(TEXTS) == reference.predict(emb).tolist()


def test_save_load_identical(fitted, model, model_dir, tmp_path):
    head = fitted.save(tmp_path / "clf")
    assert head == tmp_path / "clf" / "classifier" / "head.json"
    data = json.loads(head.read_text())
    assert data["classes"] == ["book", "cat", "dog"] and data["dimension"] == model.dimension
    assert (tmp_path / "clf" / "modules.json").is_file()  # the model travels with the head
    loaded = EmbeddingClassifier.load(tmp_path / "clf")
    np.testing.assert_array_equal(loaded.predict_proba(TEXTS), fitted.predict_proba(TEXTS))
    with_model = EmbeddingClassifier.load(head, model=model)
    np.testing.assert_array_equal(with_model.predict_proba(TEXTS), fitted.predict_proba(TEXTS))
    assert classify(model, TEXTS[:2], tmp_path / "clf") == ["cat", "cat"]
    assert classify(model, TEXTS[4:5], fitted) == ["dog"]


def test_save_into_the_model_folder_writes_only_the_head(make_model, model):
    folder = make_model()
    own = sentvec.load(str(folder), device="cpu")
    clf = EmbeddingClassifier().fit(own, TEXTS, LABELS)
    before = sorted(p.name for p in folder.iterdir())
    clf.save(folder)
    assert sorted(p.name for p in folder.iterdir()) == sorted([*before, "classifier"])


def test_head_for_another_dimension_is_a_clear_error(make_model, fitted, tmp_path):
    fitted.save(tmp_path / "clf")
    other = sentvec.load(str(make_model(dense=True)), device="cpu")  # 16-dimensional
    with pytest.raises(ModelFormatError, match=r"32-dimensional embeddings, but the model .* 16-dimensional"):
        EmbeddingClassifier.load(tmp_path / "clf", model=other)
    with pytest.raises(ValueError, match="expects 32-dimensional"):
        classify(other, TEXTS, fitted)


def test_malformed_heads(fitted, tmp_path):
    head = fitted.save(tmp_path / "clf")
    data = json.loads(head.read_text())
    data["coef"] = data["coef"][:1]
    head.write_text(json.dumps(data))
    with pytest.raises(ModelFormatError, match="inconsistent head"):
        EmbeddingClassifier.load(tmp_path / "clf")
    head.write_text("{not json")
    with pytest.raises(ModelFormatError, match="malformed JSON"):
        EmbeddingClassifier.load(tmp_path / "clf")
    with pytest.raises(FileNotFoundError, match="no classifier head"):
        EmbeddingClassifier.load(tmp_path / "nowhere")


def test_bad_training_input(model):
    with pytest.raises(ValueError, match="a classifier needs at least 2 classes"):
        EmbeddingClassifier().fit(model, TEXTS[:2], ["a", "a"])
    with pytest.raises(ValueError, match="labels"):
        EmbeddingClassifier().fit(model, TEXTS, LABELS[:-1])
    with pytest.raises(TypeError, match="all strings or all integers"):
        EmbeddingClassifier().fit(model, TEXTS[:2], ["a", 1])
    with pytest.raises(ValueError, match="not fitted"):
        EmbeddingClassifier(model).predict(TEXTS)
    with pytest.raises(TypeError, match=r"texts\[1\] is int, expected str"):
        EmbeddingClassifier().fit(model, ["a", 1], ["x", "y"])


def test_one_string_is_refused_not_split_into_characters(fitted):
    with pytest.raises(TypeError, match="texts must be a sequence of strings, not one string"):
        fitted.predict("hello world")
    assert len(fitted.predict(["hello world"])) == 1


def test_a_model_that_cannot_save_keeps_its_head_in_its_own_folder(fitted, model, tmp_path):
    class Unsavable:  # an Embedder without ``save``, loaded from a folder
        name, source, dimension = "unsavable", tmp_path / "own", model.dimension

        def encode(self, texts, **kwargs):
            return model.encode(texts, **kwargs)

    clf = fitted.with_model(Unsavable())
    with pytest.raises(TypeError, match="'unsavable' cannot write a model folder"):
        clf.save(tmp_path / "elsewhere")
    assert clf.save(tmp_path / "own") == tmp_path / "own" / "classifier" / "head.json"
    assert clf.predict(TEXTS) == fitted.predict(TEXTS)
