"""The sentvec command line: real runs on the real model, and user errors as one line with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sentvec.cli.main import main

STSB = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "stsb"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sentvec.cli.main", *args], capture_output=True, text=True, timeout=600
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["info", "/no/such/model"], "not found"),
        (["eval", "sts", "--model", "all-MiniLM-L6-v2", "--data", "/no/such.csv"], "/no/such.csv: file not found"),
        (["encode", "-m", "all-MiniLM-L6-v2", "--input", "x.txt", "--output", "out.bin"], "unsupported output type"),
    ],
)
def test_user_errors_are_one_line_with_exit_code_2(args, expected, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert err.startswith("sentvec: error:") and expected in err
    assert "Traceback" not in err


def test_bad_row_names_file_and_line(tmp_path, capsys):
    data = tmp_path / "pairs.csv"
    data.write_text("a,b,3.0\nc,d,not-a-score\n", encoding="utf-8")
    assert main(["eval", "sts", "-m", "all-MiniLM-L6-v2", "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert f"{data}, line 2" in err and "not a number" in err


def test_argparse_errors_exit_2():
    proc = run_cli("encode", "--model", "x")
    assert proc.returncode == 2
    assert "--input" in proc.stderr


def test_help_on_each_command():
    for command in (["encode"], ["similarity"], ["eval", "sts"], ["info"]):
        proc = run_cli(*command, "--help")
        assert proc.returncode == 0, proc.stderr
        assert "usage: sentvec " + " ".join(command) in proc.stdout


@pytest.mark.real_model
def test_encode_txt_to_npy_matches_library(tmp_path):
    import sentvec

    texts = ["A man is eating food.", "", "Un homme mange.", "The sky is blue today."]
    src = tmp_path / "in.txt"
    src.write_text("\n".join(texts) + "\n", encoding="utf-8")
    out = tmp_path / "out.npy"
    assert main(["encode", "-m", "all-MiniLM-L6-v2", "--input", str(src), "--output", str(out), "--normalize"]) == 0
    got = np.load(out)
    expected = sentvec.load("all-MiniLM-L6-v2").encode(texts, normalize_embeddings=True)
    assert got.shape == (4, 384)
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.real_model
def test_encode_jsonl_and_csv_inputs_to_jsonl_and_parquet(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    rows = [{"id": 7, "body": "first text"}, {"id": 8, "body": "second text"}]
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    csv_in = tmp_path / "in.csv"
    csv_in.write_text("id,body\n7,first text\n8,second text\n", encoding="utf-8")
    out_jsonl, out_parquet = tmp_path / "o.jsonl", tmp_path / "o.parquet"
    assert (
        main(["encode", "-m", "all-MiniLM-L6-v2", "--input", str(jsonl), "--field", "body", "--output", str(out_jsonl)])
        == 0
    )
    assert (
        main(
            [
                "encode",
                "-m",
                "all-MiniLM-L6-v2",
                "--input",
                str(csv_in),
                "--column",
                "body",
                "--output",
                str(out_parquet),
            ]
        )
        == 0
    )
    from_jsonl = np.array([json.loads(line)["embedding"] for line in out_jsonl.read_text().splitlines()])
    table = pq.read_table(out_parquet)
    assert table.column_names == ["id", "embedding"]
    from_parquet = np.array(table.column("embedding").to_pylist())
    assert from_jsonl.shape == from_parquet.shape == (2, 384)
    np.testing.assert_allclose(from_jsonl, from_parquet, atol=1e-6)


@pytest.mark.real_model
def test_jsonl_missing_field_names_line(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "ok"}\n{"other": 1}\n', encoding="utf-8")
    assert (
        main(
            [
                "encode",
                "-m",
                "all-MiniLM-L6-v2",
                "--input",
                str(src),
                "--field",
                "text",
                "--output",
                str(tmp_path / "o.npy"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "line 2" in err and "'text'" in err


@pytest.mark.real_model
def test_similarity_prints_matrix(capsys):
    assert (
        main(
            ["similarity", "-m", "all-MiniLM-L6-v2", "A man is eating food.", "A man eats a meal.", "The sky is blue."]
        )
        == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "cosine similarity"
    values = [[float(v) for v in line.split()[-3:]] for line in out[2:5]]
    assert [values[i][i] for i in range(3)] == pytest.approx([1.0, 1.0, 1.0], abs=1e-4)
    assert values[0][1] > 0.7 > values[0][2]


@pytest.mark.real_model
def test_info_lists_modules_and_dimension(capsys):
    assert main(["info", "all-MiniLM-L6-v2"]) == 0
    out = capsys.readouterr().out
    assert "['Transformer', 'Pooling', 'Normalize']" in out
    assert "dimension:      384" in out and "max_seq_length: 256" in out and "model.safetensors" in out


@pytest.mark.real_model
def test_eval_sts_prints_published_spearman(tmp_path, capsys):
    data = STSB / "stsb-en-test.csv"
    if not data.is_file():
        pytest.skip(f"{data} not found")
    out_json = tmp_path / "r.json"
    assert main(["eval", "sts", "-m", "all-MiniLM-L6-v2", "--data", str(data), "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    cosine_line = next(line for line in out.splitlines() if line.startswith("cosine"))
    assert cosine_line.split()[-1] == "82.03"  # the published figure for all-MiniLM-L6-v2
    result = json.loads(out_json.read_text())
    assert result["primary_metric"] == "spearman_cosine"
    assert round(result["primary_value"], 2) == 82.03


@pytest.mark.real_model
def test_encode_streams_in_chunks_with_the_same_result(tmp_path):
    texts = [f"sentence number {i} about topic {i % 7}" for i in range(23)]
    src = tmp_path / "in.txt"
    src.write_text("\n".join(texts) + "\n", encoding="utf-8")
    outputs = {}
    for name, chunk in (("whole.npy", "1000"), ("chunks.npy", "5"), ("chunks.jsonl", "5"), ("chunks.parquet", "4")):
        out = tmp_path / name
        assert (
            main(["encode", "-m", "all-MiniLM-L6-v2", "--input", str(src), "--output", str(out), "--chunk-size", chunk])
            == 0
        )
        outputs[name] = out
    whole = np.load(outputs["whole.npy"])
    assert whole.shape == (23, 384)
    np.testing.assert_allclose(np.load(outputs["chunks.npy"]), whole, atol=1e-6)
    rows = [json.loads(line) for line in outputs["chunks.jsonl"].read_text().splitlines()]
    assert [r["id"] for r in rows] == list(range(23))
    np.testing.assert_allclose(np.array([r["embedding"] for r in rows]), whole, atol=1e-6)
    table = pytest.importorskip("pyarrow.parquet").read_table(outputs["chunks.parquet"])
    assert table.column("id").to_pylist() == list(range(23))


def test_encode_stream_bounds_chunks_and_names_bad_items():
    from sentvec.batching import EncodeInfo
    from sentvec.encoder import SentenceEncoder

    class Counting(SentenceEncoder):
        """Encodes nothing: records the sizes of the chunks encode_stream asks for."""

        def __init__(self):
            self.sizes = []

        def encode(self, texts, **kwargs):
            self.sizes.append(len(texts))
            info = EncodeInfo(np.ones(len(texts), np.int64), np.zeros(len(texts), bool), 8)
            return np.zeros((len(texts), 2)), info

    fake = Counting()
    chunks = list(fake.encode_stream((f"t{i}" for i in range(10)), chunk_size=4))
    assert fake.sizes == [4, 4, 2] and sum(len(c) for c, _ in chunks) == 10
    with pytest.raises(TypeError, match="index 5 is int"):
        list(fake.encode_stream(["a"] * 5 + [3], chunk_size=4))
