"""Reference scorer for `npm run bench:probe`: the same scoring in Python ONNX Runtime + numpy.

Same tokenizer files, same ONNX graph, same batching by events, same pack arithmetic, so the Node
runtime's throughput can be compared in the same run, and its scores checked against an
implementation that shares none of its code.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from .chat import ROLE_CODE, ChatTokenizer, fit_context, windows
from .prefill import residuals


def load_pack(pack_dir: Path) -> tuple[dict, dict[str, np.ndarray]]:
    m = json.loads((pack_dir / "manifest.json").read_text())
    arrays = {k: np.frombuffer((pack_dir / w["file"]).read_bytes(), dtype="<f4").reshape(w["shape"]) for k, w in m["weights"].items()}
    return m, arrays


def score_event(m: dict, w: dict[str, np.ndarray], hidden: list[np.ndarray], roles: list[np.ndarray]) -> dict[str, float]:
    """The pack's scores computed independently of the Node scorer (numpy, float64), for either
    pack schema. The scope (the concept's roles, minus tokens above the outlier norm) and the SAE
    features are shared; schema 2 scores per-token probes (w . h aggregated by mean / max / max of
    rolling means, Platt-scaled), schema 1 the SAE-feature or dense probe on scope max and mean.
    Features are encoded for both, so the comparison costs what the runtime's explanation costs."""
    x = np.concatenate(hidden).astype(np.float64)
    r = np.concatenate(roles)
    scale, outlier = m["sae"]["input_scale"], m["runtime"]["outlier_norm"]
    ok = np.linalg.norm(x, axis=1) <= outlier
    pre = (x / scale - w["b-dec"]) @ w["sae-encoder"].T + w["sae-bias"]
    f = np.where(pre > w["sae-threshold"], pre, 0)
    concept_score = _score_v1 if m.get("schema_version", 1) < 2 else _score_v2
    out = {}
    for c, spec in m["concepts"].items():
        sel = np.isin(r, [ROLE_CODE[q] for q in spec["roles"]]) & ok
        # nothing of the concept's roles to judge -> 0
        out[c] = float(concept_score(m, w, spec, x[sel], f[sel])) if sel.any() else 0.0
    return out


def _score_v2(m: dict, w: dict[str, np.ndarray], spec: dict, xs: np.ndarray, fs: np.ndarray) -> float:
    from .token_probes import TokenProbe, Tokens

    p = spec["probe"]
    probe = TokenProbe(w[p["weights_file"]].astype(np.float64), p["bias"], p["aggregation"], p["window"],
                       p["calibration"]["a"], p["calibration"]["c"], p["calibration"].get("length", 0.0))
    return probe.score(Tokens(xs, np.zeros(len(xs), np.int64), 1))[0]


def _score_v1(m: dict, w: dict[str, np.ndarray], spec: dict, xs: np.ndarray, fs: np.ndarray) -> float:
    row = {feat["index"]: feat["row"] for feat in m["features"]}
    sp = spec["sae_probe"]
    sel_f = fs[:, [row[i] for i in sp["features"]]]
    inp = np.concatenate([sel_f.max(0), sel_f.mean(0)])
    z = ((inp - sp["mean"]) / np.asarray(sp["std"])) @ np.asarray(sp["weights"]) + sp["bias"]
    sae = 1 / (1 + np.exp(-(sp["calibration"]["a"] * z + sp["calibration"]["c"])))
    dp = spec["dense_probe"]
    dw = w[dp["weights_file"]]
    dz = (((xs / m["sae"]["input_scale"]).mean(0) - dw[0]) / dw[1]) @ dw[2] + dp["bias"]
    dense = 1 / (1 + np.exp(-(dp["calibration"]["a"] * dz + dp["calibration"]["c"])))
    return sae if spec["detector"] == "sae" else dense


def matmul_peak(n: int = 1024, reps: int = 20, threads: int = 0) -> float:
    """GFLOP/s of ONNX Runtime's own MatMul on this machine (the yardstick for utilisation)."""
    path = Path(f"/tmp/probewatch-matmul-{n}.onnx")
    if not path.exists():
        a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])
        b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [n, n])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])
        g = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["y"])], "mm", [a, b], [y])
        model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.save(model, str(path))
    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = threads
    s = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    s.run(None, {"a": a, "b": b})
    t = time.perf_counter()
    for _ in range(reps):
        s.run(None, {"a": a, "b": b})
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


def run(events_path: Path, pack_dir: Path, model_dir: Path, batch_events: int, out_path: Path, threads: int = 0) -> dict:
    m, w = load_pack(pack_dir)
    cfg = json.loads((model_dir / "tokenizer_config.json").read_text())
    ct = ChatTokenizer(str(model_dir / "tokenizer.json"), cfg["chat_template"], cfg["bos_token"], cfg["eos_token"])
    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(model_dir / "residual.onnx"), so, providers=["CPUExecutionProvider"])
    out_name = f"hidden_{m['model']['layer']}"
    events = [json.loads(line) for line in events_path.read_text().splitlines() if line.strip()]
    rt = m["runtime"]
    pad = m["tokenizer"]["pad_token_id"]

    def score_all() -> tuple[dict[str, dict[str, float]], int]:
        scores, tokens = {}, 0
        for i in range(0, len(events), batch_events):
            group = events[i: i + batch_events]
            encs = [ct.encode(e["messages"]) for e in group]
            if "context_tokens" in rt:  # whole conversations in context, one at a time, as the runtime reads them
                for e, enc in zip(group, encs):
                    enc, _ = fit_context(enc, rt["context_tokens"])
                    hid = residuals(sess, enc.ids, out_name, rt["chunk_tokens"])
                    scores[e["id"]] = score_event(m, w, [hid], [enc.roles])
                    tokens += len(enc.ids)
                continue
            rows = []
            for gi, e in enumerate(encs):
                spans, _ = windows(len(e.ids), rt["max_tokens"], rt["max_windows"])
                rows += [(gi, s, t) for s, t in spans]
            T = max(t - s for _, s, t in rows)
            ids = np.full((len(rows), T), pad, dtype=np.int64)
            mask = np.zeros_like(ids)
            for b, (gi, s, t) in enumerate(rows):
                ids[b, : t - s] = encs[gi].ids[s:t]
                mask[b, : t - s] = 1
            hid = sess.run([out_name], {"input_ids": ids, "attention_mask": mask})[0]
            per: dict[int, tuple[list, list]] = {}
            for b, (gi, s, t) in enumerate(rows):
                per.setdefault(gi, ([], []))
                per[gi][0].append(hid[b, : t - s])
                per[gi][1].append(encs[gi].roles[s:t])
                tokens += t - s
            for gi, e in enumerate(group):
                scores[e["id"]] = score_event(m, w, *per[gi])
        return scores, tokens

    score_all()  # warm-up
    t0 = time.perf_counter()
    scores, tokens = score_all()
    dt = time.perf_counter() - t0
    res = {"events": len(events), "tokens": tokens, "seconds": dt, "tokens_per_s": tokens / dt, "events_per_s": len(events) / dt,
           "batch_events": batch_events, "matmul_gflops": matmul_peak(threads=threads), "scores": scores,
           "onnxruntime": ort.__version__}
    out_path.write_text(json.dumps(res))
    return res
