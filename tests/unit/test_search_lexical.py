"""Lexical search in memory: the tokenizers (sentvec.search.terms), the Porter stemmer against SQLite FTS5's, BM25
(sentvec.search.lexical) against FTS5's bm25(), the fusions (sentvec.search.fusion) and hybrid_search; and the
Chinese paraphrase-retrieval task built from STSb-zh test (lexical recall@10 >= 85)."""

from __future__ import annotations

import csv
import math
import os
import random
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from _tiny_model import WORDS

from sentvec.search import (
    BM25,
    FusionMethod,
    HybridHit,
    LexicalTokenizer,
    SearchMode,
    convex_combination,
    hybrid_search,
    reciprocal_rank_fusion,
    semantic_search,
    tokenize,
)
from sentvec.search.fusion import fuse, min_max
from sentvec.search.porter import stem
from sentvec.search.terms import cjk_terms, normalize

STSB_ZH = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "stsb" / "stsb-zh-test.csv"


def fts5() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("CREATE VIRTUAL TABLE probe USING fts5(t)")
    except sqlite3.OperationalError:
        pytest.skip("this Python's SQLite has no FTS5")
    return conn


# --- tokenizers ---------------------------------------------------------------------------------------------------


def test_tokenizers():
    text = "Running DOGS are running; café naïve — snake_case x² Ｆｕｌｌ１２"
    assert tokenize(text, "english") == ["run", "dog", "ar", "run", "cafe", "naiv", "snake", "case", "x2", "full12"]
    assert tokenize(text, LexicalTokenizer.CJK)[:3] == ["running", "dogs", "are"]  # no stemming
    assert tokenize(text) == tokenize(text, "english")  # mixed: the same for text without CJK
    zh = "一个女孩正在梳头。"
    assert tokenize(zh, "english") == ["一个女孩正在梳头"]  # one word, as FTS5's unicode61 takes it
    assert tokenize(zh) == tokenize(zh, "cjk") == cjk_terms("一个女孩正在梳头")
    assert cjk_terms("女孩") == ["女", "孩", "女孩"] and cjk_terms("女") == ["女"]
    assert tokenize("GPT-4 在2023年发布 models") == [
        "gpt",
        "4",
        "在",
        "2023",
        "年",
        "发",
        "布",
        "年发",
        "发布",
        "model",
    ]
    assert tokenize("日本語のテキスト", "mixed")[:3] == ["日", "本", "語"]
    assert tokenize("한국어 텍스트", "cjk") == ["한", "국", "어", "한국", "국어", "텍", "스", "트", "텍스", "스트"]
    assert tokenize("हिन्दी भाषा") == ["हिन्दी", "भाषा"]  # combining vowel signs stay inside their word
    assert tokenize("") == [] and tokenize(" \t-- ,.!?") == []
    assert normalize("ÉCOLE ﬁn") == "ecole fin"
    with pytest.raises(ValueError, match="unknown lexical tokenizer 'klingon'; valid: english, cjk, mixed"):
        tokenize("x", "klingon")


def test_terms_hold_no_ascii_separator():
    """FTS5's ascii tokenizer must split a term list back into exactly its terms: no term holds an ASCII
    character other than a letter or digit, and none is empty."""
    rng = random.Random(0)
    alphabet = [chr(c) for c in range(32, 127)] + list("éß中文한글ひらがなहि\u0301\u200b\u3000_")
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        for kind in LexicalTokenizer:
            for term in tokenize(text, kind):
                assert term and all(c.isalnum() for c in term if c.isascii()), (text, term)


ENGLISH_TEXT = """
caresses ponies ties caress cats feed agreed plastered bled motoring sing conflated troubled sized hopping tanned
falling hissing fizzed failing filing happy sky relational conditional rational valenci hesitanci digitizer
conformabli radicalli differentli vileli analogousli vietnamization predication operator feudalism decisiveness
hopefulness callousness formaliti sensitiviti sensibiliti triplicate formative formalize electriciti electrical
hopeful goodness revival allowance inference airliner gyroscopic adjustable defensible irritant replacement
adjustment dependent adoption homologou communism activate angulariti homologous effective bowdlerize probate rate
cease controll roll generalizations oscillators eed ies sses bying dying lying eing yyed cyy ayed abli logi
"""
ENGLISH_WORDS = ENGLISH_TEXT.split()


def test_porter_stems_as_fts5_porter():
    """The stemmer gives FTS5's ``porter`` tokenizer's stems: English words with every suffix rule, the tiny
    model's words, and random strings of the letters the rules look at."""
    conn = fts5()
    rng = random.Random(1)
    letters = "aeiouybcdlstnrgmz"
    words = (
        ENGLISH_WORDS + WORDS + ["".join(rng.choice(letters) for _ in range(rng.randint(1, 10))) for _ in range(5000)]
    )
    words += ["a" * 70 + "ing", "x1s", "1990s", "ab"]  # beyond 64 characters, digits, below 3
    conn.execute("CREATE VIRTUAL TABLE f USING fts5(t, tokenize='porter ascii')")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(f, 'instance')")
    conn.executemany("INSERT INTO f (rowid, t) VALUES (?, ?)", [(i + 1, w) for i, w in enumerate(words)])
    expected = dict(conn.execute("SELECT doc, term FROM v"))
    wrong = [(w, expected[i + 1], stem(w)) for i, w in enumerate(words) if stem(w) != expected[i + 1]]
    assert not wrong, wrong[:20]
    assert stem("café") == "café"  # non-ASCII words are not stemmed


# --- BM25 ---------------------------------------------------------------------------------------------------------


def corpus(n: int, seed: int = 0) -> tuple[list[str], list[str | None]]:
    rng = random.Random(seed)
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 12))) for _ in range(n)]
    titles = [None if i % 3 == 0 else " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3))) for i in range(n)]
    return texts, titles


@pytest.mark.parametrize(("title_weight", "text_weight"), [(1.0, 1.0), (2.5, 0.5)])
def test_bm25_scores_as_fts5_bm25(title_weight, text_weight):
    conn = fts5()
    texts, titles = corpus(200)
    conn.execute("CREATE VIRTUAL TABLE f USING fts5(title, text, tokenize='ascii')")
    rows = [
        (i, None if t is None else " ".join(tokenize(t)), " ".join(tokenize(x)))
        for i, (x, t) in enumerate(zip(texts, titles, strict=True))
    ]
    conn.executemany("INSERT INTO f (rowid, title, text) VALUES (?, ?, ?)", rows)
    bm25 = BM25(texts, titles=titles, title_weight=title_weight, text_weight=text_weight)
    for query in ["the cat sleeps", "red car", "cats running over a river", "moon"]:
        match = " OR ".join(f'"{t}"' for t in dict.fromkeys(tokenize(query)))
        sql = "SELECT rowid, -bm25(f, ?, ?) AS s FROM f WHERE f MATCH ? ORDER BY s DESC, rowid"
        expected = conn.execute(sql, (title_weight, text_weight, match)).fetchall()
        ((ids, scores),) = bm25.search_arrays([query], top_k=1000)
        assert ids.tolist() == [r[0] for r in expected]
        np.testing.assert_allclose(scores, [r[1] for r in expected], rtol=1e-12)
        top = bm25.search([query], top_k=3)[0]
        assert [h.corpus_id for h in top] == ids[:3].tolist()


def test_bm25_edges():
    bm25 = BM25(["the cat", "", "a dog", "the cat"])
    assert len(bm25) == 4
    (ids, scores), (none, _), (empty, _) = bm25.search_arrays(["cat", "unicorn", "?!"], top_k=10)
    assert ids.tolist() == [0, 3] and scores[0] == scores[1]  # ties by the smaller row
    assert none.size == 0 and empty.size == 0
    assert bm25.search(["the"], top_k=1)[0][0].corpus_id == 0
    assert BM25([]).search(["x"], top_k=5) == [[]]
    assert BM25(["a b"] * 3).search_arrays(["a"], 2)[0][1].tolist() == [1e-6 * 2.2 / 2.2] * 2  # IDF floored, as FTS5
    with pytest.raises(TypeError, match="single string"):
        BM25("a text")
    with pytest.raises(ValueError, match="titles has 1 entries"):
        BM25(["a", "b"], titles=["t"])
    with pytest.raises(ValueError, match="title_weight must be a finite number"):
        BM25(["a"], title_weight=math.nan)
    with pytest.raises(ValueError, match="top_k must be a positive integer"):
        bm25.search(["cat"], top_k=0)
    with pytest.raises(TypeError, match="wrap a single query"):
        bm25.search_arrays("cat")


def test_bm25_top_k_keeps_ties_in_row_order():
    bm25 = BM25(["x"] * 10 + ["x x"])
    ids, _ = bm25.search_arrays(["x"], top_k=4)[0]
    assert ids.tolist() == [10, 0, 1, 2]


# --- fusion -------------------------------------------------------------------------------------------------------


def ranking(ids, scores):
    return np.asarray(ids, np.int64), np.asarray(scores, np.float64)


def test_reciprocal_rank_fusion():
    dense = ranking([5, 1, 7], [0.9, 0.8, 0.1])
    lexical = ranking([7, 2], [12.0, 3.0])
    fused = reciprocal_rank_fusion({"dense": dense, "lexical": lexical}, top_k=10, rrf_k=60)
    expected = {5: 1 / 61, 1: 1 / 62, 7: 1 / 63 + 1 / 61, 2: 1 / 62}
    assert fused.ids.tolist() == [7, 5, 1, 2]  # 1 and 2 tie: the smaller id first
    np.testing.assert_allclose(fused.scores, [expected[i] for i in fused.ids.tolist()])
    assert fused.ranks["dense"].tolist() == [3, 1, 2, 0] and fused.ranks["lexical"].tolist() == [1, 0, 0, 2]
    assert np.isnan(fused.sources["dense"][3]) and fused.sources["lexical"][0] == 12.0
    assert reciprocal_rank_fusion({"dense": dense, "lexical": lexical}, top_k=2).ids.tolist() == [7, 5]
    weighted = reciprocal_rank_fusion({"dense": dense, "lexical": lexical}, top_k=10, weights={"lexical": 1.0})
    assert weighted.ids.tolist() == [7, 2, 1, 5] and weighted.scores[-1] == 0.0
    with pytest.raises(ValueError, match="rrf_k must be a finite number >= 0"):
        reciprocal_rank_fusion({"dense": dense}, top_k=3, rrf_k=-1)
    with pytest.raises(ValueError, match="weight for 'sparse'"):
        reciprocal_rank_fusion({"dense": dense}, top_k=3, weights={"sparse": 1.0})
    with pytest.raises(ValueError, match="nothing to fuse"):
        reciprocal_rank_fusion({}, top_k=3)


def test_convex_combination():
    dense = ranking([5, 1, 7], [0.9, 0.8, 0.4])
    lexical = ranking([7, 2], [12.0, 3.0])
    fused = convex_combination({"dense": dense, "lexical": lexical}, 10, {"dense": 0.5, "lexical": 0.5})
    # dense normalised: 5 -> 1, 1 -> 0.8, 7 -> 0; lexical: 7 -> 1, 2 -> 0
    expected = {5: 0.5, 1: 0.4, 7: 0.5, 2: 0.0}
    assert fused.ids.tolist() == [5, 7, 1, 2]
    np.testing.assert_allclose(fused.scores, [expected[i] for i in fused.ids.tolist()])
    assert min_max(np.array([2.0, 2.0, np.nan])).tolist()[:2] == [1.0, 1.0]  # equal scores: all the best
    assert fuse(dense, lexical, 10, "convex", alpha=1.0).ids.tolist() == [5, 1, 2, 7]  # 2 and 7 tie at 0
    assert fuse(dense, lexical, 10, FusionMethod.CONVEX, alpha=0.0).ids.tolist()[0] == 7
    empty = ranking([], [])
    assert fuse(empty, empty, 5).ids.size == 0
    assert fuse(dense, empty, 5, "convex").ids.tolist() == [5, 1, 7]
    with pytest.raises(ValueError, match="alpha must be within"):
        fuse(dense, lexical, 10, "convex", alpha=1.5)
    with pytest.raises(ValueError, match="unknown fusion method 'sum'; valid: rrf, convex"):
        fuse(dense, lexical, 10, "sum")
    assert SearchMode.parse("HYBRID") is SearchMode.HYBRID
    with pytest.raises(ValueError, match="unknown search mode 'sparse'; valid: dense, lexical, hybrid"):
        SearchMode.parse("sparse")


# --- hybrid search in memory --------------------------------------------------------------------------------------


def test_hybrid_search_in_memory(model):
    texts, _ = corpus(120, seed=3)
    queries = ["the cat sleeps", "a big red house by the river", "unicorns"]
    corpus_emb = model.encode(texts)
    query_emb = model.encode(queries, prompt_name="query")
    bm25 = BM25(texts)
    dense = hybrid_search(queries, query_emb, corpus_emb, bm25, top_k=5, mode="dense")
    assert [[h.corpus_id for h in row] for row in dense] == [
        [h.corpus_id for h in row] for row in semantic_search(query_emb, corpus_emb, top_k=5)
    ]
    assert all(h.dense_rank == r and h.lexical_rank is None for row in dense for r, h in enumerate(row, 1))
    lexical = hybrid_search(queries, query_emb, corpus_emb, texts, top_k=5, mode="lexical")
    assert [[h.corpus_id for h in row] for row in lexical] == [
        [h.corpus_id for h in row] for row in bm25.search(queries, 5)
    ]
    assert lexical[2] == []  # no document holds "unicorns"
    for fusion in ("rrf", "convex"):
        hybrid = hybrid_search(queries, query_emb, corpus_emb, bm25, top_k=10, fusion=fusion, candidates=20)
        for row in hybrid:
            assert len(row) == 10 and all(isinstance(h, HybridHit) for h in row)
            assert [h.score for h in row] == sorted((h.score for h in row), reverse=True)
            assert all(h.retrievers for h in row)
        assert all(h.retrievers == ("dense",) for h in hybrid[2])  # lexical found nothing for "unicorns"
    top = hybrid_search(queries[:1], query_emb[:1], corpus_emb, bm25, top_k=3)[0][0]
    both = [r for r in (top.dense_rank, top.lexical_rank) if r]
    assert top.score == pytest.approx(sum(1 / (60 + r) for r in both))
    with pytest.raises(ValueError, match="the corpus has 120 texts but 3 embeddings"):
        hybrid_search(queries, query_emb, corpus_emb[:3], bm25)
    with pytest.raises(ValueError, match="candidates must be a positive integer"):
        hybrid_search(queries, query_emb, corpus_emb, bm25, candidates=0)
    with pytest.raises(TypeError, match="wrap a single query"):
        hybrid_search("q", query_emb[:1], corpus_emb, bm25)


# --- Chinese paraphrase retrieval (issue 12) ----------------------------------------------------------------------


def zh_task() -> tuple[list[str], list[str], list[int]]:
    """STSb-zh test: queries are sentence1 of the pairs scored >= 4, the corpus the distinct sentence2, each query's
    relevant document its own sentence2."""
    if not STSB_ZH.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{STSB_ZH} is missing: CI must have the shared data")
        pytest.skip(f"STSb-zh not found at {STSB_ZH}")
    with open(STSB_ZH, newline="", encoding="utf-8") as f:
        rows = [(a, b, float(score)) for a, b, score in csv.reader(f)]
    documents = list(dict.fromkeys(b for _, b, _ in rows))
    row_of = {text: i for i, text in enumerate(documents)}
    pairs = [(a, row_of[b]) for a, b, score in rows if score >= 4]
    return [a for a, _ in pairs], documents, [r for _, r in pairs]


def recall_at_10(found: list[list[int]], relevant: list[int]) -> float:
    return 100 * float(np.mean([rel in ids[:10] for ids, rel in zip(found, relevant, strict=True)]))


def test_chinese_paraphrase_retrieval_lexical_recall():
    """Issue 12: FTS5's unicode61 finds the right document in the top 10 for 15.4% of the queries (a CJK run is one
    token); characters and bigrams (the cjk and mixed tokenizers) for 92.9%."""
    queries, documents, relevant = zh_task()
    assert (len(queries), len(documents)) == (338, 1320)
    recalls = {}
    for tokenizer in LexicalTokenizer:
        found = BM25(documents, tokenizer=tokenizer).search_arrays(queries, 10)
        recalls[tokenizer.value] = recall_at_10([ids.tolist() for ids, _ in found], relevant)
    assert recalls["mixed"] == recalls["cjk"] >= 85.0, recalls
    assert recalls["english"] < 20.0, recalls
