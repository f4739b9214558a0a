"""Detectors on the hand-written scenarios: data, honest splits, architecture search, thresholds.

Splits (all by scenario family, so a held-out family was never seen in any form):
  * TEST: the families whose hash (salt "test") falls in the last fifth. Read only for the final
    figures, never for a choice.
  * DEV: the rest. Architecture and regularisation are chosen by 5-fold families-out
    cross-validation inside DEV (the same fold function as the text baseline), and by
    leave-one-sub-type-out inside DEV.
  * The shipped probe is trained on DEV less its calibration families (DEV fold 0); the
    calibration families' pairs fit the Platt scaling and their controls set the threshold.

Every concept's training set is its own minimal pairs plus the benign controls; other concepts'
scenarios are not used as negatives (a harmful request may also carry an injection, and so on).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.stats import beta
from sklearn.metrics import roc_auc_score

from .chat import ROLE_CODE
from .scenarios import CONCEPTS, SCENARIO_DIR, Scenario, _read
from .token_probes import (Tokens, TokenProbe, aggregate_scores, fit_mean_from_means, fit_mean_probe, fit_mined_probe, fit_rolling_probe,
                           length_slope)

FOLDS = 5
TARGET_FPR = 0.01
OUTLIER_FACTOR = 10.0


def log(msg: str) -> None:
    print(f"[scenarios] {msg}", file=sys.stderr, flush=True)


def fold_of(key: str, folds: int = FOLDS, salt: str = "") -> int:
    return int(hashlib.sha256((salt + key).encode()).hexdigest(), 16) % folds


def is_test(family: str) -> bool:
    return fold_of(family, 5, "test:") == 4


@dataclass
class ScenarioActs:
    """Every scenario conversation with its token activations (all harvested layers)."""

    rows: list[Scenario]
    sources: list[str]
    role: np.ndarray  # int8 [N]
    conv: np.ndarray  # int64 [N] global conversation index, sorted with pos
    pos: np.ndarray
    sig: np.ndarray  # bool [N]: in a composed long conversation's labelled passage
    parts: list[tuple[Path, np.ndarray]]  # (npz, order applied to its rows) per part
    layers: list[int]
    # Derived conversations (with_prompt_only) reuse harvested tokens: their rows of every layer
    # are the harvested rows at these indices, appended after the harvested ones.
    extra: np.ndarray | None = None
    _cache: dict = field(default_factory=dict)

    @property
    def n_harvested(self) -> int:
        return len(self.role) - (0 if self.extra is None else len(self.extra))

    def layer(self, l: int) -> np.ndarray:
        if l not in self._cache:
            if len(self._cache) >= 2:  # at most two layers in memory (1.7 GB each at 1.5M tokens)
                del self._cache[next(iter(self._cache))]
            a = np.concatenate([np.load(p)[f"L{l}"][order] for p, order in self.parts])
            self._cache[l] = a if self.extra is None else np.concatenate([a, a[self.extra]])
        return self._cache[l]

    def release_layers(self) -> None:
        """Drops the cached layers (read again from the .npz files when next asked for)."""
        self._cache.clear()

    def data_key(self) -> str:
        """Identifies the conversations (harvested and derived), for caches keyed on the data."""
        return hashlib.sha256("\n".join(r.id for r in self.rows).encode()).hexdigest()[:16]


# Concepts whose label a conversation already carries before the assistant's reply: the intent is
# in the user's words, the injection in the tool's output. Production sees such prompt-only events.
PROMPT_ONLY_CONCEPTS = ("harmful_intent", "prompt_injection", "control")
PROMPT_ONLY_SOURCE = "scenarios-prompt"


def with_prompt_only(sa: ScenarioActs) -> ScenarioActs:
    """Adds, for every short scenario of PROMPT_ONLY_CONCEPTS that ends in an assistant reply, the
    same conversation as it stood before that reply (same family, label and sub-type; id + "#prompt").
    The model is causal, so its tokens are exactly the harvested tokens before the reply: nothing is
    re-harvested. A request sent alone is what the service scores before any answer exists; without
    these, the probes learn mostly from conversations with a reply (83% of the harmful_intent pairs)."""
    n = len(sa.rows)
    starts = np.searchsorted(sa.conv, np.arange(n), "left")
    ends = np.searchsorted(sa.conv, np.arange(n), "right")
    a, content = ROLE_CODE["assistant"], [ROLE_CODE["user"], ROLE_CODE["tool"]]
    rows, take = [], []
    for i, r in enumerate(sa.rows):
        if sa.sources[i] != "scenarios" or r.concept not in PROMPT_ONLY_CONCEPTS or not r.messages or r.messages[-1][0] != "assistant":
            continue
        s, cut = starts[i], ends[i]
        while cut > s and sa.role[cut - 1] == a:
            cut -= 1
        if not np.isin(sa.role[s:cut], content).any():
            continue
        k = len(r.messages)
        while k and r.messages[k - 1][0] == "assistant":
            k -= 1
        rows.append(dataclasses.replace(r, id=f"{r.id}#prompt", pair=f"{r.pair}#prompt" if r.pair else None, messages=r.messages[:k]))
        take.append(np.arange(s, cut))
    if not rows:
        return sa
    idx = np.concatenate(take)
    conv = np.concatenate([np.full(len(t), n + j, np.int64) for j, t in enumerate(take)])
    return ScenarioActs(sa.rows + rows, sa.sources + [PROMPT_ONLY_SOURCE] * len(rows), np.r_[sa.role, sa.role[idx]],
                        np.r_[sa.conv, conv], np.r_[sa.pos, sa.pos[idx]], np.r_[sa.sig, np.zeros(len(idx), bool)],
                        sa.parts, sa.layers, extra=idx)


def load_scenario_acts(harvest_dir: Path, files: list[str], scenario_dir: Path = SCENARIO_DIR) -> ScenarioActs:
    rows: list[Scenario] = []
    sources: list[str] = []
    roles, convs, poss, sigs, parts = [], [], [], [], []
    layers = None
    for name in files:
        stem = Path(name).stem
        part_rows = _read(scenario_dir / name) if (scenario_dir / name).exists() else _read(harvest_dir / name)
        npz = harvest_dir / f"{stem}.npz"
        z = np.load(npz)
        ids = (harvest_dir / f"{stem}.ids").read_text().split("\n")
        if ids != [r.id for r in part_rows]:
            raise ValueError(f"{npz} was harvested from a different version of {name}; delete it to re-harvest")
        order = np.lexsort((z["pos"], z["conv"]))
        roles.append(z["role"][order]); poss.append(z["pos"][order])
        sigs.append(z["sig"][order] if "sig" in z.files else np.zeros(len(order), bool))
        convs.append(z["conv"][order].astype(np.int64) + len(rows))
        parts.append((npz, order))
        layers = sorted(int(k[1:]) for k in z.files if k.startswith("L"))
        rows += part_rows
        sources += ["scenarios-long" if stem.startswith("long") else "scenarios"] * len(part_rows)
    return ScenarioActs(rows, sources, np.concatenate(roles), np.concatenate(convs), np.concatenate(poss), np.concatenate(sigs), parts, layers or [])


@dataclass(frozen=True)
class Arch:
    layers: tuple[int, ...]
    roles: tuple[str, ...]
    aggregation: str  # mean | max | rolling
    window: int = 1
    trainer: str = "mean"  # mean (logistic on scope means) | mined (plus the windows the read decides on) | rolling (end to end)
    c: float = 0.1
    length: bool = False  # calibration with a length term (length_adjusted)

    def name(self) -> str:
        agg = self.aggregation if self.aggregation != "rolling" else f"rolling{self.window}"
        return f"L{'+'.join(map(str, self.layers))}/{'+'.join(self.roles)}/{agg}/train-{self.trainer}/C{self.c}" + ("/length" if self.length else "")

    def to_json(self) -> dict:
        return {"layers": list(self.layers), "roles": list(self.roles), "aggregation": self.aggregation,
                "window": self.window, "trainer": self.trainer, "C": self.c, "length_term": self.length}


class Featurizer:
    """Scaled in-scope token residuals per (layers, roles), with per-layer scale and outlier norm
    measured once on the whole set (no labels involved)."""

    def __init__(self, sa: ScenarioActs) -> None:
        self.sa = sa
        self.stats: dict[int, tuple[float, float]] = {}
        self._norm_ok: dict[int, np.ndarray] = {}
        self._all: dict = {}
        self._means: dict = {}
        self._sig: dict = {}

    def layer_stats(self, l: int) -> tuple[float, float]:
        if l not in self.stats:
            a = self.sa.layer(l)
            # in chunks: a float32 copy of a whole layer (4M+ tokens) would not fit beside it
            norms = np.concatenate([np.linalg.norm(a[b:b + 262144].astype(np.float32), axis=1) for b in range(0, len(a), 262144)])
            outlier = float(np.median(norms) * OUTLIER_FACTOR)
            keep = norms <= outlier
            self.stats[l] = (outlier, float(norms[keep].mean() / np.sqrt(a.shape[1])))
            self._norm_ok[l] = keep
        return self.stats[l]

    def all_tokens(self, arch: Arch) -> Tokens:
        """Scope tokens of every conversation (conversation index = row index), cached per
        (layers, roles): one gather serves every fold."""
        key = (arch.layers, arch.roles)
        if key not in self._all:
            self._all.clear()  # one scope in memory at a time, released before the next is built
            self._means.clear()
            self._sig.clear()
            sa = self.sa
            mask = np.isin(sa.role, [ROLE_CODE[r] for r in arch.roles])
            for l in arch.layers:
                self.layer_stats(l)
                mask &= self._norm_ok[l]
            idx = np.flatnonzero(mask)  # sa.conv is sorted, positions sorted within a conversation
            d = sa.layer(arch.layers[0]).shape[1]
            x = np.empty((len(idx), d * len(arch.layers)), np.float32)
            for j, l in enumerate(arch.layers):
                a = sa.layer(l)
                for b in range(0, len(idx), 262144):
                    x[b:b + 262144, j * d:(j + 1) * d] = a[idx[b:b + 262144]].astype(np.float32) / np.float32(self.stats[l][1])
            t = Tokens(x, sa.conv[idx], len(sa.rows))
            self._all[key] = t
            # The layers themselves are not needed beside the scope's rows: release them (a scope of 5M
            # rows in float32 and a cached layer would not both fit in 24 GB); the next scope reads them again.
            sa.release_layers()
            means = t.means()
            # A composed long conversation teaches the mean trainer through its labelled passage
            # (read in the long context), not through the mean of thousands of filler tokens.
            sig = sa.sig[idx]
            self._sig[key] = sig
            if sig.any():
                ts = Tokens(x[sig], t.conv[sig], t.n_conv)
                has = ts.counts > 0
                means[has] = ts.means()[has]
            self._means[key] = means
        return self._all[key]

    def release(self) -> None:
        """Drops the cached scope (its float32 rows are the largest array of a build)."""
        self._all.clear()
        self._means.clear()
        self._sig.clear()

    def means(self, arch: Arch) -> np.ndarray:
        self.all_tokens(arch)
        return self._means[(arch.layers, arch.roles)]

    def signal(self, arch: Arch) -> np.ndarray:
        """Per scope token of all_tokens(arch): whether it lies in a long conversation's labelled passage."""
        self.all_tokens(arch)
        return self._sig[(arch.layers, arch.roles)]

    def tokens(self, arch: Arch, convs: np.ndarray) -> Tokens:
        return self.all_tokens(arch).subset(np.asarray(convs, np.int64))


def fit_fold(feat: "Featurizer", arch: Arch, convs: np.ndarray, y: np.ndarray, seed: int) -> TokenProbe:
    """fit() on cached scope means (mean trainer) or on the conversations' tokens."""
    has = feat.all_tokens(arch).counts[convs] > 0  # a conversation with nothing in scope teaches nothing
    convs, y = convs[has], y[has]
    if arch.trainer == "mined":
        window = 1 if arch.aggregation == "max" else arch.window
        p = fit_mined_probe(feat.all_tokens(arch), feat.means(arch), convs, y, feat.signal(arch), window, arch.c, seed)
        p.aggregation, p.window = arch.aggregation, arch.window
        return p
    if arch.trainer == "mean":
        p = fit_mean_from_means(feat.means(arch)[convs], y, arch.c, seed)
        p.aggregation, p.window = arch.aggregation, arch.window
        return p
    return fit(arch, feat.tokens(arch, convs), y, seed)


def all_logits(feat: "Featurizer", arch: Arch, probe: TokenProbe) -> np.ndarray:
    """The probe's logit for every conversation (row index), -inf where the scope is empty."""
    t = feat.all_tokens(arch)
    return aggregate_scores(probe.token_scores(t), t, probe.aggregation, probe.window)[0]


def length_adjusted(feat: "Featurizer", arch: Arch, logits: np.ndarray, benign: np.ndarray) -> tuple[np.ndarray, float]:
    """(logit - slope * ln(1 + tokens in scope), slope), the slope measured on the benign
    conversations (length_slope); the selection and the shipped calibration both read it here."""
    n = feat.all_tokens(arch).counts
    slope = length_slope(logits, n, benign)
    return logits - slope * np.log1p(n), slope


def fit(arch: Arch, t: Tokens, y: np.ndarray, seed: int) -> TokenProbe:
    p = fit_mean_probe(t, y, arch.c, seed)
    if arch.trainer == "rolling":
        p = fit_rolling_probe(t, y, arch.window, l2=1.0 / (arch.c * len(y)), seed=seed, init=p)
    p.aggregation, p.window = arch.aggregation, arch.window
    return p


def auc(y, s) -> float | None:
    """AUROC; an empty scope's -inf logit ranks below everything."""
    y = np.asarray(y)
    s = np.nan_to_num(np.asarray(s, dtype=np.float64), neginf=-1e9, posinf=1e9)
    return round(float(roc_auc_score(y, s)), 4) if 0 < y.sum() < len(y) else None


def clopper_pearson_upper(k: int, n: int, conf: float = 0.95) -> float:
    return 1.0 if k >= n else float(beta.ppf(conf, k + 1, n - k))


def threshold_at(neg: np.ndarray, fpr: float) -> float:
    s = np.sort(neg)[::-1]
    allowed = int(np.floor(fpr * len(s)))
    return float(np.nextafter(s[allowed], np.inf)) if allowed < len(s) else 0.0


class Protocol:
    def __init__(self, sa: ScenarioActs, concept: str, seed: int) -> None:
        self.sa, self.concept, self.seed = sa, concept, seed
        rows = sa.rows
        self.pairs = np.array([i for i, r in enumerate(rows) if r.concept == concept], np.int64)
        self.controls = np.array([i for i, r in enumerate(rows) if r.concept == "control"], np.int64)
        self.y = np.array([r.label for r in rows], np.int64)
        self.test = np.array([is_test(r.family) for r in rows])

    def families_out(self, feat: Featurizer, arch: Arch, pool: str = "dev") -> dict:
        """5-fold families-out CV inside DEV (pool='dev')."""
        sa, rows = self.sa, self.sa.rows
        keep = ~self.test if pool == "dev" else np.ones(len(rows), bool)
        pairs = self.pairs[keep[self.pairs]]
        ctls = self.controls[keep[self.controls]]
        fam = lambda i: fold_of(rows[i].family)
        scores = {}
        thresholds = {}
        allc = np.concatenate([pairs, ctls])
        folds = np.array([fam(i) for i in allc])
        for k in range(FOLDS):
            tr, te = allc[folds != k], allc[folds == k]
            if len(te) == 0:
                continue
            p = fit_fold(feat, arch, tr, self.y[tr], self.seed)
            tr_ctl = np.array([i for i in tr if rows[i].concept == "control"])
            logits = all_logits(feat, arch, p)
            if arch.length:
                logits, _ = length_adjusted(feat, arch, logits, tr_ctl)
            thresholds[k] = threshold_at(logits[tr_ctl], TARGET_FPR)
            for i in te:
                scores[int(i)] = (float(logits[i]), thresholds[k])
        return summarize(rows, self.y, scores, pairs, ctls)

    def subtype_out(self, feat: Featurizer, arch: Arch) -> dict:
        rows = self.sa.rows
        dev_pairs = self.pairs[~self.test[self.pairs]]
        half = np.array([i for i in self.controls if not self.test[i] and fold_of(rows[i].family, 2) == 0])
        out = {}
        for st in sorted({rows[i].subtype for i in dev_pairs}):
            tr = np.concatenate([[i for i in dev_pairs if rows[i].subtype != st], half]).astype(np.int64)
            te = np.array([i for i in dev_pairs if rows[i].subtype == st])
            logits = all_logits(feat, arch, fit_fold(feat, arch, tr, self.y[tr], self.seed))
            out[st] = auc(self.y[te], logits[te])
        vals = [v for v in out.values() if v is not None]
        return {"mean_auroc_pairs": round(float(np.mean(vals)), 4), "min_auroc_pairs": min(vals), "per_subtype": out}


def summarize(rows, y, scores: dict[int, tuple[float, float]], pairs, ctls) -> dict:
    pi = [i for i in pairs if i in scores]
    ci = [i for i in ctls if i in scores]
    pos = [i for i in pi if y[i] == 1]
    neg = [i for i in pi if y[i] == 0]
    s = lambda ids: np.nan_to_num(np.array([scores[i][0] for i in ids], dtype=np.float64), neginf=-1e9)
    flag = lambda ids: np.array([scores[i][0] >= scores[i][1] for i in ids])
    per_sub = {}
    for st in sorted({rows[i].subtype for i in pi}):
        ids = [i for i in pi if rows[i].subtype == st]
        per_sub[st] = auc(y[ids], s(ids))
    lpos = [i for i in pos if rows[i].signal]
    lneg = [i for i in neg if rows[i].signal]
    return {
        "auroc_pairs": auc([1] * len(pos) + [0] * len(neg), np.r_[s(pos), s(neg)]),
        "auroc_pairs_long": auc([1] * len(lpos) + [0] * len(lneg), np.r_[s(lpos), s(lneg)]) if lpos and lneg else None,
        "auroc_vs_controls": auc([1] * len(pos) + [0] * len(ci), np.r_[s(pos), s(ci)]),
        # a long positive against benign traffic of every length: what a length-dependent
        # calibration or a benign window winning the max in a long conversation costs
        "auroc_long_vs_controls": auc([1] * len(lpos) + [0] * len(ci), np.r_[s(lpos), s(ci)]) if lpos and ci else None,
        "auroc_all_negatives": auc([1] * len(pos) + [0] * (len(neg) + len(ci)), np.r_[s(pos), s(neg), s(ci)]),
        "recall_at_1pct_train_fpr": round(float(flag(pos).mean()), 4),
        "recall_long_at_1pct_train_fpr": round(float(flag(lpos).mean()), 4) if lpos else None,
        "fpr_controls": round(float(flag(ci).mean()), 4),
        "fpr_hard_negatives": round(float(flag(neg).mean()), 4),
        "per_subtype_auroc_pairs": per_sub,
        "n": {"positives": len(pos), "hard_negatives": len(neg), "controls": len(ci)},
    }


def search(sa: ScenarioActs, archs_by_concept: dict[str, list[Arch]], seed: int, out: Path | None = None) -> dict:
    feat = Featurizer(sa)
    res: dict = {}
    for concept, archs in archs_by_concept.items():
        proto = Protocol(sa, concept, seed)
        res[concept] = {}
        for arch in archs:
            t0 = time.time()
            r = proto.families_out(feat, arch)
            res[concept][arch.name()] = {"arch": arch.to_json(), "families_out": r}
            log(f"{concept} {arch.name()}: pairs {r['auroc_pairs']} ctl {r['auroc_vs_controls']} all {r['auroc_all_negatives']} "
                f"rec {r['recall_at_1pct_train_fpr']} fpr {r['fpr_controls']} ({time.time() - t0:.0f}s)")
            if out:
                out.write_text(json.dumps(res, indent=1))
    return res


def families_out_subtype_probes(proto: Protocol, feat: Featurizer, arch: Arch, groups: dict[str, list[str]]) -> dict:
    """One probe per group of sub-types (each trained on its sub-types' pairs plus the controls),
    combined by the max of their logits (each standardised on its training controls), under the
    same 5-fold families-out CV inside DEV. Reported beside the single probe (issue 11: "for
    deception, sub-type probes combined")."""
    rows = proto.sa.rows
    keep = ~proto.test
    pairs = proto.pairs[keep[proto.pairs]]
    ctls = proto.controls[keep[proto.controls]]
    allc = np.concatenate([pairs, ctls])
    folds = np.array([fold_of(rows[i].family) for i in allc])
    scores: dict[int, tuple[float, float]] = {}
    for k in range(FOLDS):
        te = allc[folds == k]
        if len(te) == 0:
            continue
        tr_ctl = np.array([i for i in allc[folds != k] if rows[i].concept == "control"])
        combined = np.full(len(rows), -np.inf)
        for subtypes in groups.values():
            tr = np.concatenate([[i for i in allc[folds != k] if rows[i].concept != "control" and rows[i].subtype in subtypes], tr_ctl]).astype(np.int64)
            lg = all_logits(feat, arch, fit_fold(feat, arch, tr, proto.y[tr], proto.seed))
            lc = lg[tr_ctl][np.isfinite(lg[tr_ctl])]
            combined = np.maximum(combined, (lg - lc.mean()) / (lc.std() + 1e-6))
        thr = threshold_at(combined[tr_ctl], TARGET_FPR)
        for i in te:
            scores[int(i)] = (float(combined[i]), thr)
    return summarize(rows, proto.y, scores, pairs, ctls)
