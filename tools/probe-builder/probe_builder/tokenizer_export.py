"""Write a Hugging Face `tokenizer.json` (and the chat template) from GGUF tokenizer metadata.

GGUF's `gpt2` tokenizer model is byte-level BPE. For `pre == "smollm"` llama.cpp splits digits
individually before the GPT-2 regex; the equivalent `tokenizers` pipeline is
Digits(individual) then ByteLevel. Token types 3 (control) and 4 (user-defined) become
special added tokens so that chat markers such as `<|im_start|>` are never split.

GGUF's `llama` tokenizer model is SentencePiece BPE (Gemma 3): pieces with scores, `▁` for a
space, byte-fallback pieces `<0xXX>`, no merges. It becomes a `tokenizers` BPE whose merges
are derived from the vocabulary: every split of a normal piece into two normal pieces is a
merge, ranked by the merged piece's score (SentencePiece merges the adjacent pair whose
concatenation scores highest), ties by the halves' ids. Normalizer: spaces -> `▁` (plus a
leading `▁` only when the GGUF asks for `add_space_prefix`; Gemma does not); no
pre-tokenizer (llama.cpp's SPM tokenizer does not pre-split); byte_fallback for characters
outside the vocabulary. Control pieces (type 3) are special added tokens; user-defined pieces
(type 4: Gemma's newline runs, space runs, tab runs, HTML tags, `<start_of_image>`) are
non-special added tokens matched on the raw text, as llama.cpp does.
"""

from __future__ import annotations

import json
from pathlib import Path

from .gguf_model import TokenizerMeta

NORMAL, CONTROL, USER_DEFINED, BYTE = 1, 3, 4, 6
SPACE = "\u2581"


def spm_merges(tokens: list[str], token_types: list[int], scores: list[float]) -> list[tuple[str, str]]:
    """BPE merges equivalent to SentencePiece's score-driven merging (see module docstring)."""
    normal = {t: i for i, (t, ty) in enumerate(zip(tokens, token_types)) if ty == NORMAL}
    found: list[tuple[float, int, int, int, str, str]] = []
    for piece, pid in normal.items():
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            li, ri = normal.get(left), normal.get(right)
            if li is not None and ri is not None:
                found.append((-scores[pid], pid, li, ri, left, right))
    found.sort()
    return [(a, b) for *_, a, b in found]


def build_spm_tokenizer_json(meta: TokenizerMeta) -> dict:
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, processors

    if not meta.scores:
        raise ValueError("SentencePiece (llama) GGUF vocabulary without tokenizer.ggml.scores")
    vocab = {tok: i for i, tok in enumerate(meta.tokens)}
    if len(vocab) != len(meta.tokens):
        raise ValueError("duplicate pieces in the GGUF vocabulary")
    unk = meta.tokens[meta.unk_id] if 0 <= meta.unk_id < len(meta.tokens) else None
    bpe = models.BPE(vocab=vocab, merges=spm_merges(meta.tokens, meta.token_types, meta.scores),
                     unk_token=unk, fuse_unk=True, byte_fallback=True)
    tok = Tokenizer(bpe)
    norms = [normalizers.Replace(" ", SPACE)]
    if meta.add_space_prefix:
        norms.insert(0, normalizers.Prepend(SPACE))
    tok.normalizer = normalizers.Sequence(norms)
    dec = [decoders.Replace(SPACE, " "), decoders.ByteFallback(), decoders.Fuse()]
    if meta.add_space_prefix:
        dec.append(decoders.Strip(content=" ", left=1, right=0))
    tok.decoder = decoders.Sequence(dec)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t, ty in zip(meta.tokens, meta.token_types) if ty == CONTROL])
    tok.add_tokens([AddedToken(t, special=False, normalized=False)
                    for t, ty in zip(meta.tokens, meta.token_types) if ty == USER_DEFINED])
    if meta.add_bos:  # only for add_special_tokens=True; the chat templates write <bos> themselves
        bos = meta.tokens[meta.bos_id]
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, meta.bos_id)])
    return json.loads(tok.to_str())


def build_tokenizer_json(meta: TokenizerMeta) -> dict:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from tokenizers import AddedToken

    if meta.model == "llama":
        return build_spm_tokenizer_json(meta)
    if meta.model != "gpt2":
        raise ValueError(f"tokenizer model {meta.model!r} not supported (byte-level BPE 'gpt2' or SentencePiece 'llama')")
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


def write_tokenizer(meta: TokenizerMeta, out_dir: Path, chat_template: str | None = None) -> dict[str, Path]:
    """chat_template overrides the GGUF's own (Gemma: the probewatch-normalising template)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tj = out_dir / "tokenizer.json"
    tj.write_text(json.dumps(build_tokenizer_json(meta), ensure_ascii=False))
    cfg = out_dir / "tokenizer_config.json"
    cfg.write_text(json.dumps({
        "chat_template": meta.chat_template if chat_template is None else chat_template,
        "bos_token": meta.tokens[meta.bos_id],
        "eos_token": meta.tokens[meta.eos_id],
        "pad_token": meta.tokens[meta.pad_id],
        "pad_token_id": meta.pad_id,
    }, indent=2))
    return {"tokenizer": tj, "config": cfg}
