"""The CLI's ``choices`` are the values of the enums behind them."""

from __future__ import annotations

import argparse

from sentvec.backends.base import BackendKind
from sentvec.cli import common
from sentvec.cli.main import build_parser
from sentvec.enums import choices
from sentvec.quantization import Precision


def _choices(parser: argparse.ArgumentParser, *path: str, option: str) -> list[str]:
    """The ``choices`` of ``option`` in the subcommand reached by ``path``."""
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    action = next(a for a in parser._actions if option in a.option_strings)
    return list(action.choices)


def test_choices_are_the_enum_values():
    assert list(common.PRECISION_CHOICES) == choices(Precision)
    assert list(common.BACKEND_CHOICES) == choices(BackendKind)
    from sentvec.search.index.ann import PRECISIONS

    assert list(common.INDEX_PRECISION_CHOICES) == [p.value for p in PRECISIONS]


def test_the_parser_offers_them():
    parser = build_parser()
    assert _choices(parser, "encode", option="--precision") == choices(Precision)
    assert _choices(parser, "encode", option="--backend") == choices(BackendKind)
    assert _choices(parser, "index", "build", option="--precision") == list(common.INDEX_PRECISION_CHOICES)
