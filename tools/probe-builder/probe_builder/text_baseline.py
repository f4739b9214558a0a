"""The text-only baseline the probes must beat: TF-IDF word n-grams + logistic regression on the
conversation text, evaluated on the hand-written scenarios with whole families and whole
sub-types held out. A probe that does not beat this on held-out families has learned words,
not the concept.

For each concept:
  families_out  5 folds over scenario families (controls folded by their own families); the
                model never sees a held-out family. Reported: AUROC of positives against their
                minimal-pair negatives (the hard case), AUROC against held-out controls, and at
                a threshold set for 1% false positives on the training controls: recall, the
                false-positive rate on held-out controls and on held-out hard negatives.
  subtype_out   leave one sub-type out: AUROC on the held-out sub-type's pairs.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from .scenarios import CONCEPTS, Scenario, load_concept, load_controls

FOLDS = 5
TARGET_FPR = 0.01


def _fold(key: str, folds: int = FOLDS) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % folds


def _fit(train: list[Scenario]) -> tuple[TfidfVectorizer, LogisticRegression]:
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x = vec.fit_transform([s.text() for s in train])
    model = LogisticRegression(C=4.0, max_iter=2000).fit(x, [s.label for s in train])
    return vec, model


def _scores(fitted: tuple[TfidfVectorizer, LogisticRegression], rows: list[Scenario]) -> np.ndarray:
    vec, model = fitted
    return model.predict_proba(vec.transform([s.text() for s in rows]))[:, 1] if rows else np.zeros(0)


def _auc(labels: list[int], scores: np.ndarray) -> float | None:
    return round(float(roc_auc_score(labels, scores)), 4) if len(set(labels)) == 2 else None


def _rate(scores: np.ndarray, threshold: float) -> float | None:
    return round(float(np.mean(scores >= threshold)), 4) if len(scores) else None


def subtype_out_aurocs(pairs: list[Scenario], controls: list[Scenario]) -> dict[str, float | None]:
    """Leave one sub-type out: per sub-type, AUROC on its minimal pairs of the baseline fitted on
    the other sub-types' pairs and the given controls."""
    out = {}
    for st in sorted({s.subtype for s in pairs}):
        fitted = _fit([s for s in pairs if s.subtype != st] + controls)
        held = [s for s in pairs if s.subtype == st]
        out[st] = _auc([s.label for s in held], _scores(fitted, held))
    return out


def evaluate_concept(pairs: list[Scenario], controls: list[Scenario]) -> dict:
    pos_s, neg_s, ctl_s = [], [], []
    by_subtype: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
    for k in range(FOLDS):
        train = [s for s in pairs if _fold(s.family) != k] + [c for c in controls if _fold(c.family) != k]
        test = [s for s in pairs if _fold(s.family) == k]
        test_ctl = [c for c in controls if _fold(c.family) == k]
        if not test:
            continue
        fitted = _fit(train)
        train_ctl = [c for c in controls if _fold(c.family) != k]
        threshold = float(np.quantile(_scores(fitted, train_ctl), 1 - TARGET_FPR)) if train_ctl else 0.5
        s = _scores(fitted, test)
        c = _scores(fitted, test_ctl)
        for row, score in zip(test, s):
            (pos_s if row.label == 1 else neg_s).append((score, threshold))
            by_subtype[row.subtype][0].append(row.label)
            by_subtype[row.subtype][1].append(float(score))
        ctl_s += [(x, threshold) for x in c]
    pos = np.array([x for x, _ in pos_s])
    neg = np.array([x for x, _ in neg_s])
    ctl = np.array([x for x, _ in ctl_s])
    families_out = {
        "auroc_pairs": _auc([1] * len(pos) + [0] * len(neg), np.concatenate([pos, neg])),
        "auroc_vs_controls": _auc([1] * len(pos) + [0] * len(ctl), np.concatenate([pos, ctl])),
        "recall_at_1pct_train_fpr": round(float(np.mean([x >= t for x, t in pos_s])), 4) if pos_s else None,
        "fpr_controls": round(float(np.mean([x >= t for x, t in ctl_s])), 4) if ctl_s else None,
        "fpr_hard_negatives": round(float(np.mean([x >= t for x, t in neg_s])), 4) if neg_s else None,
        "per_subtype_auroc_pairs": {st: _auc(lab, np.array(sc)) for st, (lab, sc) in sorted(by_subtype.items())},
    }
    subtype_out = subtype_out_aurocs(pairs, [c for c in controls if _fold(c.family, 2) == 0])
    values = [v for v in subtype_out.values() if v is not None]
    return {
        "pairs": sum(1 for s in pairs if s.label == 1),
        "families_out": families_out,
        "subtype_out": {"mean_auroc_pairs": round(float(np.mean(values)), 4) if values else None, "min_auroc_pairs": min(values) if values else None, "per_subtype": subtype_out},
    }


def run(out: Path | None = None) -> dict:
    controls = load_controls()
    report = {
        "model": "TF-IDF word 1-2-grams (min_df 2, sublinear tf) + logistic regression (C=4), on role-prefixed conversation text",
        "controls": len(controls),
        "concepts": {c: evaluate_concept(load_concept(c), controls) for c in CONCEPTS},
    }
    if out:
        out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def split_report(concept: str, controls: list[Scenario] | None = None, extra: list[Scenario] | None = None) -> dict:
    """The baseline on the probes' own split (scenario_eval): trained on DEV less the calibration
    families, threshold at the calibration controls' 1% point, figures on TEST; and
    leave-one-sub-type-out inside DEV. `extra` adds rows (e.g. the composed long conversations)."""
    from .scenario_eval import fold_of, is_test

    controls = controls if controls is not None else load_controls()
    rows = load_concept(concept) + [r for r in (extra or []) if r.concept == concept]
    ctls = controls + [r for r in (extra or []) if r.concept == "control"]
    cal = lambda s: fold_of(s.family) == 0
    train = [s for s in rows + ctls if not is_test(s.family) and not cal(s)]
    fitted = _fit(train)
    cal_ctl = [s for s in ctls if not is_test(s.family) and cal(s)]
    cs = _scores(fitted, cal_ctl)
    threshold = float(np.sort(cs)[::-1][int(np.floor(TARGET_FPR * len(cs)))]) + 1e-12
    te = [s for s in rows if is_test(s.family)]
    te_ctl = [s for s in ctls if is_test(s.family)]
    s, c = _scores(fitted, te), _scores(fitted, te_ctl)
    y = np.array([r.label for r in te])
    pos, neg = s[y == 1], s[y == 0]
    per_sub = {}
    for st in sorted({r.subtype for r in te}):
        m = np.array([r.subtype == st for r in te])
        per_sub[st] = {"auroc_pairs": _auc(list(y[m]), s[m]),
                       "auroc_vs_controls": _auc([1] * int((y[m] == 1).sum()) + [0] * len(c), np.r_[s[m][y[m] == 1], c])}
    dev = [r for r in rows if not is_test(r.family)]
    sub_out = subtype_out_aurocs(dev, [x for x in ctls if not is_test(x.family) and _fold(x.family, 2) == 0])
    vals = [v for v in sub_out.values() if v is not None]
    return {
        "test": {"auroc_pairs": _auc(list(y), s),
                 "auroc_vs_controls": _auc([1] * len(pos) + [0] * len(c), np.r_[pos, c]),
                 "recall": round(float((pos >= threshold).mean()), 4),
                 "fpr_controls": round(float((c >= threshold).mean()), 4),
                 "fpr_hard_negatives": round(float((neg >= threshold).mean()), 4),
                 "per_subtype": per_sub},
        "subtype_out": {"mean_auroc_pairs": round(float(np.mean(vals)), 4), "min_auroc_pairs": min(vals), "per_subtype": sub_out},
    }
