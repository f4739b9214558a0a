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


class ReferenceGemma3:
    """Float64 Gemma 3 forward pass for one unpadded sequence (parity reference).

    Written independently of `onnx_export.build_gemma3_graph`: RoPE multiplies complex numbers
    (first half of a head = real part, second half = imaginary part) instead of cos/sin tables
    with rotate-half; the attention mask is built per layer from explicit (i, j) conditions;
    heads are handled one at a time; GELU(tanh) is written as x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)).
    Steps that are Gemma-specific can be switched off (`embed_scale`, `local_rope_base`, ...) by
    tests, to show that the parity test would catch each mistake.
    """

    def __init__(self, model: GgufModel, n_blocks: int) -> None:
        from .gguf_model import Gemma3Config

        if not isinstance(model.config, Gemma3Config):
            raise ValueError("ReferenceGemma3 needs a gemma3 GGUF")
        self.cfg = model.config
        self.n_blocks = n_blocks
        self.embed = model.tensor("token_embd.weight")  # float32 table; rows become float64 on lookup
        self.embed_scale = np.sqrt(float(self.cfg.d_model))
        self.local_rope_base = self.cfg.rope_theta_local
        self.global_rope_base = self.cfg.rope_theta
        self.sliding_window: int | None = self.cfg.sliding_window
        self.blocks = []
        for i in range(n_blocks):
            p = f"blk.{i}."
            self.blocks.append({k: model.tensor(p + k + ".weight").astype(np.float64) for k in (
                "attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "attn_q_norm", "attn_k_norm",
                "post_attention_norm", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down", "post_ffw_norm")})

    def _rms(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        return x * (1.0 / np.sqrt((x ** 2).mean(axis=-1, keepdims=True) + self.cfg.rms_eps)) * w.reshape(-1)

    @staticmethod
    def _rope_complex(x: np.ndarray, base: float, pos_scale: float) -> np.ndarray:
        """x: [T, heads, hd]; pairs (m, m + hd/2) form the complex number x_m + i x_{m+hd/2}."""
        T, _, hd = x.shape
        half = hd // 2
        z = x[..., :half] + 1j * x[..., half:]
        freq = base ** (-2.0 * np.arange(half) / hd)
        rot = np.exp(1j * (np.arange(T) / pos_scale)[:, None] * freq[None, :])[:, None, :]
        z = z * rot
        return np.concatenate([z.real, z.imag], axis=-1)

    def hidden_states(self, ids: list[int]) -> list[np.ndarray]:
        cfg = self.cfg
        hd, H, KV = cfg.head_dim, cfg.n_heads, cfg.n_kv_heads
        T = len(ids)
        h = self.embed[np.asarray(ids)].astype(np.float64) * self.embed_scale
        states = [h.copy()]
        i_idx, j_idx = np.meshgrid(np.arange(T), np.arange(T), indexing="ij")
        for layer, w in enumerate(self.blocks):
            local = cfg.local_layers[layer]
            allowed = j_idx <= i_idx
            if local and self.sliding_window is not None:
                allowed &= (i_idx - j_idx) < self.sliding_window
            base, pos_scale = (self.local_rope_base, 1.0) if local else (self.global_rope_base, cfg.rope_scale_global)
            x = self._rms(h, w["attn_norm"])
            q = self._rms((x @ w["attn_q"].T).reshape(T, H, hd), w["attn_q_norm"])
            k = self._rms((x @ w["attn_k"].T).reshape(T, KV, hd), w["attn_k_norm"])
            v = (x @ w["attn_v"].T).reshape(T, KV, hd)
            q = self._rope_complex(q, base, pos_scale)
            k = self._rope_complex(k, base, pos_scale)
            heads = []
            for head in range(H):
                kv = head * KV // H
                s = (q[:, head] @ k[:, kv].T) / np.sqrt(cfg.query_pre_attn_scalar)
                s = np.where(allowed, s, -np.inf)
                p = np.exp(s - s.max(axis=-1, keepdims=True))
                heads.append((p / p.sum(axis=-1, keepdims=True)) @ v[:, kv])
            attn = np.concatenate(heads, axis=-1) @ w["attn_output"].T
            h = h + self._rms(attn, w["post_attention_norm"])
            x = self._rms(h, w["ffn_norm"])
            gate = x @ w["ffn_gate"].T
            z = 2.0 * np.sqrt(2.0 / np.pi) * (gate + 0.044715 * gate ** 3)
            act = gate * np.exp(-np.logaddexp(0.0, -z))  # gate * sigmoid(z), overflow-free
            h = h + self._rms((act * (x @ w["ffn_up"].T)) @ w["ffn_down"].T, w["post_ffw_norm"])
            states.append(h.copy())
        return states


def make_reference(model: GgufModel, n_blocks: int) -> "ReferenceLlama | ReferenceGemma3":
    """The reference implementation matching the GGUF's architecture."""
    return ReferenceGemma3(model, n_blocks) if model.arch == "gemma3" else ReferenceLlama(model, n_blocks)
