"""Per-token linear probes and their aggregation over a conversation (pure numpy).

A probe is a direction w and bias b in the residual space of one or more layers (the layers'
residuals, each divided by its layer scale, concatenated). Every in-scope token t gets a score
s_t = w . x_t + b. The conversation's logit is an aggregate of those scores:

  * ``mean``: the mean of s_t over the scope (a mean-pooled linear probe);
  * ``max``: the largest s_t;
  * ``rolling``: the largest mean of W consecutive in-scope scores (a scope shorter than W is one
    window), which keeps a short signal from being diluted by a long conversation (the
    aggregation of the production probes in arXiv 2601.11516).

Because the probe is linear, the aggregate splits exactly into per-token contributions: for
``mean`` each token contributes (w . x_t) / n, for ``rolling`` each token of the winning window
contributes (w . x_t) / W; the bias is the remainder. The Node scorer (src/probe/scoring.ts)
reproduces this contract.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

AGGREGATIONS = ("mean", "max", "rolling")


@dataclass
class Tokens:
    """In-scope tokens of a set of conversations, sorted by (conversation, position)."""

    x: np.ndarray  # float32 [N, D] scaled residuals (layers concatenated)
    conv: np.ndarray  # int64 [N] conversation index (0..n_conv-1)
    n_conv: int

    @property
    def starts(self) -> np.ndarray:
        return np.searchsorted(self.conv, np.arange(self.n_conv))

    @property
    def counts(self) -> np.ndarray:
        return np.bincount(self.conv, minlength=self.n_conv)

    def subset(self, convs: np.ndarray) -> "Tokens":
        """The tokens of the given conversations, renumbered 0..len(convs)-1 in that order."""
        starts, counts = self.starts, self.counts
        idx = np.concatenate([np.arange(starts[c], starts[c] + counts[c]) for c in convs]) if len(convs) else np.zeros(0, np.int64)
        conv = np.repeat(np.arange(len(convs)), counts[convs])
        return Tokens(self.x[idx], conv, len(convs))

    def means(self) -> np.ndarray:
        out = np.zeros((self.n_conv, self.x.shape[1]), np.float64)
        if len(self.x):
            _add_sorted(out, self.x, self.conv)
        c = self.counts
        return out / np.maximum(c, 1)[:, None]


def _add_sorted(out: np.ndarray, x: np.ndarray, conv: np.ndarray, chunk: int = 65536) -> None:
    """Per-conversation sums of rows sorted by conversation, in float64, a chunk at a time (a
    float64 copy of a million-token scope would not fit beside it)."""
    for a in range(0, len(x), chunk):
        c = conv[a:a + chunk]
        starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
        out[c[starts]] += np.add.reduceat(x[a:a + chunk].astype(np.float64), starts, axis=0)


@dataclass
class TokenProbe:
    w: np.ndarray  # [D] in the scaled-residual space
    b: float
    aggregation: str
    window: int = 1
    platt_a: float = 1.0
    platt_c: float = 0.0
    # Coefficient of ln(1 + tokens in scope) in the calibration (see length_slope): the max of
    # more windows is larger on benign text too, so a long conversation's logit is discounted.
    platt_length: float = 0.0

    def token_scores(self, t: Tokens) -> np.ndarray:
        return np.asarray(t.x, np.float32) @ self.w.astype(np.float32) + np.float32(self.b)

    def logit(self, t: Tokens) -> np.ndarray:
        return aggregate_scores(self.token_scores(t), t, self.aggregation, self.window)[0]

    def calibrate(self, logit: np.ndarray, n: np.ndarray) -> np.ndarray:
        """score = sigmoid(a * logit + c + length * ln(1 + n)); an empty scope (logit -inf) scores 0."""
        with np.errstate(over="ignore"):
            return 1 / (1 + np.exp(-(self.platt_a * logit + self.platt_c + self.platt_length * np.log1p(n))))

    def score(self, t: Tokens) -> np.ndarray:
        return self.calibrate(self.logit(t), t.counts)


def length_slope(logits: np.ndarray, n: np.ndarray, benign: np.ndarray) -> float:
    """How the logit of benign conversations grows with ln(1 + tokens in scope): the least-squares
    slope over the conversations `benign` (controls only, so no label composition enters). With
    max or rolling aggregation the largest of more windows is larger on benign text too, and a
    threshold set across lengths would otherwise fall hardest on short requests."""
    ids = benign[np.isfinite(logits[benign]) & (n[benign] > 0)]
    x = np.log1p(n[ids].astype(np.float64))
    if len(ids) < 2 or x.std() == 0:
        return 0.0
    return float(np.polyfit(x, logits[ids].astype(np.float64), 1)[0])


def aggregate_scores(s: np.ndarray, t: Tokens, aggregation: str, window: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per conversation: (logit, first token index of the deciding span, its length).
    Conversations without tokens get logit -inf."""
    n = t.n_conv
    starts, counts = t.starts, t.counts
    out = np.full(n, -np.inf)
    lo = starts.copy()
    ln = counts.copy()
    has = counts > 0
    if aggregation == "mean":
        sums = np.zeros(n)
        np.add.at(sums, t.conv, s.astype(np.float64))
        out[has] = sums[has] / counts[has]
        return out, lo, ln
    if aggregation == "max":
        window = 1
    r, win = rolling_means(s, t, window)
    # argmax per segment
    order = np.lexsort((-r, t.conv))
    first = np.searchsorted(t.conv[order], np.arange(n))
    best = order[np.minimum(first, len(order) - 1)]
    out[has] = r[best[has]]
    lo[has] = (best - win[best] + 1)[has]
    ln[has] = win[best][has]
    return out, lo, ln


def rolling_means(s: np.ndarray, t: Tokens, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Per token: the mean of the `window` in-scope scores ending at it (the whole scope so far when
    the scope is shorter than `window`), and that window's length; -inf where the window would
    reach back past the conversation's first token."""
    starts, counts = t.starts, t.counts
    c = np.concatenate([[0.0], np.cumsum(s.astype(np.float64))])
    idx = np.arange(len(s))
    seg_start = starts[t.conv]
    win = np.minimum(window, counts[t.conv])
    begin = idx - win + 1
    valid = begin >= seg_start
    return np.where(valid, (c[idx + 1] - c[np.maximum(begin, 0)]) / np.maximum(win, 1), -np.inf), win


def mined_windows(r: np.ndarray, win: np.ndarray, t: Tokens, convs: np.ndarray, y: np.ndarray, sig: np.ndarray,
                  window: int, k_long: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The windows the aggregation would read, as training examples: (first token, length, label).

    * a positive: its best window; in a composed long conversation, its best window ending inside
      the labelled passage (the filler around it is not the signal);
    * a negative: its best window, and in a conversation longer than four windows its `k_long`
      best non-overlapping windows (the benign windows that win the max in a long conversation)."""
    starts, counts = t.starts, t.counts
    lo, ln, lab = [], [], []
    for ci, label in zip(convs, y):
        a, n = int(starts[ci]), int(counts[ci])
        if n == 0:
            continue
        rr = r[a:a + n].copy()
        if label == 1:
            sg = sig[a:a + n]
            if sg.any():
                rr[~sg] = -np.inf
            k = 1
        else:
            k = k_long if n > 4 * window else 1
        for _ in range(k):
            e = int(np.argmax(rr))
            if not np.isfinite(rr[e]):
                break
            l = int(win[a + e])
            lo.append(a + e - l + 1); ln.append(l); lab.append(label)
            rr[max(0, e - window + 1):e + window] = -np.inf
    return np.array(lo, np.int64), np.array(ln, np.int64), np.array(lab, np.int64)


def fit_mined_probe(t: Tokens, means: np.ndarray, convs: np.ndarray, y: np.ndarray, sig: np.ndarray, window: int,
                    c: float, seed: int, rounds: int = 2) -> TokenProbe:
    """A probe for max-of-rolling-means read (`window` 1 = max), trained on what that read sees.

    Starts from the logistic regression on the conversations' scope means (`means[convs]`), then
    `rounds` times: reads every training conversation with the current probe, takes the windows it
    would decide on (mined_windows: each positive's best window, inside the passage for a long one;
    each negative's best windows, several in a long one) and refits on the scope means plus those
    window means. This is the hard-negative mining of detection training, applied to the max: the
    benign windows that beat a late request in a long conversation become negatives, and the
    request read in that long context a positive. `t` holds every conversation's scope tokens;
    `convs` index it."""
    m = means[convs]
    p = fit_mean_from_means(m, y, c, seed)
    for _ in range(rounds):
        r, win = rolling_means(t.x @ p.w.astype(np.float32) + np.float32(p.b), t, window)
        lo, ln, lab = mined_windows(r, win, t, convs, y, sig, window)
        wm = np.stack([t.x[a:a + n].mean(0) for a, n in zip(lo, ln)]) if len(lo) else np.zeros((0, t.x.shape[1]), np.float32)
        p = fit_mean_from_means(np.concatenate([m, wm]), np.concatenate([y, lab]), c, seed)
    return p


def fit_mean_probe(t: Tokens, y: np.ndarray, c: float, seed: int, sample_weight: np.ndarray | None = None) -> TokenProbe:
    """Logistic regression on the scope means (standardized), folded back to the raw space."""
    return fit_mean_from_means(t.means(), y, c, seed, sample_weight)


def fit_mean_from_means(m: np.ndarray, y: np.ndarray, c: float, seed: int, sample_weight: np.ndarray | None = None) -> TokenProbe:
    mu, sd = m.mean(0), m.std(0) + 1e-6
    lr = LogisticRegression(C=c, max_iter=3000, class_weight="balanced", random_state=seed)
    lr.fit((m - mu) / sd, y, sample_weight=sample_weight)
    w = lr.coef_[0] / sd
    b = float(lr.intercept_[0] - (lr.coef_[0] * mu / sd).sum())
    return TokenProbe(w.astype(np.float64), b, "mean")


def fit_rolling_probe(t: Tokens, y: np.ndarray, window: int, l2: float, seed: int, init: TokenProbe | None = None,
                      epochs: int = 150, lr: float = 0.02) -> TokenProbe:
    """Logistic loss on the max-of-rolling-means logit, trained end to end (full-batch Adam;
    the max passes its gradient to the winning window). Classes are weighted to balance."""
    d = t.x.shape[1]
    rng = np.random.default_rng(seed)
    sd = t.x.std(0).astype(np.float64) + 1e-6
    if init is not None:
        w, b = init.w * sd, init.b  # work in the standardized space for a well-conditioned step
    else:
        w, b = rng.normal(0, 0.01, d), 0.0
    xs = (t.x / sd.astype(np.float32)).astype(np.float32)
    pos = y == 1
    cw = np.where(pos, 0.5 / max(pos.mean(), 1e-9), 0.5 / max((~pos).mean(), 1e-9)) / len(y)
    m_w, v_w, m_b, v_b = np.zeros(d), np.zeros(d), 0.0, 0.0
    b1, b2, eps = 0.9, 0.999, 1e-8
    tt = Tokens(xs, t.conv, t.n_conv)
    for step in range(1, epochs + 1):
        s = xs @ w.astype(np.float32) + np.float32(b)
        z, lo, ln = aggregate_scores(s, tt, "rolling", window)
        z = np.where(np.isfinite(z), z, 0.0)
        p = 1 / (1 + np.exp(-z))
        g = (p - y) * cw  # dLoss/dz per conversation
        # dz/dw = mean of x over the winning window
        gw = np.zeros(d)
        for k in range(window):
            rows = lo + k
            ok = (k < ln) & (ln > 0)
            gw += ((g[ok] / ln[ok])[:, None] * xs[rows[ok]]).sum(0)
        gw += l2 * w
        gb = g.sum()
        m_w = b1 * m_w + (1 - b1) * gw; v_w = b2 * v_w + (1 - b2) * gw * gw
        m_b = b1 * m_b + (1 - b1) * gb; v_b = b2 * v_b + (1 - b2) * gb * gb
        w -= lr * (m_w / (1 - b1 ** step)) / (np.sqrt(v_w / (1 - b2 ** step)) + eps)
        b -= lr * (m_b / (1 - b1 ** step)) / (np.sqrt(v_b / (1 - b2 ** step)) + eps)
    return TokenProbe(w / sd, float(b), "rolling", window)


def platt_fit(probe: TokenProbe, t: Tokens, y: np.ndarray) -> None:
    z = probe.logit(t).reshape(-1, 1)
    cal = LogisticRegression(C=1e4, max_iter=5000).fit(z, y)
    probe.platt_a, probe.platt_c = float(cal.coef_[0, 0]), float(cal.intercept_[0])


def contributions(probe: TokenProbe, x: np.ndarray) -> tuple[np.ndarray, float, int, int]:
    """One conversation's in-scope token rows x [n, D] -> (per-token contribution to the logit,
    the bias share, first index and length of the deciding span). Contributions of tokens outside
    the span are zero; sum(contrib) + bias_share == logit exactly."""
    t = Tokens(x, np.zeros(len(x), np.int64), 1)
    s = x.astype(np.float64) @ probe.w
    logit, lo, ln = aggregate_scores(s + probe.b, t, probe.aggregation, probe.window)
    contrib = np.zeros(len(x))
    lo0, n = int(lo[0]), int(ln[0])
    contrib[lo0:lo0 + n] = s[lo0:lo0 + n] / n
    return contrib, float(probe.b), lo0, n
