"""How the commands print and write an evaluation result (``sentvec eval ...`` and ``sentvec index eval``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from sentvec.cli.common import check_output_file, overwrite_arg

if TYPE_CHECKING:
    from sentvec.evaluation import EvaluationResult

IR_LABELS = {
    "mrr": "MRR",
    "ndcg": "NDCG",
    "map": "MAP",
    "recall": "Recall",
    "precision": "Precision",
    "accuracy": "Accuracy",
}


def json_out_arg(p: argparse.ArgumentParser) -> None:
    """Add ``--json FILE`` (``args.json_out``) and ``--overwrite``."""
    p.add_argument("--json", type=Path, dest="json_out", help="also write the result as JSON here")
    overwrite_arg(p, "an existing --json file")


def check_json_out(args: argparse.Namespace) -> None:
    """Before the model loads: refuse a ``--json`` file that exists (without ``--overwrite``) or cannot be
    written."""
    if args.json_out is not None:
        check_output_file(args.json_out, overwrite=args.overwrite, flag="--json")


def finish(result: EvaluationResult, json_out: Path | None, digits: int = 4) -> int:
    """Print the primary metric (to ``digits`` places) and write the result as JSON to ``json_out`` when given
    (whole or not at all); the command's exit code (0)."""
    from sentvec.cli.textio import replacing

    print(f"primary: {result.primary_metric} = {result.primary_value:.{digits}f}")
    if json_out:
        with replacing(json_out) as partial:
            partial.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    return 0


def print_ir_table(result: EvaluationResult) -> None:
    """The primary function's IR metrics (``mrr@10``, ``ndcg@10``, ...) as a table, grouped by metric kind."""
    prefix = result.primary_metric.partition("_")[0] + "_"
    values = {key.removeprefix(prefix): v for key, v in result.metrics.items() if key.startswith(prefix)}
    print(f"{'metric':<14}{'value':>8}")
    for kind, label in IR_LABELS.items():
        for key, value in values.items():
            name, _, k = key.partition("@")
            if name == kind:
                print(f"{label + '@' + k:<14}{value:>8.4f}")
