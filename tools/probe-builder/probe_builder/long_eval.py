"""`probe-builder eval-long`: a pack on the held-out (TEST) composed long conversations, read the
way a runtime reads them, so that runtimes and packs can be compared on the same conversations:

  context  the whole conversation in one context (the runtime since pack 2.1.0: chunked prefill
           through the key/value cache; past `context_tokens`, chat.fit_context)
  windows  consecutive windows of `max_tokens` tokens read on their own, at most `max_windows`
           (the runtime before 2.1.0)

The long conversations are composed as the builder composes its own (scenarios.compose_long),
from held-out TEST families only: `pairs_per_concept` minimal pairs per concept embedded in TEST
controls, plus `n_controls` long TEST controls (the build's own long set holds only a few TEST
conversations, too few to measure). Reported per concept: AUROC of positives
against their minimal-pair negatives (same filler, the passage changed), recall at the pack's
threshold, false positives on the long controls, all overall and by where the passage starts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .bench_reference import load_pack, score_event
from .chat import ChatTokenizer, fit_context, windows
from .prefill import residuals
from .scenario_eval import auc, is_test
from .scenarios import CONCEPTS, compose_long, load_concept, load_controls

POSITIONS = (("first third", 0.0, 1 / 3), ("middle third", 1 / 3, 2 / 3), ("last third", 2 / 3, 1.01))


def run(pack_dir: Path, model_dir: Path, reading: str, seed: int = 1234, pairs_per_concept: int = 12, n_controls: int = 16, log=print) -> dict:
    import onnxruntime as ort

    m, w = load_pack(pack_dir)
    rt = m["runtime"]
    cfg = json.loads((model_dir / "tokenizer_config.json").read_text())
    ct = ChatTokenizer(str(model_dir / "tokenizer.json"), cfg["chat_template"], cfg["bos_token"], cfg["eos_token"])
    sess = ort.InferenceSession(str(model_dir / "residual.onnx"), providers=["CPUExecutionProvider"])
    name = f"hidden_{m['model']['layer']}"
    pairs = [s for c in CONCEPTS for s in load_concept(c) if is_test(s.family) and s.signal is None]
    controls = [s for s in load_controls() if is_test(s.family)]
    rows = compose_long(pairs, controls, seed, pairs_per_concept=pairs_per_concept, n_controls=n_controls)
    scored = []
    for i, r in enumerate(rows):
        enc = ct.encode([{"role": ro, "content": co} for ro, co in r.messages])
        where = None
        if r.signal:
            first = int(np.flatnonzero(enc.msg == r.signal[0])[0])
            where = first / len(enc.ids)
        if reading == "context":
            kept, _ = fit_context(enc, rt["context_tokens"])
            hidden, roles = [residuals(sess, kept.ids, name, rt["chunk_tokens"])], [kept.roles]
        elif reading == "windows":
            spans, _ = windows(len(enc.ids), rt["max_tokens"], rt["max_windows"])
            hidden = [residuals(sess, enc.ids[a:b], name) for a, b in spans]
            roles = [enc.roles[a:b] for a, b in spans]
        else:
            raise ValueError(f"unknown reading '{reading}' (context or windows)")
        scored.append((r, where, len(enc.ids), score_event(m, w, hidden, roles)))
        log(f"\r{reading}: {i + 1}/{len(rows)} long conversations", end="")
    log("")
    out: dict = {"pack": f"{m['id']} {m['version']}", "reading": reading, "conversations": len(rows),
                 "tokens": {"min": min(n for *_, n, _ in scored), "max": max(n for *_, n, _ in scored)}, "concepts": {}}
    ctl = [s for r, _, _, s in scored if r.concept == "control"]
    for c in CONCEPTS:
        th = m["concepts"][c]["threshold"]
        mine = [(r, wh, s[c]) for r, wh, _, s in scored if r.concept == c]

        def cell(sel) -> dict:
            pos = [s for r, _, s in sel if r.label == 1]
            neg = [s for r, _, s in sel if r.label == 0]
            return {"auroc_pairs": auc([1] * len(pos) + [0] * len(neg), pos + neg) if pos and neg else None,
                    "recall": round(float(np.mean([s >= th for s in pos])), 4) if pos else None,
                    "fpr_hard_negatives": round(float(np.mean([s >= th for s in neg])), 4) if neg else None,
                    "n_pairs": len(pos)}

        res = cell(mine)
        res["fpr_long_controls"] = round(float(np.mean([s[c] >= th for s in ctl])), 4) if ctl else None
        res["threshold"] = th
        res["by_position"] = {p: cell([x for x in mine if x[1] is not None and lo <= x[1] < hi]) for p, lo, hi in POSITIONS}
        out["concepts"][c] = res
    out["n_long_controls"] = len(ctl)
    return out
