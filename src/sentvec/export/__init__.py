"""Export a model to one ONNX graph of the whole pipeline (needs the ``[torch]`` extra and ``onnx``): an encoder
(:func:`export_onnx`) or a reranker (:func:`export_reranker_onnx`)."""

from sentvec.export.onnx import ExportError, ExportReport, export_onnx
from sentvec.export.rerank_onnx import RerankExportReport, export_reranker_onnx

__all__ = ["ExportError", "ExportReport", "RerankExportReport", "export_onnx", "export_reranker_onnx"]
