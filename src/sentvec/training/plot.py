"""The training curve: loss and evaluation score against step, as a PNG (no global matplotlib state)."""

from __future__ import annotations

import json
from pathlib import Path


def plot_training_curve(log_file: Path, out: Path) -> Path | None:
    """Draw ``trainer_log.jsonl`` into ``out``; None when matplotlib is missing or nothing was logged (a resumed run
    too short to log writes no log)."""
    if not log_file.is_file():
        return None
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    steps, losses, eval_steps, scores, metric = [], [], [], [], ""
    for line in log_file.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if "loss" in record:
            steps.append(record["step"])
            losses.append(record["loss"])
        if "eval" in record:
            eval_steps.append(record["step"])
            metric = record["primary"]
            scores.append(record["eval"][metric])
    if not steps:
        return None
    fig = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(steps, losses, color="tab:blue", label="training loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss", color="tab:blue")
    if scores:
        ax2 = ax.twinx()
        ax2.plot(eval_steps, scores, "o-", color="tab:orange", label=metric)
        ax2.set_ylabel(f"evaluation: {metric}", color="tab:orange")
    ax.set_title("sentvec training curve")
    fig.tight_layout()
    fig.savefig(str(out))
    return out
