"""Export a model to one graph of the whole pipeline (needs the ``[torch]`` extra): ONNX for an encoder
(:func:`export_onnx`, needs ``onnx``) or a reranker (:func:`export_reranker_onnx`); OpenVINO IR for an encoder
(:func:`export_openvino`, needs the ``[openvino]`` extra)."""

from sentvec.export.onnx import ExportError, ExportReport, export_onnx
from sentvec.export.openvino import export_openvino
from sentvec.export.rerank_onnx import RerankExportReport, export_reranker_onnx

__all__ = [
    "ExportError",
    "ExportReport",
    "RerankExportReport",
    "export_onnx",
    "export_openvino",
    "export_reranker_onnx",
]
