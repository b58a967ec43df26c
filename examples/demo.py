"""The main job in one script: load the real model, compare a few sentences, evaluate on STSb-en test.

Run with ``make demo`` (or ``python examples/demo.py --stsb ../shared/data/stsb``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import sentvec
from sentvec.evaluation import SimilarityEvaluator

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "A woman is playing violin.",
    "Two men pushed carts through the woods.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--stsb", type=Path, default=Path("../shared/data/stsb"))
    args = parser.parse_args()

    model = sentvec.load(args.model)
    print(model, "\n")
    embeddings = model.encode(SENTENCES)
    sim = model.similarity(embeddings, embeddings)
    print(f"{model.similarity_fn.value} similarity of {len(SENTENCES)} sentences:")
    for i, text in enumerate(SENTENCES):
        print(f"  [{i}] {text}")
    print("      " + "".join(f"[{j}]".rjust(7) for j in range(len(SENTENCES))))
    for i, row in enumerate(sim):
        print(f"  [{i}] " + "".join(f"{float(v):7.3f}" for v in row))

    test_file = args.stsb / "stsb-en-test.csv"
    if not test_file.is_file():
        print(f"\n{test_file} not found: skipping the STS benchmark")
        return
    result = SimilarityEvaluator.from_file(test_file)(model)
    print(f"\nSTSb-en test ({test_file}): cosine Spearman {result.metrics['spearman_cosine']:.2f}")


if __name__ == "__main__":
    main()
