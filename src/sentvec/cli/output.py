"""How the commands print and write an evaluation result (``sentvec eval ...`` and ``sentvec index eval``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

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


def finish(result: EvaluationResult, json_out: Path | None, digits: int = 4) -> int:
    """Print the primary metric (to ``digits`` places) and write the result as JSON to ``json_out`` when given;
    the command's exit code (0)."""
    print(f"primary: {result.primary_metric} = {result.primary_value:.{digits}f}")
    if json_out:
        json_out.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
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
