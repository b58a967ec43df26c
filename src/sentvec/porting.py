"""The reference library's entry points under their own names, so ported code changes only its import line: the
reference's ``SentenceTransformer, SentenceTransformerTrainer, losses, util`` are imported ``from sentvec`` instead
(sentvec never imports the reference; this module only mirrors its names).

``SentenceTransformer(...)`` is :func:`sentvec.load` with the reference's keywords and returns a
:class:`~sentvec.SentenceEncoder`; the trainer names map onto :class:`~sentvec.training.Trainer` and
:class:`~sentvec.training.TrainingArgs` with the Hugging Face defaults the reference inherits. The typed API stays the
primary one; this module only translates names.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from sentvec.enums import BackendKind, parse_enum

if TYPE_CHECKING:
    from sentvec.encoder import SentenceEncoder
    from sentvec.evaluation.base import Evaluator
    from sentvec.training.args import TrainingArgs
    from sentvec.training.losses import Loss
    from sentvec.training.trainer import DataSource, TrainResult

# model_kwargs the loader understands: the ONNX graph's file name and the torch compute type.
_DEFAULT_PROMPTS = {"query": "", "document": ""}
_DTYPES = {"float32": "float32", "torch.float32": "float32", "bfloat16": "bfloat16", "torch.bfloat16": "bfloat16"}


def SentenceTransformer(
    model_name_or_path: str | os.PathLike[str],
    device: str | None = None,
    prompts: dict[str, str] | None = None,
    default_prompt_name: str | None = None,
    similarity_fn_name: str | None = None,
    cache_folder: str | None = None,
    trust_remote_code: bool = False,
    revision: str | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
    truncate_dim: int | None = None,
    model_kwargs: Mapping[str, object] | None = None,
    backend: BackendKind | str = BackendKind.TORCH,
) -> SentenceEncoder:
    """Load a model as ``sentence_transformers.SentenceTransformer(...)`` does (torch backend by default;
    ``backend="onnx"`` with ``model_kwargs={"file_name": ...}`` picks a graph)."""
    from sentvec.loading import load

    kwargs = dict(model_kwargs or {})
    file_name = kwargs.pop("file_name", None)
    dtype = kwargs.pop("torch_dtype", kwargs.pop("dtype", "float32"))
    if kwargs:
        raise TypeError(f"model_kwargs {sorted(kwargs)} are not supported; supported: file_name, torch_dtype")
    if str(dtype) not in _DTYPES:
        raise ValueError(f"model_kwargs torch_dtype {dtype!r} is not supported; use float32 or bfloat16")
    model = load(
        model_name_or_path,
        device=device,
        backend=backend,
        file_name=None if file_name is None else str(file_name),
        dtype=_DTYPES[str(dtype)],
        similarity_fn_name=similarity_fn_name,
        cache_folder=cache_folder,
        trust_remote_code=trust_remote_code,
        revision=revision,
        local_files_only=local_files_only,
        token=token,
        truncate_dim=truncate_dim,
    )
    # sentence-transformers 6.x always has "query" and "document" prompts (empty unless set), so encode_document
    # finds "document" before "passage"; the folder's prompts, then the caller's, override them.
    merged = {**_DEFAULT_PROMPTS, **model.prompts, **(prompts or {})}
    if default_prompt_name is not None and default_prompt_name not in merged:
        raise ValueError(f"default_prompt_name {default_prompt_name!r} is not one of the prompts {sorted(merged)}")
    model.config = dataclasses.replace(
        model.config, prompts=merged, default_prompt_name=default_prompt_name or model.config.default_prompt_name
    )
    return model


def SentenceTransformerTrainingArguments(
    output_dir: str | None = None,
    num_train_epochs: float = 3,
    max_steps: int = -1,
    per_device_train_batch_size: int = 8,
    learning_rate: float = 5e-5,
    weight_decay: float = 0.0,
    warmup_ratio: float = 0.0,
    lr_scheduler_type: str = "linear",
    max_grad_norm: float = 1.0,
    gradient_accumulation_steps: int = 1,
    bf16: bool = False,
    seed: int = 42,
    eval_steps: int | None = None,
    save_steps: int | None = None,
    logging_steps: int = 500,
    batch_sampler: str = "batch_sampler",
    multi_dataset_batch_sampler: str = "proportional",
    disable_tqdm: bool = False,
) -> TrainingArgs:
    """:class:`~sentvec.training.TrainingArgs` from the reference's (Hugging Face's) argument names and defaults."""
    from sentvec.training.args import MultiDatasetOrder, Schedule, TrainingArgs

    if num_train_epochs != int(num_train_epochs):
        raise ValueError(f"num_train_epochs must be a whole number here, got {num_train_epochs}")
    if batch_sampler not in ("batch_sampler", "no_duplicates"):
        raise ValueError(f"batch_sampler {batch_sampler!r} is not supported; use 'batch_sampler' or 'no_duplicates'")
    orders = {"proportional": MultiDatasetOrder.PROPORTIONAL, "round_robin": MultiDatasetOrder.ROUND_ROBIN}
    if multi_dataset_batch_sampler not in orders:
        raise ValueError(f"multi_dataset_batch_sampler must be one of {sorted(orders)}")
    return TrainingArgs(
        output_dir=output_dir or "trainer_output",
        epochs=int(num_train_epochs),
        max_steps=None if max_steps is None or max_steps < 0 else max_steps,
        batch_size=per_device_train_batch_size,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        warmup_ratio=warmup_ratio,
        schedule=parse_enum(Schedule, lr_scheduler_type, "lr_scheduler_type"),
        max_grad_norm=max_grad_norm,
        gradient_accumulation_steps=gradient_accumulation_steps,
        bf16=bf16,
        seed=seed,
        eval_steps=eval_steps,
        save_steps=save_steps,
        logging_steps=logging_steps,
        no_duplicates=True if batch_sampler == "no_duplicates" else None,
        multi_dataset_order=orders[multi_dataset_batch_sampler],
        show_progress_bar=not disable_tqdm,
    )


class SentenceTransformerTrainer:
    """``SentenceTransformerTrainer(model=, args=, train_dataset=, eval_dataset=, loss=, evaluator=).train()`` on
    sentvec's trainer (``loss`` defaults to CoSENTLoss, as in the reference)."""

    def __init__(
        self,
        model: SentenceEncoder,
        args: TrainingArgs | None = None,
        train_dataset: DataSource | Mapping[str, DataSource] | None = None,
        eval_dataset: DataSource | Mapping[str, DataSource] | None = None,
        loss: Loss | Mapping[str, Loss] | None = None,
        evaluator: Evaluator | None = None,
    ) -> None:
        from sentvec.training.losses import CoSENTLoss
        from sentvec.training.trainer import Trainer

        if train_dataset is None:
            raise ValueError("train_dataset is required")
        self.model = model
        self.args = args or SentenceTransformerTrainingArguments()
        self.trainer = Trainer(
            model,
            loss if loss is not None else CoSENTLoss(model),
            train_dataset,
            self.args,
            evaluator=evaluator,
            eval_dataset=eval_dataset,
        )

    def train(self, resume_from_checkpoint: str | None = None) -> TrainResult:
        """Train ``model`` in place."""
        return self.trainer.train(resume_from=resume_from_checkpoint)
