"""Run a conversation through the exported residual graph the way the Node runtime does.

The runtime reads the whole conversation in context (src/probe/residual-worker.ts): when the
graph has key/value cache inputs (`past_key_<i>` / `past_value_<i>`, see onnx_export), by chunked
prefill, each chunk attending to every earlier token through the cache; otherwise in one pass.
Either way every token gets the residual a single pass over the conversation gives. Past the
model's context the conversation is fitted first (chat.fit_context).
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort


def cache_layout(sess: ort.InferenceSession) -> tuple[int, int, int] | None:
    """(blocks, kv_heads, head_dim) of a graph with a key/value cache, else None."""
    past = [i for i in sess.get_inputs() if i.name.startswith("past_key_")]
    if not past:
        return None
    shape = past[0].shape
    return len(past), int(shape[1]), int(shape[3])


def residuals(sess: ort.InferenceSession, ids: np.ndarray, out_name: str, chunk_tokens: int = 512) -> np.ndarray:
    """float32 [T, d_model] residuals of one conversation's token ids."""
    return residuals_at(sess, ids, [out_name], chunk_tokens)[out_name]


def residuals_at(sess: ort.InferenceSession, ids: np.ndarray, out_names: list[str], chunk_tokens: int = 512) -> dict[str, np.ndarray]:
    """Residuals [T, d_model] of one conversation at each of the graph outputs `out_names`."""
    ids = np.asarray(ids, dtype=np.int64)
    layout = cache_layout(sess)
    if layout is None:
        res = sess.run(out_names, {"input_ids": ids[None, :], "attention_mask": np.ones((1, len(ids)), np.int64)})
        return {n: r[0] for n, r in zip(out_names, res)}
    blocks, kv, hd = layout
    present = [f"present_{k}_{i}" for i in range(blocks) for k in ("key", "value")]
    past = {f"past_{k}_{i}": np.zeros((1, kv, 0, hd), np.float32) for i in range(blocks) for k in ("key", "value")}
    out: dict[str, list[np.ndarray]] = {n: [] for n in out_names}
    for a in range(0, len(ids), chunk_tokens):
        part = ids[a:a + chunk_tokens]
        res = sess.run(out_names + present, {"input_ids": part[None, :], "attention_mask": np.ones((1, a + len(part)), np.int64), **past})
        for n, r in zip(out_names, res):
            out[n].append(r[0])
        past = {name.replace("present_", "past_"): v for name, v in zip(present, res[len(out_names):])}
    return {n: np.concatenate(v) if v else np.zeros((0, 0), np.float32) for n, v in out.items()}
