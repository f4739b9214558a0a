"""BatchTopK sparse autoencoder in numpy (pure numerics; no I/O).

Architecture choice: BatchTopK (Bussmann, Leask & Nanda, 2024, arXiv:2412.06410). Training keeps
the k*B largest activations across a batch of B tokens (TopK's direct control of sparsity and
no L1 shrinkage, per Gao et al. 2024, arXiv:2406.04093). Inference uses one global threshold
theta instead of a per-token top-k, so each feature is computed independently:
    f_i(x) = pre_i * [pre_i > theta],  pre = (x/scale - b_dec) @ W_enc + b_enc
which is what lets a probe pack ship only its selected encoder columns. The dead-latent
auxiliary loss (AuxK, Gao et al.) revives latents that stop firing.

Gradients are written out by hand; `tests/test_sae.py` checks them by finite differences.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np


@dataclass
class SaeParams:
    W_enc: np.ndarray  # [d, m]
    b_enc: np.ndarray  # [m]
    W_dec: np.ndarray  # [m, d], unit-norm rows
    b_dec: np.ndarray  # [d]
    scale: float  # input scale: x_normalized = x / scale
    theta: float | np.ndarray = 0.0  # inference threshold: global (BatchTopK) or per feature (JumpReLU imports)
    k: int = 32

    @property
    def d_sae(self) -> int:
        return self.W_enc.shape[1]

    def thresholds(self) -> np.ndarray:
        return np.broadcast_to(np.asarray(self.theta, dtype=np.float32), (self.d_sae,)).copy()

    def select(self, cols: np.ndarray) -> "SaeParams":
        """The same SAE restricted to some features (valid because inference is per feature)."""
        cols = np.asarray(cols)
        return SaeParams(self.W_enc[:, cols], self.b_enc[cols], self.W_dec[cols], self.b_dec, self.scale, self.thresholds()[cols], self.k)


@dataclass
class TrainConfig:
    d_sae: int = 4096
    k: int = 32
    batch: int = 4096
    steps: int = 1500
    lr: float = 4e-4
    aux_k: int = 256
    aux_coef: float = 1 / 32
    dead_after_tokens: int = 2_000_000
    seed: int = 0
    log_every: int = 50
    history: list = field(default_factory=list)


def init_params(x_sample: np.ndarray, d_sae: int, k: int, rng: np.random.Generator) -> SaeParams:
    d = x_sample.shape[1]
    scale = float(np.mean(np.linalg.norm(x_sample, axis=1)) / np.sqrt(d))
    W_dec = rng.standard_normal((d_sae, d)).astype(np.float32)
    W_dec /= np.linalg.norm(W_dec, axis=1, keepdims=True)
    b_dec = (x_sample / scale).mean(axis=0).astype(np.float32)
    return SaeParams(W_dec.T.copy(), np.zeros(d_sae, np.float32), W_dec, b_dec, scale, 0.0, k)


def batch_topk_mask(acts: np.ndarray, n_keep: int) -> np.ndarray:
    flat = acts.reshape(-1)
    if n_keep >= flat.size:
        return acts > 0
    cut = np.partition(flat, flat.size - n_keep)[flat.size - n_keep]
    return (acts >= cut) & (acts > 0)


def forward_train(p: SaeParams, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x normalized [B,d] -> (pre, mask, z, x_hat)."""
    pre = (x - p.b_dec) @ p.W_enc + p.b_enc
    mask = batch_topk_mask(np.maximum(pre, 0), p.k * x.shape[0])
    z = np.where(mask, pre, 0).astype(pre.dtype)
    return pre, mask, z, z @ p.W_dec + p.b_dec


def encode(p: SaeParams, x_raw: np.ndarray) -> np.ndarray:
    """Inference encoding with the global threshold (what the Node runtime computes)."""
    pre = (x_raw / p.scale - p.b_dec) @ p.W_enc + p.b_enc
    return np.where(pre > p.theta, pre, 0).astype(np.float32)


def decode(p: SaeParams, z: np.ndarray) -> np.ndarray:
    return (z @ p.W_dec + p.b_dec) * p.scale


def loss_and_grads(p: SaeParams, x: np.ndarray, dead: np.ndarray | None, cfg: TrainConfig):
    B = x.shape[0]
    pre, mask, z, x_hat = forward_train(p, x)
    err = x_hat - x
    mse = float((err**2).sum() / B)
    d_xhat = 2 * err / B
    g_Wdec = z.T @ d_xhat
    g_bdec = d_xhat.sum(0)
    d_pre = (d_xhat @ p.W_dec.T) * mask
    aux = 0.0
    if dead is not None and dead.any() and cfg.aux_coef > 0:
        # AuxK: the top-k_aux dead latents reconstruct the main model's residual error.
        resid = x - x_hat
        dead_pre = np.where(dead[None, :], np.maximum(pre, 0), 0)
        kk = min(cfg.aux_k, int(dead.sum()))
        amask = batch_topk_mask(dead_pre, kk * B)
        za = np.where(amask, pre, 0).astype(pre.dtype)
        e_hat = za @ p.W_dec
        aerr = e_hat - resid
        aux = float((aerr**2).sum() / B) / max(float((resid**2).sum() / B), 1e-9)
        d_ehat = cfg.aux_coef * 2 * aerr / B / max(float((resid**2).sum() / B), 1e-9)
        g_Wdec += za.T @ d_ehat
        d_pre += (d_ehat @ p.W_dec.T) * amask
    xc = x - p.b_dec
    g_Wenc = xc.T @ d_pre
    g_benc = d_pre.sum(0)
    g_bdec = g_bdec - (d_pre @ p.W_enc.T).sum(0)
    grads = {"W_enc": g_Wenc, "b_enc": g_benc, "W_dec": g_Wdec, "b_dec": g_bdec}
    min_active = float(pre[mask].min()) if mask.any() else 0.0
    return mse, aux, grads, mask, min_active


class Adam:
    def __init__(self, params: SaeParams, lr: float, betas=(0.9, 0.999), eps=1e-8) -> None:
        self.lr, self.b1, self.b2, self.eps, self.t = lr, betas[0], betas[1], eps, 0
        self.m = {k: np.zeros_like(getattr(params, k)) for k in ("W_enc", "b_enc", "W_dec", "b_dec")}
        self.v = {k: np.zeros_like(getattr(params, k)) for k in ("W_enc", "b_enc", "W_dec", "b_dec")}

    def step(self, p: SaeParams, grads: dict[str, np.ndarray], lr: float) -> None:
        self.t += 1
        for k, g in grads.items():
            self.m[k] = self.b1 * self.m[k] + (1 - self.b1) * g
            self.v[k] = self.b2 * self.v[k] + (1 - self.b2) * g * g
            mh = self.m[k] / (1 - self.b1**self.t)
            vh = self.v[k] / (1 - self.b2**self.t)
            old = getattr(p, k)
            setattr(p, k, (old - lr * mh / (np.sqrt(vh) + self.eps)).astype(old.dtype))


def train(x_train: np.ndarray, cfg: TrainConfig) -> SaeParams:
    """x_train: raw activations [N, d] (float16/32). Deterministic given cfg.seed and the data."""
    rng = np.random.default_rng(cfg.seed)
    sample = x_train[rng.choice(len(x_train), min(len(x_train), 20000), replace=False)].astype(np.float32)
    p = init_params(sample, cfg.d_sae, cfg.k, rng)
    opt = Adam(p, cfg.lr)
    last_fired = np.zeros(cfg.d_sae, dtype=np.int64)
    seen = 0
    thetas: list[float] = []
    t0 = time.time()
    order = rng.permutation(len(x_train))
    cursor = 0
    for step in range(cfg.steps):
        if cursor + cfg.batch > len(order):
            order, cursor = rng.permutation(len(x_train)), 0
        idx = np.sort(order[cursor: cursor + cfg.batch])
        cursor += cfg.batch
        x = x_train[idx].astype(np.float32) / p.scale
        dead = (seen - last_fired) > cfg.dead_after_tokens if seen > cfg.dead_after_tokens else None
        mse, aux, grads, mask, min_active = loss_and_grads(p, x, dead, cfg)
        # Keep decoder rows unit-norm: drop the gradient component along each row, step, renormalize.
        g = grads["W_dec"]
        grads["W_dec"] = g - (g * p.W_dec).sum(1, keepdims=True) * p.W_dec
        lr = cfg.lr * min(1.0, (cfg.steps - step) / (0.2 * cfg.steps))  # linear decay over the last 20%
        opt.step(p, grads, lr)
        p.W_dec /= np.linalg.norm(p.W_dec, axis=1, keepdims=True)
        seen += cfg.batch
        last_fired[mask.any(0)] = seen
        thetas.append(min_active)
        if step % cfg.log_every == 0 or step == cfg.steps - 1:
            var = float(((x - x.mean(0)) ** 2).sum() / len(x))
            rec = {"step": step, "mse": mse, "fve": 1 - mse / var, "aux": aux, "dead": int(((seen - last_fired) > cfg.dead_after_tokens).sum()),
                   "theta": float(np.mean(thetas[-100:])), "s": round(time.time() - t0, 1)}
            cfg.history.append(rec)
            print(f"PROGRESS {step + 1} {cfg.steps} sae fve={rec['fve']:.3f} dead={rec['dead']} theta={rec['theta']:.3f}", file=sys.stderr, flush=True)
    # Inference threshold: average over the second half of training of the smallest kept activation.
    p.theta = float(np.mean(thetas[len(thetas) // 2:]))
    return p


def evaluate(p: SaeParams, x_raw: np.ndarray, batch: int = 8192) -> dict:
    """Held-out quality with the inference (threshold) encoder."""
    sse = tot = 0.0
    l0 = 0
    fired = np.zeros(p.d_sae, dtype=bool)
    mean = x_raw.astype(np.float64).mean(0) / p.scale
    for i in range(0, len(x_raw), batch):
        x = x_raw[i: i + batch].astype(np.float32)
        z = encode(p, x)
        xn = x / p.scale
        x_hat = z @ p.W_dec + p.b_dec
        sse += float(((x_hat - xn) ** 2).sum())
        tot += float(((xn - mean) ** 2).sum())
        l0 += int((z > 0).sum())
        fired |= (z > 0).any(0)
    return {"fraction_variance_explained": 1 - sse / tot, "mean_l0": l0 / len(x_raw),
            "dead_fraction": float(1 - fired.mean()), "tokens": int(len(x_raw))}
