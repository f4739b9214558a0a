"""Run the exported ONNX model over conversations and keep residual activations of content tokens."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from .chat import ROLE_CODE, Encoded, windows


@dataclass
class Harvest:
    acts: dict[int, np.ndarray]  # layer -> float16 [N, D]
    conv: np.ndarray  # int32 [N] index of the conversation
    role: np.ndarray  # int8 [N]
    token: np.ndarray  # int32 [N]
    pos: np.ndarray  # int32 [N] position within the conversation


def session(path: str, threads: int = 0) -> ort.InferenceSession:
    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = threads
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def harvest(sess: ort.InferenceSession, encoded: list[Encoded], layers: list[int], max_tokens: int = 512,
            token_budget: int = 4096, keep_roles: tuple[str, ...] = ("system", "user", "assistant", "tool"),
            label: str = "harvest") -> Harvest:
    keep = np.array([ROLE_CODE[r] for r in keep_roles])
    rows: list[tuple[int, int, int]] = []  # (conv, start, end)
    for ci, e in enumerate(encoded):
        spans, _ = windows(len(e.ids), max_tokens, 1 << 30)
        rows += [(ci, s, t) for s, t in spans]
    rows.sort(key=lambda r: r[2] - r[1])  # length-sorted batches waste little padding
    out = {l: [] for l in layers}
    meta: list[np.ndarray] = []
    names = [f"hidden_{l}" for l in layers]
    total = sum(t - s for _, s, t in rows)
    done, t0, i = 0, time.time(), 0
    while i < len(rows):
        longest = rows[i][2] - rows[i][1]
        batch = []
        while i < len(rows) and (len(batch) + 1) * max(longest, rows[i][2] - rows[i][1]) <= token_budget:
            batch.append(rows[i]); longest = max(longest, rows[i][2] - rows[i][1]); i += 1
        if not batch:
            batch.append(rows[i]); i += 1
        T = max(t - s for _, s, t in batch)
        ids = np.zeros((len(batch), T), dtype=np.int64); mask = np.zeros_like(ids)
        for b, (ci, s, t) in enumerate(batch):
            ids[b, : t - s] = encoded[ci].ids[s:t]; mask[b, : t - s] = 1
        res = sess.run(names, {"input_ids": ids, "attention_mask": mask})
        for b, (ci, s, t) in enumerate(batch):
            roles = encoded[ci].roles[s:t]
            sel = np.nonzero(np.isin(roles, keep))[0]
            if len(sel) == 0:
                continue
            for l, r in zip(layers, res):
                out[l].append(r[b, sel].astype(np.float16))
            meta.append(np.stack([np.full(len(sel), ci), roles[sel], encoded[ci].ids[s:t][sel], sel + s], axis=1))
        done += sum(t - s for _, s, t in batch)
        el = time.time() - t0
        print(f"\r{label}: {done}/{total} tokens ({done / max(el, 1e-9):.0f} tok/s)", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    m = np.concatenate(meta) if meta else np.zeros((0, 4), dtype=np.int64)
    return Harvest({l: np.concatenate(v) for l, v in out.items()}, m[:, 0].astype(np.int32), m[:, 1].astype(np.int8),
                   m[:, 2].astype(np.int32), m[:, 3].astype(np.int32))


def harvest_long(sess: ort.InferenceSession, encoded: list[Encoded], layers: list[int], keep_roles: tuple[str, ...],
                 label: str = "harvest", chunk_tokens: int = 512) -> Harvest:
    """Like harvest(), one conversation at a time by chunked prefill through a graph with a
    key/value cache (prefill.residuals_at): the same residuals as one pass, without the one-pass
    graph's full [T, T] attention, which makes long conversations several times slower."""
    from .prefill import residuals_at

    keep = np.array([ROLE_CODE[r] for r in keep_roles])
    names = [f"hidden_{l}" for l in layers]
    out = {l: [] for l in layers}
    meta: list[np.ndarray] = []
    total = sum(len(e.ids) for e in encoded)
    done, t0 = 0, time.time()
    for ci, e in enumerate(encoded):
        sel = np.nonzero(np.isin(e.roles, keep))[0]
        if len(sel):
            res = residuals_at(sess, e.ids, names, chunk_tokens)
            for l, n in zip(layers, names):
                out[l].append(res[n][sel].astype(np.float16))
            meta.append(np.stack([np.full(len(sel), ci), e.roles[sel], e.ids[sel], sel], axis=1))
        done += len(e.ids)
        print(f"\r{label}: {done}/{total} tokens ({done / max(time.time() - t0, 1e-9):.0f} tok/s)", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    m = np.concatenate(meta) if meta else np.zeros((0, 4), dtype=np.int64)
    return Harvest({l: np.concatenate(v) for l, v in out.items()}, m[:, 0].astype(np.int32), m[:, 1].astype(np.int8),
                   m[:, 2].astype(np.int32), m[:, 3].astype(np.int32))
