"""``python -m sentvec.training [sentvec train flags]``: the entry point for ``torchrun``.

    torchrun --nproc_per_node 2 -m sentvec.training --model M --data pairs.jsonl \\
        --loss MultipleNegativesRankingLoss --output out --batch-size 32

Every process runs the same command; the trainer finds the launch in the environment (``WORLD_SIZE``...).
"""

from __future__ import annotations

import sys

from sentvec.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
