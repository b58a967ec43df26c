"""The CLI's streaming embedding writer: a failure inside the write loop is what the user sees."""

from __future__ import annotations

import numpy as np
import pytest

from sentvec.cli.textio import EmbeddingWriter, read_texts, replacing
from sentvec.errors import DataFormatError


def test_complete_npy_round_trips(tmp_path):
    data = np.arange(12, dtype=np.float32).reshape(4, 3)
    with EmbeddingWriter(tmp_path / "e.npy", total=4) as writer:
        writer.write(data[:3])
        writer.write(data[3:])
    np.testing.assert_array_equal(np.load(tmp_path / "e.npy"), data)


def test_short_npy_is_an_error_when_the_loop_ended_normally(tmp_path):
    writer = EmbeddingWriter(tmp_path / "e.npy", total=4)
    with pytest.raises(ValueError, match=r"e\.npy: wrote 2 rows, announced 4"), writer:
        writer.write(np.zeros((2, 3), np.float32))


def test_an_interrupt_propagates_and_the_short_npy_is_removed(tmp_path):
    writer = EmbeddingWriter(tmp_path / "e.npy", total=10)
    with pytest.raises(KeyboardInterrupt), writer:
        writer.write(np.zeros((4, 3), np.float32))
        raise KeyboardInterrupt
    assert not (tmp_path / "e.npy").exists()  # its header announced 10 rows: numpy would misread it


def test_an_existing_file_is_kept_until_the_new_one_is_complete(tmp_path):
    out = tmp_path / "e.jsonl"
    out.write_text("old\n", encoding="utf-8")
    writer = EmbeddingWriter(out)
    with pytest.raises(RuntimeError), writer:
        writer.write(np.ones((2, 3), np.float32))
        assert out.read_text(encoding="utf-8") == "old\n"  # the chunks go to a file beside it
        raise RuntimeError("encoding failed")
    assert out.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["e.jsonl"]
    with EmbeddingWriter(out) as writer:
        writer.write(np.ones((2, 3), np.float32))
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["e.jsonl"]


def test_a_short_npy_leaves_no_file(tmp_path):
    writer = EmbeddingWriter(tmp_path / "e.npy", total=4)
    with pytest.raises(ValueError, match="announced 4"), writer:
        writer.write(np.zeros((2, 3), np.float32))
    assert list(tmp_path.iterdir()) == []


def test_replacing_renames_whole_or_removes(tmp_path):
    target = tmp_path / "sub" / "r.json"
    with replacing(target) as partial:
        assert partial.parent == target.parent and partial.suffix == ".json" and partial != target
        partial.write_text("1", encoding="utf-8")
    assert target.read_text(encoding="utf-8") == "1"
    with pytest.raises(KeyboardInterrupt), replacing(target) as partial:
        partial.write_text("2", encoding="utf-8")
        raise KeyboardInterrupt
    assert target.read_text(encoding="utf-8") == "1" and [p.name for p in target.parent.iterdir()] == ["r.json"]


@pytest.mark.parametrize(
    ("suffix", "content", "options", "line", "column"),
    [
        (".txt", b"ok\nok too\n\xe2\x82 cut\n", {}, 3, 1),
        (".txt", "ünïcödé\r\nfine\r\n".encode() + b"a\x80b\r\n", {}, 3, 2),
        (".csv", b'text\n"multi\nline"\n\xff\n', {"column": "text"}, 4, 1),
        (".jsonl", b'{"t": "x"}\n{"t": "\xc0\xaf"}\n', {"field": "t"}, 2, 8),
    ],
)
def test_invalid_utf8_names_file_line_and_column(tmp_path, suffix, content, options, line, column):
    path = tmp_path / f"in{suffix}"
    path.write_bytes(content)
    with pytest.raises(DataFormatError, match=rf"line {line}: not valid UTF-8: .* at column {column} ") as caught:
        list(read_texts(path, **options))
    assert caught.value.source == str(path) and caught.value.line == line
