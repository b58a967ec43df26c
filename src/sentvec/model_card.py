"""The model card (``README.md``) that ``SentenceEncoder.save`` and the trainer write, in the reference's spirit:
what the model is (base model, modules, dimension, max length, similarity, prompts), how to use it, and after
training what it was trained on, with which loss and arguments, and how it scored."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence

CARD_FILE = "README.md"


@dataclasses.dataclass(frozen=True)
class DatasetSummary:
    """One training dataset: its name, columns and size."""

    name: str
    columns: tuple[str, ...]
    rows: int | None
    loss: str


@dataclasses.dataclass(frozen=True)
class TrainingSummary:
    """What a training run did, for the card."""

    datasets: tuple[DatasetSummary, ...]
    arguments: Mapping[str, object]
    steps: int
    evaluation: Mapping[str, float] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class CardFacts:
    """What the card says about the model itself."""

    name: str
    base_model: str | None
    modules: tuple[str, ...]
    dimension: int
    max_seq_length: int
    similarity_fn: str
    prompts: Mapping[str, str]


@dataclasses.dataclass(frozen=True)
class RerankerCardFacts:
    """What the card says about a cross-encoder (reranker)."""

    name: str
    base_model: str | None
    architecture: str
    num_labels: int
    labels: tuple[str, ...]
    max_length: int
    activation: str


def render_card(facts: CardFacts, training: TrainingSummary | None = None) -> str:
    """The card as Markdown, with a YAML header the Hugging Face Hub reads."""
    lines = ["---", "library_name: sentence-transformers", "pipeline_tag: sentence-similarity", "tags:"]
    lines += ["- sentence-transformers", "- sentence-similarity", "- feature-extraction", "- sentvec"]
    if facts.base_model:
        lines.append(f"base_model: {facts.base_model}")
    lines += ["---", "", f"# {facts.name}", ""]
    lines.append(
        f"A sentence embedding model: it maps text to a {facts.dimension}-dimensional vector for semantic similarity, "
        "search, clustering and classification. Written by sentvec; sentvec and sentence-transformers both load it."
    )
    lines += ["", "## Model", "", "| | |", "|---|---|"]
    if facts.base_model:
        lines.append(f"| base model | `{facts.base_model}` |")
    lines += [
        f"| modules | {' → '.join(facts.modules)} |",
        f"| dimension | {facts.dimension} |",
        f"| max sequence length | {facts.max_seq_length} tokens (longer inputs are truncated) |",
        f"| similarity function | {facts.similarity_fn} |",
    ]
    if facts.prompts:
        lines.append(f"| prompts | {', '.join(f'`{k}`: {v!r}' for k, v in facts.prompts.items())} |")
    lines += ["", "## Usage", "", "```python", "import sentvec", "", f'model = sentvec.load("{facts.name}")']
    lines += ['embeddings = model.encode(["The weather is lovely today.", "It is sunny outside."])']
    lines += ["print(model.similarity(embeddings, embeddings))", "```"]
    if training is not None:
        lines += _training_section(training)
    return "\n".join(lines) + "\n"


def render_reranker_card(facts: RerankerCardFacts, training: TrainingSummary | None = None) -> str:
    """A cross-encoder's card as Markdown, with a YAML header the Hugging Face Hub reads (the reference's
    ``text-ranking`` pipeline tag)."""
    lines = ["---", "library_name: sentence-transformers", "pipeline_tag: text-ranking", "tags:"]
    lines += ["- sentence-transformers", "- cross-encoder", "- reranker", "- sentvec"]
    if facts.base_model:
        lines.append(f"base_model: {facts.base_model}")
    lines += ["---", "", f"# {facts.name}", ""]
    what = (
        "a relevance score for each (query, document) pair, to rerank search results"
        if facts.num_labels == 1
        else f"{facts.num_labels} scores for each pair of texts, one per class ({', '.join(facts.labels)})"
    )
    lines.append(
        f"A cross-encoder: it reads two texts together and gives {what}. Written by sentvec; sentvec and "
        "sentence-transformers (`CrossEncoder`) both load it."
    )
    lines += ["", "## Model", "", "| | |", "|---|---|"]
    if facts.base_model:
        lines.append(f"| base model | `{facts.base_model}` |")
    lines += [
        f"| architecture | {facts.architecture} (sequence classification) |",
        f"| labels | {facts.num_labels} |",
        f"| max length | {facts.max_length} tokens per pair (longer pairs are truncated) |",
        f"| activation | {facts.activation} |",
    ]
    lines += ["", "## Usage", "", "```python", "import sentvec", ""]
    lines.append(f'model = sentvec.load_reranker("{facts.name}")')
    if facts.num_labels == 1:
        lines += ['hits = model.rank("How do plants make food?", ["Photosynthesis turns light into sugar.",']
        lines += ['                                                  "The stock market fell."])']
        lines += ["print(hits)", "```"]
    else:
        lines += ['scores = model.predict([("A man eats.", "Someone has a meal.")], apply_softmax=True)']
        lines += ["print(scores)", "```"]
    if training is not None:
        lines += _training_section(training)
    return "\n".join(lines) + "\n"


def _training_section(training: TrainingSummary) -> list[str]:
    lines = ["", "## Training", "", f"{training.steps} optimizer steps.", "", "| dataset | columns | rows | loss |"]
    lines.append("|---|---|---:|---|")
    for d in training.datasets:
        rows = "?" if d.rows is None else str(d.rows)
        lines.append(f"| {d.name} | {', '.join(d.columns)} | {rows} | {d.loss} |")
    if training.evaluation:
        lines += ["", "### Evaluation", "", "| metric | value |", "|---|---:|"]
        lines += [f"| {k} | {v:.4f} |" for k, v in training.evaluation.items()]
    lines += ["", "### Arguments", "", "```json", json.dumps(dict(training.arguments), indent=2, default=str), "```"]
    return lines


def dataset_summaries(
    names: Sequence[str], columns: Sequence[Sequence[str]], rows: Sequence[int | None], losses: Sequence[str]
) -> tuple[DatasetSummary, ...]:
    """One summary per dataset, from parallel sequences."""
    return tuple(
        DatasetSummary(name=n, columns=tuple(c), rows=r, loss=loss)
        for n, c, r, loss in zip(names, columns, rows, losses, strict=True)
    )
