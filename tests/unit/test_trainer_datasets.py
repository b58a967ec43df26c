"""The trainer with Hugging Face datasets (issue 11, ported code): a ``datasets.Dataset`` / ``DatasetDict`` is
accepted as is with the reference's column convention (``label``/``score`` is the label, the other columns the
inputs in order), ``eval_dataset=`` logs the evaluation loss, and the output folder gets a model card with the
data, the loss, the arguments and the evaluator's figures."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

import sentvec
from sentvec.errors import DataFormatError
from sentvec.evaluation import SimilarityEvaluator
from sentvec.training import Trainer, TrainingArgs
from sentvec.training.data import DatasetData, LabelKind, from_dataset
from sentvec.training.losses import CosineSimilarityLoss, MultipleNegativesRankingLoss

datasets = pytest.importorskip("datasets")

WORDS = ["cat", "dog", "bird", "fish", "house", "car", "tree", "river", "book", "sun"]
ANCHORS = [f"the {w} runs" for w in WORDS]
POSITIVES = [f"a {w} is fast" for w in WORDS]


def _weights(model: sentvec.SentenceEncoder) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.torch.pipeline.state_dict().items()}


def _args(out: Path, **kw: object) -> TrainingArgs:
    base: dict[str, object] = {
        "batch_size": 4,
        "learning_rate": 1e-3,
        "seed": 3,
        "show_progress_bar": False,
        "logging_steps": 1,
        "warmup_ratio": 0.0,
    }
    return TrainingArgs(output_dir=str(out), **{**base, **kw})  # type: ignore[arg-type]


def _log(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (out / "trainer_log.jsonl").read_text().splitlines()]


def _scored() -> datasets.Dataset:
    s1 = [f"the {a} sleeps" for a in WORDS[:5] for _ in WORDS[:4]]
    s2 = [f"the {b} sleeps" for _ in WORDS[:5] for b in WORDS[:4]]
    gold = [round(0.05 + 0.045 * i, 3) for i in range(len(s1))]  # all distinct: each row's label is recognisable
    return datasets.Dataset.from_dict({"sentence1": s1, "sentence2": s2, "label": gold})


def test_mnrl_trains_a_few_steps_from_a_dataset(model_dir: Path, tmp_path: Path) -> None:
    model = sentvec.load(str(model_dir))
    before = _weights(model)
    train = datasets.Dataset.from_dict({"anchor": ANCHORS, "positive": POSITIVES})
    trainer = Trainer(model, MultipleNegativesRankingLoss(model), train, _args(tmp_path / "out", max_steps=3))
    assert isinstance(trainer.datasets["train"], DatasetData)
    assert trainer.datasets["train"].spec.columns == ("anchor", "positive")
    result = trainer.train()
    assert result.steps == 3 and math.isfinite(result.final_loss)
    losses = [r["loss"] for r in _log(tmp_path / "out") if "loss" in r]
    assert len(losses) == 3 and all(math.isfinite(float(v)) for v in losses)  # type: ignore[arg-type]
    after = _weights(model)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    reloaded = sentvec.load(str(tmp_path / "out"))
    assert abs(reloaded.encode(ANCHORS[:2]) - model.encode(ANCHORS[:2])).max() <= 1e-6


def test_the_label_column_is_the_label_not_an_input(model_dir: Path, tmp_path: Path) -> None:
    model = sentvec.load(str(model_dir))
    seen: list[float] = []

    class Spy(CosineSimilarityLoss):
        def compute_loss_from_embeddings(
            self, embeddings: list[torch.Tensor], labels: torch.Tensor | None
        ) -> torch.Tensor:
            assert len(embeddings) == 2  # sentence1 and sentence2; the label column is not embedded
            assert labels is not None
            seen.extend(round(float(v), 3) for v in labels)
            return super().compute_loss_from_embeddings(embeddings, labels)

    train = _scored()
    trainer = Trainer(model, Spy(model), train, _args(tmp_path / "out", epochs=1))
    spec = trainer.datasets["train"].spec
    assert (spec.columns, spec.label, spec.label_kind) == (("sentence1", "sentence2"), "label", LabelKind.SCORE)
    result = trainer.train()
    assert result.steps == 5  # 20 rows in batches of 4
    assert sorted(seen) == sorted(train["label"])  # every row's own label reached the loss, once


def test_a_score_column_is_the_label_too_and_a_loss_without_labels_ignores_it() -> None:
    ds = datasets.Dataset.from_dict({"q": ["the cat"], "score": [0.5], "p": ["a dog"]})
    scored = from_dataset(ds, LabelKind.SCORE)
    assert (scored.spec.columns, scored.spec.label) == (("q", "p"), "score")
    assert [e.label for e in scored] == [0.5]
    plain = from_dataset(ds, LabelKind.NONE)
    assert (plain.spec.columns, plain.spec.label) == (("q", "p"), None)


def test_a_loss_that_needs_labels_names_the_missing_column(model_dir: Path, tmp_path: Path) -> None:
    model = sentvec.load(str(model_dir))
    ds = datasets.Dataset.from_dict({"s1": ["the cat"], "s2": ["a dog"]})
    with pytest.raises(DataFormatError, match=r"name a column 'label' or 'score' \(columns: s1, s2\)"):
        Trainer(model, CosineSimilarityLoss(model), ds, _args(tmp_path / "out"))
    both = datasets.Dataset.from_dict({"s1": ["the cat"], "s2": ["a dog"], "label": [1.0], "score": [1.0]})
    with pytest.raises(DataFormatError, match="keep one"):
        Trainer(model, CosineSimilarityLoss(model), both, _args(tmp_path / "out"))
    empty = datasets.Dataset.from_dict({"s1": [], "s2": []})
    with pytest.raises(DataFormatError, match="no rows"):
        Trainer(model, MultipleNegativesRankingLoss(model), empty, _args(tmp_path / "out", max_steps=3))


def test_a_dataset_dict_trains_every_split_with_the_one_loss(model_dir: Path, tmp_path: Path) -> None:
    model = sentvec.load(str(model_dir))
    pairs = datasets.Dataset.from_dict({"anchor": ANCHORS[:8], "positive": POSITIVES[:8]})
    more = datasets.Dataset.from_dict({"query": ANCHORS[2:], "answer": POSITIVES[2:]})
    loss = MultipleNegativesRankingLoss(model)
    trainer = Trainer(model, loss, datasets.DatasetDict({"pairs": pairs, "more": more}), _args(tmp_path / "o"))
    assert trainer.losses == {"pairs": loss, "more": loss}
    assert trainer.train().steps == 4  # round robin: 2 batches of each


def test_eval_dataset_loss_is_logged_with_the_evaluator_and_the_card_reports_the_run(
    model_dir: Path, tmp_path: Path
) -> None:
    model = sentvec.load(str(model_dir))
    train, dev = _scored(), _scored().select(range(8))
    evaluator = SimilarityEvaluator(dev["sentence1"], dev["sentence2"], dev["label"])
    out = tmp_path / "out"
    trainer = Trainer(
        model, CosineSimilarityLoss(model), train, _args(out, max_steps=3, eval_steps=2), evaluator, eval_dataset=dev
    )
    result = trainer.train()
    evals = [r for r in _log(out) if "eval_loss" in r]
    assert [r["step"] for r in evals] == [2, 3]  # every 2 steps, and the final model
    for record in evals:
        assert math.isfinite(float(record["eval_loss"]))  # type: ignore[arg-type]
        assert "spearman_cosine" in record["eval"]  # type: ignore[operator]  # same record as the evaluator's
    # the evaluation loss is the loss of the same name, on the dev rows, without gradients
    model.torch.pipeline.eval()
    with torch.no_grad():
        expected = [
            float(trainer.losses["train"]([dev["sentence1"][i : i + 4], dev["sentence2"][i : i + 4]], labels))
            for i in (0, 4)
            for labels in [torch.tensor(dev["label"][i : i + 4], dtype=torch.float32)]
        ]
    assert evals[-1]["eval_loss"] == pytest.approx(sum(expected) / 2, abs=1e-5)

    card = (out / "README.md").read_text(encoding="utf-8")
    assert "## Training" in card and f"{result.steps} optimizer steps" in card
    assert "| train | sentence1, sentence2, label | 20 | CosineSimilarityLoss |" in card
    final = evals[-1]["eval"]["spearman_cosine"]  # type: ignore[index]
    assert f"| spearman_cosine | {final:.4f} |" in card
    assert "| eval_loss |" in card
    assert '"max_steps": 3' in card and '"learning_rate": 0.001' in card


def test_eval_dataset_alone_picks_the_best_checkpoint_by_lowest_loss(model_dir: Path, tmp_path: Path) -> None:
    model = sentvec.load(str(model_dir))
    train = datasets.Dataset.from_dict({"anchor": ANCHORS, "positive": POSITIVES})
    out = tmp_path / "out"
    result = Trainer(
        model, MultipleNegativesRankingLoss(model), train, _args(out, epochs=2), eval_dataset=train.select(range(4))
    ).train()
    evals = [r for r in _log(out) if "eval_loss" in r]
    assert [r["step"] for r in evals] == [3, 6] and "eval" not in evals[0]
    best = min(evals, key=lambda r: float(r["eval_loss"]))  # type: ignore[arg-type]
    assert result.best_step == best["step"] and (out / "checkpoints" / "best" / "modules.json").is_file()
    assert "| eval_loss |" in (out / "README.md").read_text(encoding="utf-8")


def test_an_unsupported_dataset_type_is_a_type_error(model_dir: Path, tmp_path: Path) -> None:
    model = sentvec.load(str(model_dir))
    with pytest.raises(TypeError, match=r"expected TrainingData .* or a datasets\.Dataset, got dict"):
        Trainer(model, MultipleNegativesRankingLoss(model), {"train": {"a": 1}}, _args(tmp_path / "o"))  # type: ignore[dict-item]
