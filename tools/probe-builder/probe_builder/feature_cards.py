"""SAE features that explain a probe's decisions, and labels a safety analyst can read.

A feature f adds activation_f x alignment_f to a token's probe score, where
alignment_f = input_scale * (decoder_f . w) (the reconstruction is input_scale * (z @ W_dec + b_dec)).
Per concept the features are ranked by how much more they add on positives than on negatives,
over each conversation's deciding span (see token_probes.aggregate_scores).

Labels come from top-activating *contexts* (a window of tokens around the peak, peak marked),
the words that distinguish those contexts from the data at large, the sub-type where the
feature fires most, and its firing rates on positives, hard negatives and controls.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from .sae import SaeParams, encode

WORD = re.compile(r"[A-Za-z][A-Za-z'-]{2,}")
STOP = set("""the and for you your with this that are was have has not but can will from what how they them their
there here about into out our all any its it's i'm don't can't would could should been were when which who why
just also then than more some such only very much may might must one two please thanks thank hello okay""".split())


def span_means(p: SaeParams, x_raw: np.ndarray, conv: np.ndarray, n_conv: int, in_span: np.ndarray, chunk: int = 8192,
               scale: float = 1.0) -> np.ndarray:
    """Mean activation of every SAE feature over each conversation's deciding-span tokens.
    x_raw rows (times `scale`: the raw residual) are sorted by conversation; in_span marks the span tokens."""
    idx = np.flatnonzero(in_span)
    sums = np.zeros((n_conv, p.d_sae), np.float32)
    for i in range(0, len(idx), chunk):
        rows = idx[i:i + chunk]
        z = encode(p, x_raw[rows].astype(np.float32) * np.float32(scale))
        np.add.at(sums, conv[rows], z) if len(rows) < 64 else _add_grouped(sums, z, conv[rows])
    counts = np.bincount(conv[idx], minlength=n_conv).astype(np.float32)
    return sums / np.maximum(counts, 1)[:, None]


def _add_grouped(out: np.ndarray, z: np.ndarray, conv: np.ndarray) -> None:
    starts = np.flatnonzero(np.r_[True, conv[1:] != conv[:-1]])
    out[conv[starts]] += np.add.reduceat(z, starts, axis=0)


def rank_features(p: SaeParams, w_raw: np.ndarray, means: np.ndarray, y: np.ndarray, k: int) -> list[dict]:
    """The k features whose contribution (mean span activation x alignment) is larger on
    positives than on negatives by the most."""
    align = p.scale * (p.W_dec @ w_raw)
    contrib = means * align[None, :]
    gap = contrib[y == 1].mean(0) - contrib[y == 0].mean(0)
    order = [int(f) for f in np.argsort(-gap) if gap[f] > 0 and align[f] > 0][:k]
    return [{"feature": f, "alignment": round(float(align[f]), 6), "contribution_gap": round(float(gap[f]), 6),
             "mean_contribution_positive": round(float(contrib[y == 1, f].mean()), 6)} for f in order]


def top_contexts(p: SaeParams, feats: list[int], x_raw: np.ndarray, conv: np.ndarray, pos: np.ndarray,
                 token_text, n: int = 5, before: int = 10, after: int = 4, chunk: int = 16384) -> dict[int, list[dict]]:
    """Per feature, the n strongest activations in distinct conversations, each with a window of
    tokens around the peak. token_text(conv, pos_from, pos_to, peak) renders the window."""
    sub = p.select(np.array(feats))
    best: dict[int, list[tuple[float, int]]] = {f: [] for f in feats}
    for i in range(0, len(x_raw), chunk):
        z = encode(sub, x_raw[i:i + chunk].astype(np.float32))
        for j, f in enumerate(feats):
            col = z[:, j]
            top = np.argpartition(-col, min(200, len(col) - 1))[:200]
            best[f] += [(float(col[t]), i + int(t)) for t in top if col[t] > 0]
    out: dict[int, list[dict]] = {}
    for f in feats:
        seen, rows = set(), []
        for act, r in sorted(best[f], reverse=True):
            c = int(conv[r])
            if c in seen:
                continue
            seen.add(c)
            rows.append({"conversation": c, "activation": round(act, 3),
                         "context": token_text(c, int(pos[r]) - before, int(pos[r]) + after + 1, int(pos[r]))})
            if len(rows) == n:
                break
        out[f] = rows
    return out


def distinctive_words(contexts: list[str], background: Counter, n: int = 4) -> list[str]:
    words = Counter(w.lower() for c in contexts for w in WORD.findall(c.replace("«", " ").replace("»", " ")))
    total_bg = sum(background.values()) or 1
    scored = {w: cnt * np.log((cnt / max(len(contexts), 1)) / ((background.get(w, 0) + 1) / total_bg) + 1)
              for w, cnt in words.items() if w not in STOP and cnt >= 2}
    return [w for w, _ in sorted(scored.items(), key=lambda kv: -kv[1])[:n]]


def label(concept: str, subtype: str | None, words: list[str], rates: dict) -> str:
    where = f"{concept}" + (f" ({subtype.replace('_', ' ')})" if subtype else "")
    ctx = "contexts around " + ", ".join(f"'{w}'" for w in words) if words else "no word recurs in its top contexts"
    return (f"{where}: {ctx}; active in {rates['positives']:.0%} of positives, "
            f"{rates['hard_negatives']:.0%} of hard negatives, {rates['controls']:.0%} of controls")
