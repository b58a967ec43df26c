"""Crash safety and concurrent readers of sentvec.search.index.Index.

- A subprocess adds many documents to an index with lexical search (the default), printing each acknowledged
  (committed) batch; it is killed with SIGKILL after a few batches. The index must reopen with every acknowledged
  document found by dense and by lexical search, its FTS5 index consistent with the documents table (nothing
  half-indexed), and a re-run of the same add must complete it without duplicates, in either index.
- A reader thread searches while a writer adds: inside one snapshot the count and an exact search agree.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from _tiny_model import WORDS

from sentvec.search.exact import semantic_search
from sentvec.search.index import Index

pytest.importorskip("usearch")

HERE = Path(__file__).parent
N_DOCS = 3000
N_UNIQUE = 2800  # the last 200 documents repeat earlier ids (with other texts): add skips them

CHILD = """
import json, sys
import torch

torch.set_num_threads(1)
sys.path.insert(0, {here!r})
import sentvec
from sentvec.search.index import Index
from sentvec.search.exact import semantic_search
from test_index_crash import corpus

model = sentvec.load(sys.argv[1], device="cpu")
folder = sys.argv[2]
index = Index.create(folder, model, precision="int8")
index.checkpoint_every = 120  # checkpoints happen during the add, so the kill may land in one
index.add(corpus(int(sys.argv[3])), batch_size=40, on_batch=lambda r: print(json.dumps(r.ids), flush=True))
index.close()
print("DONE", flush=True)
"""


def corpus(n):
    """``n`` documents; ids repeat after ``N_UNIQUE``."""
    rng = random.Random(42)
    for i in range(n):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8)))
        yield {"id": f"c{i % N_UNIQUE}", "text": text, "metadata": {"n": i}}


def fts_integrity(folder):
    """FTS5's integrity check: the lexical index holds exactly the terms of the documents table."""
    conn = sqlite3.connect(folder / "index.sqlite")
    try:
        conn.execute("INSERT INTO lexical (lexical, rank) VALUES ('integrity-check', 1)")
    finally:
        conn.close()


def everything(index):
    """Every document holding any word: all of them (each text has 3 words or more)."""
    return [h.id for h in index.search(" ".join(WORDS), k=10 * N_DOCS, mode="lexical")]


def _kill_after(proc, batches):
    acked = set()
    for seen, line in enumerate(proc.stdout, start=1):
        acked.update(json.loads(line))
        if seen == batches:
            break
    os.kill(proc.pid, signal.SIGKILL)
    rest, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err
    lines = rest.splitlines()
    assert "DONE" not in lines, "the child finished before it was killed"
    for line in lines:  # batches acknowledged between the last read and the kill
        acked.update(json.loads(line))
    return acked


def test_kill_during_add_keeps_acknowledged_batches(model, model_dir, tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(here=str(HERE)), encoding="utf-8")
    folder = tmp_path / "index"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(model_dir), str(folder), str(N_DOCS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        acked = _kill_after(proc, batches=4)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(acked) >= 4 * 40

    first = {}  # id -> the document the add stored (later ones with the same id are skipped)
    for doc in corpus(N_DOCS):
        first.setdefault(doc["id"], doc)
    with Index.open(folder, model, read_only=True) as reader:  # opens as is, without catching up
        survived = len(reader)
        assert survived >= len(acked)
        keys = reader.store.keys_of(acked)
        assert len(keys) == len(acked)
        hits = reader.search("the cat sleeps", k=10)
        assert len(hits) == 10
        assert len(reader.search("the cat sleeps", k=10, mode="hybrid")) == 10
        found = everything(reader)
        assert len(found) == len(set(found)) == survived
        vectors = dict(zip(*reader.store.vectors([k for k, _, _ in keys.values()], model.dimension)[:2], strict=True))
        for doc_id in acked:  # each acknowledged document, by its own text (lexical) and vector (dense)
            doc = first[doc_id]
            only = {"n": doc["metadata"]["n"]}
            assert [h.id for h in reader.search(doc["text"], k=1, mode="lexical", filter=only)] == [doc_id]
            assert [h.id for h in reader.search(vectors[keys[doc_id][0]], k=1, filter=only)] == [doc_id]
    fts_integrity(folder)

    with Index.open(folder, model) as index:  # writable: the graph is caught up from SQLite
        assert len(index._ann) == len(index) == survived
        assert index.info().ann_pending == 0
        report = index.add(corpus(N_DOCS), batch_size=250)  # the same add, re-run
        assert report.added == N_UNIQUE - survived
        assert len(index) == N_UNIQUE == len(index._ann)
        ids = [h.id for h in index.search("the cat sleeps", k=50)]
        assert len(ids) == len(set(ids)) == 50
        approximate = {h.id for h in index.search("a red car", k=10)}
        assert len(approximate & {h.id for h in index.search("a red car", k=10, exact=True)}) >= 8
        found = everything(index)
        assert len(found) == len(set(found)) == N_UNIQUE
    fts_integrity(folder)


def test_readers_see_consistent_states_while_a_writer_adds(model, tmp_path):
    """Inside one snapshot, the document count and an exact search agree: the hits are the top 10 of exactly the
    first ``n`` documents (keys follow the feed order), never of a state between two commits."""
    folder = tmp_path / "index"
    docs = list(corpus(600))
    emb = model.encode([d["text"] for d in docs])
    writer = Index.create(folder, model)
    writer.checkpoint_every = 100  # readers switch ANN files while they read
    errors: list[BaseException] = []
    lengths: list[int] = []
    done = threading.Event()

    def read() -> None:
        try:
            with Index.open(folder, read_only=True) as reader:
                rng = np.random.default_rng(0)
                while not done.is_set() or len(lengths) < 5:
                    query = rng.standard_normal(model.dimension).astype(np.float32)
                    exact, filtered = len(lengths) % 5 == 4, len(lengths) % 7 == 6
                    with reader.store.snapshot():
                        n = len(reader)
                        hits = reader.search(query, k=10, exact=exact, filter={"n": 7} if filtered else None)
                    ids = [h.id for h in hits]
                    assert len(ids) == len(set(ids))
                    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
                    assert all(int(i[1:]) < n for i in ids)  # only documents committed in this snapshot
                    if filtered:
                        assert ids == (["c7"] if n > 7 else [])
                    elif exact:
                        expected = [docs[h.corpus_id]["id"] for h in semantic_search(query, emb[:n], top_k=10)[0]]
                        assert ids == expected, (n, ids, expected)
                    else:
                        assert len(hits) == min(10, n)
                    lengths.append(n)
        except BaseException as e:
            errors.append(e)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        writer.add(docs, batch_size=20, on_batch=lambda _: time.sleep(0.01))
    finally:
        done.set()
        thread.join(timeout=120)
        writer.close()
    assert not errors, errors[0]
    assert max(lengths) <= len(docs)
    with Index.open(folder, read_only=True) as reader:
        assert len(reader) == len(docs)
