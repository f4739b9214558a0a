"""Write a probe-pack directory: manifest.json + the small weight files scoring needs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

PACK_SCHEMA_VERSION = 2


def _write_f32(path: Path, arr: np.ndarray) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.ascontiguousarray(arr, dtype="<f4").tobytes()
    path.write_bytes(data)
    return {"file": f"weights/{path.name}", "dtype": "float32-le", "shape": list(arr.shape), "sha256": hashlib.sha256(data).hexdigest()}


def write_pack(out_dir: Path, manifest: dict, arrays: dict[str, np.ndarray]) -> Path:
    """arrays: weight name -> array; each lands in weights/<name>.f32 and is listed in manifest['weights']."""
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = {name: _write_f32(out_dir / "weights" / f"{name}.f32", arr) for name, arr in arrays.items()}
    manifest = {**manifest, "schema_version": PACK_SCHEMA_VERSION, "weights": weights}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return out_dir / "manifest.json"
