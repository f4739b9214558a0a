"""An independent float64 numpy implementation of the Llama forward pass, for parity tests.

Deliberately written differently from `onnx_export`: it keeps the GGUF (llama.cpp) row order
of Q/K and applies RoPE to adjacent pairs (2i, 2i+1), as llama.cpp does, instead of
un-permuting and rotating halves. If both agree, both conventions were implemented right.
It processes one unpadded sequence at a time, so padding logic is not shared either.
"""

from __future__ import annotations

import numpy as np

from .gguf_model import GgufModel


class ReferenceLlama:
    def __init__(self, model: GgufModel, n_blocks: int) -> None:
        self.cfg = model.config
        self.n_blocks = n_blocks
        self.embed = model.tensor("token_embd.weight").astype(np.float64)
        self.blocks = []
        for i in range(n_blocks):
            p = f"blk.{i}."
            self.blocks.append({k: model.tensor(p + k + ".weight").astype(np.float64) for k in (
                "attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down")})

    def _rms(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.cfg.rms_eps) * w.reshape(-1)

    def _rope_pairs(self, x: np.ndarray) -> np.ndarray:
        """x: [T, heads, hd]; rotate each adjacent pair (2i, 2i+1) by angle pos * theta^(-2i/hd)."""
        T, _, hd = x.shape
        theta = self.cfg.rope_theta ** (-np.arange(0, hd, 2) / hd)
        ang = np.arange(T)[:, None] * theta[None, :]  # [T, hd/2]
        c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = a * c - b * s
        out[..., 1::2] = a * s + b * c
        return out

    def hidden_states(self, ids: list[int]) -> list[np.ndarray]:
        """Residual stream after 0..n_blocks blocks for one sequence: list of [T, D]."""
        cfg = self.cfg
        hd, H, KV = cfg.head_dim, cfg.n_heads, cfg.n_kv_heads
        T = len(ids)
        h = self.embed[np.asarray(ids)]
        states = [h.copy()]
        mask = np.triu(np.full((T, T), -np.inf), k=1)
        for w in self.blocks:
            x = self._rms(h, w["attn_norm"])
            q = self._rope_pairs((x @ w["attn_q"].T).reshape(T, H, hd))
            k = self._rope_pairs((x @ w["attn_k"].T).reshape(T, KV, hd))
            v = (x @ w["attn_v"].T).reshape(T, KV, hd)
            ctx = np.empty((T, H, hd))
            for head in range(H):
                kv = head // (H // KV)
                att = q[:, head] @ k[:, kv].T / np.sqrt(hd) + mask
                att = np.exp(att - att.max(axis=-1, keepdims=True))
                att /= att.sum(axis=-1, keepdims=True)
                ctx[:, head] = att @ v[:, kv]
            h = h + ctx.reshape(T, H * hd) @ w["attn_output"].T
            x = self._rms(h, w["ffn_norm"])
            gate = x @ w["ffn_gate"].T
            h = h + ((gate / (1.0 + np.exp(-gate))) * (x @ w["ffn_up"].T)) @ w["ffn_down"].T
            states.append(h.copy())
        return states
