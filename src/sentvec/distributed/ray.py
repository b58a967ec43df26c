"""Corpus encoding on Ray Data: read JSONL/Parquet/CSV (local or any fsspec/pyarrow URL), embed on a pool of actors
(one loaded model each), write Parquet files with ``id`` and ``embedding`` columns (a plain
``fixed_size_list<float32>[D]``, or int8/uint8 codes, that any Parquet reader takes as vectors).

:func:`encode_dataset` returns an :class:`EncodeReport` and leaves the calling process as it found it: no change to
Ray's global ``DataContext`` or to logger levels, no printing besides the progress bar it is asked for. What to print
and how loud Ray may be is the caller's choice (the CLI's ``--engine ray`` branch makes it).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sentvec._extras import require
from sentvec.backends.base import BackendKind
from sentvec.enums import parse_enum
from sentvec.errors import SentvecError
from sentvec.jsonl import field_names
from sentvec.quantization import Precision

if TYPE_CHECKING:
    import pyarrow as pa
    from ray.actor import ActorHandle
    from ray.data import Dataset

logger = logging.getLogger(__name__)

IO_CPUS = 0.1  # CPUs reserved by each read and write task
FORMATS = {"jsonl": "jsonl", "json": "jsonl", "parquet": "parquet", "pq": "parquet", "csv": "csv"}
META_FILE = "_sentvec.json"  # pyarrow and Ray skip files starting with "_" when reading the folder back


class DistributedEncodeError(SentvecError, RuntimeError):
    """The Ray job failed; the message gives the first line of the cause (a bad row names its id)."""


@dataclasses.dataclass(frozen=True)
class EncodeReport:
    """What :func:`encode_dataset` wrote."""

    rows: int
    seconds: float
    output: str
    files: int
    dimension: int
    precision: str
    actors: int
    cpus_per_actor: float
    startup_seconds: float  # until the first rows were embedded: actors started, model loaded, first read
    tokens: int = 0  # tokens fed to the model (after truncation)
    truncated: int = 0  # rows longer than max_seq_length, embedded from their first max_seq_length tokens
    max_seq_length: int = 0
    first_truncated_id: object = None  # the id of one truncated row (the first of the first batch that had one)

    @property
    def rows_per_second(self) -> float:
        """Overall throughput, start-up included."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    @property
    def steady_rows_per_second(self) -> float:
        """Throughput once the actors run (after ``startup_seconds``)."""
        busy = self.seconds - self.startup_seconds
        return self.rows / busy if busy > 0 else 0.0


@dataclasses.dataclass(frozen=True)
class ActorSettings:
    """What every embedding actor is given: the model to load, where it runs, and how to embed a batch."""

    model: str  # a model name or a folder every node can read
    backend: BackendKind
    quantized: bool
    device: str  # "cuda" with GPUs per actor, else "cpu"
    dtype: str  # compute type of the torch / openvino backend ("float32", "bfloat16")
    threads: int  # intra-op threads of the model in each actor
    field: str
    id_field: str
    encode_batch_size: int
    normalize: bool
    precision: Precision
    quantization_ranges: tuple[tuple[float, ...], ...] | None  # shape (2, D) for int8/uint8 output

    def ranges(self) -> np.ndarray | None:
        """``quantization_ranges`` as the float32 array ``encode`` takes."""
        return None if self.quantization_ranges is None else np.asarray(self.quantization_ranges, dtype=np.float32)


@dataclasses.dataclass(frozen=True)
class BatchCount:
    """What an actor reports of one batch it embedded."""

    rows: int
    tokens: int  # fed to the model, after truncation
    truncated: int  # rows cut at max_seq_length
    first_truncated_id: object  # the id of the batch's first truncated row (None when none was)
    max_seq_length: int


@dataclasses.dataclass(frozen=True)
class Counts:
    """The job's totals so far (a retried batch counted once, with its last try)."""

    rows: int = 0
    tokens: int = 0
    truncated: int = 0
    first_truncated_id: object = None
    max_seq_length: int = 0


class _Counter:
    """The counter actor: the actors report each batch they embedded, keyed by the batch's first id and size, so
    that a retried batch replaces its first try. The driver reads progress (rows; the final total is read from
    the written files) and, at the end, the truncation totals, instead of each actor logging per batch."""

    def __init__(self) -> None:
        self.batches: dict[tuple[str, int], BatchCount] = {}

    def add(self, key: tuple[str, int], count: BatchCount) -> None:
        self.batches[key] = count

    def rows(self) -> int:
        return sum(c.rows for c in self.batches.values())

    def totals(self) -> Counts:
        counts = list(self.batches.values())
        firsts = [c.first_truncated_id for c in counts if c.truncated]
        return Counts(
            rows=sum(c.rows for c in counts),
            tokens=sum(c.tokens for c in counts),
            truncated=sum(c.truncated for c in counts),
            first_truncated_id=firsts[0] if firsts else None,
            max_seq_length=max((c.max_seq_length for c in counts), default=0),
        )


def _quiet_actor_process(settings: ActorSettings) -> None:
    """Settings of the actor's own worker process (Ray starts it for this actor alone; no caller's state): the
    driver reports truncation once for the whole job (see :class:`_Counter`), and a warning or a download progress
    bar from every actor would reach the driver's stderr at random moments, prefixed by Ray."""
    logging.getLogger("sentvec.encoder").setLevel(logging.ERROR)
    if settings.backend is not BackendKind.ONNX:
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except ImportError:  # a torch-free actor runs the ONNX graph
            pass


class _Embedder:
    """The actor: one model, loaded once; ``__call__`` turns an Arrow batch into ``id`` + ``embedding``."""

    def __init__(self, settings: ActorSettings, counter: ActorHandle[_Counter]) -> None:
        import sentvec

        self.settings = settings
        self.counter = counter
        _quiet_actor_process(settings)
        self.model = sentvec.load(
            settings.model,
            backend=settings.backend,
            quantized=settings.quantized,
            device=settings.device,
            threads=settings.threads,
            dtype=settings.dtype,
        )
        if self.model.backend.kind is BackendKind.TORCH and settings.device == "cpu":
            import torch

            torch.set_num_threads(settings.threads)  # the actor's own process, as for onnxruntime's threads=
        self.ranges = settings.ranges()

    def __call__(self, batch: pa.Table) -> pa.Table:
        import pyarrow as pa

        s = self.settings
        for name in (s.id_field, s.field):
            if name not in batch.column_names:
                raise ValueError(f"no field {name!r} in the input rows; they have {batch.column_names}")
        ids = batch.column(s.id_field)
        texts = batch.column(s.field).to_pylist()
        missing = [i for i, t in enumerate(texts) if not isinstance(t, str)]
        if missing:
            bad = ids[missing[0]].as_py()
            raise ValueError(f"row {s.id_field}={bad!r}: field {s.field!r} is {texts[missing[0]]!r}, not a text")
        emb, info = self.model.encode(
            texts,
            batch_size=s.encode_batch_size,
            normalize_embeddings=s.normalize,
            precision=s.precision,
            quantization_ranges=self.ranges,
            show_progress_bar=False,
            return_info=True,
        )
        values = pa.array(np.ascontiguousarray(emb).reshape(-1))
        table = pa.table(
            {"id": ids, "embedding": pa.FixedSizeListArray.from_arrays(values, emb.shape[1] if len(emb) else 0)}
        )
        if len(texts):
            cut = info.truncated_indices
            count = BatchCount(
                rows=len(texts),
                tokens=info.total_tokens,
                truncated=len(cut),
                first_truncated_id=ids[cut[0]].as_py() if cut else None,
                max_seq_length=info.max_seq_length,
            )
            self.counter.add.remote((repr(ids[0].as_py()), len(texts)), count)
        return table


def encode_dataset(
    model: str,
    input: str | Path | Sequence[str | Path],
    output: str | Path,
    *,
    field: str = "text",
    id_field: str = "id",
    format: str | None = None,
    actors: int | None = None,
    cpus_per_actor: float | None = None,
    gpus_per_actor: float = 0.0,
    batch_size: int = 1024,
    encode_batch_size: int = 64,
    backend: BackendKind | str = BackendKind.AUTO,
    quantized: bool = False,
    dtype: str = "float32",
    normalize: bool = False,
    precision: Precision | str = Precision.FLOAT32,
    quantization_ranges: np.ndarray | None = None,
    address: str | None = None,
    show_progress: bool = True,
) -> EncodeReport:
    """Embed the ``field`` of every row of ``input`` on a Ray actor pool and write Parquet files to ``output``.

    Args:
        model: a model name or a folder every node can read (each actor loads it once).
        input: a file, a folder of files, a list of them, or URLs (``s3://``, ``gs://``... through pyarrow or
            fsspec). JSONL, Parquet or CSV, told by the extension or by ``format``.
        output: a folder (local or URL) that receives ``*.parquet`` files with columns ``id`` (the input's
            ``id_field``, its type kept) and ``embedding`` (``fixed_size_list<float32>[D]``; int8/uint8 codes
            for quantized precisions), plus ``_sentvec.json`` (model, dimension, precision, rows).
        actors: size of the actor pool (default: one per CPU of the cluster, or one per GPU with
            ``gpus_per_actor``). ``cpus_per_actor``: default shares the cluster's CPUs, less ``IO_CPUS`` for
            each read/write task, among the actors. ``gpus_per_actor > 0`` runs the model on CUDA.
        batch_size: rows per Ray batch (one actor call; large enough that length sorting inside it pays and Ray's
            per-call cost fades); ``encode_batch_size``: texts per forward pass.
        backend, quantized, dtype: as in :func:`sentvec.load` (``backend="onnx"`` needs an exported folder;
            ``backend="openvino", dtype="bfloat16"`` is the fast path on AVX512-BF16/AMX CPUs).
        normalize, precision, quantization_ranges: as in :meth:`SentenceEncoder.encode`; int8/uint8 output
            uses ``quantization_ranges`` (shape (2, D)) or [-1, 1] for normalized vectors, never per-batch ranges.
        address: ``"auto"`` or ``"ray://host:port"`` joins an existing cluster; None starts a local Ray
            instance and stops it at the end. A process already connected to Ray is reused as it is.
        show_progress: a progress bar (rows done, rows/s) on stderr while the job runs.

    Returns:
        An :class:`EncodeReport` with the rows written (read back from the files' metadata), the throughput and the
        truncation totals (also logged once as a warning when rows were truncated).
    """
    if batch_size < 1 or encode_batch_size < 1:
        raise ValueError(f"batch_size and encode_batch_size must be >= 1, got {batch_size}, {encode_batch_size}")
    if actors is not None and actors < 1:
        raise ValueError(f"actors must be >= 1, got {actors}")
    backend_kind = parse_enum(BackendKind, backend, "backend")
    precision = Precision.parse(precision)
    paths = _paths(input)
    local_files = [f for p in paths if "://" not in p for f in _files(Path(p))]
    fmt = _format(paths, local_files, format)
    _check_fields(local_files, fmt, (id_field, field))
    require("ray", "Encoding on Ray")
    require("pyarrow", "Writing Parquet embeddings")
    import ray

    ranges = None if quantization_ranges is None else np.asarray(quantization_ranges, dtype=np.float64)
    settings = ActorSettings(
        model=str(model),
        backend=backend_kind,
        quantized=quantized,
        device="cuda" if gpus_per_actor > 0 else "cpu",
        dtype=dtype,
        threads=1,  # set from the cluster's CPUs once Ray runs
        field=field,
        id_field=id_field,
        encode_batch_size=encode_batch_size,
        normalize=normalize,
        precision=precision,
        quantization_ranges=None if ranges is None else tuple(tuple(float(v) for v in row) for row in ranges),
    )
    started_here = not ray.is_initialized()
    if started_here:
        _init_ray(address)
    try:
        return _run(
            paths=paths,
            fmt=fmt,
            output=str(output),
            actors=actors,
            cpus_per_actor=cpus_per_actor,
            gpus_per_actor=gpus_per_actor,
            batch_size=batch_size,
            settings=settings,
            show_progress=show_progress,
        )
    finally:
        if started_here:
            ray.shutdown()


def _paths(input: str | Path | Sequence[str | Path]) -> list[str]:
    items = [input] if isinstance(input, (str, Path)) else list(input)
    if not items:
        raise ValueError("no input given")
    paths = [str(p) for p in items]
    for p in paths:
        if "://" not in p and not Path(p).exists():
            raise FileNotFoundError(f"{p}: no such file or folder")
    return paths


def _format(paths: list[str], local_files: list[Path], given: str | None) -> str:
    """The input format: given, or told by the names of the local files and of the URLs."""
    if given is not None:
        if given not in FORMATS:
            raise ValueError(f"unknown input format {given!r}; valid: jsonl, parquet, csv")
        return FORMATS[given]
    found: set[str] = set()
    for name in [f.name for f in local_files] + [p for p in paths if "://" in p]:
        parts = name.lower().split(".")
        ext = next((e for e in reversed(parts[1:]) if e in FORMATS), None)
        if ext is None:
            raise ValueError(f"{name}: cannot tell the format from the name; pass format= (jsonl, parquet, csv)")
        found.add(FORMATS[ext])
    if len(found) != 1:
        raise ValueError(f"inputs mix formats {sorted(found)}; give files of one format")
    return found.pop()


def _init_ray(address: str | None) -> None:
    """Start (or join) Ray for this job; the workers' environment keeps their progress bars and chatter off."""
    import ray

    env = {"env_vars": {"TQDM_DISABLE": "1", "TRANSFORMERS_VERBOSITY": "error", "TOKENIZERS_PARALLELISM": "false"}}
    if address is None:
        ray.init(include_dashboard=False, logging_level=logging.WARNING, runtime_env=env)
    else:
        ray.init(address=address, logging_level=logging.WARNING, runtime_env=env)


def _check_fields(local_files: list[Path], fmt: str, fields: Sequence[str]) -> None:
    """Fail before starting any work when the first local file lacks a field (the actors check every batch)."""
    if not local_files:
        return
    first = local_files[0]
    if fmt == "parquet":
        import pyarrow.parquet as pq

        names = list(pq.read_schema(first).names)
    else:
        names = field_names(first, fmt)
    for name in fields:
        if name not in names:
            raise ValueError(f"{first}: no field {name!r}; the rows have {names}")


def _files(path: Path) -> list[Path]:
    """The data files of a local path: itself, or the visible files inside a folder."""
    if path.is_dir():
        return sorted(f for f in path.rglob("*") if f.is_file() and not f.name.startswith((".", "_")))
    return [path]


def _plan_cpus(
    total_cpus: float, actors: int | None, cpus_per_actor: float | None, gpus: float
) -> tuple[int, float, int]:
    """Pool size, logical CPUs per actor and threads per actor.

    One logical CPU (half the cluster's when it has fewer than two) stays free for Ray Data's own tasks: reads,
    writes and Parquet metadata fetches ask for 0.1 to 1 CPU each, and with no room for them the job waits
    forever. Logical CPUs are a scheduling budget, not a cap, so the threads of each actor follow the cluster's
    CPUs per actor.
    """
    reserve = min(1.0, total_cpus / 2)
    room = total_cpus - reserve
    if actors is None:
        actors = max(1, int(room // cpus_per_actor) if cpus_per_actor else int(room))
    if cpus_per_actor is None:
        cpus_per_actor = room / actors if gpus == 0 else min(1.0, room / actors)
    if cpus_per_actor <= 0 or actors * cpus_per_actor > room + 1e-9:
        raise ValueError(
            f"{actors} actors x {cpus_per_actor:g} CPUs leave no room for Ray Data's read/write tasks on a cluster "
            f"of {total_cpus:g} CPUs (keep {reserve:g} free); use fewer actors or fewer CPUs per actor"
        )
    threads = max(1, round(total_cpus / actors))
    return actors, round(float(cpus_per_actor), 3), threads


def _read(paths: list[str], fmt: str) -> Dataset:
    """A dataset over the inputs. No other operator is added between read and embed: each Ray Data operator
    without explicit CPUs asks for a whole one (``select_columns`` would), which the actors may not leave.

    Ray Data's own progress bars are turned off in this dataset's context (a copy made for it, not the global
    one): the job's progress bar counts rows, Ray's would print one per operator."""
    import ray.data
    from ray.data import DataContext

    if fmt == "jsonl":
        ds = ray.data.read_json(paths, num_cpus=IO_CPUS)
    elif fmt == "parquet":
        ds = ray.data.read_parquet(paths, num_cpus=IO_CPUS)
    else:
        ds = ray.data.read_csv(paths, num_cpus=IO_CPUS)
    if ds.context is not DataContext.get_current():  # never the global context, should a Ray version share it
        ds.context.enable_progress_bars = False
    return ds


def _run(
    *,
    paths: list[str],
    fmt: str,
    output: str,
    actors: int | None,
    cpus_per_actor: float | None,
    gpus_per_actor: float,
    batch_size: int,
    settings: ActorSettings,
    show_progress: bool,
) -> EncodeReport:
    import ray
    from ray.data import ActorPoolStrategy, SaveMode

    total_cpus = float(ray.cluster_resources().get("CPU", 1))
    n_actors, cpus, threads = _plan_cpus(total_cpus, actors, cpus_per_actor, gpus_per_actor)
    settings = dataclasses.replace(settings, threads=threads)
    start = time.perf_counter()
    ds = _read(paths, fmt)
    counter = _start_counter()
    embedded = ds.map_batches(
        _Embedder,
        fn_constructor_args=(settings, counter),
        batch_format="pyarrow",
        batch_size=batch_size,
        compute=ActorPoolStrategy(size=n_actors),
        num_cpus=cpus,
        num_gpus=gpus_per_actor or None,
    )
    error: list[BaseException] = []

    def write() -> None:
        try:
            embedded.write_parquet(output, ray_remote_args={"num_cpus": IO_CPUS}, mode=SaveMode.OVERWRITE)
        except BaseException as e:  # handed to the main thread
            error.append(e)

    worker = threading.Thread(target=write, name="sentvec-ray-write", daemon=True)
    worker.start()
    first_rows_at = _show_progress(worker, counter, show_progress)
    worker.join()
    if error:
        raise DistributedEncodeError(f"Ray encoding failed: {_root_cause(error[0])}") from error[0]
    seconds = time.perf_counter() - start
    rows, files, dimension = _written(output)
    startup = (first_rows_at - start) if first_rows_at is not None else seconds
    counts: Counts = ray.get(counter.totals.remote())
    report = EncodeReport(
        rows,
        seconds,
        output,
        files,
        dimension,
        settings.precision.value,
        n_actors,
        cpus,
        startup,
        tokens=counts.tokens,
        truncated=counts.truncated,
        max_seq_length=counts.max_seq_length,
        first_truncated_id=counts.first_truncated_id,
    )
    _write_meta(output, report, settings)
    if counts.truncated:
        logger.warning(
            "%d of %d rows exceed max_seq_length=%d tokens and were embedded from their first %d (one of them: %s=%r)",
            counts.truncated,
            rows,
            counts.max_seq_length,
            counts.max_seq_length,
            settings.id_field,
            counts.first_truncated_id,
        )
    return report


def _start_counter() -> ActorHandle[_Counter]:
    """The counter actor (it takes no CPU: it must never wait for the embedding actors to leave one)."""
    import ray
    from ray.actor import ActorHandle

    handle = ray.remote(num_cpus=0)(_Counter).remote()
    if not isinstance(handle, ActorHandle):  # Ray's type for it also allows the class itself
        raise TypeError(f"Ray returned {type(handle).__name__} for an actor")
    return handle


def _show_progress(worker: threading.Thread, counter: ActorHandle[_Counter], enabled: bool) -> float | None:
    """Rows done and rows/s while the job runs (on stderr, when ``enabled``); returns when the first rows were
    done."""
    import ray
    from tqdm.auto import tqdm

    first: float | None = None
    with tqdm(desc="Encoding (ray)", unit="row", disable=not enabled) as bar:
        while worker.is_alive():
            worker.join(timeout=0.25)
            try:
                done = ray.get(counter.rows.remote(), timeout=5)
            except Exception:  # the counter is best effort; the final total is read from the files
                continue
            if done and first is None:
                first = time.perf_counter()
            bar.update(max(0, done - bar.n))
    return first


def _root_cause(error: BaseException) -> str:
    """The first line of the innermost error (Ray wraps user errors in its own exceptions)."""
    cause: BaseException = error
    while cause.__cause__ is not None:
        cause = cause.__cause__
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    named = [line for line in lines if line.startswith(("ValueError", "KeyError", "FileNotFoundError", "Sentvec"))]
    return (named or lines or [type(cause).__name__])[-1 if named else 0]


def _written(output: str) -> tuple[int, int, int]:
    """Rows, files and vector width of the Parquet files in ``output`` (from their metadata alone)."""
    import pyarrow as pa
    import pyarrow.dataset as pads

    dataset = pads.dataset(output, format="parquet")
    rows = sum(fragment.metadata.num_rows for fragment in dataset.get_fragments())
    field = dataset.schema.field("embedding")
    width = field.type.list_size if pa.types.is_fixed_size_list(field.type) else 0
    return rows, len(dataset.files), int(width)


def _write_meta(output: str, report: EncodeReport, settings: ActorSettings) -> None:
    meta: dict[str, object] = {
        "model": settings.model,
        "dimension": report.dimension,
        "precision": report.precision,
        "normalized": settings.normalize,
        "rows": report.rows,
        "tokens": report.tokens,
        "truncated": report.truncated,
        "max_seq_length": report.max_seq_length,
        "id_field": settings.id_field,
        "text_field": settings.field,
    }
    if settings.quantization_ranges is not None:
        meta["quantization_ranges"] = [list(row) for row in settings.quantization_ranges]
    from pyarrow import fs

    filesystem, folder = fs.FileSystem.from_uri(output if "://" in output else str(Path(output).resolve()))
    with filesystem.open_output_stream(f"{folder.rstrip('/')}/{META_FILE}") as f:
        f.write(json.dumps(meta, indent=2).encode("utf-8"))
