"""``python -m sentvec COMMAND ...``: the CLI, also what ``torchrun`` launches for data-parallel training.

    torchrun --nproc_per_node 2 -m sentvec train --model M --data pairs.jsonl \\
        --loss MultipleNegativesRankingLoss --output out --batch-size 32

Every process runs the same command; the trainer finds the launch in the environment (``WORLD_SIZE``...).
"""

from __future__ import annotations

import sys

from sentvec.cli.main import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
