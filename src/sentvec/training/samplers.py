"""Batching for training: seeded shuffling (full, or a bounded buffer for streams), a no-duplicates batch
sampler for in-batch-negative losses, and schedules over several datasets."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence

from sentvec.training.args import MultiDatasetOrder
from sentvec.training.data import Example, IndexedData, TrainingData

__all__ = ["MultiDatasetOrder", "batches", "batches_per_epoch", "epoch_batches", "shuffled"]


def shuffled(data: TrainingData, seed: int, buffer_size: int = 10_000) -> Iterator[Example]:
    """The examples in a seeded random order: a full shuffle in memory, a bounded shuffle buffer for streams."""
    rng = random.Random(seed)
    if isinstance(data, IndexedData):  # random access (a list in memory, a Hugging Face Dataset): in full
        order = list(range(len(data)))
        rng.shuffle(order)
        for i in order:
            yield data.example(i)
        return
    buffer: list[Example] = []
    for example in data:
        buffer.append(example)
        if len(buffer) >= buffer_size:
            yield buffer.pop(rng.randrange(len(buffer)))
    rng.shuffle(buffer)
    yield from buffer


def batches(examples: Iterable[Example], batch_size: int, *, no_duplicates: bool = False) -> Iterator[list[Example]]:
    """Group examples into batches of ``batch_size`` (the last may be smaller).

    With ``no_duplicates`` a batch never holds the same text twice (in any column), so no in-batch "negative"
    is a copy of a positive; an example that would repeat a text waits for a later batch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not no_duplicates:
        batch: list[Example] = []
        for example in examples:
            batch.append(example)
            if len(batch) == batch_size:
                yield batch
                batch = []
        if batch:
            yield batch
        return
    yield from _no_duplicate_batches(examples, batch_size)


def _no_duplicate_batches(examples: Iterable[Example], batch_size: int) -> Iterator[list[Example]]:
    pending: list[Example] = []
    for example in examples:
        pending.append(example)
        while len(pending) >= batch_size * 2:
            yield _take_batch(pending, batch_size)
    while pending:
        yield _take_batch(pending, batch_size)


def _take_batch(pending: list[Example], batch_size: int) -> list[Example]:
    """Remove and return up to ``batch_size`` examples with pairwise distinct texts (first come, first served)."""
    batch: list[Example] = []
    seen: set[str] = set()
    keep: list[Example] = []
    for example in pending:
        texts = {t.strip().lower() for t in example.texts}
        if len(batch) < batch_size and not (texts & seen):
            batch.append(example)
            seen |= texts
        else:
            keep.append(example)
    pending[:] = keep
    return batch


def batches_per_epoch(lengths: Sequence[int], batch_size: int, order: MultiDatasetOrder) -> int:
    """Steps in one epoch (an estimate when no-duplicates batching has to defer examples)."""
    per_dataset = [-(-n // batch_size) for n in lengths]
    if len(per_dataset) > 1 and order is MultiDatasetOrder.ROUND_ROBIN:
        return min(per_dataset) * len(per_dataset)
    return sum(per_dataset)


def epoch_batches(
    datasets: Sequence[TrainingData],
    batch_size: int,
    *,
    seed: int,
    epoch: int,
    no_duplicates: Sequence[bool],
    order: MultiDatasetOrder = MultiDatasetOrder.ROUND_ROBIN,
    buffer_size: int = 10_000,
) -> Iterator[tuple[int, list[Example]]]:
    """One epoch of ``(dataset index, batch)``: each dataset shuffled with a seed derived from (seed, epoch, index),
    so the same seed gives the same batches, and a resumed run can skip to where it stopped."""
    streams = [
        batches(
            shuffled(d, seed * 1_000_003 + epoch * 101 + i, buffer_size), batch_size, no_duplicates=no_duplicates[i]
        )
        for i, d in enumerate(datasets)
    ]
    if len(streams) == 1:
        for only in streams[0]:
            yield 0, only
        return
    if order is MultiDatasetOrder.ROUND_ROBIN:
        while True:  # whole rounds only: one batch of each dataset, until the smallest runs out
            round_ = [next(stream, None) for stream in streams]
            if any(b is None for b in round_):
                return
            yield from ((i, b) for i, b in enumerate(round_) if b is not None)
    rng = random.Random(seed * 7 + epoch)
    remaining = [max(1, -(-len(d) // batch_size)) for d in datasets]
    alive = list(range(len(streams)))
    while alive:
        i = rng.choices(alive, weights=[remaining[j] for j in alive])[0]
        drawn: list[Example] | None = next(streams[i], None)
        if drawn is None:
            alive.remove(i)
            continue
        remaining[i] = max(1, remaining[i] - 1)
        yield i, drawn
