"""Run by test_ddp.py, alone or under torchrun: one backward pass per loss on a fixed global batch, gradients
averaged across ranks; rank 0 saves the loss values and the gradients to an .npz file."""

from __future__ import annotations

import sys

import numpy as np
import torch
from _tiny_model import WORDS

import sentvec
from sentvec.distributed import ddp
from sentvec.training import losses

LOSSES = {
    "MultipleNegativesRankingLoss": {},
    "CachedMultipleNegativesRankingLoss": {"mini_batch_size": 2},
    "InBatchMarginLoss": {},
    "CoSENTLoss": {},
}


def main(model_dir: str, out: str) -> None:
    ranks = ddp.setup("cpu")
    words = WORDS[WORDS.index("cat") : WORDS.index("cat") + 17]
    anchors = [" ".join(words[i : i + 3]) for i in range(13)]
    positives = [" ".join(reversed(words[i + 1 : i + 5])) for i in range(13)]
    scores = torch.linspace(0.0, 1.0, 13)
    results: dict[str, np.ndarray] = {}
    for name, kwargs in LOSSES.items():
        model = sentvec.load(model_dir, backend="torch")
        loss = getattr(losses, name)(model, **kwargs)
        labels = ddp.shard(scores, ranks) if loss.label_kind.value == "score" else None
        value = loss(
            [ddp.shard(anchors, ranks), ddp.shard(positives, ranks)],
            torch.stack(labels) if labels is not None else None,
        )
        value.backward()
        params = [p for p in model.torch.pipeline.parameters() if p.requires_grad]
        ddp.average_gradients(params, ranks)
        results[f"{name}/loss"] = value.detach().numpy()
        for key, p in model.torch.pipeline.named_parameters():
            if p.grad is not None:
                results[f"{name}/{key}"] = p.grad.numpy().copy()
    if ranks.is_main:
        np.savez(out, **results)
    ddp.teardown(ranks)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
