"""Read a Llama- or Gemma-3-architecture GGUF file: config, dequantized weights and tokenizer metadata.

Weights come back as float32 numpy arrays in the [out_features, in_features] orientation,
exactly as stored in the file (so Llama attention Q/K rows keep llama.cpp's RoPE permutation;
see `unpermute_qk`).

Gemma 3 GGUF conventions (llama.cpp's converter, checked on gemma-3-270m-q4_k_m.gguf):
  * RMSNorm weights already include Gemma's "+1" (HF computes x_hat * (1 + w); the file stores
    1 + w): every norm value minus 1 is exactly bf16-representable while 25% of the stored
    values are not, so the shift happened after the bf16 checkpoint. Multiply by them as is.
  * Q/K rows are NOT permuted (llama.cpp runs Gemma with NEOX, i.e. rotate-half, RoPE).
  * No `output.weight`: the LM head is tied to `token_embd.weight`.
  * Not in the metadata, fixed by llama.cpp for the architecture: every 6th layer (il % 6 == 5)
    is global, the others use sliding-window attention with RoPE base 10000; query scaling is
    1/sqrt(key_length) (query_pre_attn_scalar = head_dim, except the 27B model).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class LlamaConfig:
    n_layers: int
    d_model: int
    d_mlp: int
    n_heads: int
    n_kv_heads: int
    vocab_size: int
    rope_theta: float
    rms_eps: float
    context_length: int

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


@dataclass(frozen=True)
class Gemma3Config:
    n_layers: int
    d_model: int
    d_mlp: int
    n_heads: int
    n_kv_heads: int
    head_dim: int  # attention.key_length; n_heads * head_dim need not equal d_model
    vocab_size: int
    rope_theta: float  # global (full-attention) layers
    rope_theta_local: float  # sliding-window layers
    rope_scale_global: float  # linear RoPE scaling factor of the global layers (1 = none)
    rms_eps: float
    context_length: int
    sliding_window: int  # key j is visible to query i on a local layer iff 0 <= i - j < sliding_window
    local_layers: tuple[bool, ...]  # per layer: True = sliding-window attention
    query_pre_attn_scalar: float  # scores are q.k / sqrt(query_pre_attn_scalar)
    final_logit_softcap: float = 0.0  # 0 = none (Gemma 3)

    @property
    def embed_scale(self) -> float:
        return float(np.sqrt(self.d_model))


GEMMA3_SWA_PATTERN = 6  # llama.cpp: hparams.set_swa_pattern(6) for gemma3


@dataclass
class TokenizerMeta:
    model: str
    pre: str
    tokens: list[str]
    token_types: list[int]
    merges: list[str]
    bos_id: int
    eos_id: int
    unk_id: int
    pad_id: int
    chat_template: str
    scores: list[float] = field(default_factory=list)
    add_bos: bool = False
    add_space_prefix: bool = False


@dataclass
class GgufModel:
    path: Path
    sha256: str
    name: str
    config: LlamaConfig | Gemma3Config
    tokenizer: TokenizerMeta
    _reader: object = field(repr=False)

    @property
    def arch(self) -> str:
        return "gemma3" if isinstance(self.config, Gemma3Config) else "llama"

    def has_tensor(self, name: str) -> bool:
        return any(t.name == name for t in self._reader.tensors)  # type: ignore[attr-defined]

    def tensor(self, name: str) -> np.ndarray:
        """Dequantize one tensor to float32, shaped [rows, row_length] like PyTorch weights."""
        from gguf.quants import dequantize

        for t in self._reader.tensors:  # type: ignore[attr-defined]
            if t.name == name:
                arr = dequantize(t.data, t.tensor_type)
                shape = [int(s) for s in reversed(t.shape.tolist())]
                return np.ascontiguousarray(arr.reshape(shape).astype(np.float32))
        raise KeyError(f"tensor {name!r} not in {self.path}")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


_MISSING = object()


def _get(reader: object, key: str, default: object = _MISSING) -> object:
    f = reader.fields.get(key)  # type: ignore[attr-defined]
    if f is None:
        if default is _MISSING:
            raise KeyError(f"GGUF metadata key {key!r} missing")
        return default
    return f.contents()


def _llama_config(reader: object) -> LlamaConfig:
    return LlamaConfig(
        n_layers=int(_get(reader, "llama.block_count")),
        d_model=int(_get(reader, "llama.embedding_length")),
        d_mlp=int(_get(reader, "llama.feed_forward_length")),
        n_heads=int(_get(reader, "llama.attention.head_count")),
        n_kv_heads=int(_get(reader, "llama.attention.head_count_kv")),
        vocab_size=int(_get(reader, "llama.vocab_size")),
        rope_theta=float(_get(reader, "llama.rope.freq_base", 10000.0)),
        rms_eps=float(_get(reader, "llama.attention.layer_norm_rms_epsilon")),
        context_length=int(_get(reader, "llama.context_length")),
    )


def _gemma3_config(reader: object) -> Gemma3Config:
    a = "gemma3."
    n_layers = int(_get(reader, a + "block_count"))
    d_model = int(_get(reader, a + "embedding_length"))
    n_heads = int(_get(reader, a + "attention.head_count"))
    head_dim = int(_get(reader, a + "attention.key_length", d_model // n_heads))
    value_dim = int(_get(reader, a + "attention.value_length", head_dim))
    if value_dim != head_dim:
        raise ValueError(f"gemma3: value_length {value_dim} != key_length {head_dim} is not supported")
    pattern = _get(reader, a + "attention.sliding_window_pattern", GEMMA3_SWA_PATTERN)
    if isinstance(pattern, list):  # newer converters: one bool per layer, True = sliding window
        local = tuple(bool(x) for x in pattern)
    else:
        n = int(pattern)  # type: ignore[arg-type]
        local = tuple(n == 0 or (i % n) < (n - 1) for i in range(n_layers))
    if len(local) != n_layers:
        raise ValueError(f"gemma3: sliding_window_pattern has {len(local)} entries for {n_layers} layers")
    scaling = str(_get(reader, a + "rope.scaling.type", "none"))
    factor = float(_get(reader, a + "rope.scaling.factor", 1.0))  # type: ignore[arg-type]
    if scaling not in ("none", "linear") and factor != 1.0:
        raise ValueError(f"gemma3: RoPE scaling {scaling!r} not supported")
    # llama.cpp's rule (no metadata key): 27B (62 layers, d_model 5376) scales by d_model / n_heads.
    qpas = float(d_model // n_heads) if n_layers == 62 else float(head_dim)
    tokens = _get(reader, "tokenizer.ggml.tokens")
    return Gemma3Config(
        n_layers=n_layers,
        d_model=d_model,
        d_mlp=int(_get(reader, a + "feed_forward_length")),
        n_heads=n_heads,
        n_kv_heads=int(_get(reader, a + "attention.head_count_kv", n_heads)),
        head_dim=head_dim,
        vocab_size=int(_get(reader, a + "vocab_size", len(tokens))),  # type: ignore[arg-type]
        rope_theta=float(_get(reader, a + "rope.freq_base", 1_000_000.0)),  # type: ignore[arg-type]
        rope_theta_local=float(_get(reader, a + "rope.freq_base_swa", 10_000.0)),  # type: ignore[arg-type]
        rope_scale_global=factor if scaling == "linear" else 1.0,
        rms_eps=float(_get(reader, a + "attention.layer_norm_rms_epsilon", 1e-6)),  # type: ignore[arg-type]
        context_length=int(_get(reader, a + "context_length", 32768)),  # type: ignore[arg-type]
        sliding_window=int(_get(reader, a + "attention.sliding_window")),  # type: ignore[arg-type]
        local_layers=local,
        query_pre_attn_scalar=qpas,
        final_logit_softcap=float(_get(reader, a + "final_logit_softcapping", 0.0)),  # type: ignore[arg-type]
    )


def load_gguf(path: str | Path) -> GgufModel:
    from gguf import GGUFReader

    path = Path(path)
    reader = GGUFReader(str(path))
    arch = _get(reader, "general.architecture")
    cfg: LlamaConfig | Gemma3Config
    if arch == "llama":
        cfg = _llama_config(reader)
    elif arch == "gemma3":
        cfg = _gemma3_config(reader)
    else:
        raise ValueError(f"{path}: architecture {arch!r} is not supported (only 'llama' and 'gemma3')")
    tok = TokenizerMeta(
        model=str(_get(reader, "tokenizer.ggml.model")),
        pre=str(_get(reader, "tokenizer.ggml.pre", "default")),
        tokens=list(_get(reader, "tokenizer.ggml.tokens")),  # type: ignore[arg-type]
        token_types=[int(x) for x in _get(reader, "tokenizer.ggml.token_type")],  # type: ignore[union-attr]
        merges=list(_get(reader, "tokenizer.ggml.merges", [])),  # type: ignore[arg-type]
        bos_id=int(_get(reader, "tokenizer.ggml.bos_token_id")),
        eos_id=int(_get(reader, "tokenizer.ggml.eos_token_id")),
        unk_id=int(_get(reader, "tokenizer.ggml.unknown_token_id", 0)),
        pad_id=int(_get(reader, "tokenizer.ggml.padding_token_id", 0)),
        chat_template=str(_get(reader, "tokenizer.chat_template", "")),
        scores=[float(x) for x in _get(reader, "tokenizer.ggml.scores", [])],  # type: ignore[union-attr]
        add_bos=bool(_get(reader, "tokenizer.ggml.add_bos_token", False)),
        # llama.cpp's default for SentencePiece ("llama") vocabularies without the key is True.
        add_space_prefix=bool(_get(reader, "tokenizer.ggml.add_space_prefix", _get(reader, "tokenizer.ggml.model") == "llama")),
    )
    return GgufModel(
        path=path,
        sha256=sha256_file(path),
        name=str(_get(reader, "general.name", path.stem)),
        config=cfg,
        tokenizer=tok,
        _reader=reader,
    )


def unpermute_qk(w: np.ndarray, n_heads: int) -> np.ndarray:
    """Undo llama.cpp's converter permutation of Q/K rows.

    llama.cpp stores each head's rows so that RoPE rotates adjacent pairs (2i, 2i+1);
    the original (Hugging Face) layout rotates halves (i, i + head_dim/2). Rows
    (head, half, i) in HF order were written at (head, i, half).
    """
    out_f, in_f = w.shape
    hd = out_f // n_heads
    return w.reshape(n_heads, hd // 2, 2, in_f).swapaxes(1, 2).reshape(out_f, in_f).copy()
