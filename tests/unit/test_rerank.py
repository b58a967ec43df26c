"""Cross-encoder reranking on tiny random sequence-classification models built here: loading both of the reference's
folder layouts, predict/rank semantics, activation defaults, the truncation report, saving, errors."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _tiny_model import HIDDEN, VOCAB, build_tokenizer, write_json

import sentvec
from sentvec.errors import ModelFormatError
from sentvec.rerank import Activation, CrossEncoder, RankedDocument, load_reranker

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

MAX_LENGTH = 24
COMMON = {"vocab_size": len(VOCAB), "pad_token_id": 0, "initializer_range": 0.2}
_LAYERS = {"hidden_size": HIDDEN, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 37}
_ROBERTA = {**_LAYERS, "max_position_embeddings": 66, "type_vocab_size": 1, "bos_token_id": 2, "eos_token_id": 3}
ARCHITECTURES = {
    "bert": ("BertConfig", {**_LAYERS, "max_position_embeddings": 64}),
    "roberta": ("RobertaConfig", _ROBERTA),
    "xlm-roberta": ("XLMRobertaConfig", _ROBERTA),
    "distilbert": (
        "DistilBertConfig",
        {"dim": HIDDEN, "n_layers": 2, "n_heads": 2, "hidden_dim": 37, "max_position_embeddings": 64},
    ),
    "mpnet": ("MPNetConfig", {**_LAYERS, "max_position_embeddings": 66, "bos_token_id": 2, "eos_token_id": 3}),
}
SIGMOID = "torch.nn.modules.activation.Sigmoid"
IDENTITY = "torch.nn.modules.linear.Identity"

QUERY = "the quick brown dog"
DOCS = [
    "a quick brown dog jumps over the lazy cat",
    "the cat sleeps",
    "",
    "she reads a good book in the house by the river",
    "birds sing",
    "they walked to the city at night and saw the big red moon",
]
PAIRS = [(QUERY, d) for d in DOCS] + [("hello world", "the dog runs"), ("", "")]


def build_reranker(
    folder: Path,
    arch: str = "bert",
    *,
    num_labels: int = 1,
    layout: str = "st6",
    activation: str | None = None,
    hf_activation: str | None = None,
    legacy_activation: str | None = None,
    seed: int = 0,
) -> Path:
    """A reranker folder around a random ``arch`` sequence-classification model.

    ``layout``: "st6" (modules.json + config_sentence_transformers.json with model_type CrossEncoder, as
    sentence-transformers 6.x writes) or "hf" (config.json only). ``activation`` goes into
    config_sentence_transformers.json (st6), ``hf_activation`` into config.json's ``sentence_transformers`` key,
    ``legacy_activation`` into config.json's ``sbert_ce_default_activation_function``.
    """
    name, kwargs = ARCHITECTURES[arch]
    torch.manual_seed(seed)
    config = getattr(transformers, name)(**COMMON, **kwargs, num_labels=num_labels)
    model = transformers.AutoModelForSequenceClassification.from_config(config).eval()
    model.save_pretrained(str(folder), safe_serialization=True)
    build_tokenizer(folder / "tokenizer.json")
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": MAX_LENGTH,
        "pad_token": "[PAD]",
        "unk_token": "[UNK]",
        "cls_token": "[CLS]",
        "sep_token": "[SEP]",
        "mask_token": "[MASK]",
    }
    if arch == "bert":  # as BERT's own tokenizer: token type ids (0 query, 1 document)
        tokenizer_config["model_input_names"] = ["input_ids", "token_type_ids", "attention_mask"]
    write_json(folder / "tokenizer_config.json", tokenizer_config)
    hf = json.loads((folder / "config.json").read_text())
    if hf_activation is not None:
        hf["sentence_transformers"] = {"activation_fn": hf_activation, "version": "4.0.1"}
    if legacy_activation is not None:
        hf["sbert_ce_default_activation_function"] = legacy_activation
    write_json(folder / "config.json", hf)
    if layout == "st6":
        write_json(
            folder / "modules.json",
            [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.base.modules.transformer.Transformer"}],
        )
        write_json(
            folder / "sentence_bert_config.json",
            {
                "transformer_task": "sequence-classification",
                "modality_config": {"text": {"method": "forward", "method_output_name": "logits"}},
                "module_output_name": "scores",
            },
        )
        st = {"model_type": "CrossEncoder", "prompts": {}, "default_prompt_name": None}
        if activation is not None:
            st["activation_fn"] = activation
        write_json(folder / "config_sentence_transformers.json", st)
    return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("rerankers")
    out = {arch: build_reranker(root / arch, arch, activation=SIGMOID) for arch in ARCHITECTURES}
    out["bert-3"] = build_reranker(root / "bert-3", num_labels=3, layout="hf", seed=1)
    out["bert-hf"] = build_reranker(root / "bert-hf", layout="hf", hf_activation=IDENTITY)
    out["bert-plain"] = build_reranker(root / "bert-plain", layout="hf")
    return out


@pytest.fixture(scope="module")
def reranker(folders) -> CrossEncoder:
    return load_reranker(folders["bert"], device="cpu")


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x.astype(np.float64)))


# --- loading ---------------------------------------------------------------------------------------------------
def test_public_names_and_light_import():
    code = (
        "import sys, sentvec, sentvec.rerank, sentvec.backends.rerank_onnx; "
        "sentvec.CrossEncoder, sentvec.load_reranker, sentvec.Reranker, sentvec.RankedDocument; "
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert sentvec.CrossEncoder is CrossEncoder and sentvec.load_reranker is load_reranker
    assert isinstance(load_reranker.__doc__, str)


def test_constructed_from_a_path_as_the_reference_or_from_parts(folders, reranker):
    """``CrossEncoder(path)`` is ``load_reranker(path)``: ported code changes only its import line."""
    direct = CrossEncoder(str(folders["bert"]), device="cpu", max_length=16)
    assert direct.max_length == 16 and direct.info().layout == "sentence-transformers"
    np.testing.assert_allclose(
        direct.predict(PAIRS[:3]), load_reranker(folders["bert"], max_length=16).predict(PAIRS[:3])
    )
    parts = CrossEncoder.from_parts(reranker.tokenizer, reranker.backend, reranker.config, activation_fn="identity")
    np.testing.assert_allclose(parts.predict(PAIRS), reranker.predict(PAIRS, activation_fn="identity"), atol=1e-6)
    assert CrossEncoder.from_parts(reranker.tokenizer, reranker.backend, reranker.config).activation_fn == "sigmoid"


def test_both_layouts_load_and_describe_themselves(folders, reranker):
    info = reranker.info()
    assert (info.layout, info.architecture, info.num_labels, info.labels) == (
        "sentence-transformers",
        "bert",
        1,
        ("LABEL_0",),
    )
    facts = (info.max_length, info.activation, info.segment_ids, info.backend.kind.value)
    assert facts == (24, "sigmoid", True, "torch")
    assert info.backend.modules == ("BertForSequenceClassification",)
    assert isinstance(reranker, sentvec.Reranker)
    hf = load_reranker(folders["bert-hf"]).info()
    assert (hf.layout, hf.activation) == ("huggingface", "identity")
    assert load_reranker(folders["roberta"]).info().segment_ids is False  # a single token type


@pytest.mark.parametrize(
    ("tokenizer_config", "expected"),
    [
        ({"tokenizer_class": "BertTokenizerFast"}, True),
        ({"tokenizer_class": "ElectraTokenizer"}, True),
        ({"tokenizer_class": "PreTrainedTokenizerFast"}, False),  # transformers 5: no token type ids
        ({"tokenizer_class": "AlbertTokenizer"}, False),
        ({"tokenizer_class": "PreTrainedTokenizerFast", "model_input_names": ["input_ids", "token_type_ids"]}, True),
        ({}, True),  # no class: the model type's tokenizer (BERT's)
    ],
)
def test_token_type_ids_follow_the_tokenizer_class(folders, tmp_path, tokenizer_config, expected):
    from sentvec.formats import read_reranker_config

    folder = tmp_path / "r"
    folder.mkdir()
    for name in ("config.json", "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json"):
        (folder / name).write_bytes((folders["bert"] / name).read_bytes())
    write_json(folder / "tokenizer_config.json", tokenizer_config)
    assert read_reranker_config(folder).segment_ids is expected


def test_default_activation_is_sigmoid_for_one_label_and_identity_otherwise(folders):
    one = load_reranker(folders["bert-plain"])
    three = load_reranker(folders["bert-3"])
    assert one.activation_fn is Activation.SIGMOID and three.activation_fn is Activation.IDENTITY
    logits = one.predict(PAIRS, activation_fn="identity")
    np.testing.assert_allclose(one.predict(PAIRS), sigmoid(logits), atol=1e-6)
    raw = three.predict(PAIRS)
    assert raw.shape == (len(PAIRS), 3) and raw.dtype == np.float32 and (raw < 0).any()
    np.testing.assert_array_equal(raw, three.predict(PAIRS, activation_fn=Activation.IDENTITY))
    soft = three.predict(PAIRS, apply_softmax=True)
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, atol=1e-6)
    expected = np.exp(raw - raw.max(1, keepdims=True))
    np.testing.assert_allclose(soft, expected / expected.sum(1, keepdims=True), atol=1e-6)
    np.testing.assert_allclose(three.predict(PAIRS, activation_fn="sigmoid"), sigmoid(raw), atol=1e-6)


def test_activation_from_each_place_the_reference_writes_it(tmp_path):
    both = build_reranker(tmp_path / "both", activation=IDENTITY, hf_activation=SIGMOID)
    assert load_reranker(both).activation_fn is Activation.IDENTITY  # config_sentence_transformers.json wins
    legacy = build_reranker(tmp_path / "legacy", layout="hf", legacy_activation="torch.nn.modules.activation.Tanh")
    assert load_reranker(legacy).activation_fn is Activation.TANH
    assert load_reranker(legacy, activation_fn="identity").activation_fn is Activation.IDENTITY


def test_an_untrusted_activation_path_falls_back_to_the_default_and_says_so(tmp_path, caplog):
    folder = build_reranker(tmp_path / "custom", activation="my_package.MyActivation")
    with caplog.at_level(logging.WARNING, logger="sentvec"):
        model = load_reranker(folder)
    assert model.activation_fn is Activation.SIGMOID
    assert "my_package.MyActivation" in caplog.text and "not trusted" in caplog.text
    with pytest.raises(ModelFormatError, match="never imports"):
        load_reranker(folder, trust_remote_code=True)
    unknown_torch = build_reranker(tmp_path / "hardtanh", activation="torch.nn.modules.activation.Hardtanh")
    with pytest.raises(ModelFormatError, match=r"config_sentence_transformers\.json.*Hardtanh"):
        load_reranker(unknown_torch)


def test_not_a_reranker_is_named(model_dir, tmp_path):
    with pytest.raises(ModelFormatError, match="sentence-embedding model"):
        load_reranker(model_dir)
    plain = tmp_path / "plain"
    plain.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (plain / name).write_bytes((model_dir / name).read_bytes())
    with pytest.raises(ModelFormatError, match=r"config\.json.*not a cross-encoder"):
        load_reranker(plain)
    # a classification config over weights without the head: transformers would make the head up
    hf = json.loads((plain / "config.json").read_text())
    write_json(plain / "config.json", {**hf, "architectures": ["BertForSequenceClassification"]})
    with pytest.raises(ModelFormatError, match=r"model\.safetensors.*classifier.*at random"):
        load_reranker(plain, backend="torch")
    with pytest.raises(ValueError, match="unknown backend"):
        load_reranker(model_dir, backend="tpu")


# --- predict ---------------------------------------------------------------------------------------------------
def test_predict_shapes_single_pairs_and_conversions(reranker, folders):
    scores = reranker.predict(PAIRS)
    assert scores.shape == (len(PAIRS),) and scores.dtype == np.float32
    assert ((scores > 0) & (scores < 1)).all()
    single = reranker.predict(PAIRS[0])
    assert np.ndim(single) == 0 and np.isclose(single, scores[0], atol=1e-6)
    assert np.isclose(reranker.predict(list(PAIRS[1])), scores[1], atol=1e-6)  # a pair as a two-item list
    assert reranker.predict([]).shape == (0,)
    assert load_reranker(folders["bert-3"]).predict([]).shape == (0, 3)
    rows = reranker.predict(PAIRS, convert_to_numpy=False)
    assert isinstance(rows, list) and len(rows) == len(PAIRS)
    tensor = reranker.predict(PAIRS, convert_to_tensor=True)
    assert isinstance(tensor, torch.Tensor) and torch.allclose(tensor, torch.from_numpy(scores))
    np.testing.assert_allclose(reranker.predict(np.array(PAIRS)), scores, atol=1e-6)


def test_logits_are_the_models(reranker):
    """The scores are the sequence-classification model's logits on the pair encoding (type ids 1 on the document)."""
    tokenized = reranker.tokenize(PAIRS[:1])
    ids, types = tokenized.ids[0], tokenized.type_ids[0]
    sep = VOCAB.index("[SEP]")
    assert ids[0] == VOCAB.index("[CLS]") and ids[-1] == sep and types[-1] == 1 and types[0] == 0
    assert types.sum() == len(DOCS[0].split()) + 1  # the document's tokens and its [SEP]
    with torch.no_grad():
        logits = reranker.torch.model(
            input_ids=torch.from_numpy(ids[None]), token_type_ids=torch.from_numpy(types[None])
        ).logits
    assert np.isclose(reranker.predict(PAIRS[0], activation_fn="identity"), logits.item(), atol=1e-6)


def test_batch_size_and_order_do_not_change_scores(reranker):
    want = reranker.predict(PAIRS, batch_size=1)
    for bs in (2, 3, 64):
        np.testing.assert_allclose(reranker.predict(PAIRS, batch_size=bs), want, atol=1e-6)
    np.testing.assert_allclose(reranker.predict(PAIRS[::-1], batch_size=3), want[::-1], atol=1e-6)


def test_custom_activations(reranker):
    logits = reranker.predict(PAIRS, activation_fn="identity")
    np.testing.assert_allclose(reranker.predict(PAIRS, activation_fn=lambda x: 2 * x), 2 * logits, atol=1e-6)
    np.testing.assert_allclose(reranker.predict(PAIRS, activation_fn=torch.nn.Sigmoid()), sigmoid(logits), atol=1e-6)
    softplus = reranker.predict(PAIRS, activation_fn=torch.nn.Softplus())  # outside the registry: run in torch
    np.testing.assert_allclose(softplus, np.log1p(np.exp(logits)), atol=1e-5)
    np.testing.assert_allclose(reranker.predict(PAIRS, activation_fn="torch.nn.Tanh"), np.tanh(logits), atol=1e-6)
    with pytest.raises(ValueError, match="unknown activation"):
        reranker.predict(PAIRS, activation_fn="swish-ish")
    with pytest.raises(ValueError, match="shape"):
        reranker.predict(PAIRS, activation_fn=lambda x: x[:1])


def test_truncation_is_longest_first_and_reported_once(reranker, caplog):
    long_query, long_doc = "the cat " * 20, "dog runs " * 30
    pairs = [(long_query, "dog"), ("dog", long_doc), (long_query, long_doc), ("a dog", "the cat")]
    with caplog.at_level(logging.WARNING, logger="sentvec"):
        scores, info = reranker.predict(pairs, return_info=True)
    records = [r for r in caplog.records if "truncated" in r.getMessage()]
    assert len(records) == 1 and "3 of 4 pairs exceed max_length=24" in records[0].getMessage()
    assert info.truncated.tolist() == [True, True, True, False] and info.truncated_indices == [0, 1, 2]
    assert info.token_counts.tolist() == [3 + 40 + 1, 3 + 1 + 60, 3 + 40 + 60, 3 + 2 + 2]
    assert info.max_seq_length == 24 and scores.shape == (4,)
    tokenized = reranker.tokenize(pairs)
    assert tokenized.lengths.tolist() == [24, 24, 24, 7]
    dog = VOCAB.index("dog")
    first, second = tokenized.ids[0], tokenized.ids[1]
    assert first[-3:].tolist() == [VOCAB.index("[SEP]"), dog, VOCAB.index("[SEP]")]  # the short text is kept whole
    assert second[1] == dog and second[2] == VOCAB.index("[SEP]")
    types = tokenized.type_ids[2].tolist()
    n_query, n_doc = types.count(0) - 2, types.count(1) - 1  # both long: 21 text tokens shared out evenly
    assert n_query + n_doc == 21 and abs(n_query - n_doc) == 1
    with caplog.at_level(logging.WARNING, logger="sentvec"):
        caplog.clear()
        reranker.predict(pairs[3:])
    assert not caplog.records


def test_max_length_is_a_load_option_and_a_setting(folders):
    model = load_reranker(folders["bert"], max_length=10)
    assert model.max_length == model.max_seq_length == 10
    assert model.predict([("the cat " * 5, "a dog")], return_info=True)[1].n_truncated == 1
    model.max_length = 64
    assert model.predict([("the cat " * 5, "a dog")], return_info=True)[1].n_truncated == 0
    with pytest.raises(ValueError, match="max_length must be an integer >= 5"):
        model.max_length = 3


def test_prompts_go_in_front_of_the_first_text(tmp_path):
    folder = build_reranker(tmp_path / "prompted")
    st = json.loads((folder / "config_sentence_transformers.json").read_text())
    write_json(folder / "config_sentence_transformers.json", {**st, "prompts": {"query": "query: "}})
    model = load_reranker(folder)
    with_prompt = model.predict([("query: the cat", "a dog")])
    np.testing.assert_allclose(model.predict([("the cat", "a dog")], prompt_name="query"), with_prompt, atol=1e-6)
    np.testing.assert_allclose(model.predict([("the cat", "a dog")], prompt="query: "), with_prompt, atol=1e-6)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda m: m.predict("a"), TypeError, "got str"),
        (lambda m: m.predict([("a",)]), TypeError, r"pairs\[0\] has 1 items, expected 2"),
        (lambda m: m.predict([("a", "b"), ("c", 1)]), TypeError, r"pairs\[1\]\[1\] is int, expected str"),
        (lambda m: m.predict([("a", "b"), "cd"]), TypeError, r"pairs\[1\] is str, expected a \(query, document\)"),
        (lambda m: m.predict(("a", "b", "c")), TypeError, "pair has 3 items"),
        (lambda m: m.predict(None), TypeError, "got NoneType"),
        (lambda m: m.predict(PAIRS, batch_size=0), ValueError, "batch_size must be a positive integer"),
        (lambda m: m.predict(PAIRS, device="cuda"), TypeError, r"unknown keyword\(s\) \['device'\]; valid"),
        (lambda m: m.predict(PAIRS, prompt_name="query"), ValueError, "not one of the model's prompts"),
        (lambda m: m.rank(1, DOCS), TypeError, "query must be a str"),
        (lambda m: m.rank("q", "a document"), TypeError, "documents must be a sequence of strings"),
        (lambda m: m.rank("q", ["a", None]), TypeError, r"documents\[1\] is NoneType"),
        (lambda m: m.rank("q", DOCS, top_k=-1), ValueError, "top_k must be >= 0"),
        (lambda m: m.rank("q", DOCS, top_k=1.5), TypeError, "top_k must be an int"),
        (lambda m: m.rank("q", DOCS, k=3), TypeError, r"rank\(\) got unknown keyword"),
    ],
)
def test_bad_input_is_named(reranker, call, error, match):
    with pytest.raises(error, match=match):
        call(reranker)


# --- rank --------------------------------------------------------------------------------------------------------
def test_rank_orders_documents_by_score(reranker):
    scores = reranker.predict([(QUERY, d) for d in DOCS])
    hits = reranker.rank(QUERY, DOCS)
    assert [h.corpus_id for h in hits] == np.argsort(-scores, kind="stable").tolist()
    assert all(isinstance(h, RankedDocument) and h.text is None for h in hits)
    np.testing.assert_allclose([h.score for h in hits], np.sort(scores)[::-1], atol=1e-6)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    top = reranker.rank(QUERY, DOCS, top_k=2, return_documents=True)
    assert [(h.corpus_id, h.text) for h in top] == [(h.corpus_id, DOCS[h.corpus_id]) for h in hits[:2]]
    assert len(reranker.rank(QUERY, DOCS, top_k=100)) == len(DOCS)  # clamped
    assert reranker.rank(QUERY, DOCS, top_k=0) == [] and reranker.rank(QUERY, []) == []
    ranked, info = reranker.rank(QUERY, DOCS, return_info=True)
    assert ranked == hits and info.truncated.shape == (len(DOCS),)


def test_rank_porting_forms(reranker):
    hit = reranker.rank(QUERY, DOCS, return_documents=True)[0]
    assert hit.to_dict() == {"corpus_id": hit.corpus_id, "score": hit.score, "text": DOCS[hit.corpus_id]}
    assert (hit["corpus_id"], hit["score"], hit["text"]) == (hit.corpus_id, hit.score, hit.text)
    bare = reranker.rank(QUERY, DOCS)[0]
    assert set(bare.to_dict()) == {"corpus_id", "score"}
    with pytest.raises(KeyError):
        bare["text"]


def test_rank_ties_keep_input_order(reranker):
    hits = reranker.rank("the cat", ["a dog", "a dog", "the cat", "a dog"])
    same = [h.corpus_id for h in hits if h.corpus_id != 2]
    assert same == sorted(same)


def test_rank_needs_one_label(folders):
    with pytest.raises(ValueError, match=r"rank\(\) needs a one-label model.*3 labels"):
        load_reranker(folders["bert-3"]).rank(QUERY, DOCS)


# --- saving ------------------------------------------------------------------------------------------------------
def test_save_writes_the_reference_layout_and_round_trips(folders, tmp_path):
    model = load_reranker(folders["bert-hf"], max_length=20)  # read from the older layout, written in the 6.x one
    model.save(tmp_path / "saved")
    saved = tmp_path / "saved"
    modules = json.loads((saved / "modules.json").read_text())
    assert modules == [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.base.modules.transformer.Transformer"}
    ]
    st = json.loads((saved / "config_sentence_transformers.json").read_text())
    assert st["model_type"] == "CrossEncoder" and st["activation_fn"] == IDENTITY
    hf = json.loads((saved / "config.json").read_text())
    assert hf["sentence_transformers"] == {"activation_fn": IDENTITY}
    sbert = json.loads((saved / "sentence_bert_config.json").read_text())
    assert sbert["transformer_task"] == "sequence-classification" and sbert["max_seq_length"] == 20
    assert json.loads((saved / "tokenizer_config.json").read_text())["model_max_length"] == 20
    again = load_reranker(saved)
    facts = (again.info().layout, again.max_length, again.activation_fn)
    assert facts == ("sentence-transformers", 20, Activation.IDENTITY)
    np.testing.assert_allclose(again.predict(PAIRS), model.predict(PAIRS), atol=1e-6)


# --- the reference on the same folders -------------------------------------------------------------------------
@pytest.mark.reference
@pytest.mark.parametrize("arch", [*sorted(ARCHITECTURES), "bert-plain"])  # bert-plain: a generic tokenizer class
def test_torch_matches_the_reference(folders, arch):
    st = pytest.importorskip("sentence_transformers")
    long_pairs = [*PAIRS, ("the cat " * 20, "dog runs " * 12)]  # truncated longest_first by both
    theirs = st.CrossEncoder(str(folders[arch]), device="cpu")
    ours = load_reranker(folders[arch], device="cpu")
    assert ours.max_length == theirs.max_seq_length
    want = theirs.predict(long_pairs, batch_size=4, activation_fn=torch.nn.Identity())
    assert np.abs(ours.predict(long_pairs, batch_size=4, activation_fn="identity") - want).max() <= 1e-5, arch
    assert np.abs(ours.predict(long_pairs) - theirs.predict(long_pairs)).max() <= 1e-5, arch
    want_rank = theirs.rank(QUERY, DOCS, return_documents=True, top_k=4)
    got_rank = [h.to_dict() for h in ours.rank(QUERY, DOCS, return_documents=True, top_k=4)]
    assert [h["corpus_id"] for h in got_rank] == [h["corpus_id"] for h in want_rank]
    assert np.allclose([h["score"] for h in got_rank], [h["score"] for h in want_rank], atol=1e-5)


@pytest.mark.reference
def test_the_reference_reads_what_sentvec_saves(folders, tmp_path):
    st = pytest.importorskip("sentence_transformers")
    three = load_reranker(folders["bert-3"])
    three.save(tmp_path / "three")
    theirs = st.CrossEncoder(str(tmp_path / "three"), device="cpu")
    assert np.abs(theirs.predict(PAIRS) - three.predict(PAIRS)).max() <= 1e-5
    one = load_reranker(folders["roberta"], max_length=12)
    one.save(tmp_path / "one")
    theirs = st.CrossEncoder(str(tmp_path / "one"), device="cpu")
    assert theirs.max_seq_length == 12 and type(theirs.activation_fn).__name__ == "Sigmoid"
    long_pairs = [*PAIRS, ("the cat " * 20, "dog")]
    assert np.abs(theirs.predict(long_pairs) - one.predict(long_pairs)).max() <= 1e-5


def test_loading_a_reranker_as_an_encoder_points_to_load_reranker(folders, tmp_path):
    from sentvec.errors import ModelFormatError

    saved = tmp_path / "saved"
    load_reranker(str(next(iter(folders.values())))).save(saved)  # the 6.x layout: model_type CrossEncoder
    with pytest.raises(ModelFormatError, match=r"cross-encoder .* sentvec\.load_reranker"):
        sentvec.load(str(saved))
