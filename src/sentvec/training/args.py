"""Training arguments: one frozen dataclass, and the enums of its options. Torch-free: the CLI builds its
``choices`` from these enums."""

from __future__ import annotations

import dataclasses
import enum

from sentvec.enums import parse_enum


class Schedule(str, enum.Enum):
    """Learning-rate schedule after the linear warm-up."""

    LINEAR = "linear"
    COSINE = "cosine"
    CONSTANT = "constant"


class MultiDatasetOrder(str, enum.Enum):
    """How steps are shared between several datasets."""

    ROUND_ROBIN = "round_robin"  # one batch of each in turn, until the smallest runs out
    PROPORTIONAL = "proportional"  # datasets drawn at random, weighted by their number of batches


@dataclasses.dataclass(frozen=True)
class TrainingArgs:
    """Everything that shapes a training run.

    ``eval_steps``/``save_steps``: evaluate / checkpoint every N optimizer steps (None: at the end of each epoch).
    ``no_duplicates``: None chooses per loss (on for in-batch-negative losses). ``bf16``: autocast on CPU.
    """

    output_dir: str
    epochs: int = 1
    max_steps: int | None = None
    batch_size: int = 32
    learning_rate: float = 2e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    schedule: Schedule = Schedule.LINEAR
    max_grad_norm: float | None = 1.0
    gradient_accumulation_steps: int = 1
    bf16: bool = False
    seed: int = 42
    eval_steps: int | None = None
    save_steps: int | None = None
    logging_steps: int = 10
    no_duplicates: bool | None = None
    multi_dataset_order: MultiDatasetOrder = MultiDatasetOrder.ROUND_ROBIN
    shuffle_buffer: int = 10_000
    show_progress_bar: bool = True
    plot: bool = True

    def __post_init__(self) -> None:
        checks = {
            "epochs": self.epochs >= 1,
            "batch_size": self.batch_size >= 1,
            "learning_rate": self.learning_rate > 0,
            "warmup_ratio": 0 <= self.warmup_ratio < 1,
            "gradient_accumulation_steps": self.gradient_accumulation_steps >= 1,
            "logging_steps": self.logging_steps >= 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid training arguments: {', '.join(f'{b}={getattr(self, b)!r}' for b in bad)}")
        # a string from a config file or the command line becomes its enum member (an unknown one: ValueError)
        object.__setattr__(self, "schedule", parse_enum(Schedule, self.schedule, "schedule"))
        order = parse_enum(MultiDatasetOrder, self.multi_dataset_order, "multi_dataset_order")
        object.__setattr__(self, "multi_dataset_order", order)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (saved with checkpoints)."""
        data: dict[str, object] = dataclasses.asdict(self)
        data["schedule"] = self.schedule.value
        data["multi_dataset_order"] = self.multi_dataset_order.value
        return data
