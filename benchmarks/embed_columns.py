"""One MNRL training step on short queries and long passages: all columns in one forward pass vs ``Loss.embed``.

    .venv/bin/python benchmarks/embed_columns.py [--batch-size 32] [--steps 4]

Queries are STSb-en train sentences of at most 8 words; passages join 12 sentences each (about 110 tokens with
all-MiniLM-L6-v2). "one pass" embeds both columns as one padded batch (what ``Loss.embed`` did for every batch
before columns of different lengths were split); "Loss.embed" is the current rule (columns whose longest texts
are within ``MERGE_RATIO`` share a pass, others run apart). Reported: the median seconds of a forward+backward
step over ``--steps`` (after one warm-up), for each, alternated twice.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STSB_TRAIN = REPO / ".." / "shared" / "data" / "stsb" / "stsb-en-train.csv"
MODEL_NAME = "all-MiniLM-L6-v2"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()

    import torch

    import sentvec
    from sentvec.training.losses import MultipleNegativesRankingLoss
    from sentvec.training.losses._util import embed as embed_texts

    torch.manual_seed(0)
    model = sentvec.load(MODEL_NAME, device="cpu")
    with open(STSB_TRAIN, newline="", encoding="utf-8") as f:
        sentences = [row[0] for row in csv.reader(f)]
    queries = [s for s in sentences if len(s.split()) <= 8][: args.batch_size]
    passages = [" ".join(sentences[i : i + 12]) for i in range(0, 12 * args.batch_size, 12)]
    columns = [queries, passages]
    loss = MultipleNegativesRankingLoss(model)
    model.torch.pipeline.train()
    longest = [int(model.tokenize(c).lengths.max()) for c in columns]

    def one_pass() -> list[torch.Tensor]:
        return list(torch.split(embed_texts(model, queries + passages), [len(queries), len(passages)]))

    def step(embed: object) -> float:
        start = time.perf_counter()
        value = loss.compute_loss_from_embeddings(embed(), None)  # type: ignore[operator]
        value.backward()
        model.torch.pipeline.zero_grad(set_to_none=True)
        return time.perf_counter() - start

    runs: dict[str, list[float]] = {"one pass": [], "Loss.embed": []}
    for _ in range(2):
        for name, embed in (("one pass", one_pass), ("Loss.embed", lambda: loss.embed(columns))):
            step(embed)  # warm-up
            runs[name] += [step(embed) for _ in range(args.steps)]
    print(f"{MODEL_NAME}, batch {args.batch_size}: longest query {longest[0]} tokens, passage {longest[1]} tokens")
    for name, seconds in runs.items():
        print(f"{name:<12} {statistics.median(seconds):.2f} s/step")
    ratio = statistics.median(runs["one pass"]) / statistics.median(runs["Loss.embed"])
    print(f"Loss.embed speed-up over one pass: {ratio:.2f}x")


if __name__ == "__main__":
    main()
