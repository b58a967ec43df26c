"""Run inside the reference-onnx venv: export all-MiniLM-L6-v2 to ONNX as the reference does (backend="onnx" save,
O1-O4, dynamic int8 per instruction set) and encode the given texts with each graph through the reference.

    python _reference_onnx_export.py MODEL_DIR OUT_DIR TEXTS_JSON
"""

import json
import sys
from pathlib import Path

import numpy as np
from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model, export_optimized_onnx_model

source, out, texts_file = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
texts = json.loads(Path(texts_file).read_text())
model = SentenceTransformer(source, backend="onnx", device="cpu")
model.save(str(out))
made = {"model.onnx": True}
for level in ("O1", "O2", "O3", "O4"):
    try:
        export_optimized_onnx_model(model, level, str(out))
        made[f"model_{level}.onnx"] = True
    except Exception as e:  # O4 needs a GPU on some versions
        made[f"model_{level}.onnx"] = f"{type(e).__name__}: {e}"[:300]
for config in ("avx512_vnni", "avx2", "arm64"):
    export_dynamic_quantized_onnx_model(model, config, str(out))
files = sorted(p.name for p in (out / "onnx").glob("*.onnx"))
encoded = {}
for name in files:
    try:
        graph = SentenceTransformer(str(out), backend="onnx", device="cpu", model_kwargs={"file_name": name})
        emb = graph.encode(texts, batch_size=32, convert_to_numpy=True, show_progress_bar=False)
    except Exception as e:  # a graph this CPU cannot run (fp16 O4): sentvec is not compared on it
        encoded[name] = f"{type(e).__name__}: {e}"[:300]
        continue
    np.save(out / f"reference_{name}.npy", emb)
    encoded[name] = True
(out / "made.json").write_text(json.dumps({"files": files, "made": made, "encoded": encoded}, indent=2))
