"""Per-conversation aggregation of token activations over a concept's scope (pure numpy)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .chat import ROLE_CODE

CONCEPT_ROLES = {
    "deception": ("assistant",),
    "sycophancy": ("assistant",),
    "harmful_intent": ("user",),
    "prompt_injection": ("user", "tool"),
}


def scope_mask(roles: np.ndarray, norms: np.ndarray, concept: str, outlier_norm: float) -> np.ndarray:
    codes = [ROLE_CODE[r] for r in CONCEPT_ROLES[concept]]
    return np.isin(roles, codes) & (norms <= outlier_norm)


def aggregate(x: np.ndarray, conv: np.ndarray, n_conv: int, transform: Callable[[np.ndarray], np.ndarray],
              want_max: bool = True, chunk_tokens: int = 16384) -> tuple[np.ndarray | None, np.ndarray]:
    """Max and mean of transform(x rows) per conversation. Rows need not be sorted.
    Conversations without rows get zeros (the runtime's empty-scope convention)."""
    order = np.argsort(conv, kind="stable")
    conv_s = conv[order]
    starts = np.flatnonzero(np.r_[True, conv_s[1:] != conv_s[:-1]])
    mx = mean = None
    i = 0
    while i < len(starts):
        j = i
        while j < len(starts) and starts[j] - starts[i] < chunk_tokens:
            j += 1
        j = max(j, i + 1)
        lo, hi = starts[i], (starts[j] if j < len(starts) else len(conv_s))
        vals = transform(x[order[lo:hi]].astype(np.float32))
        if mean is None:
            width = vals.shape[1]
            mx = np.zeros((n_conv, width), np.float32) if want_max else None
            mean = np.zeros((n_conv, width), np.float64)
        seg = starts[i:j] - lo
        ids = conv_s[starts[i:j]]
        counts = np.diff(np.r_[seg, hi - lo])
        if want_max:
            mx[ids] = np.maximum.reduceat(vals, seg, axis=0)
        mean[ids] = np.add.reduceat(vals.astype(np.float64), seg, axis=0) / counts[:, None]
        i = j
    if mean is None:
        raise ValueError("no rows to aggregate")
    return mx, mean
