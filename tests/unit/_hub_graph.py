"""Export a tiny model's bare transformer as the Hub ships ONNX graphs (token outputs only), for the backends' tests."""

from __future__ import annotations

from pathlib import Path

import torch

import sentvec
from sentvec.formats import ONNX_DIR


def export_transformer_only(folder: Path, file: str = "model.onnx", output: str = "last_hidden_state") -> Path:
    """What sentence-transformers' backend="onnx" (optimum) writes: the bare transformer, token outputs only."""
    model = sentvec.load(str(folder), backend="torch", device="cpu")
    auto = model.torch.transformer.auto_model.eval()

    class Bare(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.auto = auto

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.auto(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]

    ids = torch.ones((2, 5), dtype=torch.int64)
    path = folder / ONNX_DIR / file
    path.parent.mkdir(exist_ok=True)
    axes = {n: {0: "batch", 1: "seq"} for n in ("input_ids", "attention_mask", "token_type_ids", output)}
    torch.onnx.export(
        Bare().eval(),
        (ids, ids, torch.zeros_like(ids)),
        str(path),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=[output],
        dynamic_axes=axes,
        opset_version=17,
        dynamo=False,
    )
    return path
