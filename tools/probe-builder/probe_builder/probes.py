"""Concept detectors: SAE-feature probes and dense linear probes, calibration and metrics.

Pure numerics on arrays; the aggregation here is the contract the Node scorer reproduces
(src/probe/scoring.ts):
  * scope: the tokens of the messages whose role is in the concept's `roles`, excluding tokens
    whose residual norm exceeds `outlier_norm` (attention-sink tokens carry no content);
  * SAE features: per selected feature, max and mean over scope tokens of the thresholded
    activation; detector input = [max_1..max_k, mean_1..mean_k];
  * dense probe: the mean over scope tokens of the scaled residual x / scale;
  * both: standardized with stored mean/std, then logit = w.x + b, score = sigmoid(a*logit + c)
    with (a, c) fit on validation data (Platt scaling).
In training, an empty scope gives an all-zero input vector (every labeled conversation of a
concept has tokens in its scope). At run time an event with an empty scope is reported out of
scope (`in_scope: false`, score 0): there is nothing of the concept's roles to judge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score


@dataclass
class LinearDetector:
    mean: np.ndarray
    std: np.ndarray
    w: np.ndarray
    b: float
    platt_a: float = 1.0
    platt_c: float = 0.0

    def logit(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.std) @ self.w + self.b

    def score(self, x: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(self.platt_a * self.logit(x) + self.platt_c)))

    def to_json(self) -> dict:
        return {"mean": self.mean.round(6).tolist(), "std": self.std.round(6).tolist(), "weights": self.w.round(6).tolist(),
                "bias": round(float(self.b), 6), "calibration": {"method": "platt", "a": round(self.platt_a, 6), "c": round(self.platt_c, 6)}}


def fit_linear(x: np.ndarray, y: np.ndarray, c: float, seed: int, penalty: str = "l2") -> LinearDetector:
    mean = x.mean(0)
    std = x.std(0) + 1e-6
    solver = "liblinear" if penalty == "l1" else "lbfgs"
    lr = LogisticRegression(C=c, penalty=penalty, solver=solver, max_iter=5000, class_weight="balanced", random_state=seed)
    lr.fit((x - mean) / std, y)
    return LinearDetector(mean, std, lr.coef_[0].astype(np.float64), float(lr.intercept_[0]))


def platt(det: LinearDetector, x_val: np.ndarray, y_val: np.ndarray) -> None:
    z = det.logit(x_val).reshape(-1, 1)
    cal = LogisticRegression(C=1e4, max_iter=5000).fit(z, y_val)
    det.platt_a, det.platt_c = float(cal.coef_[0, 0]), float(cal.intercept_[0])


def auroc(y: np.ndarray, s: np.ndarray) -> float:
    return float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else float("nan")


def threshold_at_fpr(neg_scores: np.ndarray, fpr: float) -> float:
    """Smallest threshold t with mean(neg >= t) <= fpr (flagged means score >= t)."""
    s = np.sort(neg_scores)[::-1]
    allowed = int(np.floor(fpr * len(s)))
    if allowed >= len(s):
        return 0.0
    return float(np.nextafter(s[allowed], np.inf))


def recall_at_fpr(pos_scores: np.ndarray, neg_scores: np.ndarray, fpr: float) -> tuple[float, float]:
    t = threshold_at_fpr(neg_scores, fpr)
    return float((pos_scores >= t).mean()), t


def select_features(fmax: np.ndarray, y: np.ndarray, k: int, min_fire: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Rank features by how well their max activation separates the classes (AUROC distance from
    0.5), keeping features that fire on at least min_fire positives. Returns (indices, aurocs)."""
    from scipy.stats import rankdata

    pos, n = y == 1, len(y)
    ranks = np.apply_along_axis(rankdata, 0, fmax)
    au = (ranks[pos].sum(0) - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * (n - pos.sum()))
    fires = (fmax[pos] > 0).sum(0)
    au = np.where(fires >= min_fire, au, 0.5)
    # Positive evidence only: a feature explains a detection by firing, so rank by au - 0.5.
    order = np.argsort(-(au - 0.5))[:k]
    return order, au[order]
