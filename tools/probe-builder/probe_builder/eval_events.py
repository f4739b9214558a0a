"""`probe-builder eval-events`: the held-out TEST scenarios as labelled events for `probewatch eval`.

Each line is an event (id, tenant, source, model, messages) plus `labels` ({concept: 0|1}: a
scenario is labelled for its own concept, a control 0 for every concept) and `reference_scores`:
the pack's scores computed here, independently of the Node runtime (ONNX Runtime in Python and
numpy scoring, bench_reference.score_event), so `probewatch eval` also checks that the service
scores exactly what the builder measured.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

from .scenario_eval import is_test
from .scenarios import CONCEPTS, compose_long, load_concept, load_controls


def select(per_concept: int | None, controls: int | None, seed: int, long: bool = False) -> list[tuple[object, dict]]:
    """TEST minimal pairs and controls. `long` adds the held-out long conversations (held_out_long)."""
    rng = random.Random(seed)
    out = []
    for c in CONCEPTS:
        rows = [s for s in load_concept(c) if is_test(s.family) and s.signal is None]
        pairs = sorted({s.pair for s in rows})
        if per_concept is not None:
            pairs = set(rng.sample(pairs, min(per_concept, len(pairs))))
        out += [(s, {c: s.label}) for s in rows if s.pair in pairs]
    ctl = [s for s in load_controls() if is_test(s.family)]
    if long:
        out += [(r, {c: 0 for c in CONCEPTS} if r.concept == "control" else {r.concept: r.label}) for r in held_out_long()]
    if controls is not None:
        ctl = rng.sample(ctl, min(controls, len(ctl)))
    out += [(s, {c: 0 for c in CONCEPTS}) for s in ctl]
    return out


def held_out_long() -> list:
    """The held-out long conversations: the set `eval-long` composes (TEST pairs embedded in TEST
    controls, seed 1234, 12 pairs per concept, 16 long controls), then the hand-written long pairs
    of TEST families."""
    pairs = [s for c in CONCEPTS for s in load_concept(c) if is_test(s.family) and s.signal is None]
    ctl = [s for s in load_controls() if is_test(s.family)]
    rows = compose_long(pairs, ctl, 1234, pairs_per_concept=12, n_controls=16)
    return rows + [s for c in CONCEPTS for s in load_concept(c) if is_test(s.family) and s.signal is not None]


def streaming_cut() -> list[tuple[str, list[tuple[str, str]], dict]]:
    """The held-out long set as a monitor sees it while it streams: each long positive and its
    minimal pair cut just after the passage (the event that carries it as the newest turn), and
    each long control cut after the turn of the user messages at 25%, 50% and 75% of its user
    messages (three events per control)."""
    out = []
    for r in held_out_long():
        if r.concept == "control":
            users = [i for i, (role, _) in enumerate(r.messages) if role == "user"]
            for q in (25, 50, 75):
                end = users[len(users) * q // 100] + 1
                while end < len(r.messages) and r.messages[end][0] != "user":
                    end += 1
                out.append((f"{r.id}-at{q}", list(r.messages[:end]), {c: 0 for c in CONCEPTS}))
        else:
            out.append((r.id, list(r.messages[:r.signal[1]]), {r.concept: r.label}))
    return out


def write_events_only(out: Path, per_concept: int | None = None, controls: int | None = None, long: bool = False,
                      seed: int = 1234, stream: bool = False) -> int:
    """The same events without the builder's reference scores (no model run here); `stream`: the
    streaming cut of the long set instead."""
    rows = streaming_cut() if stream else [(s.id, s.messages, labels) for s, labels in select(per_concept, controls, seed, long)]
    lines = [json.dumps({"id": i, "tenant": "eval", "source": "scenarios", "model": "scenario",
                         "messages": [{"role": r, "content": c} for r, c in msgs], "labels": labels}, ensure_ascii=False)
             for i, msgs, labels in rows]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def write_eval_events(pack_dir: Path, model_dir: Path, out: Path, per_concept: int | None = None, controls: int | None = None,
                      seed: int = 1234, long: bool = False) -> int:
    import onnxruntime as ort

    from .bench_reference import load_pack, score_event
    from .chat import ChatTokenizer, fit_context, windows
    from .prefill import residuals

    m, w = load_pack(pack_dir)
    cfg = json.loads((model_dir / "tokenizer_config.json").read_text())
    ct = ChatTokenizer(str(model_dir / "tokenizer.json"), cfg["chat_template"], cfg["bos_token"], cfg["eos_token"])
    sess = ort.InferenceSession(str(model_dir / "residual.onnx"), providers=["CPUExecutionProvider"])
    name = f"hidden_{m['model']['layer']}"
    rt = m["runtime"]
    lines = []
    for s, labels in select(per_concept, controls, seed, long):
        messages = [{"role": r, "content": c} for r, c in s.messages]
        enc = ct.encode(messages)
        if "context_tokens" in rt:  # whole conversation in context, as the runtime reads it
            enc, _ = fit_context(enc, rt["context_tokens"])
            spans = [(0, len(enc.ids))] if len(enc.ids) else []
            hidden = [residuals(sess, enc.ids, name, rt["chunk_tokens"])] if spans else []
            roles = [enc.roles] if spans else []
        else:
            spans, _ = windows(len(enc.ids), rt["max_tokens"], rt["max_windows"])
            hidden, roles = [], []
            for a, b in spans:
                ids = enc.ids[a:b][None, :]
                hidden.append(sess.run([name], {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0])
                roles.append(enc.roles[a:b])
        ref = score_event(m, w, hidden, roles) if spans else {c: 0.0 for c in CONCEPTS}
        lines.append(json.dumps({"id": s.id, "tenant": "eval", "source": "scenarios", "model": "scenario", "messages": messages,
                                 "labels": labels, "reference_scores": {c: round(v, 6) for c, v in ref.items()}}, ensure_ascii=False))
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)
