"""``sentvec cluster`` and ``sentvec mine-paraphrases`` on the tiny model folder."""

from __future__ import annotations

import json

import pytest

from sentvec.cli.main import main

TEXTS = [
    "the cat sleeps",
    "a cat sleeps in the house",
    "the dog runs",
    "a dog runs fast",
    "she reads a good book",
    "he reads the old book",
    "the big red car",
    "a small blue car",
    "fish eats food in the water",
    "birds sing at night",
]


def _run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


def _lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def texts_file(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    return path


def test_cluster_writes_jsonl_summary_and_plot(capsys, model_dir, texts_file, tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    out, plot = tmp_path / "clusters.jsonl", tmp_path / "clusters.png"
    args = ["cluster", "--model", model_dir, "--input", texts_file, "--k", 3, "--output", out, "--plot", plot]
    code, stdout, err = _run(capsys, *args)
    assert code == 0, err
    rows = _lines(out)
    assert [r["index"] for r in rows] == list(range(len(TEXTS)))
    assert [r["text"] for r in rows] == TEXTS
    assert {r["cluster"] for r in rows} == {0, 1, 2}
    assert "k = 3 (given)" in stdout and "silhouette" in stdout
    sizes = [int(line.split(": ")[1].split()[0]) for line in stdout.splitlines() if line.startswith("cluster ")]
    assert sorted(sizes, reverse=True) == sizes and sum(sizes) == len(TEXTS)
    reps = [line[4:] for line in stdout.splitlines() if line.startswith("  - ")]
    assert 3 <= len(reps) <= 9 and set(reps) <= set(TEXTS)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cluster_chooses_k_from_jsonl_input(capsys, model_dir, tmp_path):
    pytest.importorskip("sklearn")
    data = tmp_path / "texts.jsonl"
    data.write_text("".join(json.dumps({"t": t}) + "\n" for t in TEXTS), encoding="utf-8")
    out = tmp_path / "c.jsonl"
    args = [
        "cluster",
        "-m",
        model_dir,
        "--input",
        data,
        "--field",
        "t",
        "--k-range",
        "2,4",
        "--method",
        "agglomerative",
    ]
    code, stdout, err = _run(capsys, *args, "--output", out)
    assert code == 0, err
    k = len({r["cluster"] for r in _lines(out)})
    assert 2 <= k <= 4 and f"k = {k} (best silhouette over 2..4)" in stdout


def test_mine_paraphrases(capsys, model_dir, texts_file, tmp_path):
    out = tmp_path / "pairs.jsonl"
    args = ["mine-paraphrases", "--model", model_dir, "--input", texts_file, "--top-k", 2, "--threshold", -1]
    code, stdout, err = _run(capsys, *args, "--output", out)
    assert code == 0, err
    rows = _lines(out)
    assert len(TEXTS) <= len(rows) <= 2 * len(TEXTS)  # every text has 2 neighbours; each pair listed once
    assert len({(r["i"], r["j"]) for r in rows}) == len(rows)
    for r in rows:
        assert r["i"] < r["j"] and r["text_i"] == TEXTS[r["i"]] and r["text_j"] == TEXTS[r["j"]]
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert f"{len(rows)} pairs among {len(TEXTS)} texts" in stdout
    code, stdout, _ = _run(capsys, *args[:-2], "--threshold", 2, "--output", out, "--overwrite")
    assert code == 0 and out.read_text() == "" and stdout.startswith("0 pairs")


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--input", "missing.txt", "--output", "o.jsonl"], "file not found"),
        (["--input", "{texts}", "--output", "o.csv"], "must be a .jsonl file"),
        (["--input", "{texts}", "--output", "o.jsonl", "--k", "10"], "--k must be between 2 and 9"),
        (["--input", "{texts}", "--output", "o.jsonl", "--k-range", "x"], "--k-range"),
        (["--input", "{texts}", "--output", "o.jsonl", "--plot", "p.pdf"], "must be a .png file"),
        (["--input", "{empty}", "--output", "o.jsonl"], "no texts"),
    ],
)
def test_cluster_bad_input_is_one_line_exit_2(capsys, model_dir, texts_file, tmp_path, extra, match):
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    extra = [e.format(texts=texts_file, empty=empty) for e in extra]
    extra = [str(tmp_path / e) if e in ("missing.txt", "o.jsonl", "o.csv", "p.pdf") else e for e in extra]
    code, _, err = _run(capsys, "cluster", "--model", model_dir, *extra)
    assert code == 2
    assert err.startswith("sentvec: error: ") and len(err.splitlines()) == 1
    assert match in err


def test_mine_paraphrases_bad_input(capsys, model_dir, tmp_path):
    data = tmp_path / "texts.jsonl"
    data.write_text('{"t": "a"}\n', encoding="utf-8")
    code, _, err = _run(capsys, "mine-paraphrases", "-m", model_dir, "--input", data, "--output", tmp_path / "p.jsonl")
    assert code == 2 and err.startswith("sentvec: error: ") and "--field" in err
    code, _, err = _run(
        capsys,
        "mine-paraphrases",
        "-m",
        model_dir,
        "--input",
        data,
        "--field",
        "t",
        "--top-k",
        0,
        "--output",
        "x.jsonl",
    )
    assert code == 2 and "--top-k must be >= 1" in err and len(err.splitlines()) == 1
