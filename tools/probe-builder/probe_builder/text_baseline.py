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
    subtype_out = {}
    half = [c for c in controls if _fold(c.family, 2) == 0]
    for st in sorted({s.subtype for s in pairs}):
        fitted = _fit([s for s in pairs if s.subtype != st] + half)
        test = [s for s in pairs if s.subtype == st]
        subtype_out[st] = _auc([s.label for s in test], _scores(fitted, test))
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
