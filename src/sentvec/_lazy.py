"""Module-level ``__getattr__`` for packages whose public names live in heavier submodules (PEP 562)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(
    package: str,
    names: Mapping[str, str],
    before_import: Callable[[str], None] | None = None,
    modules: Mapping[str, str] | None = None,
) -> Callable[[str], Any]:
    """A ``__getattr__`` that imports ``names[name]`` (a module path) on first access and returns its ``name``, or
    for ``modules[name]`` the module itself (``from sentvec import losses``).

    ``before_import(module)`` runs first (e.g. to raise a clear error naming a missing extra).
    """

    def __getattr__(name: str) -> Any:  # noqa: ANN401 -- whatever the named module defines (a class, a function)
        if modules is not None and name in modules:
            return importlib.import_module(modules[name])
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if before_import is not None:
            before_import(module)
        return getattr(importlib.import_module(module), name)

    return __getattr__
