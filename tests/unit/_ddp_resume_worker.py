"""Run by test_ddp.py under torchrun: train with dropout on, optionally dying mid-run or resuming from the last
checkpoint, so that an interrupted and resumed 2-rank run can be compared with an uninterrupted one."""

from __future__ import annotations

import sys

import sentvec
from sentvec.training import Trainer, TrainingArgs, load_data
from sentvec.training.losses import MultipleNegativesRankingLoss

STOP_AT_STEP = 8  # the checkpoints come every 3 steps: the run dies after the one at step 6


class Interrupted(Exception):
    pass


class StopAt(MultipleNegativesRankingLoss):
    """Raises on every rank at the same step (before any collective of that step)."""

    calls = 0

    def compute_loss_from_embeddings(self, embeddings, labels):  # type: ignore[no-untyped-def]
        type(self).calls += 1
        if type(self).calls == STOP_AT_STEP:
            raise Interrupted
        return super().compute_loss_from_embeddings(embeddings, labels)


def main(model_dir: str, data: str, out: str, mode: str) -> None:
    model = sentvec.load(model_dir, backend="torch")
    loss = StopAt(model) if mode == "cut" else MultipleNegativesRankingLoss(model)
    args = TrainingArgs(
        output_dir=out, batch_size=4, epochs=2, save_steps=3, seed=3, learning_rate=1e-3, show_progress_bar=False
    )
    trainer = Trainer(model, loss, load_data(data, columns=["sentence1", "sentence2"]), args)
    try:
        trainer.train(resume_from=f"{out}/checkpoints/last" if mode == "resume" else None)
    except Interrupted:
        sys.exit(3)


if __name__ == "__main__":
    main(*sys.argv[1:5])
