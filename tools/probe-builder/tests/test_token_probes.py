"""Per-token probes: aggregation semantics, exact per-token contributions, and the end-to-end
rolling trainer on a synthetic short-signal-in-long-sequence task."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from probe_builder.token_probes import (TokenProbe, Tokens, aggregate_scores, contributions, fit_mean_probe, fit_mined_probe, fit_rolling_probe,
                                       length_slope)


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


def test_mined_windows_teach_what_wins_the_max_in_a_long_benign_conversation() -> None:
    """Short positives carry the signal direction and a surface direction together; long benign
    conversations carry a burst of the surface direction alone somewhere in 500 tokens; long
    positives carry the signal (with the surface) in a marked passage. Trained on scope means,
    the probe leans on the surface, and a long benign conversation's burst can win its max; with the
    mined windows the benign bursts are negatives and the probe reads the signal."""
    rng = np.random.default_rng(5)
    d, window = 16, 8
    sig_dir = np.zeros(d); sig_dir[2] = 1.0
    surf = np.zeros(d); surf[7] = 1.0
    xs, conv, sig, y = [], [], [], []
    for c in range(480):
        kind = c % 4  # 0 short positive, 1 short negative, 2 long positive, 3 long negative
        n = int(rng.integers(12, 24)) if kind < 2 else 500
        x = rng.normal(size=(n, d))
        s = np.zeros(n, bool)
        if kind == 0:
            x += 1.4 * sig_dir + 1.5 * surf
        elif kind == 2:
            k = int(rng.integers(0, n - window))
            x[k:k + window] += 1.4 * sig_dir + 1.5 * surf
            s[k:k + window] = True
        elif kind == 3:
            k = int(rng.integers(0, n - window))
            x[k:k + window] += 2.0 * surf
        xs.append(x); conv += [c] * n; sig.append(s); y.append(int(kind in (0, 2)))
    t = Tokens(np.concatenate(xs).astype(np.float32), np.array(conv), 480)
    sig_tok, y = np.concatenate(sig), np.array(y)
    tr = np.arange(320)
    te = np.arange(320, 480)
    means = t.means()
    means[2::4] = [t.x[(t.conv == c) & sig_tok].mean(0) for c in range(2, 480, 4)]  # long positives: the passage
    mean_p = fit_mean_probe(t.subset(tr), y[tr], 1.0, 0)
    mean_p.aggregation, mean_p.window = "rolling", window
    mined_p = fit_mined_probe(t, means, tr, y[tr], sig_tok, window, 1.0, 0)
    mined_p.aggregation, mined_p.window = "rolling", window
    long_te = te[te % 4 >= 2]
    auc_mean = roc_auc_score(y[long_te], mean_p.logit(t)[long_te])
    auc_mined = roc_auc_score(y[long_te], mined_p.logit(t)[long_te])
    assert auc_mined > 0.95 and auc_mined > auc_mean + 0.1, (auc_mean, auc_mined)
    # the mined probe leans on the signal direction far more than on the surface; the mean-trained one less so
    assert mined_p.w[2] / abs(mined_p.w[7]) > 1.5 * mean_p.w[2] / abs(mean_p.w[7]), (mined_p.w[[2, 7]], mean_p.w[[2, 7]])


def test_length_slope_measures_how_the_benign_max_grows_with_length() -> None:
    # Benign conversations of 8 to 4096 noise tokens: the max of 64-token rolling means grows with
    # the number of windows; the slope is positive, and removing it flattens the trend.
    rng = np.random.default_rng(3)
    lengths = rng.choice([8, 64, 256, 1024, 4096], 300)
    conv = np.repeat(np.arange(len(lengths)), lengths)
    s = rng.normal(0, 1, len(conv))
    t = Tokens(np.zeros((len(conv), 1), np.float32), conv, len(lengths))
    logit = aggregate_scores(s, t, "rolling", 64)[0]
    n = t.counts
    slope = length_slope(logit, n, np.arange(len(lengths)))
    assert slope > 0.02
    adj = logit - slope * np.log1p(n)
    short, long_ = adj[lengths <= 64], adj[lengths == 4096]
    assert abs(short.mean() - long_.mean()) < abs(logit[lengths <= 64].mean() - logit[lengths == 4096].mean()) / 3
    # conversations with nothing in scope (logit -inf) are ignored; one usable point gives no slope
    assert length_slope(np.array([-np.inf, 1.0]), np.array([0, 5]), np.array([0, 1])) == 0.0


def test_calibration_with_a_length_term_and_an_empty_scope() -> None:
    p = TokenProbe(np.ones(1), 0.0, "mean", platt_a=2.0, platt_c=-1.0, platt_length=-0.5)
    got = p.calibrate(np.array([1.0, -np.inf]), np.array([3, 0]))
    assert got[0] == pytest.approx(1 / (1 + np.exp(-(2.0 - 1.0 - 0.5 * np.log(4)))))
    assert got[1] == 0.0
    t = Tokens(np.array([[0.5], [1.5], [2.0]], np.float32), np.array([0, 0, 1]), 2)
    np.testing.assert_allclose(p.score(t), p.calibrate(np.array([1.0, 2.0]), np.array([2, 1])))
