"""BM25 over texts held in memory, for users without an index: the ranking an index's FTS5 table gives.

:class:`BM25` scores as SQLite FTS5's ``bm25()`` does (``k1 = 1.2``, ``b = 0.75``, IDF
``log((N - n + 0.5) / (n + 0.5))`` floored at ``1e-6``, a term's frequency weighted per field, the document length
the tokens of all fields), over the terms of :mod:`sentvec.search.terms`, so the same documents and tokenizer give
the same scores here and in :class:`sentvec.search.index.Index`. A query's distinct terms are OR-ed: every document
holding one of them is a candidate, the others are not returned.

    bm25 = BM25(corpus, tokenizer="mixed")
    hits = bm25.search(["what is a cat?"], top_k=10)   # [[Hit(corpus_id, score), ...]]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sentvec.search.exact import Hit, check_top_k
from sentvec.search.terms import DEFAULT_TOKENIZER, LexicalTokenizer, tokenizer_function

K1 = 1.2  # FTS5's bm25() constants
B = 0.75
MIN_IDF = 1e-6

Ranked = tuple[np.ndarray, np.ndarray]  # one query's corpus indices (int64) and scores (float64), best first


class BM25:
    """An inverted index of ``corpus`` (and optional ``titles``, a second field weighted ``title_weight``).

    Args:
        corpus: the document texts.
        titles: one title (or None) per document, or None.
        tokenizer: a :class:`~sentvec.search.terms.LexicalTokenizer` or its name (default ``mixed``).
        title_weight, text_weight: how much an occurrence in each field counts (FTS5's ``bm25()`` column weights).
        k1, b: the BM25 parameters (FTS5's are fixed at 1.2 and 0.75).
    """

    def __init__(
        self,
        corpus: Sequence[str],
        *,
        titles: Sequence[str | None] | None = None,
        tokenizer: LexicalTokenizer | str = DEFAULT_TOKENIZER,
        title_weight: float = 1.0,
        text_weight: float = 1.0,
        k1: float = K1,
        b: float = B,
    ) -> None:
        if isinstance(corpus, str):
            raise TypeError("corpus must be a sequence of texts, got a single string")
        if titles is not None and len(titles) != len(corpus):
            raise ValueError(f"titles has {len(titles)} entries, the corpus {len(corpus)}")
        for name, value in (("title_weight", title_weight), ("text_weight", text_weight), ("k1", k1)):
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not 0 <= b <= 1:
            raise ValueError(f"b must be within [0, 1], got {b!r}")
        self.tokenizer = LexicalTokenizer.parse(tokenizer)
        self._tokenize = tokenizer_function(self.tokenizer)
        self.size = len(corpus)
        self.vocabulary: dict[str, int] = {}
        term_ids, doc_ids, freqs = self._postings(corpus, titles, title_weight, text_weight)
        self._build(term_ids, doc_ids, freqs, k1, b)

    def _postings(
        self, corpus: Sequence[str], titles: Sequence[str | None] | None, title_weight: float, text_weight: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(term, document, weighted frequency) of every distinct term of every document; the documents' lengths."""
        terms: list[int] = []
        docs: list[int] = []
        freqs: list[float] = []
        lengths = np.zeros(self.size, dtype=np.float64)
        vocabulary = self.vocabulary
        for i, text in enumerate(corpus):
            if not isinstance(text, str):
                raise TypeError(f"corpus[{i}] is {type(text).__name__}, expected a string")
            counts: dict[int, float] = {}
            fields = [(text, text_weight)]
            title = None if titles is None else titles[i]
            if title is not None:
                fields.append((title, title_weight))
            for field, weight in fields:
                tokens = self._tokenize(field)
                lengths[i] += len(tokens)
                for token in tokens:
                    term = vocabulary.setdefault(token, len(vocabulary))
                    counts[term] = counts.get(term, 0.0) + weight
            terms.extend(counts)
            docs.extend([i] * len(counts))
            freqs.extend(counts.values())
        self._lengths = lengths
        return np.asarray(terms, np.int64), np.asarray(docs, np.int64), np.asarray(freqs, np.float64)

    def _build(self, terms: np.ndarray, docs: np.ndarray, freqs: np.ndarray, k1: float, b: float) -> None:
        """Postings grouped by term (CSR), each with its BM25 contribution precomputed."""
        order = np.argsort(terms, kind="stable")
        terms, self._docs, freqs = terms[order], docs[order], freqs[order]
        df = np.bincount(terms, minlength=len(self.vocabulary)).astype(np.float64)
        self._indptr = np.concatenate([[0], np.cumsum(df)]).astype(np.int64)
        n = float(self.size)
        idf = np.log((n - df + 0.5) / (df + 0.5)) if self.size else df
        self.idf = np.where(idf <= 0, MIN_IDF, idf)
        average = float(self._lengths.mean()) if self.size and self._lengths.sum() else 1.0
        norm = k1 * (1 - b + b * self._lengths[self._docs] / average)
        self._impacts = self.idf[terms] * freqs * (k1 + 1) / (freqs + norm)

    def __len__(self) -> int:
        return self.size

    def query_terms(self, query: str) -> list[int]:
        """The vocabulary ids of the distinct terms of ``query`` the corpus holds, in query order."""
        ids = (self.vocabulary.get(term) for term in dict.fromkeys(self._tokenize(query)))
        return [i for i in ids if i is not None]

    def get_scores(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, matched)``: every document's BM25 score for ``query`` (float64) and whether it holds one of
        its terms (bool); both of the corpus's length."""
        scores = np.zeros(self.size, dtype=np.float64)
        matched = np.zeros(self.size, dtype=bool)
        for term in self.query_terms(query):
            span = slice(self._indptr[term], self._indptr[term + 1])
            docs = self._docs[span]
            scores[docs] += self._impacts[span]
            matched[docs] = True
        return scores, matched

    def search_arrays(self, queries: Sequence[str], top_k: int = 10) -> list[Ranked]:
        """Per query, the corpus indices and scores of its best ``top_k`` matching documents, by score
        descending, ties by the smaller index (fewer when fewer documents hold a query term)."""
        top_k = check_top_k(top_k)
        if isinstance(queries, str):
            raise TypeError("queries must be a sequence of texts; wrap a single query in a list")
        results: list[Ranked] = []
        for query in queries:
            scores, matched = self.get_scores(query)
            found = np.flatnonzero(matched)
            values = scores[found]
            if len(found) > top_k:  # the top_k plus every tie at the cut, then ordered exactly
                cut = np.partition(-values, top_k - 1)[top_k - 1]
                keep = -values <= cut
                found, values = found[keep], values[keep]
            order = np.lexsort((found, -values))[:top_k]
            results.append((found[order], values[order]))
        return results

    def search(self, queries: Sequence[str], top_k: int = 10) -> list[list[Hit]]:
        """:meth:`search_arrays` as :class:`~sentvec.search.Hit` lists."""
        return [
            [Hit(int(i), float(s)) for i, s in zip(ids.tolist(), scores.tolist(), strict=True)]
            for ids, scores in self.search_arrays(queries, top_k)
        ]
