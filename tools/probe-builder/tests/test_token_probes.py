"""Per-token probes: aggregation semantics, exact per-token contributions, and the end-to-end
rolling trainer on a synthetic short-signal-in-long-sequence task."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from probe_builder.token_probes import TokenProbe, Tokens, aggregate_scores, contributions, fit_mean_probe, fit_rolling_probe


def _brute(s: np.ndarray, lengths: list[int], agg: str, window: int) -> list[float]:
    out, i = [], 0
    for n in lengths:
        seg = s[i:i + n]
        i += n
        if n == 0:
            out.append(-np.inf)
        elif agg == "mean":
            out.append(seg.mean())
        elif agg == "max":
            out.append(seg.max())
        else:
            w = min(window, n)
            out.append(max(seg[k:k + w].mean() for k in range(n - w + 1)))
    return out


@pytest.mark.parametrize("agg,window", [("mean", 1), ("max", 1), ("rolling", 4), ("rolling", 16)])
def test_aggregation_matches_brute_force(agg: str, window: int) -> None:
    rng = np.random.default_rng(0)
    lengths = [5, 0, 1, 30, 3, 17, 0, 4]
    s = rng.normal(size=sum(lengths))
    conv = np.repeat(np.arange(len(lengths)), lengths)
    t = Tokens(np.zeros((len(s), 1), np.float32), conv, len(lengths))
    got, lo, ln = aggregate_scores(s, t, agg, window)
    np.testing.assert_allclose(got, _brute(s, lengths, agg, window), rtol=1e-9)
    # the reported span reproduces the value
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    for c, n in enumerate(lengths):
        if n and agg != "mean":
            assert starts[c] <= lo[c] and lo[c] + ln[c] <= starts[c] + n
            assert s[lo[c]:lo[c] + ln[c]].mean() == pytest.approx(got[c])


@pytest.mark.parametrize("agg,window", [("mean", 1), ("rolling", 8), ("max", 1)])
def test_contributions_sum_to_the_logit(agg: str, window: int) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(23, 6)).astype(np.float32)
    p = TokenProbe(rng.normal(size=6), 0.37, agg, window)
    contrib, bias, lo, n = contributions(p, x)
    logit = p.logit(Tokens(x, np.zeros(23, np.int64), 1))[0]
    assert contrib.sum() + bias == pytest.approx(logit, rel=1e-5)
    assert np.count_nonzero(contrib) <= n and lo + n <= 23
    assert n == {"mean": 23, "rolling": 8, "max": 1}[agg]


def test_rolling_training_finds_a_short_signal_that_mean_pooling_dilutes() -> None:
    """Positives carry a 6-token burst along a direction somewhere in 150-400 noise tokens;
    negatives carry the same number of tokens with a weaker, spread-out shift along it."""
    rng = np.random.default_rng(2)
    d = 16
    direction = np.zeros(d); direction[3] = 1.0
    xs, conv, y = [], [], []
    for c in range(240):
        n = int(rng.integers(150, 400))
        x = rng.normal(size=(n, d))
        label = c % 2
        if label:
            k = int(rng.integers(0, n - 6))
            x[k:k + 6] += 2.5 * direction
        else:
            x += (2.5 * 6 / n) * direction * 1.2  # the same total mass, spread thin
        xs.append(x); conv += [c] * n; y.append(label)
    t = Tokens(np.concatenate(xs).astype(np.float32), np.array(conv), 240)
    y = np.array(y)
    tr, te = np.arange(240) < 160, np.arange(240) >= 160
    t_tr, t_te = t.subset(np.flatnonzero(tr)), t.subset(np.flatnonzero(te))
    mean_p = fit_mean_probe(t_tr, y[tr], 1.0, 0)
    roll_p = fit_rolling_probe(t_tr, y[tr], window=6, l2=1e-3, seed=0, init=mean_p, epochs=200, lr=0.05)
    auc_mean = roc_auc_score(y[te], mean_p.logit(t_te))
    auc_roll = roc_auc_score(y[te], roll_p.logit(t_te))
    assert auc_roll > 0.95 and auc_roll > auc_mean + 0.2, (auc_mean, auc_roll)
