"""Read a Llama-architecture GGUF file: config, dequantized weights and tokenizer metadata.

Weights come back as float32 numpy arrays in the [out_features, in_features] orientation,
exactly as stored in the file (so attention Q/K rows keep llama.cpp's RoPE permutation;
see `unpermute_qk`).
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


@dataclass
class GgufModel:
    path: Path
    sha256: str
    name: str
    config: LlamaConfig
    tokenizer: TokenizerMeta
    _reader: object = field(repr=False)

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


def _field(reader: object, key: str, default: object = None) -> object:
    f = reader.fields.get(key)  # type: ignore[attr-defined]
    if f is None:
        if default is None:
            raise KeyError(f"GGUF metadata key {key!r} missing")
        return default
    return f.contents()


def load_gguf(path: str | Path) -> GgufModel:
    from gguf import GGUFReader

    path = Path(path)
    reader = GGUFReader(str(path))
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise ValueError(f"{path}: architecture {arch!r} is not supported (only 'llama')")
    cfg = LlamaConfig(
        n_layers=int(_field(reader, "llama.block_count")),
        d_model=int(_field(reader, "llama.embedding_length")),
        d_mlp=int(_field(reader, "llama.feed_forward_length")),
        n_heads=int(_field(reader, "llama.attention.head_count")),
        n_kv_heads=int(_field(reader, "llama.attention.head_count_kv")),
        vocab_size=int(_field(reader, "llama.vocab_size")),
        rope_theta=float(_field(reader, "llama.rope.freq_base", 10000.0)),
        rms_eps=float(_field(reader, "llama.attention.layer_norm_rms_epsilon")),
        context_length=int(_field(reader, "llama.context_length")),
    )
    tok = TokenizerMeta(
        model=str(_field(reader, "tokenizer.ggml.model")),
        pre=str(_field(reader, "tokenizer.ggml.pre", "default")),
        tokens=list(_field(reader, "tokenizer.ggml.tokens")),  # type: ignore[arg-type]
        token_types=[int(x) for x in _field(reader, "tokenizer.ggml.token_type")],  # type: ignore[union-attr]
        merges=list(_field(reader, "tokenizer.ggml.merges")),  # type: ignore[arg-type]
        bos_id=int(_field(reader, "tokenizer.ggml.bos_token_id")),
        eos_id=int(_field(reader, "tokenizer.ggml.eos_token_id")),
        unk_id=int(_field(reader, "tokenizer.ggml.unknown_token_id", 0)),
        pad_id=int(_field(reader, "tokenizer.ggml.padding_token_id", 0)),
        chat_template=str(_field(reader, "tokenizer.chat_template", "")),
    )
    return GgufModel(
        path=path,
        sha256=sha256_file(path),
        name=str(_field(reader, "general.name", path.stem)),
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
