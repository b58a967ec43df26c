"""Porting suite: snippets in the reference library's documented style, each run twice — once with the reference's
import line, once with sentvec's — and nothing else changed. Each snippet leaves its answer in ``result``, and the
two answers are compared (values within float tolerance, structure exactly)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.real_model, pytest.mark.reference]

ST = "sentence_transformers"
SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "A woman is playing violin.",
    "Two men pushed carts through the woods.",
    "A man is riding a white horse on an enclosed ground.",
    "A monkey is playing drums.",
    "Someone in a gorilla costume is playing a set of drums.",
    "A cheetah is running behind its prey.",
]

# (name, reference import line, sentvec import line, code). The code is the same for both.
SNIPPETS: list[tuple[str, str, str, str]] = [
    (
        "encode",
        f"from {ST} import SentenceTransformer",
        "from sentvec import SentenceTransformer",
        """
        model = SentenceTransformer(MODEL)
        result = model.encode(SENTENCES)
    """,
    ),
    (
        "encode_one_string",
        f"from {ST} import SentenceTransformer",
        "from sentvec import SentenceTransformer",
        """
        model = SentenceTransformer(MODEL)
        result = model.encode("That is a happy person")
    """,
    ),
    (
        "similarity",
        f"from {ST} import SentenceTransformer",
        "from sentvec import SentenceTransformer",
        """
        model = SentenceTransformer(MODEL)
        embeddings = model.encode(SENTENCES)
        result = model.similarity(embeddings, embeddings)
    """,
    ),
    (
        "similarity_dot",
        f"from {ST} import SentenceTransformer",
        "from sentvec import SentenceTransformer",
        """
        model = SentenceTransformer(MODEL, similarity_fn_name="dot")
        embeddings = model.encode(SENTENCES)
        result = [model.similarity_fn_name, model.similarity(embeddings[:3], embeddings)]
    """,
    ),
    (
        "similarity_fn_setter",
        f"from {ST} import SentenceTransformer",
        "from sentvec import SentenceTransformer",
        """
        model = SentenceTransformer(MODEL)
        model.similarity_fn_name = "euclidean"
        embeddings = model.encode(SENTENCES[:4])
        result = model.similarity(embeddings, embeddings)
    """,
    ),
    (
        "normalize",
        f"from {ST} import SentenceTransformer",
        "from sentvec import SentenceTransformer",
        """
        model = SentenceTransformer(MODEL)
        result = model.encode(SENTENCES, normalize_embeddings=True, batch_size=4)
    """,
    ),
    (
        "query_document",
        f"from {ST} import SentenceTransformer",
        "from sentvec import SentenceTransformer",
        """
        model = SentenceTransformer(MODEL)
        query_embeddings = model.encode_query(["Who is riding?"])
        document_embeddings = model.encode_document(SENTENCES)
        result = model.similarity(query_embeddings, document_embeddings)
    """,
    ),
    (
        "prompts",
        f"from {ST} import SentenceTransformer",
        "from sentvec import SentenceTransformer",
        """
        model = SentenceTransformer(MODEL, prompts={"query": "query: ", "passage": "passage: "},
                                    default_prompt_name="query")
        result = [model.encode(SENTENCES[:3]), model.encode(SENTENCES[:3], prompt_name="passage"),
                  model.encode(SENTENCES[:3], prompt="Represent this: "), model.encode_document(SENTENCES[:3])]
    """,
    ),
    (
        "truncate_dim",
        f"from {ST} import SentenceTransformer",
        "from sentvec import SentenceTransformer",
        """
        model = SentenceTransformer(MODEL, truncate_dim=128)
        result = [model.get_sentence_embedding_dimension(), model.encode(SENTENCES)]
    """,
    ),
    (
        "truncate_dim_per_call",
        f"from {ST} import SentenceTransformer",
        "from sentvec import SentenceTransformer",
        """
        model = SentenceTransformer(MODEL)
        result = model.encode(SENTENCES, truncate_dim=64)
    """,
    ),
    (
        "facts",
        f"from {ST} import SentenceTransformer",
        "from sentvec import SentenceTransformer",
        """
        model = SentenceTransformer(MODEL)
        result = [model.get_sentence_embedding_dimension(), model.get_max_seq_length(), model.max_seq_length]
    """,
    ),
    (
        "max_seq_length",
        f"from {ST} import SentenceTransformer",
        "from sentvec import SentenceTransformer",
        """
        model = SentenceTransformer(MODEL)
        model.max_seq_length = 8
        result = [model.max_seq_length, model.encode(SENTENCES)]
    """,
    ),
    (
        "tensor",
        f"from {ST} import SentenceTransformer",
        "from sentvec import SentenceTransformer",
        """
        model = SentenceTransformer(MODEL)
        embeddings = model.encode(SENTENCES, convert_to_tensor=True)
        result = [type(embeddings).__name__, embeddings.shape[0], embeddings]
    """,
    ),
    (
        "token_embeddings",
        f"from {ST} import SentenceTransformer",
        "from sentvec import SentenceTransformer",
        """
        model = SentenceTransformer(MODEL)
        tokens = model.encode(SENTENCES[:3], output_value="token_embeddings")
        result = [t.shape[0] for t in tokens] + [tokens[1]]
    """,
    ),
    (
        "binary_precision",
        f"from {ST} import SentenceTransformer",
        "from sentvec import SentenceTransformer",
        """
        model = SentenceTransformer(MODEL)
        result = [model.encode(SENTENCES, precision="binary"), model.encode(SENTENCES, precision="ubinary")]
    """,
    ),
    (
        "cos_sim",
        f"from {ST} import SentenceTransformer, util",
        "from sentvec import SentenceTransformer, util",
        """
        model = SentenceTransformer(MODEL)
        emb1 = model.encode("The new movie is awesome")
        emb2 = model.encode("The new movie is so great")
        result = util.cos_sim(emb1, emb2)
    """,
    ),
    (
        "dot_and_pairwise",
        f"from {ST} import SentenceTransformer, util",
        "from sentvec import SentenceTransformer, util",
        """
        model = SentenceTransformer(MODEL)
        a = model.encode(SENTENCES[:5])
        b = model.encode(SENTENCES[5:])
        result = [util.dot_score(a, b), util.pairwise_cos_sim(a, b), util.pairwise_dot_score(a, b),
                  util.normalize_embeddings(util.cos_sim(a, b))]
    """,
    ),
    (
        "top_k_with_torch",
        f"from {ST} import SentenceTransformer, util",
        "from sentvec import SentenceTransformer, util",
        """
        import torch
        model = SentenceTransformer(MODEL)
        corpus_embeddings = model.encode(SENTENCES, convert_to_tensor=True)
        query_embedding = model.encode("A man is eating pasta.", convert_to_tensor=True)
        cos_scores = util.cos_sim(query_embedding, corpus_embeddings)[0]
        top_results = torch.topk(cos_scores, k=3)
        result = [top_results.indices.tolist(), top_results.values]
    """,
    ),
    (
        "semantic_search",
        f"from {ST} import SentenceTransformer, util",
        "from sentvec import SentenceTransformer, util",
        """
        model = SentenceTransformer(MODEL)
        corpus_embeddings = model.encode(SENTENCES)
        query_embeddings = model.encode(["A man is eating pasta.", "Someone in a gorilla costume is playing drums."])
        hits = util.semantic_search(query_embeddings, corpus_embeddings, top_k=5)
        result = [[(hit["corpus_id"], hit["score"]) for hit in row] for row in hits]
    """,
    ),
    (
        "semantic_search_dot",
        f"from {ST} import SentenceTransformer, util",
        "from sentvec import SentenceTransformer, util",
        """
        model = SentenceTransformer(MODEL)
        corpus_embeddings = model.encode(SENTENCES, normalize_embeddings=True)
        query_embeddings = model.encode(["A man is eating pasta."], normalize_embeddings=True)
        hits = util.semantic_search(query_embeddings, corpus_embeddings, top_k=3, score_function=util.dot_score)
        result = [[(hit["corpus_id"], hit["score"]) for hit in row] for row in hits]
    """,
    ),
    (
        "paraphrase_mining",
        f"from {ST} import SentenceTransformer, util",
        "from sentvec import SentenceTransformer, util",
        """
        model = SentenceTransformer(MODEL)
        paraphrases = util.paraphrase_mining(model, SENTENCES)
        result = [[score, i, j] for score, i, j in paraphrases[:10]]
    """,
    ),
    (
        "paraphrase_mining_embeddings",
        f"from {ST} import SentenceTransformer, util",
        "from sentvec import SentenceTransformer, util",
        """
        model = SentenceTransformer(MODEL)
        embeddings = model.encode(SENTENCES, convert_to_tensor=True)
        result = util.paraphrase_mining_embeddings(embeddings, top_k=2, max_pairs=7)
    """,
    ),
    (
        "community_detection",
        f"from {ST} import SentenceTransformer, util",
        "from sentvec import SentenceTransformer, util",
        """
        model = SentenceTransformer(MODEL)
        variants = SENTENCES + [s.replace(".", "!") for s in SENTENCES] + [s + " Really." for s in SENTENCES]
        embeddings = model.encode(variants, convert_to_tensor=True)
        result = util.community_detection(embeddings, min_community_size=3, threshold=0.6)
    """,
    ),
    (
        "quantize_int8",
        f"from {ST} import SentenceTransformer\nfrom {ST}.quantization import quantize_embeddings",
        "from sentvec import SentenceTransformer\nfrom sentvec.util import quantize_embeddings",
        """
        model = SentenceTransformer(MODEL)
        embeddings = model.encode(SENTENCES)
        calibration = model.encode(SENTENCES[::-1] + ["Something else entirely.", "And one more."])
        result = [quantize_embeddings(embeddings, precision="int8", calibration_embeddings=calibration),
                  quantize_embeddings(embeddings, precision="uint8"),
                  quantize_embeddings(embeddings, precision="binary")]
    """,
    ),
    (
        "save_and_reload",
        f"from {ST} import SentenceTransformer",
        "from sentvec import SentenceTransformer",
        """
        model = SentenceTransformer(MODEL)
        model.save(str(TMP / "saved"))
        reloaded = SentenceTransformer(str(TMP / "saved"))
        result = [reloaded.max_seq_length, reloaded.encode(SENTENCES)]
    """,
    ),
    (
        "evaluator",
        f"from {ST} import SentenceTransformer\nfrom {ST}.evaluation import EmbeddingSimilarityEvaluator",
        "from sentvec import SentenceTransformer\nfrom sentvec.evaluation import EmbeddingSimilarityEvaluator",
        """
        model = SentenceTransformer(MODEL)
        evaluator = EmbeddingSimilarityEvaluator(SENTENCES[:6], SENTENCES[1:7], [4.5, 0.5, 1.0, 0.2, 0.1, 3.0],
                                                 name="sts-dev")
        results = evaluator(model)
        result = [results["sts-dev_spearman_cosine"], results["sts-dev_pearson_cosine"]]
    """,
    ),
    (
        "train_mnrl",
        f"from {ST} import SentenceTransformer, SentenceTransformerTrainer, losses",
        "from sentvec import SentenceTransformer, SentenceTransformerTrainer, losses",
        """
        from datasets import Dataset
        model = SentenceTransformer(MODEL)
        before = model.encode(SENTENCES)
        train_dataset = Dataset.from_dict({"anchor": SENTENCES[:8:2], "positive": SENTENCES[1:9:2]})
        loss = losses.MultipleNegativesRankingLoss(model)
        trainer = SentenceTransformerTrainer(model=model, train_dataset=train_dataset, loss=loss)
        trainer.train()
        result = [before, model.encode(SENTENCES)]
    """,
    ),
]
# Where the two libraries answer on purpose in different terms (README, "Porting"): evaluator values are ×100 in
# sentvec; training draws its own dropout masks and shuffles, so trained vectors agree closely, not to 1e-5.
EVALUATOR_SCALE = 100.0


def _compare_evaluator(ours: list, theirs: list) -> None:
    assert ours[0] == pytest.approx(EVALUATOR_SCALE * theirs[0], abs=1e-3)
    assert ours[1] == pytest.approx(EVALUATOR_SCALE * theirs[1], abs=1e-3)


def _compare_training(ours: list, theirs: list) -> None:
    before_ours, after_ours = (np.asarray(x) for x in ours)
    before_theirs, after_theirs = (np.asarray(x) for x in theirs)
    assert np.abs(before_ours - before_theirs).max() <= 1e-5
    assert np.abs(after_ours - before_ours).max() > 1e-4 and np.abs(after_theirs - before_theirs).max() > 1e-4
    # both trained the same way: each moved the vectors the same direction, by about as much
    moved_ours, moved_theirs = after_ours - before_ours, after_theirs - before_theirs
    agreement = (moved_ours * moved_theirs).sum() / np.linalg.norm(moved_ours) / np.linalg.norm(moved_theirs)
    ratio = np.linalg.norm(moved_ours) / np.linalg.norm(moved_theirs)
    assert agreement >= 0.8 and 0.7 <= ratio <= 1.4, (agreement, ratio)


COMPARE = {"evaluator": _compare_evaluator, "train_mnrl": _compare_training}


def _run(import_line: str, code: str, model: Path, tmp: Path) -> object:
    namespace: dict[str, object] = {"MODEL": str(model), "SENTENCES": list(SENTENCES), "TMP": tmp}
    exec(import_line + "\n" + textwrap.dedent(code), namespace)
    return namespace["result"]


def _plain(value: object) -> object:
    """Tensors and arrays as float64 numpy, lists and tuples as lists, the rest as is."""
    if type(value).__module__.startswith("torch"):
        value = value.detach().cpu().numpy()  # type: ignore[attr-defined]
    if isinstance(value, np.ndarray):
        return value.astype(np.float64) if value.dtype.kind == "f" else value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _assert_same(ours: object, theirs: object, where: str = "result") -> None:
    ours, theirs = _plain(ours), _plain(theirs)
    if isinstance(theirs, np.ndarray):
        assert isinstance(ours, np.ndarray), f"{where}: {type(ours).__name__} instead of an array"
        assert ours.shape == theirs.shape, f"{where}: shape {ours.shape} vs {theirs.shape}"
        if theirs.dtype.kind == "f":
            assert np.abs(ours - theirs).max() <= 1e-5, f"{where}: max abs diff {np.abs(ours - theirs).max()}"
        else:
            assert ours.dtype == theirs.dtype, f"{where}: dtype {ours.dtype} vs {theirs.dtype}"
            assert (ours == theirs).all(), f"{where}: codes differ"
    elif isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs), f"{where}: {ours!r} vs {theirs!r}"
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            _assert_same(a, b, f"{where}[{i}]")
    elif isinstance(theirs, float):
        assert ours == pytest.approx(theirs, abs=1e-5), f"{where}: {ours} vs {theirs}"
    else:
        assert ours == theirs, f"{where}: {ours!r} vs {theirs!r}"


@pytest.mark.parametrize(("name", "reference_import", "sentvec_import", "code"), SNIPPETS, ids=[s[0] for s in SNIPPETS])
def test_snippet(
    name: str, reference_import: str, sentvec_import: str, code: str, model_folder: Path, tmp_path: Path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # trainers write their default output folders into the working directory
    theirs = _run(reference_import, code, model_folder, tmp_path / "reference")
    ours = _run(sentvec_import, code, model_folder, tmp_path / "sentvec")
    COMPARE.get(name, _assert_same)(ours, theirs)
