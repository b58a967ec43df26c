"""The README's runnable examples give the answers the README shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.real_model
def test_question_answering_example_finds_the_answering_paragraph():
    questions = ["When was Python first released?", "Why are leaves green?", "How long is the Great Wall?"]
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / "qa_over_documents.py"), "-k", "1", *questions],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    top = [line for line in proc.stdout.splitlines() if line.startswith("  ")]
    assert len(top) == 3
    assert "[python_language.txt ¶1]" in top[0] and "1991" in top[0]
    assert "[photosynthesis.txt ¶1]" in top[1] and "leaves look green" in top[1]
    assert "[great_wall.txt ¶2]" in top[2] and "21,196" in top[2]
