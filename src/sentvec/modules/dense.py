"""Dense: a linear layer with an activation on the sentence embedding."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from sentvec.errors import ModelFormatError
from sentvec.formats import MODULE_CONFIG_FILE, MODULE_WEIGHT_FILES, ModuleKind, read_json, write_json
from sentvec.modules.base import Features, Module
from sentvec.modules.configs import DenseConfig

# Closed registry of activations by the dotted names sentence-transformers writes.
ACTIVATIONS: dict[str, Callable[[], torch.nn.Module]] = {
    "torch.nn.modules.activation.Tanh": torch.nn.Tanh,
    "torch.nn.modules.linear.Identity": torch.nn.Identity,
    "torch.nn.modules.activation.ReLU": torch.nn.ReLU,
    "torch.nn.modules.activation.GELU": torch.nn.GELU,
    "torch.nn.modules.activation.Sigmoid": torch.nn.Sigmoid,
    "torch.nn.modules.activation.SiLU": torch.nn.SiLU,
}
ACTIVATIONS["torch.nn.Tanh"] = torch.nn.Tanh
ACTIVATIONS["torch.nn.Identity"] = torch.nn.Identity


class Dense(Module):
    """``sentence_embedding`` (B, in) → activation(W x + b) (B, out)."""

    kind = ModuleKind.DENSE

    def __init__(self, config: DenseConfig) -> None:
        super().__init__()
        if config.activation not in ACTIVATIONS:
            raise ValueError(f"unsupported activation {config.activation!r}; supported: {sorted(ACTIVATIONS)}")
        self.config = config
        self.linear = torch.nn.Linear(config.in_features, config.out_features, bias=config.bias)
        self.activation_function = ACTIVATIONS[config.activation]()

    def forward(self, features: Features) -> Features:
        """Apply the layer."""
        features["sentence_embedding"] = self.activation_function(self.linear(features["sentence_embedding"]))
        return features

    def save(self, folder: Path) -> None:
        """Write ``config.json`` and ``model.safetensors`` (keys ``linear.weight``, ``linear.bias``)."""
        from safetensors.torch import save_file

        write_json(folder / MODULE_CONFIG_FILE, self.config.to_json())
        state = {k: v.detach().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(folder / MODULE_WEIGHT_FILES[0]))

    @classmethod
    def load(cls, folder: Path) -> Dense:
        """Read config and weights (safetensors, or a legacy ``pytorch_model.bin``)."""
        cfg_path = folder / MODULE_CONFIG_FILE
        if not cfg_path.is_file():
            raise ModelFormatError(cfg_path, "missing Dense configuration")
        config = DenseConfig.from_json(read_json(cfg_path), cfg_path)
        try:
            module = cls(config)
        except ValueError as e:
            raise ModelFormatError(cfg_path, f"invalid Dense configuration: {e}") from e
        module.load_state_dict(_read_weights(folder))
        return module


def _read_weights(folder: Path) -> dict[str, torch.Tensor]:
    st, pt = (folder / name for name in MODULE_WEIGHT_FILES)
    try:
        if st.is_file():
            from safetensors.torch import load_file

            return load_file(str(st))
        if pt.is_file():
            return torch.load(str(pt), map_location="cpu", weights_only=True)
    except Exception as e:
        raise ModelFormatError(st if st.is_file() else pt, f"cannot read weights: {e}") from e
    raise ModelFormatError(st, "missing Dense weights (model.safetensors or pytorch_model.bin)")
