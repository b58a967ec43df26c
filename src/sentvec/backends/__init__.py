"""Backends run the forward pass; everything around it is shared (see :mod:`sentvec.encoder`)."""

from sentvec.backends.base import Backend, OutputValue

__all__ = ["Backend", "OutputValue"]
