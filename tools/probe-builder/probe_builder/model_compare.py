"""`probe-builder compare-models`: two model families read the same conversations through the same
probe, so the one whose residual stream generalises better can be chosen (issue 11, item 5).

A full `build` per model is the complete comparison (`probe-builder compare` reads their
manifests), but it harvests about 4.7M tokens and selects among hundreds of architectures: some
four hours on a two-core machine, per model. This command is the like-for-like reading that fits
in well under an hour for both models:

* **Data.** A fixed share of the hand-written minimal pairs (the same pairs for every model:
  chosen by a hash of the pair's id, so every family keeps some) and of the benign controls; no composed
  long conversations. The holdout set (`holdout/`, written apart from the scenarios and never
  read by `build`) is read too, and only for a figure: nothing is chosen on it.
* **Probe.** Per concept, a logistic-regression probe fitted on the mean residual of one scope
  (user, assistant and tool tokens; the assistant's alone; the user's and tool's) at one layer,
  with one regularisation, and read by the mean or by the max of rolling means over 16 or 64
  tokens (the shipped packs' trainer and aggregations); (layer, scope, C, aggregation) chosen by
  5-fold families-out cross-validation inside DEV, the build's protocol and splits
  (`scenario_eval.Protocol`).
* **Figures**, per model and concept, beside the TF-IDF text baseline on the same rows and split:
  TEST families (AUROC against the minimal-pair negatives and against controls), leave one
  sub-type out inside DEV, and the holdout set (AUROC positives against their hard negatives,
  positives against the 120 everyday conversations).
* **Verdict** by `compare`'s rule: the mean over concepts of the TEST pairs AUROC and of the
  leave-one-sub-type-out AUROC. The holdout figures are shown beside it as the independent check.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path

import numpy as np

from .chat import fit_context
from .harvest import harvest, session
from .scenario_eval import (FOLDS, TARGET_FPR, Arch, Featurizer, Protocol, ScenarioActs, all_logits, auc, fit_fold, fold_of, is_test,
                            load_scenario_acts, log, threshold_at)
from .scenarios import CONCEPTS, SCENARIO_DIR, Scenario, _read, load_concept, load_controls, write_jsonl
from .stages import Work, stage_convert

HOLDOUT_DIR = Path(__file__).resolve().parents[1] / "holdout"
SALT = "model-compare:"
SCOPES = (("user", "assistant", "tool"), ("assistant",), ("user", "tool"))
CS = (0.01, 0.1, 1.0)
# how token scores become the conversation's: the mean, or the max of rolling means (the shipped
# packs' aggregations; the probe is fitted on scope means either way)
AGGREGATIONS = (("mean", 1), ("rolling", 16), ("rolling", 64))
CONTEXT_TOKENS = 8192
# The layers each model's grid reads: the build's scenario layers (build.SCENARIO_LAYERS) widened
# by one step at the end a first run chose (SmolLM2, 30 blocks: 18, the top, for two concepts;
# Gemma 3 270M, 18 blocks: 9, the bottom, for all four), so that no choice sits on the grid's edge
# untested. About 30-70% of each model's depth.
COMPARE_LAYERS = {"smollm2-135m": [9, 12, 15, 18, 21], "gemma3-270m": [6, 9, 12, 15]}
HOLDOUT_CONTROL = "holdout-control"


def parse_layers(specs: list[str], defaults: dict[str, list[int]]) -> dict[str, list[int]]:
    """`--layers MODEL:L,L,...` (repeatable) over the defaults."""
    out = {m: list(ls) for m, ls in defaults.items()}
    for spec in specs:
        model, sep, rest = spec.partition(":")
        if not sep or model not in defaults:
            raise ValueError(f"--layers {spec!r}: expected MODEL:L,L,... with MODEL one of {', '.join(defaults)}")
        try:
            layers = sorted({int(x) for x in rest.split(",") if x.strip()})
        except ValueError:
            raise ValueError(f"--layers {spec!r}: layers must be integers") from None
        if not layers or layers[0] < 1:
            raise ValueError(f"--layers {spec!r}: give at least one layer, each 1 or more")
        out[model] = layers
    return out


def in_share(key: str, share: float) -> bool:
    """Whether a minimal pair (or a control) is in the compared share: the same rows for every model
    and run. Pairs, not families, are sampled, so every family keeps some of its pairs and the
    families-out splits keep their number of families."""
    return fold_of(key, 10_000, SALT) < round(share * 10_000)


def subset_rows(pair_share: float, control_share: float) -> dict[str, list[Scenario]]:
    """file name -> rows: each concept's short minimal pairs (both sides) and the controls, in their share."""
    out = {f"{c}.jsonl": [s for s in load_concept(c) if s.signal is None and in_share(s.pair or s.id, pair_share)] for c in CONCEPTS}
    out["controls.jsonl"] = [s for s in load_controls() if in_share(s.id, control_share)]
    return out


def holdout_rows(root: Path = HOLDOUT_DIR) -> list[Scenario]:
    """The holdout set as scenarios under concepts of their own (`holdout-<concept>`, and
    `holdout-control` for the everyday conversations), so no protocol split ever trains on them."""
    rows = []
    for name in [f"{c}.jsonl" for c in CONCEPTS] + ["everyday.jsonl"]:
        for line in (root / name).read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            labels = r.get("labels") or {}
            concept, label = (next(iter(labels.items())) if labels else ("control", 0))
            rows.append(Scenario(r["id"], None, HOLDOUT_CONTROL if name == "everyday.jsonl" else f"holdout-{concept}",
                                 r.get("subtype", "everyday"), r["id"], int(label),
                                 tuple((m["role"], m["content"]) for m in r["messages"])))
    return rows


def harvest_model(work: Path, model: str, layers: list[int], files: dict[str, list[Scenario]], seed: int) -> ScenarioActs:
    """Converts the model and harvests each file's user, assistant and tool tokens (cached per file)."""
    w = Work(work / model, seed, model)
    stage_convert(w, layers)
    out = w.root / "compare"
    out.mkdir(parents=True, exist_ok=True)
    ct = w.chat_tokenizer()
    sess = None
    for name, rows in files.items():
        src = out / name
        write_jsonl(rows, src)
        npz, ids_path, sha_path = (out / f"{Path(name).stem}{ext}" for ext in (".npz", ".ids", ".sha"))
        sha = hashlib.sha256(src.read_bytes() + json.dumps(layers).encode()).hexdigest()
        if npz.exists() and sha_path.exists() and sha_path.read_text() == sha:
            continue
        sess = sess or session(str(w.sweep_onnx))
        enc = [fit_context(ct.encode([{"role": r, "content": c} for r, c in s.messages]), CONTEXT_TOKENS)[0] for s in rows]
        h = harvest(sess, enc, layers, CONTEXT_TOKENS, token_budget=8192, keep_roles=("user", "assistant", "tool"), label=f"{model} {name}")
        np.savez(npz, conv=h.conv, role=h.role, token=h.token, pos=h.pos, sig=np.zeros(len(h.conv), bool),
                 **{f"L{l}": a for l, a in h.acts.items()})
        ids_path.write_text("\n".join(r.id for r in rows))
        sha_path.write_text(sha)
    return load_scenario_acts(out, list(files), scenario_dir=out)


def _fit_on(feat: Featurizer, arch: Arch, rows_idx: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    return all_logits(feat, arch, fit_fold(feat, arch, rows_idx, y[rows_idx], seed))


def _criterion(r: dict) -> float:
    vals = [v for v in (r["auroc_pairs"], r["auroc_vs_controls"]) if v is not None]
    return float(np.mean(vals)) if vals else 0.0


def evaluate_model(sa: ScenarioActs, layers: list[int], seed: int) -> dict:
    """Per concept: the (layer, scope, C) chosen inside DEV, then TEST, sub-type out and holdout."""
    feat = Featurizer(sa)
    rows = sa.rows
    y = np.array([r.label for r in rows], np.int64)
    protos = {c: Protocol(sa, c, seed) for c in CONCEPTS}
    grid: dict[str, dict[str, float]] = {c: {} for c in CONCEPTS}
    archs: dict[str, Arch] = {}
    for layer in layers:
        for roles in SCOPES:
            for c_reg in CS:
                for agg, window in AGGREGATIONS:
                    arch = Arch((layer,), roles, agg, window=window, c=c_reg)
                    archs[arch.name()] = arch
                    for concept, proto in protos.items():
                        grid[concept][arch.name()] = round(_criterion(proto.families_out(feat, arch)), 4)
            prefix = f"L{layer}/{'+'.join(roles)}/"
            log(f"{prefix}: " + ", ".join(f"{c} {max(v for k, v in grid[c].items() if k.startswith(prefix))}" for c in CONCEPTS))
    ctl = np.array([i for i, r in enumerate(rows) if r.concept == "control"], np.int64)
    ho_ctl = np.array([i for i, r in enumerate(rows) if r.concept == HOLDOUT_CONTROL], np.int64)
    out = {}
    for concept, proto in protos.items():
        best = max(grid[concept], key=grid[concept].get)
        arch = archs[best]
        dev = np.concatenate([proto.pairs[~proto.test[proto.pairs]], ctl[~proto.test[ctl]]])
        logits = _fit_on(feat, arch, dev, y, seed)
        thr = threshold_at(logits[ctl[~proto.test[ctl]]], TARGET_FPR)
        te = proto.pairs[proto.test[proto.pairs]]
        te_ctl = ctl[proto.test[ctl]]
        pos, neg = te[y[te] == 1], te[y[te] == 0]
        test = {"auroc_pairs": auc(y[te], logits[te]), "auroc_vs_controls": auc(np.r_[np.ones(len(pos)), np.zeros(len(te_ctl))], np.r_[logits[pos], logits[te_ctl]]),
                "n": {"positives": len(pos), "hard_negatives": len(neg), "controls": len(te_ctl)}}
        # the holdout set: a probe trained on every compared row of the concept (DEV and TEST)
        every = np.concatenate([proto.pairs, ctl])
        lg = _fit_on(feat, arch, every, y, seed)
        thr_all = threshold_at(lg[ctl], TARGET_FPR)
        ho = np.array([i for i, r in enumerate(rows) if r.concept == f"holdout-{concept}"], np.int64)
        hp, hn = ho[y[ho] == 1], ho[y[ho] == 0]
        holdout = {"auroc_pairs": auc(y[ho], lg[ho]), "auroc_vs_everyday": auc(np.r_[np.ones(len(hp)), np.zeros(len(ho_ctl))], np.r_[lg[hp], lg[ho_ctl]]),
                   "recall": round(float((lg[hp] >= thr_all).mean()), 4), "fpr_hard_negatives": round(float((lg[hn] >= thr_all).mean()), 4),
                   "fpr_everyday": round(float((lg[ho_ctl] >= thr_all).mean()), 4),
                   "n": {"positives": len(hp), "hard_negatives": len(hn), "everyday": len(ho_ctl)}}
        # per-row logits [id, resampling unit, label] for the paired bootstrap between models
        rows_of = lambda idx, lg_: [[rows[i].id, rows[i].pair or rows[i].id, int(y[i]), round(float(lg_[i]), 5)] for i in idx]
        out[concept] = {"chosen": arch.to_json(), "dev_families_out_criterion": grid[concept][best], "test": test,
                        "subtype_out": proto.subtype_out(feat, arch), "holdout": holdout, "grid": grid[concept],
                        "scores": {"test_pairs": rows_of(te, logits), "holdout_pairs": rows_of(ho, lg)}}
        log(f"{concept}: {best} TEST pairs {test['auroc_pairs']} vs controls {test['auroc_vs_controls']} | "
            f"sub-type out {out[concept]['subtype_out']['mean_auroc_pairs']} | holdout pairs {holdout['auroc_pairs']} vs everyday {holdout['auroc_vs_everyday']}")
    feat.release()
    return out


def text_baseline(rows: list[Scenario]) -> dict:
    """The TF-IDF baseline on the same rows and splits."""
    from .text_baseline import _fit, _scores, subtype_out_aurocs

    ctl = [r for r in rows if r.concept == "control"]
    ho_ctl = [r for r in rows if r.concept == HOLDOUT_CONTROL]
    out = {}
    for concept in CONCEPTS:
        pairs = [r for r in rows if r.concept == concept]
        dev = [r for r in pairs + ctl if not is_test(r.family)]
        f = _fit(dev)
        te = [r for r in pairs if is_test(r.family)]
        te_ctl = [r for r in ctl if is_test(r.family)]
        s, c = _scores(f, te), _scores(f, te_ctl)
        yt = np.array([r.label for r in te])
        test = {"auroc_pairs": auc(yt, s), "auroc_vs_controls": auc(np.r_[np.ones(int(yt.sum())), np.zeros(len(c))], np.r_[s[yt == 1], c])}
        dev_pairs = [r for r in pairs if not is_test(r.family)]
        half = [r for r in ctl if not is_test(r.family) and fold_of(r.family, 2) == 0]
        sub = subtype_out_aurocs(dev_pairs, half)
        vals = [v for v in sub.values() if v is not None]
        fa = _fit(pairs + ctl)
        ho = [r for r in rows if r.concept == f"holdout-{concept}"]
        hs, he = _scores(fa, ho), _scores(fa, ho_ctl)
        hy = np.array([r.label for r in ho])
        holdout = {"auroc_pairs": auc(hy, hs), "auroc_vs_everyday": auc(np.r_[np.ones(int(hy.sum())), np.zeros(len(he))], np.r_[hs[hy == 1], he])}
        out[concept] = {"test": test, "subtype_out": {"mean_auroc_pairs": round(float(np.mean(vals)), 4) if vals else None, "per_subtype": sub},
                        "holdout": holdout}
    return out


def rule(concepts: dict) -> dict:
    """`compare`'s rule on this command's figures."""
    pairs = float(np.mean([concepts[c]["test"]["auroc_pairs"] for c in CONCEPTS]))
    loso = float(np.mean([concepts[c]["subtype_out"]["mean_auroc_pairs"] for c in CONCEPTS]))
    return {"test_auroc_pairs": round(pairs, 4), "subtype_out_auroc_pairs": round(loso, 4), "score": round((pairs + loso) / 2, 4)}


def run(models: list[str], work: Path, pair_share: float, control_share: float, seed: int, layers_by_model: dict[str, list[int]]) -> dict:
    files = subset_rows(pair_share, control_share)
    files["holdout.jsonl"] = holdout_rows()
    all_rows = [r for rs in files.values() for r in rs]
    res: dict = {"pair_share": pair_share, "control_share": control_share, "seed": seed,
                 "rows": {name: len(rs) for name, rs in files.items()},
                 "families": {c: len({r.family for r in files[f"{c}.jsonl"]}) for c in CONCEPTS},
                 "text_baseline": text_baseline(all_rows), "models": {}}
    for model in models:
        t0 = time.time()
        sa = harvest_model(work, model, layers_by_model[model], files, seed)
        res["models"][model] = {"layers": layers_by_model[model], "tokens": int(sa.n_harvested), "concepts": evaluate_model(sa, layers_by_model[model], seed)}
        res["models"][model]["rule"] = rule(res["models"][model]["concepts"])
        res["models"][model]["seconds"] = round(time.time() - t0)
    res["text_baseline_rule"] = rule(res["text_baseline"])
    res["better"] = max(models, key=lambda m: res["models"][m]["rule"]["score"]) if len(models) > 1 else models[0]
    if len(models) == 2:
        res["difference"] = {part: paired_bootstrap(res["models"][models[0]]["concepts"], res["models"][models[1]]["concepts"], part, seed)
                             for part in ("test_pairs", "holdout_pairs")}
    return res


def paired_bootstrap(a: dict, b: dict, part: str, seed: int, n: int = 1000) -> dict:
    """Mean over concepts of AUROC(a) - AUROC(b) on the same rows, with a 95% interval from
    resampling the units (a minimal pair's two sides together; a holdout row alone) with
    replacement, the same draw for both models."""
    rng = np.random.default_rng(seed)
    per = {}
    for c in CONCEPTS:
        ra = {r[0]: r for r in a[c]["scores"][part]}
        rb = {r[0]: r[3] for r in b[c]["scores"][part]}
        ids = sorted(set(ra) & set(rb))
        units = sorted({ra[i][1] for i in ids})
        by_unit = {u: [i for i in ids if ra[i][1] == u] for u in units}
        per[c] = (units, by_unit, ra, rb)

    def diff(draws: dict) -> float:
        out = []
        for c in CONCEPTS:
            units, by_unit, ra, rb = per[c]
            sel = [i for u in draws[c] for i in by_unit[u]]
            yv = [ra[i][2] for i in sel]
            da, db = auc(yv, [ra[i][3] for i in sel]), auc(yv, [rb[i] for i in sel])
            if da is not None and db is not None:
                out.append(da - db)
        return float(np.mean(out))

    point = diff({c: per[c][0] for c in CONCEPTS})
    boots = sorted(diff({c: [per[c][0][j] for j in rng.integers(0, len(per[c][0]), len(per[c][0]))] for c in CONCEPTS}) for _ in range(n))
    return {"mean_auroc_difference": round(point, 4), "ci95": [round(boots[int(0.025 * n)], 4), round(boots[int(0.975 * n) - 1], 4)], "resamples": n}


def _f(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def render(res: dict) -> str:
    models = list(res["models"])
    out = ["# Model families compared on the same conversations and the same probe", "",
           f"Share of scenario families: {res['pair_share']:.0%} of each concept's, {res['control_share']:.0%} of the controls' "
           f"(rows: {', '.join(f'{k} {v}' for k, v in res['rows'].items())}). Probe: logistic regression on one scope's mean "
           "residual at one layer, read by the mean or the max of rolling means; layer, scope, C and aggregation chosen per concept "
           "by families-out CV inside DEV. "
           "Produced by `probe-builder compare-models`.", "",
           "| model | mean TEST AUROC pairs | mean sub-type-out AUROC | score (rule) | harvested tokens | seconds |", "|---|---|---|---|---|---|"]
    for m in models:
        r = res["models"][m]
        out.append(f"| {m} | {_f(r['rule']['test_auroc_pairs'])} | {_f(r['rule']['subtype_out_auroc_pairs'])} | {_f(r['rule']['score'])} | {r['tokens']} | {r['seconds']} |")
    t = res["text_baseline_rule"]
    out.append(f"| text baseline (TF-IDF) | {_f(t['test_auroc_pairs'])} | {_f(t['subtype_out_auroc_pairs'])} | {_f(t['score'])} | - | - |")
    out += ["", f"Generalises better by the rule: **{res['better']}**."]
    if "difference" in res:
        d = res["difference"]
        out += ["", f"Paired bootstrap ({models[0]} minus {models[1]}, mean over concepts of the pairs AUROC, 95% interval, "
                    f"{d['test_pairs']['resamples']} resamples of minimal pairs / holdout rows): TEST "
                    f"{d['test_pairs']['mean_auroc_difference']:+.3f} [{d['test_pairs']['ci95'][0]:+.3f}, {d['test_pairs']['ci95'][1]:+.3f}], "
                    f"holdout {d['holdout_pairs']['mean_auroc_difference']:+.3f} [{d['holdout_pairs']['ci95'][0]:+.3f}, {d['holdout_pairs']['ci95'][1]:+.3f}]."]
    out += ["",
            "## Per concept (probe per model / text baseline)", "",
            "| concept | " + " | ".join(f"{m}: chosen" for m in models) + " | TEST pairs | TEST vs controls | sub-type out | holdout pairs | holdout vs everyday |",
            "|---|" + "---|" * (len(models) + 5)]
    for c in CONCEPTS:
        tb = res["text_baseline"][c]
        cells = lambda path: " / ".join([_f(_get(res["models"][m]["concepts"][c], path)) for m in models] + [_f(_get(tb, path))])
        chosen = [res["models"][m]["concepts"][c]["chosen"] for m in models]
        out.append(f"| {c} | " + " | ".join(f"L{a['layers'][0]} {'+'.join(a['roles'])} {a['aggregation']}{a['window'] if a['aggregation'] == 'rolling' else ''} C{a['C']}" for a in chosen) +
                   f" | {cells('test.auroc_pairs')} | {cells('test.auroc_vs_controls')} | {cells('subtype_out.mean_auroc_pairs')} | "
                   f"{cells('holdout.auroc_pairs')} | {cells('holdout.auroc_vs_everyday')} |")
    out += ["", "## Leave one sub-type out (probe per model / text baseline)", ""]
    for c in CONCEPTS:
        sts = sorted(res["text_baseline"][c]["subtype_out"]["per_subtype"])
        out += [f"**{c}**", "", "| sub-type | AUROC |", "|---|---|"]
        for st in sts:
            vals = [res["models"][m]["concepts"][c]["subtype_out"]["per_subtype"].get(st) for m in models] + [res["text_baseline"][c]["subtype_out"]["per_subtype"].get(st)]
            out.append(f"| {st} | {' / '.join(_f(v) for v in vals)} |")
        out.append("")
    return "\n".join(out) + "\n"


def _get(d: dict, path: str):
    for k in path.split("."):
        d = d[k]
    return d
