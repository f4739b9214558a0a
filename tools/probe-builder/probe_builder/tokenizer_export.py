"""Write a Hugging Face `tokenizer.json` (and the chat template) from GGUF tokenizer metadata.

GGUF's `gpt2` tokenizer model is byte-level BPE. For `pre == "smollm"` llama.cpp splits digits
individually before the GPT-2 regex; the equivalent `tokenizers` pipeline is
Digits(individual) then ByteLevel. Token types 3 (control) and 4 (user-defined) become
special added tokens so that chat markers such as `<|im_start|>` are never split.
"""

from __future__ import annotations

import json
from pathlib import Path

from .gguf_model import TokenizerMeta

CONTROL, USER_DEFINED = 3, 4


def build_tokenizer_json(meta: TokenizerMeta) -> dict:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from tokenizers import AddedToken

    if meta.model != "gpt2":
        raise ValueError(f"tokenizer model {meta.model!r} not supported (only byte-level BPE 'gpt2')")
    vocab = {tok: i for i, tok in enumerate(meta.tokens)}
    merges = [tuple(m.split(" ", 1)) for m in meta.merges]
    bpe = models.BPE(vocab=vocab, merges=merges, unk_token=None, fuse_unk=False, byte_fallback=False)
    tok = Tokenizer(bpe)
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if meta.pre in ("smollm", "starcoder", "refact"):
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
    elif meta.pre in ("default", "gpt-2", "gpt2"):
        tok.pre_tokenizer = byte_level
    else:
        raise ValueError(f"pre-tokenizer {meta.pre!r} not supported")
    tok.decoder = decoders.ByteLevel()
    specials = [AddedToken(t, special=True, normalized=False) for t, ty in zip(meta.tokens, meta.token_types) if ty in (CONTROL, USER_DEFINED)]
    tok.add_special_tokens(specials)
    return json.loads(tok.to_str())


def write_tokenizer(meta: TokenizerMeta, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    tj = out_dir / "tokenizer.json"
    tj.write_text(json.dumps(build_tokenizer_json(meta), ensure_ascii=False))
    cfg = out_dir / "tokenizer_config.json"
    cfg.write_text(json.dumps({
        "chat_template": meta.chat_template,
        "bos_token": meta.tokens[meta.bos_id],
        "eos_token": meta.tokens[meta.eos_id],
        "pad_token": meta.tokens[meta.pad_id],
        "pad_token_id": meta.pad_id,
    }, indent=2))
    return {"tokenizer": tj, "config": cfg}
