"""One loaded model shared by 8 threads gives each the vectors it gives one caller (the backends' thread-safety)."""

from __future__ import annotations

import threading

import numpy as np

import sentvec


def assert_same_vectors_from_8_threads(model: sentvec.SentenceEncoder) -> None:
    """Encode 64 texts from 8 threads at once (each with its own batch size): no error, every result as alone."""
    texts = [f"text number {i} " * (i % 7 + 1) for i in range(64)]
    expected = model.encode(texts)
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            results[k] = model.encode(texts, batch_size=8 + k)
        except BaseException as e:  # surfaced by the assertion below
            errors.append(e)

    workers = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors
    assert len(results) == 8
    for got in results.values():
        assert np.abs(got - expected).max() <= 1e-5
