"""A tiny random Llama written as GGUF (some tensors Q4_1/Q8_0-quantized), for fast tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType, GGUFWriter
from gguf.quants import quantize

D, H, KV, HD, MLP, LAYERS = 32, 4, 2, 8, 64, 3
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TEMPLATE = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
            "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


def byte_unicode() -> list[str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) + list(range(ord("\u00ae"), ord("\u00ff") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    table = dict(zip(bs, cs))
    return [chr(table[b]) for b in range(256)]


def write_tiny_gguf(path: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    byte_tokens = byte_unicode()
    merges = ["h e", "l l", "he ll", "\u0120 t"]
    merged = ["he", "ll", "hell", "\u0120t"]
    tokens = SPECIALS + byte_tokens + merged
    types = [3] * len(SPECIALS) + [1] * (len(tokens) - len(SPECIALS))
    V = len(tokens)
    w = GGUFWriter(str(path), "llama")
    w.add_name("tiny-llama")
    w.add_block_count(LAYERS)
    w.add_context_length(256)
    w.add_embedding_length(D)
    w.add_feed_forward_length(MLP)
    w.add_head_count(H)
    w.add_head_count_kv(KV)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(V)
    w.add_rope_dimension_count(HD)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_pad_token_id(2)
    w.add_chat_template(TEMPLATE)

    def t(name: str, arr: np.ndarray, q: GGMLQuantizationType | None = None) -> None:
        arr = arr.astype(np.float32)
        if q is None:
            w.add_tensor(name, arr)
        else:
            w.add_tensor(name, quantize(arr, q), raw_dtype=q)

    t("token_embd.weight", rng.standard_normal((V, D)) * 0.5, GGMLQuantizationType.Q8_0)
    t("output_norm.weight", 1 + 0.1 * rng.standard_normal(D))
    for i in range(LAYERS):
        p = f"blk.{i}."
        t(p + "attn_norm.weight", 1 + 0.1 * rng.standard_normal(D))
        t(p + "ffn_norm.weight", 1 + 0.1 * rng.standard_normal(D))
        t(p + "attn_q.weight", rng.standard_normal((H * HD, D)) * 0.3, GGMLQuantizationType.Q4_1)
        t(p + "attn_k.weight", rng.standard_normal((KV * HD, D)) * 0.3, GGMLQuantizationType.Q4_1)
        t(p + "attn_v.weight", rng.standard_normal((KV * HD, D)) * 0.3)
        t(p + "attn_output.weight", rng.standard_normal((D, H * HD)) * 0.2)
        t(p + "ffn_gate.weight", rng.standard_normal((MLP, D)) * 0.2)
        t(p + "ffn_up.weight", rng.standard_normal((MLP, D)) * 0.2)
        t(p + "ffn_down.weight", rng.standard_normal((D, MLP)) * 0.2)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
