"""``import sentvec`` and its numpy-only modules stay light: no torch, no transformers."""

from __future__ import annotations

import json
import subprocess
import sys

CODE = """
import json, sys
import sentvec
import sentvec.similarity, sentvec.quantization, sentvec.formats, sentvec.batching, sentvec.errors
import sentvec.distributed
heavy = sorted(m for m in ("torch", "transformers", "ray") if m in sys.modules)
print(json.dumps({"heavy": heavy, "version": sentvec.__version__, "exports": sorted(sentvec.__all__)}))
"""


def test_light_import():
    result = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60, check=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []
    assert report["version"] == "0.1.0"
    assert {"load", "SentenceEncoder", "SimilarityFunction"} <= set(report["exports"])


def test_lazy_attributes():
    import sentvec
    from sentvec.encoder import SentenceEncoder
    from sentvec.loading import load
    from sentvec.similarity import SimilarityFunction

    assert sentvec.load is load
    assert sentvec.SentenceEncoder is SentenceEncoder
    assert sentvec.SimilarityFunction is SimilarityFunction


def test_unknown_attribute():
    import sentvec

    try:
        sentvec.no_such_thing  # noqa: B018
    except AttributeError as e:
        assert "no_such_thing" in str(e)
    else:
        raise AssertionError("expected AttributeError")


def test_cli_parser_is_built_without_numpy_or_the_server():
    """``sentvec --help`` and every argument error come before any heavy import: the parser reads the service's
    defaults from plain dataclasses."""
    code = (
        "import sys, sentvec.cli.main as m; m.build_parser(); "
        "print(sorted(x for x in ('numpy', 'asyncio', 'torch', 'sentvec.server.batcher') if x in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"
