"""Optional dependencies, imported on first use with an exact install hint when missing."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from sentvec.errors import MissingExtraError

# module name -> (extra that provides it, pip package name)
_EXTRAS: dict[str, tuple[str, str]] = {
    "torch": ("torch", "torch"),
    "transformers": ("torch", "transformers"),
    "matplotlib": ("plot", "matplotlib"),
    "sklearn": ("plot", "scikit-learn"),
    "pyarrow": ("parquet", "pyarrow"),
    "ray": ("ray", "ray[data]"),
    "usearch": ("index", "usearch"),
    "fastapi": ("server", "fastapi"),
    "uvicorn": ("server", "uvicorn"),
    "openvino": ("openvino", "openvino"),
}


def require(module: str, feature: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        top = module.split(".")[0]
        extra, package = _EXTRAS.get(top, (top, top))
        raise MissingExtraError(extra, package, feature) from e


def available(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    return importlib.util.find_spec(module) is not None
