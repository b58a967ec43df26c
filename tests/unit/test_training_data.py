"""Training data: sources, explicit columns, validation errors that name file/row/column, streaming, samplers."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from sentvec.errors import DataFormatError
from sentvec.training.data import Example, InMemoryData, load_data, scale_scores
from sentvec.training.samplers import MultiDatasetOrder, batches, epoch_batches, shuffled


def test_headerless_csv_with_positional_columns(tmp_path):
    path = tmp_path / "sts.csv"
    path.write_text('a b,c d,4.5\n"x, y",z,0\n', encoding="utf-8")
    data = load_data(path, columns=[0, 1], label=2, label_kind="score", score_range=(0, 5))
    assert list(data) == [Example(("a b", "c d"), 4.5), Example(("x, y", "z"), 0.0)]
    assert len(data) == 2 and data.n_columns == 2
    scaled = scale_scores(data, 0, 5)
    assert [e.label for e in scaled] == [0.9, 0.0]


def test_named_columns_in_tsv_jsonl_list_and_dataframe(tmp_path):
    (tmp_path / "d.tsv").write_text("label\tq\tp\n1\tquery\tpassage\n", encoding="utf-8")
    (tmp_path / "d.jsonl").write_text(json.dumps({"q": "query", "p": "passage", "label": 1}) + "\n", encoding="utf-8")
    expected = [Example(("query", "passage"), 1.0)]
    for source in (tmp_path / "d.tsv", tmp_path / "d.jsonl", [{"q": "query", "p": "passage", "label": 1}]):
        assert list(load_data(source, columns=["q", "p"], label="label", label_kind="binary")) == expected
    assert list(load_data([("query", "passage", 1)], columns=[0, 1], label=2, label_kind="binary")) == expected
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"q": ["query"], "p": ["passage"], "label": [1]})
    assert list(load_data(frame, columns=["q", "p"], label="label", label_kind="binary")) == expected


@pytest.mark.parametrize(
    ("content", "kwargs", "line", "field", "message"),
    [
        (
            "s1,s2,score\na,b,1\nc,,2\n",
            {"columns": ["s1", "s2"], "label": "score", "label_kind": "score"},
            3,
            "s2",
            "empty",
        ),
        (
            "s1,s2,score\na,b,x\n",
            {"columns": ["s1", "s2"], "label": "score", "label_kind": "score"},
            2,
            "score",
            "not a number",
        ),
        (
            "s1,s2,score\na,b,7\n",
            {"columns": ["s1", "s2"], "label": "score", "label_kind": "score", "score_range": (0, 5)},
            2,
            "score",
            "outside",
        ),
        ("s1,s2,y\na,b,2\n", {"columns": ["s1", "s2"], "label": "y", "label_kind": "binary"}, 2, "y", "0 or 1"),
        ("t,y\na,1.5\n", {"columns": ["t"], "label": "y", "label_kind": "class"}, 2, "y", "integer"),
        ("s1,s2\na,b\n", {"columns": ["s1", "missing"]}, 2, "missing", "missing column"),
    ],
)
def test_validation_errors_name_file_row_and_column(tmp_path, content, kwargs, line, field, message):
    path = tmp_path / "data.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataFormatError) as err:
        list(load_data(path, **kwargs))
    assert (err.value.source, err.value.line, err.value.field) == (str(path), line, field)
    assert message in str(err.value)


def test_large_jsonl_streams_without_loading_everything(tmp_path):
    path = tmp_path / "big.jsonl"
    line = json.dumps({"a": "anchor text " * 5, "p": "positive text " * 5}) + "\n"
    path.write_text(line * 100_000, encoding="utf-8")  # ~13 MB
    data = load_data(path, columns=["a", "p"])
    tracemalloc.start()
    seen = 0
    for batch in batches(shuffled(data, seed=0, buffer_size=1000), 32):
        seen += len(batch)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert seen == 100_000
    assert peak < 3_000_000, f"peak {peak} bytes: the file was read into memory"


def test_shuffling_is_seeded_and_complete():
    data = InMemoryData([Example((f"t{i}",)) for i in range(50)], load_data([("x",)], columns=[0]).spec, "list")
    a, b, c = (list(shuffled(data, s)) for s in (1, 1, 2))
    assert a == b and a != c and sorted(e.texts for e in a) == sorted(e.texts for e in data)


def test_no_duplicates_batches_never_repeat_a_text_and_lose_nothing():
    examples = [Example((f"q{i % 5}", f"p{i}")) for i in range(40)]  # only 5 distinct anchors
    out = list(batches(examples, 4, no_duplicates=True))
    flat = [e for b in out for e in b]
    assert sorted(map(id, flat)) == sorted(map(id, examples))
    for batch in out:
        texts = [t for e in batch for t in e.texts]
        assert len(texts) == len(set(texts))


def test_multi_dataset_round_robin_and_proportional():
    spec = load_data([("x",)], columns=[0]).spec
    big = InMemoryData([Example((f"b{i}",)) for i in range(40)], spec, "big")
    small = InMemoryData([Example((f"s{i}",)) for i in range(8)], spec, "small")
    rr = [i for i, _ in epoch_batches([big, small], 4, seed=0, epoch=0, no_duplicates=[False, False])]
    assert rr == [0, 1, 0, 1]  # stops when the smallest is exhausted
    prop = [
        i
        for i, _ in epoch_batches(
            [big, small], 4, seed=0, epoch=0, no_duplicates=[False, False], order=MultiDatasetOrder.PROPORTIONAL
        )
    ]
    assert prop.count(0) == 10 and prop.count(1) == 2  # every batch of both, interleaved


def test_hugging_face_dataset_source():
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"q": ["query one", "query two"], "p": ["passage", "other"], "score": [0.5, 1.0]})
    data = load_data(ds, columns=["q", "p"], label="score", label_kind="score")
    assert list(data) == [Example(("query one", "passage"), 0.5), Example(("query two", "other"), 1.0)]
    bad = datasets.Dataset.from_dict({"q": ["x", ""], "p": ["y", "z"]})
    with pytest.raises(DataFormatError) as err:
        list(load_data(bad, columns=["q", "p"]))
    assert (err.value.source, err.value.line, err.value.field) == ("Dataset", 2, "q")


def test_column_names_for_reports_follow_names_given_for_positional_columns():
    data = load_data([("a", "b", 1.0)], columns=[0, 1], label=2, label_kind="score")
    assert data.column_names == ("0", "1", "2")
    named = load_data([("a", "b", 1.0)], columns=[0, 1], label=2, label_kind="score", names=["s1", "s2", "score"])
    assert named.column_names == ("s1", "s2", "score")
    assert scale_scores(named, 0, 1).column_names == ("s1", "s2", "score")
    with pytest.raises(ValueError, match="expected 3"):
        load_data([("a", "b", 1.0)], columns=[0, 1], label=2, label_kind="score", names=["s1", "s2"])


def test_emptiness_is_told_from_the_first_row_only(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b\n", encoding="utf-8")
    assert load_data(path, columns=["a", "b"]).is_empty()
    path.write_text("a,b\nx,y\n" + "broken\n", encoding="utf-8")  # a bad later row is not read
    assert not load_data(path, columns=["a", "b"]).is_empty()
    assert load_data([], columns=[0]).is_empty()


def test_a_hugging_face_dataset_is_read_in_place_and_shuffled_in_full():
    datasets = pytest.importorskip("datasets")
    from sentvec.training.data import DatasetData, from_dataset

    ds = datasets.Dataset.from_dict({"q": [f"q{i}" for i in range(30)], "p": [f"p{i}" for i in range(30)]})
    data = from_dataset(ds)
    assert isinstance(data, DatasetData) and len(data) == 30 and data.example(4) == Example(("q4", "p4"))
    order = [e.texts[0] for e in shuffled(data, seed=1, buffer_size=2)]  # random access: no buffer needed
    assert sorted(order) == sorted(f"q{i}" for i in range(30)) and order[:3] != ["q0", "q1", "q2"]
    assert order == [e.texts[0] for e in shuffled(data, seed=1)]
    bad = from_dataset(datasets.Dataset.from_dict({"q": ["x", " "], "p": ["y", "z"]}))
    with pytest.raises(DataFormatError) as err:
        bad.example(1)
    assert (err.value.source, err.value.line, err.value.field) == ("Dataset", 2, "q")
