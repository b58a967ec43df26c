"""The CLI's streaming embedding writer: a failure inside the write loop is what the user sees."""

from __future__ import annotations

import numpy as np
import pytest

from sentvec.cli.textio import EmbeddingWriter


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
