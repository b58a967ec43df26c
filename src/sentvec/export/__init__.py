"""Export a model to one ONNX graph of the whole pipeline (needs the ``[torch]`` extra and ``onnx``)."""

from sentvec.export.onnx import ExportError, ExportReport, export_onnx

__all__ = ["ExportError", "ExportReport", "export_onnx"]
