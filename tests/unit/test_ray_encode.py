"""Corpus encoding on Ray Data (one local Ray instance for the module): same vectors as ``encode``, every id once,
plain fixed-size-list Parquet columns, JSONL/CSV/Parquet inputs, and errors that name the culprit."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _tiny_model import WORDS

ray = pytest.importorskip("ray")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def corpus(n: int, seed: int = 0) -> list[tuple[int, str]]:
    rng = np.random.default_rng(seed)
    return [(1000 + i, " ".join(rng.choice(WORDS, size=int(rng.integers(1, 20))))) for i in range(n)]


def write_jsonl(path: Path, rows: list[tuple[int, str]]) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for i, text in rows:
            f.write(json.dumps({"doc": i, "body": text, "extra": "ignored"}) + "\n")
    return path


def read_output(folder: Path) -> tuple[Any, np.ndarray, Any]:
    table = pq.read_table(folder)
    ids = table.column("id").to_numpy()
    emb = np.asarray(table.column("embedding").combine_chunks().flatten().to_numpy(zero_copy_only=False))
    return ids, emb.reshape(len(ids), -1), table.schema


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        yield
    finally:
        ray.shutdown()


def test_vectors_equal_encode_and_every_id_is_written_once(
    local_ray: None, model_dir: Path, model: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from sentvec.distributed import encode_dataset

    rows = corpus(600)
    data = write_jsonl(tmp_path / "corpus.jsonl", rows)
    with caplog.at_level("WARNING", logger="sentvec.distributed.ray"):
        report = encode_dataset(
            str(model_dir), data, tmp_path / "out", field="body", id_field="doc", actors=2, batch_size=50
        )
    ids, emb, schema = read_output(tmp_path / "out")

    assert report.rows == 600 and report.actors == 2 and report.dimension == model.dimension
    assert sorted(ids.tolist()) == [i for i, _ in rows]  # none lost, none duplicated
    assert schema.field("id").type == pa.int64()
    assert schema.field("embedding").type == pa.list_(pa.float32(), model.dimension)  # not Ray's tensor type
    expected, info = model.encode([t for _, t in rows], return_info=True)
    order = np.argsort(ids)
    np.testing.assert_allclose(emb[order], expected, atol=1e-5, rtol=0)
    meta = json.loads((tmp_path / "out" / "_sentvec.json").read_text())
    assert meta["rows"] == 600 and meta["dimension"] == model.dimension and meta["precision"] == "float32"

    # truncation is reported once for the whole job, summed over the actors' batches
    cut_ids = {rows[i][0] for i in info.truncated_indices}
    assert 0 < info.n_truncated < 600  # the corpus has rows on both sides of max_seq_length
    assert (report.truncated, report.tokens, report.max_seq_length) == (
        info.n_truncated,
        info.total_tokens,
        model.max_seq_length,
    )
    assert report.first_truncated_id in cut_ids
    assert (meta["truncated"], meta["tokens"]) == (info.n_truncated, info.total_tokens)
    warnings = [r.getMessage() for r in caplog.records if r.name == "sentvec.distributed.ray"]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{info.n_truncated} of 600 rows exceed max_seq_length={model.max_seq_length}")
    assert f"doc={report.first_truncated_id!r}" in warnings[0]


def test_csv_input_with_int8_output_gives_encodes_codes(
    local_ray: None, model_dir: Path, model: Any, tmp_path: Path
) -> None:
    from sentvec.distributed import encode_dataset

    rows = corpus(120, seed=1)
    with open(tmp_path / "c.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text"])
        writer.writerows(rows)
    encode_dataset(
        str(model_dir), tmp_path / "c.csv", tmp_path / "out", actors=1, precision="int8", normalize=True, batch_size=40
    )
    ids, codes, schema = read_output(tmp_path / "out")
    assert schema.field("embedding").type == pa.list_(pa.int8(), model.dimension)
    expected = model.encode([t for _, t in rows], precision="int8", normalize_embeddings=True)
    np.testing.assert_array_equal(codes[np.argsort(ids)], expected)


def test_parquet_folder_input_by_url_on_the_onnx_backend(
    local_ray: None, model_dir: Path, model: Any, tmp_path: Path
) -> None:
    """Input and output given as URLs (file:// stands for any pyarrow/fsspec scheme); actors run the ONNX graph."""
    from sentvec.distributed import encode_dataset
    from sentvec.export import export_onnx

    onnx_model = tmp_path / "onnx-model"
    export_onnx(model, onnx_model, calibration_texts=[t for _, t in corpus(16, seed=9)])

    rows = corpus(90, seed=2)
    (tmp_path / "in").mkdir()
    for part in range(3):
        chunk = rows[part * 30 : (part + 1) * 30]
        table = pa.table({"id": [str(i) for i, _ in chunk], "text": [t for _, t in chunk]})
        pq.write_table(table, tmp_path / "in" / f"part-{part}.parquet")
    report = encode_dataset(
        str(onnx_model),
        (tmp_path / "in").as_uri(),
        (tmp_path / "out").as_uri(),
        format="parquet",
        backend="onnx",
        actors=1,
        show_progress=False,
    )
    ids, emb, _ = read_output(tmp_path / "out")
    assert (tmp_path / "out" / "_sentvec.json").is_file()
    assert report.rows == 90 and sorted(ids.tolist()) == sorted(str(i) for i, _ in rows)
    by_id = dict(zip(ids.tolist(), emb, strict=True))
    expected = model.encode([t for _, t in rows])
    np.testing.assert_allclose(np.stack([by_id[str(i)] for i, _ in rows]), expected, atol=1e-5, rtol=0)


def test_a_row_without_text_fails_with_its_id(local_ray: None, model_dir: Path, tmp_path: Path) -> None:
    from sentvec.distributed import encode_dataset
    from sentvec.distributed.ray import DistributedEncodeError

    with open(tmp_path / "bad.jsonl", "w", encoding="utf-8") as f:
        for i in range(20):
            f.write(json.dumps({"id": f"doc-{i}", "text": None if i == 13 else "the cat"}) + "\n")
    with pytest.raises(DistributedEncodeError, match=r"id='doc-13'.*'text'"):
        encode_dataset(str(model_dir), tmp_path / "bad.jsonl", tmp_path / "out", actors=1, show_progress=False)


def test_input_errors_are_raised_before_ray_starts(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sentvec.distributed import encode_dataset
    from sentvec.distributed import ray as ray_encode

    def ray_was_reached(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("Ray was started or used for input that could be refused up front")

    monkeypatch.setattr(ray_encode, "_init_ray", ray_was_reached)
    monkeypatch.setattr(ray_encode, "_run", ray_was_reached)
    data = write_jsonl(tmp_path / "corpus.jsonl", corpus(3))
    with pytest.raises(ValueError, match=r"corpus.jsonl: no field 'text'; the rows have \['doc', 'body', 'extra'\]"):
        encode_dataset(str(model_dir), data, tmp_path / "out", id_field="doc")
    with pytest.raises(FileNotFoundError, match=r"missing\.jsonl: no such file or folder"):
        encode_dataset(str(model_dir), tmp_path / "missing.jsonl", tmp_path / "out")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match=r"notes\.txt: cannot tell the format"):
        encode_dataset(str(model_dir), tmp_path / "notes.txt", tmp_path / "out")


def test_cpu_plan_leaves_room_for_ray_data_tasks() -> None:
    from sentvec.distributed.ray import _plan_cpus

    assert _plan_cpus(2.0, None, None, 0.0) == (1, 1.0, 2)  # one actor, two threads, one CPU left for reads
    assert _plan_cpus(2.0, 2, None, 0.0) == (2, 0.5, 1)
    actors, cpus, threads = _plan_cpus(16.0, 3, None, 0.0)
    assert actors == 3 and cpus == pytest.approx(5.0) and threads == 5
    with pytest.raises(ValueError, match="leave no room"):
        _plan_cpus(2.0, 2, 1.0, 0.0)  # Ray's default of 1 CPU per actor: the read tasks would wait forever


def test_cli_engine_ray(
    local_ray: None, model_dir: Path, model: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sentvec.cli.main import main

    rows = corpus(80, seed=3)
    data = write_jsonl(tmp_path / "corpus.jsonl", rows)
    common = ["encode", "--engine", "ray", "--model", str(model_dir), "--input", str(data), "--id-field", "doc"]
    code = main([*common, "--field", "body", "--output", str(tmp_path / "out"), "--actors", "1"])
    assert code == 0
    expected, info = model.encode([t for _, t in rows], return_info=True)
    assert (
        f"wrote 80 embeddings ({model.dimension} dims) to {tmp_path / 'out'} in 1 file(s) "
        f"({info.total_tokens} tokens, {info.n_truncated} truncated at {model.max_seq_length})"
    ) in capsys.readouterr().out
    ids, emb, _ = read_output(tmp_path / "out")
    np.testing.assert_allclose(emb[np.argsort(ids)], expected, atol=1e-5, rtol=0)

    assert main([*common, "--output", str(tmp_path / "out2")]) == 2  # no 'text' field in these rows
    # Ray forwards its workers' output to this process's stderr on its own schedule ("(pid=...) ..." lines);
    # they are not the CLI's, and the actors no longer log per batch, but one could still land here
    err = [line for line in capsys.readouterr().err.strip().splitlines() if "pid=" not in line]
    assert err == [f"sentvec: error: {data}: no field 'text'; the rows have ['doc', 'body', 'extra']"]
