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


# --- Gemma 3 -------------------------------------------------------------------------------
# Six layers so the default layout (every 6th layer global) has both kinds; a window of 4 so
# short test sequences already reach past it; n_heads * head_dim (96) != d_model (64).
G_D, G_H, G_KV, G_HD, G_MLP, G_LAYERS, G_WINDOW = 64, 4, 2, 24, 128, 6, 4
G_SPACE = "\u2581"
# (piece, type): control 3, user-defined 4; then byte pieces (6) and normal pieces (1).
G_SPECIALS = [("<pad>", 3), ("<eos>", 3), ("<bos>", 3), ("<unk>", 3), ("<mask>", 3), ("[multimodal]", 4),
              ("<start_of_turn>", 3), ("<end_of_turn>", 3), ("\n", 4), ("\n\n", 4), ("  ", 4), ("<b>", 4)]
# Multi-character pieces, best score first: each is the concatenation of two pieces listed
# before it or single characters, like a SentencePiece BPE vocabulary.
G_MERGED = ["he", "ll", "in", "er", G_SPACE + "t", G_SPACE + "h", "llo", G_SPACE + "he", "hello", G_SPACE + "hello",
            "th", G_SPACE + "the", "us", "user", "mo", "model", "or", "wor", "ld", "world", G_SPACE + "world", "o" + G_SPACE]
G_CHARS = [G_SPACE] + list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'\"():;-_+=*/#@")
GEMMA_TEMPLATE_IN_GGUF = "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ m['role'] }}\n{{ m['content'] }}<end_of_turn>\n{% endfor %}"


def gemma_vocab() -> tuple[list[str], list[int], list[float]]:
    tokens = [t for t, _ in G_SPECIALS] + [f"<0x{b:02X}>" for b in range(256)]
    types = [ty for _, ty in G_SPECIALS] + [6] * 256
    scores = [-1000.0] * len(G_SPECIALS) + [0.0] * 256
    normal = G_MERGED + G_CHARS
    tokens += normal
    types += [1] * len(normal)
    scores += [-float(i) for i in range(len(normal))]
    return tokens, types, scores


def write_tiny_gemma3_gguf(path: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    tokens, types, scores = gemma_vocab()
    V = len(tokens)
    w = GGUFWriter(str(path), "gemma3")
    w.add_name("tiny-gemma3")
    w.add_block_count(G_LAYERS)
    w.add_context_length(1024)
    w.add_embedding_length(G_D)
    w.add_feed_forward_length(G_MLP)
    w.add_head_count(G_H)
    w.add_head_count_kv(G_KV)
    w.add_key_length(G_HD)
    w.add_value_length(G_HD)
    w.add_rope_freq_base(1_000_000.0)  # global layers; local layers use 10000 (not in the metadata)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_sliding_window(G_WINDOW)
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(2)
    w.add_eos_token_id(1)
    w.add_unk_token_id(3)
    w.add_pad_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_space_prefix(False)
    w.add_chat_template(GEMMA_TEMPLATE_IN_GGUF)

    def t(name: str, arr: np.ndarray, q: GGMLQuantizationType | None = None) -> None:
        arr = arr.astype(np.float32)
        if q is None:
            w.add_tensor(name, arr)
        else:
            w.add_tensor(name, quantize(arr, q), raw_dtype=q)

    def norm(n: int) -> np.ndarray:  # GGUF stores Gemma's 1 + w
        return 1 + 0.3 * rng.standard_normal(n)

    t("token_embd.weight", rng.standard_normal((V, G_D)) * 0.2, GGMLQuantizationType.Q8_0)
    t("output_norm.weight", norm(G_D))
    for i in range(G_LAYERS):
        p = f"blk.{i}."
        for n in ("attn_norm", "post_attention_norm", "ffn_norm", "post_ffw_norm"):
            t(p + n + ".weight", norm(G_D))
        t(p + "attn_q_norm.weight", norm(G_HD))
        t(p + "attn_k_norm.weight", norm(G_HD))
        t(p + "attn_q.weight", rng.standard_normal((G_H * G_HD, G_D)) * 0.3, GGMLQuantizationType.Q5_0)
        t(p + "attn_k.weight", rng.standard_normal((G_KV * G_HD, G_D)) * 0.3, GGMLQuantizationType.Q5_0)
        t(p + "attn_v.weight", rng.standard_normal((G_KV * G_HD, G_D)) * 0.3, GGMLQuantizationType.Q8_0)
        t(p + "attn_output.weight", rng.standard_normal((G_D, G_H * G_HD)) * 0.2)
        t(p + "ffn_gate.weight", rng.standard_normal((G_MLP, G_D)) * 0.3, GGMLQuantizationType.Q5_0)
        t(p + "ffn_up.weight", rng.standard_normal((G_MLP, G_D)) * 0.3)
        t(p + "ffn_down.weight", rng.standard_normal((G_D, G_MLP)) * 0.2, GGMLQuantizationType.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
